/**
 * A tiny UNet overfits four synthetic 16×16 images to IoU > 0.9 on both devices: conv + batch norm
 * + ReLU, max-pool, a fused conv-ReLU, transposed-convolution and bilinear upsampling, skip
 * connection by concatenation, a 1×1 head; BCE + Dice, AdamW. IoU is measured in eval mode (the
 * running statistics) under noGrad.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Gpu } from '../../src/gpu/gpu.js';
import { Var, backward, noGrad } from '../../src/nn/autograd.js';
import { maxPool2d, upsample2d } from '../../src/nn/conv.js';
import { BatchNorm2d, Conv2d, ConvTranspose2d } from '../../src/nn/layers.js';
import { nnDispatches } from '../../src/nn/launch.js';
import { bceDiceLoss } from '../../src/nn/losses.js';
import * as F from '../../src/nn/ops.js';
import { AdamW } from '../../src/nn/optim.js';
import { withGemmTuning } from '../../src/nn/ops/implicit-gemm.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor, tidy } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();
const STEPS = 30;
const N = 4;
const S = 16;

/** Noisy images with one bright rectangle each, and its mask. */
function squares(seed: number): { images: Float32Array; masks: Float32Array } {
  const next = mulberry32(seed);
  const images = new Float32Array(N * S * S);
  const masks = new Float32Array(N * S * S);
  for (let n = 0; n < N; n++) {
    const h = 4 + Math.floor(next() * 4);
    const w = 4 + Math.floor(next() * 4);
    const y0 = Math.floor(next() * (S - h));
    const x0 = Math.floor(next() * (S - w));
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const inside = y >= y0 && y < y0 + h && x >= x0 && x < x0 + w ? 1 : 0;
        images[(n * S + y) * S + x] = 0.6 * inside + 0.4 * next() - 0.2;
        masks[(n * S + y) * S + x] = inside;
      }
    }
  }
  return { images, masks };
}

async function overfit(device: Gpu | null) {
  const gpuOption = device ?? undefined;
  const place = async (t: Tensor) => (device ? t.toGpu(device) : t);
  const data = squares(5);
  const x = Var.constant(await place(Tensor.fromArray(data.images, [N, 1, S, S], 'f32')));
  const target = await place(Tensor.fromArray(data.masks, [N, 1, S, S], 'f32'));
  const enc1 = await Conv2d.create(1, 8, 3, { padding: 1, seed: 1, gpu: gpuOption });
  const bn1 = await BatchNorm2d.create(8, { gpu: gpuOption });
  const enc2 = await Conv2d.create(8, 16, 3, { padding: 1, activation: 'relu', seed: 2, gpu: gpuOption });
  const up = await ConvTranspose2d.create(16, 8, 2, { stride: 2, seed: 3, gpu: gpuOption });
  const dec = await Conv2d.create(32, 8, 3, { padding: 1, activation: 'relu', seed: 4, gpu: gpuOption });
  const head = await Conv2d.create(8, 1, 1, { seed: 5, gpu: gpuOption });
  const forward = (input: Var, training: boolean) => {
    const e1 = F.relu(bn1.forward(enc1.forward(input), training));
    const e2 = enc2.forward(maxPool2d(e1, { kernelSize: 2 }));
    const merged = F.concat([up.forward(e2), e1, upsample2d(e2, { scaleFactor: 2 })], 1);
    return head.forward(dec.forward(merged));
  };
  const params = [enc1, bn1, enc2, up, dec, head].flatMap((l) => l.parameters());
  const opt = new AdamW(params, { lr: 0.02, weightDecay: 0 });
  let loss: Tensor | null = null;
  const launches: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    loss?.dispose();
    const before = nnDispatches();
    opt.zeroGrad();
    loss = tidy(() => {
      const l = bceDiceLoss(forward(x, true), target);
      backward(l);
      opt.step();
      return l.value;
    });
    launches.push(nnDispatches() - before);
  }
  const final = (await loss!.toCpu()).at(0);
  const logits = (await noGrad(() => forward(x, false)).value.toCpu()).data as Float32Array;
  let inter = 0;
  let union = 0;
  logits.forEach((v, i) => {
    const p = v > 0 ? 1 : 0;
    const t = data.masks[i]!;
    inter += p * t;
    union += Math.max(p, t);
  });
  return { final, iou: inter / union, launches };
}

for (const device of ['cpu', 'gpu'] as const) {
  test(`a tiny UNet overfits four 16×16 images to IoU > 0.9 in ${STEPS} steps (${device})`, { skip: device === 'gpu' && gpuSkip(gpu) }, async () => {
    // the size rule's kernels: a hardware GPU would time every GEMM candidate in the first step (more launches there)
    const r = await withGemmTuning({ measure: false }, () => overfit(device === 'gpu' ? gpu : null));
    assert.ok(r.iou > 0.9, `IoU ${r.iou} (final loss ${r.final})`);
    assert.equal(new Set(r.launches).size, 1, 'the same launches every step');
  });
}
