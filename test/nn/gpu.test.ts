/**
 * The WGSL forward and backward of every primitive equal the CPU reference (f32 on both; the CPU
 * rounds once per op, the GPU may fuse multiply-adds and sums in another order): values and
 * gradients within 1e-4 absolute + 1e-4 relative (matmul and reductions of up to 2·10³ terms
 * within 1e-3). The launch counter counts the same on both devices and equals the GPU's dispatches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Gpu } from '../../src/gpu/gpu.js';
import { Var, backward } from '../../src/nn/autograd.js';
import { batchNorm2d, conv2d, convTranspose2d, maxPool2d, upsample2d } from '../../src/nn/conv.js';
import { nnDispatches } from '../../src/nn/launch.js';
import { bceDiceLoss, crossEntropy, focalLoss } from '../../src/nn/losses.js';
import { mapPrograms } from '../../src/nn/map.js';
import { matmulPrograms } from '../../src/nn/matmul.js';
import * as F from '../../src/nn/ops.js';
import { optimizerPrograms } from '../../src/nn/optim.js';
import { reducePrograms } from '../../src/nn/reduce.js';
import { softmaxPrograms } from '../../src/nn/softmax.js';
import { type Shape, Tensor, liveTensors, numel } from '../../src/tensor.js';
import { assertClose } from '../_kit/compare.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { spread } from './_autograd.js';

const gpu = await testGpu();
const skip = gpuSkip(gpu);

interface Result {
  value: Tensor;
  grads: Tensor[];
  launches: number;
}

async function run(shapes: readonly Shape[], f: (xs: Var[]) => Var, device: Gpu | null): Promise<Result> {
  const params: Var[] = [];
  for (const [k, shape] of shapes.entries()) {
    const t = Tensor.fromArray(spread(numel(shape), 31 + k, 2), shape, 'f32');
    params.push(Var.parameter(device ? await t.toGpu(device) : t));
  }
  const before = nnDispatches();
  const y = f(params).retain();
  const weights = Tensor.fromArray(spread(y.value.size, 7, 1, 0.3), y.shape, 'f32');
  backward(F.sum(F.mul(y, Var.constant(device ? await weights.toGpu(device) : weights))));
  const launches = nnDispatches() - before;
  return { value: await y.value.toCpu(), grads: await Promise.all(params.map((p) => p.grad!.toCpu())), launches };
}

/** `sameLaunches`: the CPU counts the GPU's launches (the convolution family's GPU ops may split their work). */
async function parity(name: string, shapes: readonly Shape[], f: (xs: Var[]) => Var, atol = 1e-4, sameLaunches = true): Promise<void> {
  const cpu = await run(shapes, f, null);
  const dispatches = gpu!.stats.dispatches;
  const onGpu = await run(shapes, f, gpu);
  if (sameLaunches) assert.equal(onGpu.launches, cpu.launches, `${name}: launches on the GPU and the CPU`);
  assert.equal(gpu!.stats.dispatches - dispatches, onGpu.launches, `${name}: launches counted = GPU dispatches`);
  assertClose(onGpu.value, cpu.value, { atol, rtol: atol }, `${name} value`);
  for (const [k, g] of onGpu.grads.entries()) assertClose(g, cpu.grads[k]!, { atol, rtol: atol }, `${name} d/dx${k}`);
}

test('every nn program compiles', { skip }, async () => {
  for (const p of [
    ...mapPrograms(),
    ...reducePrograms(),
    ...matmulPrograms(),
    ...softmaxPrograms(),
    ...optimizerPrograms(gpu!.info.limits.maxStorageBuffersPerShaderStage),
  ])
    await gpu!.compile(p);
});

test('GPU = CPU: elementwise, broadcast and activations', { skip }, async () => {
  await parity('add/mul/div broadcast', [[2, 3, 4], [3, 1], [4]], ([a, b, c]) => F.div(F.mul(F.add(a!, b!), a!), F.addScalar(F.exp(c!), 0.5)));
  await parity('sub, neg, pow, sqrt, log', [[5, 7]], ([a]) => F.sub(F.pow(a!, 3), F.log(F.sqrt(F.addScalar(F.mul(a!, a!), 1)))));
  await parity('relu, leakyRelu, sigmoid, silu', [[3, 40]], ([a]) => F.add(F.add(F.relu(a!), F.leakyRelu(a!, 0.1)), F.mul(F.sigmoid(a!), F.silu(a!))));
  await parity('dropout', [[4, 33]], ([a]) => F.dropout(a!, { p: 0.4, seed: 123 }));
});

test('GPU = CPU: reductions, softmax, views and concatenation', { skip }, async () => {
  await parity('sum, mean, max over axes', [[3, 5, 9]], ([a]) =>
    F.add(F.add(F.sum(a!, { axes: [0, 2] }), F.mean(a!, { axes: [0, 2] })), F.max(a!, { axes: [2, 0] })),
  );
  await parity('sum of 2000', [[2000]], ([a]) => F.sum(a!), 1e-3);
  // few outputs of many elements: split over several workgroups, then a pass over the partials
  await parity('mean over 2 × 10000, split', [[2, 10000]], ([a]) => F.mean(a!, { axes: 1 }), 1e-3);
  await parity('max over 9000 with a stride, split', [[9000, 2]], ([a]) => F.max(a!, { axes: 0 }), 1e-3);
  await parity('softmax channels, logSoftmax last axis', [[2, 3, 4, 5]], ([a]) => F.add(F.softmax(a!, 1), F.logSoftmax(a!, -1)));
  await parity('permute, reshape', [[2, 3, 4]], ([a]) => F.reshape(F.permute(a!, [1, 2, 0]), [12, 2]));
  await parity(
    'concat channels',
    [
      [2, 1, 3, 3],
      [2, 2, 3, 3],
    ],
    ([a, b]) => F.concat([a!, b!, a!], 1),
  );
});

test('GPU = CPU: matmul on tile edges, transposed and batched', { skip }, async () => {
  await parity(
    'matmul 70×33 · 33×65',
    [
      [70, 33],
      [33, 65],
    ],
    ([a, b]) => F.matmul(a!, b!),
    1e-3,
  );
  await parity(
    'matmul transposed',
    [
      [17, 9],
      [20, 17],
    ],
    ([a, b]) => F.matmul(a!, b!, { transA: true, transB: true }),
    1e-3,
  );
  await parity(
    'matmul batched, shared weights',
    [
      [3, 5, 6],
      [6, 4],
    ],
    ([a, b]) => F.matmul(a!, b!),
    1e-3,
  );
  await parity('linear', [[8, 12], [5, 12], [5]], ([x, w, b]) => F.linear(x!, w!, b!), 1e-3);
});

test('GPU = CPU: losses', { skip }, async () => {
  const target = Tensor.fromArray(
    Float32Array.from({ length: 32 }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0)),
    [2, 1, 4, 4],
    'f32',
  );
  const labels = Tensor.fromArray(
    Int32Array.from({ length: 16 }, (_, i) => i % 3),
    [2, 8],
    'i32',
  );
  const gTarget = await target.toGpu(gpu!);
  const gLabels = await labels.toGpu(gpu!);
  const onDevice = (x: Var, cpuT: Tensor, gpuT: Tensor) => (x.value.device === 'gpu' ? gpuT : cpuT);
  await parity('bce + dice', [[2, 1, 4, 4]], ([x]) => bceDiceLoss(x!, onDevice(x!, target, gTarget), { posWeight: 2 }));
  await parity('focal', [[2, 1, 4, 4]], ([x]) => focalLoss(x!, onDevice(x!, target, gTarget)));
  await parity('cross-entropy', [[2, 3, 8]], ([x]) => crossEntropy(x!, onDevice(x!, labels, gLabels)));
});

test('GPU = CPU: the convolution family through the graph', { skip }, async () => {
  await parity(
    'conv2d + relu, maxPool, convTranspose, upsample',
    [[2, 2, 8, 8], [4, 2, 3, 3], [4], [4, 3, 2, 2]],
    ([x, w, b, wt]) => {
      const h = maxPool2d(conv2d(x!, w!, b!, { padding: 1, activation: 'relu' }), { kernelSize: 2 });
      return F.add(convTranspose2d(h, wt!, null, { stride: 2 }), upsample2d(F.sum(h, { axes: 1, keepDims: true }), { scaleFactor: 2 }));
    },
    1e-3,
    false,
  );
  await parity('batchNorm2d training', [[3, 4, 5, 5], [4], [4]], ([x, g, b]) => batchNorm2d(x!, g!, b!, null, null, { training: true }), 1e-3, false);
});

test('backward releases activations: a step leaves only what it returns', { skip }, async () => {
  const w = Var.parameter(await Tensor.fromArray(spread(12, 3), [4, 3], 'f32').toGpu(gpu!));
  const x = Var.constant(await Tensor.fromArray(spread(24, 4), [8, 3], 'f32').toGpu(gpu!));
  const step = () => {
    const y = F.sum(F.sigmoid(F.relu(F.matmul(x, w, { transB: true }))));
    backward(y);
    return y.value;
  };
  const start = liveTensors();
  const loss = step();
  // the loss, and the seed's and intermediate gradients freed: only the loss stays
  assert.equal(liveTensors() - start, 1);
  loss.dispose();
  const pool = gpu!.pool.stats;
  const created = pool.created;
  for (let i = 0; i < 3; i++) step().dispose();
  assert.equal(gpu!.pool.stats.created, created, 'a steady step allocates no new GPU buffer');
});

test('tensors of one op on different devices are refused', { skip }, async () => {
  const onCpu = Var.constant(Tensor.fromArray(Float32Array.from([1, 2]), [2], 'f32'));
  const onGpu = Var.constant(await Tensor.fromArray(Float32Array.from([3, 4]), [2], 'f32').toGpu(gpu!));
  const mismatch = (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'KENSA_ERR_DEVICE_MISMATCH';
  assert.throws(() => F.add(onCpu, onGpu), mismatch);
  assert.throws(() => F.add(onGpu, onCpu), mismatch);
  assert.throws(() => F.matmul(F.reshape(onGpu, [1, 2]), F.reshape(onCpu, [2, 1])), mismatch);
});
