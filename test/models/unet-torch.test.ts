/**
 * Parity with PyTorch: the tiny UNet of scripts/nn/unet_torch_ref.py, trained a few steps there,
 * loaded from its safetensors file, gives PyTorch's level outputs and logits (eval and train mode)
 * on the CPU and the GPU. The fixture is made on a machine with torch:
 * `python scripts/nn/unet_torch_ref.py` writes test/models/fixtures/unet-tiny{,.io}.safetensors.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Gpu } from '../../src/gpu/gpu.js';
import { Var, noGrad } from '../../src/nn/autograd.js';
import { type NamedTensor, decodeSafetensors } from '../../src/models/safetensors.js';
import { UNet } from '../../src/models/unet.js';
import { Tensor } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();
const WEIGHTS = fileURLToPath(new URL('fixtures/unet-tiny.safetensors', import.meta.url));
const IO = fileURLToPath(new URL('fixtures/unet-tiny.io.safetensors', import.meta.url));
const absent =
  existsSync(WEIGHTS) && existsSync(IO)
    ? false
    : 'fixture test/models/fixtures/unet-tiny{,.io}.safetensors absent: run python scripts/nn/unet_torch_ref.py where torch is installed';
const TOLERANCE = 1e-4;

function assertClose(actual: Float32Array, expected: NamedTensor, what: string): void {
  assert.equal(actual.length, expected.data.length, `${what}: size`);
  const scale = Math.max(1, ...expected.data.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected.data[i]!));
  assert.ok(worst <= TOLERANCE * scale, `${what}: max difference ${worst} to PyTorch`);
}

async function compare(device: Gpu | null): Promise<void> {
  const io = decodeSafetensors(readFileSync(IO), IO).tensors;
  const net = await UNet.fromSafetensors(readFileSync(WEIGHTS), WEIGHTS, { gpu: device ?? undefined });
  const input = io.get('x')!;
  const host = Tensor.fromArray(input.data, input.shape, 'f32');
  const x = Var.constant(device ? await host.toGpu(device) : host);
  const levels = new Map<string, Var>();
  const logits = net.predict(x, levels);
  for (const [name, v] of levels) assertClose((await v.value.toCpu()).data as Float32Array, io.get(`level.${name}`)!, `level ${name}`);
  assertClose((await logits.value.toCpu()).data as Float32Array, io.get('logits_eval')!, 'eval logits');
  const train = noGrad(() => net.train().forward(x));
  assertClose((await train.value.toCpu()).data as Float32Array, io.get('logits_train')!, 'train logits');
}

test('a PyTorch-trained tiny UNet gives PyTorch outputs, level by level (CPU)', { skip: absent }, () => compare(null));

test('a PyTorch-trained tiny UNet gives PyTorch outputs, level by level (GPU)', { skip: absent || gpuSkip(gpu) }, () => compare(gpu));
