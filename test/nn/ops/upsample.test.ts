import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type UpsampleMode,
  type UpsampleOptions,
  upsampleBackwardReference,
  upsampleBilinear2dBackward,
  upsampleBilinear2dForward,
  upsampleNearest2dBackward,
  upsampleNearest2dForward,
  upsampleReference,
} from '../../../src/nn/ops/upsample.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { assertGradient, dot, randomTensor, randomValues } from '../_kit.js';

const gpu = await testGpu();

const CASES: { x: [number, number, number, number]; opts: UpsampleOptions; out: [number, number] }[] = [
  { x: [2, 3, 4, 5], opts: { scaleFactor: 2 }, out: [8, 10] },
  { x: [1, 2, 3, 4], opts: { size: [7, 5] }, out: [7, 5] },
  { x: [1, 2, 8, 7], opts: { size: [3, 2] }, out: [3, 2] },
  { x: [1, 1, 3, 3], opts: { scaleFactor: [3, 1] }, out: [9, 3] },
];
const forwardOf = { bilinear: upsampleBilinear2dForward, nearest: upsampleNearest2dForward };
const backwardOf = { bilinear: upsampleBilinear2dBackward, nearest: upsampleNearest2dBackward };
const MODES: UpsampleMode[] = ['bilinear', 'nearest'];

test('upsample: values follow PyTorch interpolate (align_corners=False; nearest)', () => {
  const x = Tensor.fromArray(new Float32Array([0, 1]), [1, 1, 1, 2], 'f32');
  // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.]]]]), size=(1, 4), mode='bilinear') → [0, 0.25, 0.75, 1]
  assert.deepEqual([...upsampleBilinear2dForward(x, { size: [1, 4] }).data], [0, 0.25, 0.75, 1]);
  // mode='nearest', size=(1, 5): source floor(o·2/5) → [0, 0, 0, 1, 1]
  assert.deepEqual([...upsampleNearest2dForward(x, { size: [1, 5] }).data], [0, 0, 0, 1, 1]);
  const dx = upsampleBilinear2dBackward(Tensor.fromArray(new Float32Array([1, 1, 1, 1]), [1, 1, 1, 4], 'f32'), { size: [1, 4], inputSize: [1, 2] });
  assert.deepEqual([...dx.data], [2, 2]);
});

test('upsample: the backward is the gradient of the forward (CPU, central differences in f64)', () => {
  for (const mode of MODES)
    for (const [i, c] of CASES.entries()) {
      const g = { n: c.x[0], c: c.x[1], h: c.x[2], w: c.x[3], oh: c.out[0], ow: c.out[1] };
      const x = randomValues(
        c.x.reduce((a, b) => a * b),
        10 + i,
      );
      const r = randomValues(g.n * g.c * g.oh * g.ow, 20 + i);
      assertGradient(`${mode} case ${i}`, () => dot(r, upsampleReference(mode, g, x)), x, upsampleBackwardReference(mode, g, r));
    }
});

test('upsample: GPU forward and backward = CPU, both modes', { skip: gpuSkip(gpu) }, async () => {
  for (const mode of MODES)
    for (const [i, c] of CASES.entries()) {
      const x = randomTensor(c.x, 30 + i);
      const y = forwardOf[mode](x, c.opts);
      assert.deepEqual([...y.shape.slice(2)], c.out);
      const dy = randomTensor(y.shape, 40 + i);
      const back = { ...c.opts, inputSize: [c.x[2], c.x[3]] as [number, number] };
      const gy = forwardOf[mode](await x.toGpu(gpu!), c.opts);
      assertClose(await gy.toCpu(), y, { atol: 1e-6, rtol: 1e-5 }, `${mode} case ${i} y`);
      const gdx = backwardOf[mode](await dy.toGpu(gpu!), back);
      assertClose(await gdx.toCpu(), backwardOf[mode](dy, back), { atol: 1e-5, rtol: 1e-5 }, `${mode} case ${i} dx`);
    }
});

test('upsample: bad shapes and options get errors naming them', () => {
  const x = Tensor.zeros([1, 1, 4, 4], 'f32');
  assert.throws(() => upsampleBilinear2dForward(x, {}), /Expected exactly one of size and scaleFactor for size but received undefined/);
  assert.throws(() => upsampleBilinear2dForward(x, { size: [8, 8], scaleFactor: 2 }), /Expected exactly one of size and scaleFactor/);
  assert.throws(() => upsampleNearest2dForward(x, { scaleFactor: 1.5 }), /for scaleFactor but received 1.5/);
  assert.throws(() => upsampleNearest2dForward(x, { size: [0, 4] }), /for size but received \[0, 4\]/);
  assert.throws(
    () => upsampleNearest2dBackward(x, { scaleFactor: 2, inputSize: [4, 4] }),
    /Expected dy of shape \[N, C, OH, OW\] = \[1, 1, 8, 8\] but received \[1, 1, 4, 4\]/,
  );
});
