import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MaxPool2dOptions, maxPool2dBackward, maxPool2dBackwardReference, maxPool2dForward, maxPool2dReference } from '../../../src/nn/ops/max-pool2d.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { assertGradient, dot, randomTensor, randomValues } from '../_kit.js';

const gpu = await testGpu();

const CASES: { x: [number, number, number, number]; opts: MaxPool2dOptions }[] = [
  { x: [2, 3, 8, 8], opts: { kernelSize: 2 } },
  { x: [1, 2, 9, 7], opts: { kernelSize: 3, stride: 2, padding: 1 } },
  { x: [2, 1, 9, 9], opts: { kernelSize: [3, 2], stride: 1, padding: [1, 0], dilation: [2, 1] } },
];

test('max_pool2d: values and indices follow PyTorch on a hand-checked case', () => {
  const x = Tensor.fromArray(
    Float32Array.from({ length: 16 }, (_, i) => (i === 6 ? 20 : i)),
    [1, 1, 4, 4],
    'f32',
  );
  const { y, indices } = maxPool2dForward(x, { kernelSize: 2 });
  assert.deepEqual([...y.data], [5, 20, 13, 15]);
  assert.deepEqual([...indices.data], [5, 6, 13, 15]);
  // padding never wins, even over negative values; the first maximum of a tie is taken
  const neg = Tensor.fromArray(new Float32Array([-3, -3, -5, -4]), [1, 1, 2, 2], 'f32');
  const padded = maxPool2dForward(neg, { kernelSize: 2, stride: 1, padding: 1 });
  assert.deepEqual([...padded.y.data], [-3, -3, -3, -3, -3, -3, -5, -4, -4]);
  assert.deepEqual([...padded.indices.data], [0, 0, 1, 0, 0, 1, 2, 3, 3]);
  const dx = maxPool2dBackward(Tensor.fromArray(new Float32Array(9).fill(1), [1, 1, 3, 3], 'f32'), padded.indices, {
    kernelSize: 2,
    stride: 1,
    padding: 1,
    inputSize: [2, 2],
  });
  assert.deepEqual([...dx.data], [4, 2, 1, 2]);
});

test('max_pool2d: the backward is the gradient of the forward (CPU, central differences in f64)', () => {
  for (const [i, c] of CASES.entries()) {
    const x = randomValues(
      c.x.reduce((a, b) => a * b),
      10 + i,
    );
    const { y, indices } = maxPool2dForward(Tensor.fromArray(Float32Array.from(x), c.x, 'f32'), c.opts);
    const g = { n: c.x[0], c: c.x[1], h: c.x[2], w: c.x[3], oh: y.shape[2]!, ow: y.shape[3]!, ...geometryOptions(c.opts) };
    const r = randomValues(y.size, 20 + i);
    assertGradient(`case ${i} dx`, () => dot(r, maxPool2dReference(g, x).y), x, maxPool2dBackwardReference(g, r, indices.data), 48, 1e-7);
  }
});

function geometryOptions(o: MaxPool2dOptions) {
  const pair = (v: number | readonly [number, number] | undefined, d: number | readonly [number, number]) => {
    const p = v ?? d;
    return typeof p === 'number' ? [p, p] : p;
  };
  const [kh, kw] = pair(o.kernelSize, 1);
  const [sh, sw] = pair(o.stride, o.kernelSize);
  const [ph, pw] = pair(o.padding, 0);
  const [dh, dw] = pair(o.dilation, 1);
  return { kh: kh!, kw: kw!, sh: sh!, sw: sw!, ph: ph!, pw: pw!, dh: dh!, dw: dw! };
}

test('max_pool2d: GPU forward (values and indices) and backward = CPU', { skip: gpuSkip(gpu) }, async () => {
  for (const [i, c] of CASES.entries()) {
    const x = randomTensor(c.x, 30 + i);
    const cpu = maxPool2dForward(x, c.opts);
    const dy = randomTensor(cpu.y.shape, 40 + i);
    const dx = maxPool2dBackward(dy, cpu.indices, { ...c.opts, inputSize: [c.x[2], c.x[3]] });
    const out = maxPool2dForward(await x.toGpu(gpu!), c.opts);
    assertClose(await out.y.toCpu(), cpu.y, { atol: 0, rtol: 0 }, `case ${i} y`);
    assertClose(await out.indices.toCpu(), cpu.indices, { int: 0 }, `case ${i} indices`);
    const gdx = maxPool2dBackward(await dy.toGpu(gpu!), out.indices, { ...c.opts, inputSize: [c.x[2], c.x[3]] });
    assertClose(await gdx.toCpu(), dx, { atol: 1e-6, rtol: 1e-6 }, `case ${i} dx`);
  }
});

test('max_pool2d: bad shapes and options get errors naming them', () => {
  const x = Tensor.zeros([1, 2, 6, 6], 'f32');
  assert.throws(() => maxPool2dForward(x, { kernelSize: 2, padding: 2 }), /Expected at most half the kernel size \[2, 2\] for padding but received 2/);
  assert.throws(() => maxPool2dForward(x, {} as MaxPool2dOptions), /for kernelSize but received undefined/);
  assert.throws(() => maxPool2dForward(x, { kernelSize: 7 }), /Expected x of at least one window/);
  const { y, indices } = maxPool2dForward(x, { kernelSize: 2 });
  assert.throws(
    () => maxPool2dBackward(y, indices, { kernelSize: 2, inputSize: [8, 8] }),
    /Expected dy of shape \[N, C, OH, OW\] = \[1, 2, 4, 4\] but received \[1, 2, 3, 3\]/,
  );
  assert.throws(() => maxPool2dBackward(y, y, { kernelSize: 2, inputSize: [6, 6] }), /Expected indices of dtype i32 but received f32/);
});
