import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchNormBackward, batchNormBackwardReference, batchNormForward, batchNormReference, batchStatsReference } from '../../../src/nn/ops/batch-norm.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { assertGradient, dot, randomTensor, randomValues } from '../_kit.js';

const gpu = await testGpu();
const f32 = (values: number[]) => Tensor.fromArray(new Float32Array(values), [values.length], 'f32');

test('batch_norm: training normalises with the batch stats and moves the running stats as PyTorch', () => {
  const x = Tensor.fromArray(new Float32Array([1, 2, 3, 4]), [1, 1, 2, 2], 'f32');
  const rm = f32([0]);
  const rv = f32([1]);
  const { y, mean, invstd } = batchNormForward(x, f32([2]), f32([0.5]), rm, rv, { training: true });
  // mean 2.5, biased variance 1.25; running: 0.9·0 + 0.1·2.5 and 0.9·1 + 0.1·(5/3) (unbiased)
  assert.ok(Math.abs(mean.data[0]! - 2.5) < 1e-7);
  assert.ok(Math.abs(invstd.data[0]! - 1 / Math.sqrt(1.25 + 1e-5)) < 1e-6);
  assert.ok(Math.abs(rm.data[0]! - 0.25) < 1e-7);
  assert.ok(Math.abs(rv.data[0]! - (0.9 + 0.1 * (5 / 3))) < 1e-6);
  const expected = [1, 2, 3, 4].map((v) => ((v - 2.5) / Math.sqrt(1.25 + 1e-5)) * 2 + 0.5);
  assertClose(y, Tensor.fromArray(new Float32Array(expected), [1, 1, 2, 2], 'f32'), { atol: 1e-6, rtol: 1e-6 });
  const evalY = batchNormForward(x, f32([1]), f32([0]), f32([1]), f32([4]), { training: false, eps: 0 }).y;
  assert.deepEqual([...evalY.data], [0, 0.5, 1, 1.5]); // (x − 1) / sqrt(4)
});

test('batch_norm: the backward is the gradient of the forward, training and eval (CPU, central differences in f64)', () => {
  const s = { n: 2, c: 3, plane: 12 };
  const count = s.n * s.c * s.plane;
  const x = randomValues(count, 1);
  const gamma = randomValues(s.c, 2);
  const beta = randomValues(s.c, 3);
  const r = randomValues(count, 4);
  const eps = 1e-5;
  const batch = () => {
    const { mean, variance } = batchStatsReference(s, x);
    return { mean, invstd: variance.map((v) => 1 / Math.sqrt(v + eps)) };
  };
  const trainLoss = () => {
    const { mean, invstd } = batch();
    return dot(r, batchNormReference(s, x, mean, invstd, gamma, beta));
  };
  const { mean, invstd } = batch();
  const train = batchNormBackwardReference(s, r, x, mean, invstd, gamma, true);
  assertGradient('train dx', trainLoss, x, train.dx, 36);
  assertGradient('train dgamma', trainLoss, gamma, train.dgamma);
  assertGradient('train dbeta', trainLoss, beta, train.dbeta);
  const runningMean = randomValues(s.c, 5);
  const runningInvstd = randomValues(s.c, 6).map((v) => 1 + Math.abs(v));
  const evalLoss = () => dot(r, batchNormReference(s, x, runningMean, runningInvstd, gamma, beta));
  const ev = batchNormBackwardReference(s, r, x, runningMean, runningInvstd, gamma, false);
  assertGradient('eval dx', evalLoss, x, ev.dx, 36);
  assertGradient('eval dgamma', evalLoss, gamma, ev.dgamma);
});

// 2×3×9×9: one chunk per channel; 2×3×48×48: 4608 values per channel, reduced in two chunks and combined
for (const shape of [
  [2, 3, 9, 9],
  [2, 3, 48, 48],
] as const) {
  test(`batch_norm: GPU forward (with the running-stat update) and backward = CPU, training and eval, ${shape.join('×')}`, { skip: gpuSkip(gpu) }, async () => {
    const x = randomTensor(shape, 10);
    const plane = shape[2] * shape[3];
    // an offset mean checks that the variance does not cancel
    const xs = Tensor.fromArray(
      Float32Array.from(x.data as Float32Array, (v, i) => v + 3 * ((Math.floor(i / plane) % 3) + 1)),
      shape,
      'f32',
    );
    const gamma = randomTensor([3], 11);
    const beta = randomTensor([3], 12);
    const dy = randomTensor(shape, 13);
    for (const training of [true, false]) {
      const rm = randomTensor([3], 14);
      const rv = Tensor.fromArray(new Float32Array([0.5, 1, 2]), [3], 'f32');
      const [gx, gg, gb, grm, grv, gdy] = await Promise.all([xs, gamma, beta, rm, rv, dy].map((t) => t.toGpu(gpu!)));
      const cpu = batchNormForward(xs, gamma, beta, rm, rv, { training, momentum: 0.2 });
      const out = batchNormForward(gx!, gg!, gb!, grm!, grv!, { training, momentum: 0.2 });
      const tol = { atol: 1e-5, rtol: 1e-5 };
      assertClose(await out.y.toCpu(), cpu.y, tol, `training ${training} y`);
      assertClose(await out.mean.toCpu(), cpu.mean, tol, 'mean');
      assertClose(await out.invstd.toCpu(), cpu.invstd, tol, 'invstd');
      assertClose(await grm!.toCpu(), rm, tol, 'running mean');
      assertClose(await grv!.toCpu(), rv, tol, 'running var');
      const back = batchNormBackward(dy, xs, cpu.mean, cpu.invstd, gamma, { training });
      const gback = batchNormBackward(gdy!, gx!, out.mean, out.invstd, gg!, { training });
      // the parameter gradients sum thousands of terms in another order
      for (const k of ['dx', 'dgamma', 'dbeta'] as const) assertClose(await gback[k].toCpu(), back[k], { atol: 1e-4, rtol: 1e-4 }, `training ${training} ${k}`);
    }
    const noRunning = batchNormForward(await xs.toGpu(gpu!), await gamma.toGpu(gpu!), await beta.toGpu(gpu!), null, null, { training: true });
    assertClose(await noRunning.y.toCpu(), batchNormForward(xs, gamma, beta, null, null, { training: true }).y, { atol: 1e-5, rtol: 1e-5 });
  });
}

test('batch_norm: bad shapes and options get errors naming them', () => {
  const x = Tensor.zeros([2, 3, 4, 4], 'f32');
  const c3 = Tensor.zeros([3], 'f32');
  assert.throws(
    () => batchNormForward(x, Tensor.zeros([4], 'f32'), c3, null, null, { training: true }),
    /Expected gamma of shape \[C\] = \[3\] but received \[4\]/,
  );
  assert.throws(
    () => batchNormForward(x, c3, c3, null, null, { training: false }),
    /Expected runningMean and runningVar both tensors in eval but received null and null/,
  );
  assert.throws(() => batchNormForward(x, c3, c3, c3, null, { training: true }), /both tensors or both null but received a tensor and null/);
  assert.throws(() => batchNormForward(x, c3, c3, null, null, { training: true, momentum: 2 }), /Expected number between 0 and 1 for momentum but received 2/);
  assert.throws(
    () => batchNormForward(x, c3, c3, null, null, { training: 'yes' as unknown as boolean }),
    /Expected true or false for training but received "yes"/,
  );
  assert.throws(() => batchNormForward(Tensor.zeros([1, 3, 1, 1], 'f32'), c3, c3, null, null, { training: true }), /more than one value per channel/);
  assert.throws(
    () => batchNormBackward(Tensor.zeros([2, 3, 4, 5], 'f32'), x, c3, c3, c3, { training: true }),
    /Expected dy of shape \[N, C, H, W\] of x = \[2, 3, 4, 4\]/,
  );
});
