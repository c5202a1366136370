/**
 * Safetensors: a UNet's weights round-trip exactly (on the CPU and the GPU), a file written here
 * byte by byte in the format's own layout loads, and bad files get KENSA_ERR_WEIGHTS naming them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKensaError } from '../../src/errors.js';
import { Var, backward } from '../../src/nn/autograd.js';
import { bceWithLogits } from '../../src/nn/losses.js';
import { AdamW } from '../../src/nn/optim.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/models/safetensors.js';
import { UNet } from '../../src/models/unet.js';
import { Tensor, tidy } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();

/** A UNet moved off its initialisation by one training step, so running statistics and weights are not the defaults. */
async function trainedTiny(): Promise<UNet> {
  const net = await UNet.create({ widths: [4, 8], preprocessing: { mean: [0.45], std: [0.22] } }, { seed: 9 });
  const values = Float32Array.from({ length: 2 * 8 * 8 }, (_, i) => Math.sin(i));
  const x = Var.constant(Tensor.fromArray(values, [2, 1, 8, 8], 'f32'));
  const opt = new AdamW(net.parameters(), { lr: 0.01 });
  tidy(() => {
    backward(
      bceWithLogits(
        net.forward(x),
        Tensor.fromArray(
          values.map((v) => (v > 0 ? 1 : 0)),
          [2, 1, 8, 8],
          'f32',
        ),
      ),
    );
    opt.step();
  });
  return net;
}

function states(net: UNet): Promise<[string, number[]][]> {
  return Promise.all(net.stateEntries().map(async (e) => [e.name, [...((await e.tensor.toCpu()).data as Float32Array)]] as [string, number[]]));
}

test('a UNet round-trips through safetensors: weights, running statistics, counters and configuration', async () => {
  const net = await trainedTiny();
  const bytes = await net.toSafetensors();
  const file = decodeSafetensors(bytes, 'tiny.safetensors');
  assert.equal(file.metadata.format, 'pt');
  assert.equal(JSON.parse(file.metadata['kensa.config']!).head, 'sigmoid');
  assert.deepEqual(file.tensors.get('enc.0.bn1.num_batches_tracked'), { dtype: 'I64', shape: [], data: new Float32Array([1]) });
  const back = await UNet.fromSafetensors(bytes, 'tiny.safetensors');
  assert.deepEqual(back.config, net.config);
  assert.equal(back.batchesTracked, 1);
  assert.deepEqual(await states(back), await states(net));
  const x = Var.constant(
    Tensor.fromArray(
      Float32Array.from({ length: 64 }, (_, i) => Math.cos(i)),
      [1, 1, 8, 8],
      'f32',
    ),
  );
  assert.deepEqual(back.predict(x).value.data, net.predict(x).value.data);
});

test('weights load onto a UNet on the GPU and back unchanged', { skip: gpuSkip(gpu) }, async () => {
  const net = await trainedTiny();
  const onGpu = await UNet.fromSafetensors(await net.toSafetensors(), 'tiny.safetensors', { gpu: gpu! });
  assert.equal(onGpu.parameters()[0]!.value.device, 'gpu');
  assert.deepEqual(await states(onGpu), await states(net));
});

/** The file format written out by hand: header length, JSON header, little-endian data. */
function handMade(header: object, data: number[], headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + 4 * data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength ?? json.length, true);
  out.set(json, 8);
  data.forEach((v, i) => {
    view.setFloat32(8 + json.length + 4 * i, v, true);
  });
  return out;
}

test('a hand-made safetensors file loads (F32 and F16, metadata)', () => {
  const f16 = handMade(
    { a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, b: { dtype: 'F16', shape: [2], data_offsets: [16, 20] }, __metadata__: { k: 'v' } },
    [
      1.5,
      -2,
      3,
      0.25,
      // 1.0 and -2.0 as f16 (0x3c00, 0xc000) packed into one little-endian f32 slot
      new Float32Array(new Uint32Array([0xc0003c00]).buffer)[0]!,
    ],
  );
  const file = decodeSafetensors(f16, 'hand.safetensors');
  assert.deepEqual(file.metadata, { k: 'v' });
  assert.deepEqual(file.tensors.get('a'), { dtype: 'F32', shape: [2, 2], data: new Float32Array([1.5, -2, 3, 0.25]) });
  assert.deepEqual([...file.tensors.get('b')!.data], [1, -2]);
  const again = decodeSafetensors(encodeSafetensors({ tensors: new Map([['a', file.tensors.get('a')!]]), metadata: { k: 'v' } }), 'again');
  assert.deepEqual(again.tensors.get('a'), file.tensors.get('a'));
});

test('bad files get KENSA_ERR_WEIGHTS naming the file and the tensor', async () => {
  const weights = (pattern: RegExp) => (e: unknown) => isKensaError(e, 'KENSA_ERR_WEIGHTS') && pattern.test(e.message);
  const good = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  assert.throws(() => decodeSafetensors(new Uint8Array(5), 'short.st'), weights(/at least 8 bytes in weights file short\.st/));
  assert.throws(() => decodeSafetensors(handMade(good, [1, 2], 10_000), 'long.st'), weights(/header length .* long\.st but received 10000/));
  assert.throws(() => decodeSafetensors(handMade(good, [1]), 'cut.st'), weights(/tensor a in weights file cut\.st/));
  assert.throws(
    () => decodeSafetensors(handMade({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, [1]), 'u8.st'),
    weights(/dtype .* tensor a .* "U8"/),
  );
  assert.throws(
    () => decodeSafetensors(handMade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, [1, 2]), 'shape.st'),
    weights(/12 bytes .* tensor a/),
  );
  const bytes = await (await trainedTiny()).toSafetensors();
  assert.throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4), 'trunc.st'), weights(/trunc\.st/));
  const other = await (await UNet.create({ widths: [4, 16] })).toSafetensors();
  const net = await UNet.create({ widths: [4, 8] });
  await assert.rejects(
    net.loadStateDict(decodeSafetensors(other, 'wide.st'), 'wide.st'),
    weights(/shape \[8, 4, 3, 3\] for tensor enc\.1\.conv1\.weight in weights file wide\.st but received \[16, 4, 3, 3\]/),
  );
  const missing = decodeSafetensors(other, 'missing.st');
  missing.tensors.delete('head.bias');
  await assert.rejects(
    (await UNet.create({ widths: [4, 16] })).loadStateDict(missing, 'missing.st'),
    weights(/tensor head\.bias in weights file missing\.st but received none/),
  );
  await assert.rejects(UNet.fromSafetensors(handMade(good, [1, 2]), 'plain.st'), weights(/kensa\.config .* plain\.st/));
});
