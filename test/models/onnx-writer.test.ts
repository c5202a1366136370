import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { f16BitsToF32 } from '../../src/dtype.js';
import { isKensaError } from '../../src/errors.js';
import { encodeOnnxModel, OnnxGraphBuilder } from '../../src/models/onnx-writer.js';
import { thresholdModel, tinyClassifier, tinyUnet } from '../../src/models/tiny.js';

async function run(model: Uint8Array, x: Float32Array, dims: number[]): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    return out[session.outputNames[0]!]!;
  } finally {
    await session.release();
  }
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

test('the threshold model computes σ(gain · (x − level)) per pixel, any batch and size', async () => {
  const x = Float32Array.from({ length: 2 * 3 * 5 }, (_, i) => i / 30);
  const out = await run(thresholdModel({ level: 0.4, gain: 12 }), x, [2, 1, 3, 5]);
  assert.deepEqual(out.dims, [2, 1, 3, 5]);
  const p = out.data as Float32Array;
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(p[i]! - sigmoid(12 * (x[i]! - 0.4))) < 1e-6, `pixel ${i}`);
});

test('MaxPool, Resize, Concat, GlobalAveragePool, Flatten, Gemm, Add, Mul and Softmax compute what ONNX defines', async () => {
  const g = new OnnxGraphBuilder();
  const x = g.input('x', [1, 1, 2, 2]);
  const pooled = g.node('MaxPool', [x], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }); // max
  const joined = g.node('Concat', [x, g.upsample(pooled, 2)], { axis: { int: 1 } }); // [x, max everywhere]
  const means = g.node('Flatten', [g.node('GlobalAveragePool', [joined])], { axis: { int: 1 } }); // [mean, max]
  // logits = [mean + 2·max, −mean] + [0.5, 0], then (· 3 + 1)
  const gemm = g.node('Gemm', [means, g.constant([2, 2], [1, -1, 2, 0]), g.constant([2], [0.5, 0])]);
  const scaled = g.node('Add', [g.node('Mul', [gemm, g.constant([1], [3])]), g.constant([1], [1])]);
  const scores = g.node('Softmax', [scaled], { axis: { int: -1 } });
  g.output(scores, [1, 2]);
  const out = await run(encodeOnnxModel(g.graph('ops')), Float32Array.of(0.1, 0.4, 0.2, 0.3), [1, 1, 2, 2]);
  const mean = 0.25;
  const max = 0.4;
  const a = (mean + 2 * max + 0.5) * 3 + 1;
  const b = -mean * 3 + 1;
  const expected = [Math.exp(a) / (Math.exp(a) + Math.exp(b)), Math.exp(b) / (Math.exp(a) + Math.exp(b))];
  const got = [...(out.data as Float32Array)];
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(got[i]! - expected[i]!) < 1e-6, `score ${i}: ${got[i]} vs ${expected[i]}`);
});

test('an f16 model takes and gives f16 tensors', async () => {
  const session = await ort.InferenceSession.create(thresholdModel({ level: 0.5, gain: 4, dtype: 'f16' }), { executionProviders: ['cpu'] });
  // 0.25, 0.5, 1 in half precision
  const out = await session.run({ image: new ort.Tensor('float16', Uint16Array.of(0x3400, 0x3800, 0x3c00), [1, 1, 1, 3]) });
  await session.release();
  const p = out.probability!;
  assert.equal(p.type, 'float16');
  const values = [...(p.data as Uint16Array)].map(f16BitsToF32);
  for (const [i, v] of [0.25, 0.5, 1].entries()) assert.ok(Math.abs(values[i]! - sigmoid(4 * (v - 0.5))) < 1e-3);
});

test('the tiny UNet and classifier keep the batch and size dynamic', async () => {
  const seg = await run(tinyUnet({ width: 4 }), new Float32Array(3 * 12 * 10).fill(0.5), [3, 1, 12, 10]);
  assert.deepEqual(seg.dims, [3, 1, 12, 10]);
  const cls = await run(tinyClassifier({ classes: 3, width: 4 }), new Float32Array(2 * 9 * 7).fill(0.5), [2, 1, 9, 7]);
  assert.deepEqual(cls.dims, [2, 3]);
  const s = cls.data as Float32Array;
  assert.ok(Math.abs(s[0]! + s[1]! + s[2]! - 1) < 1e-6);
});

test('an initializer whose data does not fill its dims is refused, naming it', () => {
  const g = new OnnxGraphBuilder();
  g.constant([2, 2], [1, 2, 3]);
  assert.throws(
    () => encodeOnnxModel(g.graph('bad')),
    (e) => isKensaError(e, 'KENSA_ERR_INVALID_ARGUMENT') && e.message === 'Expected 4 values for initializer c0 of dims [2, 2] but received 3',
  );
});

test('a QDQ (INT8) UNet runs and agrees with its f32 original', async () => {
  const x = Float32Array.from({ length: 2 * 32 * 32 }, (_, i) => ((i * 37) % 256) / 255);
  const f32 = (await run(tinyUnet({ width: 4, seed: 5 }), x, [2, 1, 32, 32])).data as Float32Array;
  const int8 = await run(tinyUnet({ width: 4, seed: 5, dtype: 'int8' }), x, [2, 1, 32, 32]);
  assert.deepEqual(int8.dims, [2, 1, 32, 32]);
  let differ = 0;
  let max = 0;
  for (const [i, v] of (int8.data as Float32Array).entries()) {
    max = Math.max(max, Math.abs(v - f32[i]!));
    if (v !== f32[i]) differ++;
  }
  assert.ok(differ > 0, 'the quantized model computes in its own precision');
  assert.ok(max < 0.01, `max |int8 − f32| ${max}`);
});
