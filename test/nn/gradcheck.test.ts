/**
 * Every primitive's gradient against central finite differences on the CPU:
 *  - the backward formulas of the CPU references in f64 (elementwise ops at scalar level, matmul,
 *    softmax and reductions on Float64Arrays), step 1e-6, tolerance 1e-6 relative;
 *  - the primitives wired through autograd (broadcasting, views, batching, the losses), computed
 *    in f32 with differences accumulated in f64 (step 1e-2, tolerance 2e-3 relative: see _autograd.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Var, backward } from '../../src/nn/autograd.js';
import { batchNorm2d, conv2d, convTranspose2d, maxPool2d, upsample2d } from '../../src/nn/conv.js';
import { bceDiceLoss, bceWithLogits, crossEntropy, diceLoss, focalLoss } from '../../src/nn/losses.js';
import { MAP_OPS, type MapOp } from '../../src/nn/map.js';
import { cpuMatmul } from '../../src/nn/matmul.js';
import * as F from '../../src/nn/ops.js';
import { cpuReduce } from '../../src/nn/reduce.js';
import { cpuSoftmax } from '../../src/nn/softmax.js';
import { Tensor } from '../../src/tensor.js';
import { gradcheck, spread } from './_autograd.js';

const H = 1e-6;
const close64 = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * (1 + Math.abs(b)), `${what}: ${a} vs ${b}`);

test('f64: each elementwise gradient program is the derivative of its forward (scalar level)', () => {
  const call = (op: MapOp, a: number, b = 0, c = 0, p = 0) => MAP_OPS[op].cpu(a, b, c, p, 0, 0);
  const pairs: [MapOp, MapOp, 'input' | 'output', number][] = [
    ['relu', 'relu_grad', 'input', 0],
    ['leaky_relu', 'leaky_relu_grad', 'input', 0.1],
    ['sigmoid', 'sigmoid_grad', 'output', 0],
    ['silu', 'silu_grad', 'input', 0],
    ['sqrt', 'sqrt_grad', 'output', 0],
    ['pow', 'pow_grad', 'input', 3],
    ['pow', 'pow_grad', 'input', 0.5],
  ];
  for (const [fwd, grad, of, p] of pairs) {
    for (const x of [0.3, 0.7, 1.9, ...(fwd === 'sqrt' || p === 0.5 ? [] : [-0.4, -1.3])]) {
      const numeric = (call(fwd, x + H, 0, 0, p) - call(fwd, x - H, 0, 0, p)) / (2 * H);
      const g = 0.75;
      close64(call(grad, g, of === 'input' ? x : call(fwd, x, 0, 0, p), 0, p), g * numeric, `${grad} at ${x}`);
    }
  }
  for (const [x, y, pw] of [
    [0.4, 1, 3],
    [-1.2, 0, 3],
    [2.5, 0.3, 1],
  ] as const) {
    const numeric = (call('bce_logits', x + H, y, 0, pw) - call('bce_logits', x - H, y, 0, pw)) / (2 * H);
    close64(call('bce_logits_grad', 1, x, y, pw), numeric, `bce_logits_grad at ${x}, ${y}`);
  }
  for (const [a, b] of [
    [0.7, 1.3],
    [-2, 0.6],
  ] as const) {
    const numeric = (a / (b + H) - a / (b - H)) / (2 * H);
    close64(call('div_grad', 1, b, a / b), numeric, 'div_grad');
  }
});

test('f64: matmul, softmax and reduction references satisfy their backward formulas', () => {
  // matmul: d Σ w·(A·B) / dA = w · Bᵀ, through the reference itself
  const [M, K, N] = [3, 4, 2];
  const A = Float64Array.from(spread(M * K, 1));
  const B = Float64Array.from(spread(K * N, 2));
  const W = Float64Array.from(spread(M * N, 3));
  const rowMajor = (cols: number) => ({ offset: 0, bs: 0, rs: cols, cs: 1 });
  const loss = () => {
    const C = new Float64Array(M * N);
    cpuMatmul(A, rowMajor(K), B, rowMajor(N), C, { batch: 1, M, N, K });
    return C.reduce((s, c, i) => s + c * W[i]!, 0);
  };
  const dA = new Float64Array(M * K);
  cpuMatmul(W, rowMajor(N), B, { offset: 0, bs: 0, rs: 1, cs: N }, dA, { batch: 1, M, N: K, K: N });
  for (let i = 0; i < A.length; i++) {
    const x = A[i]!;
    A[i] = x + H;
    const hi = loss();
    A[i] = x - H;
    const lo = loss();
    A[i] = x;
    close64(dA[i]!, (hi - lo) / (2 * H), `matmul dA[${i}]`);
  }
  // softmax and log-softmax along the middle axis of [2, 3, 2]
  const dims = { outer: 2, n: 3, inner: 2 };
  const X = Float64Array.from(spread(12, 4, 2));
  const G = Float64Array.from(spread(12, 5));
  for (const kind of ['softmax', 'log_softmax'] as const) {
    const forward = () => {
      const y = new Float64Array(12);
      cpuSoftmax(kind, X, null, y, dims);
      return y;
    };
    const dX = new Float64Array(12);
    cpuSoftmax(`${kind}_grad`, forward(), G, dX, dims);
    for (let i = 0; i < 12; i++) {
      const x = X[i]!;
      X[i] = x + H;
      const hi = forward().reduce((s, v, j) => s + v * G[j]!, 0);
      X[i] = x - H;
      const lo = forward().reduce((s, v, j) => s + v * G[j]!, 0);
      X[i] = x;
      close64(dX[i]!, (hi - lo) / (2 * H), `${kind} dx[${i}]`);
    }
  }
  // sum of squares over axis 1 of [2, 3]: d/dx = 2x
  const S = Float64Array.from(spread(6, 6));
  const layout = { offset: 0, kept: { shape: [2], strides: [3] }, reduced: { shape: [3], strides: [1] } };
  const out = new Float64Array(2);
  const at = (v: number, i: number) => {
    const s = Float64Array.from(S);
    s[i] = v;
    cpuReduce('sumsq', s, layout, 1, out, false);
    return out[Math.floor(i / 3)]!;
  };
  for (let i = 0; i < 6; i++) close64(2 * S[i]!, (at(S[i]! + H, i) - at(S[i]! - H, i)) / (2 * H), `sumsq d/dx[${i}]`);
});

test('elementwise and broadcast arithmetic', () => {
  gradcheck('add', [{ shape: [2, 3] }, { shape: [3] }], ([a, b]) => F.add(a!, b!));
  gradcheck('sub', [{ shape: [2, 1, 3] }, { shape: [2, 2, 1] }], ([a, b]) => F.sub(a!, b!));
  gradcheck('mul', [{ shape: [2, 3] }, { shape: [2, 1] }], ([a, b]) => F.mul(a!, b!));
  gradcheck('div', [{ shape: [2, 3] }, { shape: [1, 3], range: 'positive' }], ([a, b]) => F.div(a!, b!));
  gradcheck('x·x (one tensor twice)', [{ shape: [4] }], ([a]) => F.mul(a!, a!));
  gradcheck('neg', [{ shape: [5] }], ([a]) => F.neg(a!));
  gradcheck('exp', [{ shape: [5] }], ([a]) => F.exp(a!));
  gradcheck('log', [{ shape: [5], range: 'positive' }], ([a]) => F.log(a!));
  gradcheck('sqrt', [{ shape: [5], range: 'positive' }], ([a]) => F.sqrt(a!));
  gradcheck('pow 3', [{ shape: [6] }], ([a]) => F.pow(a!, 3));
  gradcheck('pow 1.5', [{ shape: [6], range: 'positive' }], ([a]) => F.pow(a!, 1.5));
  gradcheck('mulScalar, addScalar', [{ shape: [4] }], ([a]) => F.addScalar(F.mulScalar(a!, -2.5), 3));
});

test('activations, dropout', () => {
  gradcheck('relu', [{ shape: [2, 5] }], ([a]) => F.relu(a!));
  gradcheck('leakyRelu', [{ shape: [2, 5] }], ([a]) => F.leakyRelu(a!, 0.2));
  gradcheck('sigmoid', [{ shape: [2, 5] }], ([a]) => F.sigmoid(a!));
  gradcheck('silu', [{ shape: [2, 5] }], ([a]) => F.silu(a!));
  gradcheck('softmax axis 1', [{ shape: [2, 3, 2] }], ([a]) => F.softmax(F.mulScalar(a!, 2), 1));
  gradcheck('logSoftmax last axis', [{ shape: [2, 4] }], ([a]) => F.logSoftmax(a!, -1));
  gradcheck('dropout', [{ shape: [3, 8] }], ([a]) => F.dropout(a!, { p: 0.3, seed: 9 }));
});

test('reductions', () => {
  gradcheck('sum all', [{ shape: [2, 3] }], ([a]) => F.sum(a!));
  gradcheck('sum axes 0, 2', [{ shape: [2, 3, 2] }], ([a]) => F.sum(a!, { axes: [0, 2] }));
  gradcheck('mean axis -1 keepDims', [{ shape: [3, 4] }], ([a]) => F.mean(a!, { axes: -1, keepDims: true }));
  gradcheck('max axis 1', [{ shape: [2, 4, 2] }], ([a]) => F.max(a!, { axes: 1 }));
  gradcheck('max all', [{ shape: [3, 3] }], ([a]) => F.max(a!));
});

test('matmul (2-D, transposed, batched, shared operand), linear', () => {
  gradcheck('matmul', [{ shape: [3, 4] }, { shape: [4, 2] }], ([a, b]) => F.matmul(a!, b!));
  gradcheck('matmul transA transB', [{ shape: [4, 3] }, { shape: [2, 4] }], ([a, b]) => F.matmul(a!, b!, { transA: true, transB: true }));
  gradcheck('matmul batched', [{ shape: [2, 3, 2] }, { shape: [2, 2, 3] }], ([a, b]) => F.matmul(a!, b!));
  gradcheck('matmul shared b', [{ shape: [3, 2, 4] }, { shape: [4, 2] }], ([a, b]) => F.matmul(a!, b!));
  gradcheck('matmul shared a, transB', [{ shape: [2, 3] }, { shape: [2, 4, 3] }], ([a, b]) => F.matmul(a!, b!, { transB: true }));
  gradcheck('linear', [{ shape: [3, 4] }, { shape: [2, 4] }, { shape: [2] }], ([x, w, b]) => F.linear(x!, w!, b!));
});

test('reshape, permute, concat', () => {
  gradcheck('reshape', [{ shape: [2, 6] }], ([a]) => F.mul(F.reshape(a!, [3, 4]), F.reshape(a!, [3, 4])));
  gradcheck('permute', [{ shape: [2, 3, 4] }], ([a]) => F.permute(a!, [2, 0, 1]));
  gradcheck('concat channels', [{ shape: [2, 1, 2, 2] }, { shape: [2, 3, 2, 2] }], ([a, b]) => F.concat([a!, b!]));
  gradcheck('concat last axis, one input twice', [{ shape: [2, 2] }, { shape: [2, 3] }], ([a, b]) => F.concat([a!, b!, a!], -1));
});

test('losses', () => {
  const target = Tensor.fromArray(Float32Array.from([1, 0, 0, 1, 1, 0, 0.3, 1]), [2, 1, 2, 2], 'f32');
  const labels = Tensor.fromArray(Int32Array.from([2, 0, 1, 1]), [2, 2], 'i32');
  const shape = [2, 1, 2, 2];
  gradcheck('bceWithLogits posWeight', [{ shape }], ([x]) => bceWithLogits(x!, target, { posWeight: 3 }));
  gradcheck('dice', [{ shape }], ([x]) => diceLoss(x!, target));
  gradcheck('bce + dice', [{ shape }], ([x]) => bceDiceLoss(x!, target, { diceWeight: 0.5 }));
  gradcheck('focal', [{ shape }], ([x]) => focalLoss(F.mulScalar(x!, 2), target, { alpha: 0.25, gamma: 2 }));
  gradcheck('cross-entropy', [{ shape: [2, 3, 2] }], ([x]) => crossEntropy(F.mulScalar(x!, 3), labels));
});

test('losses equal their definitions on known values', () => {
  const x = Var.constant(Tensor.fromArray(Float32Array.from([2, -1]), [2, 1], 'f32'));
  const y = Tensor.fromArray(Float32Array.from([1, 0]), [2, 1], 'f32');
  const bce = (bceWithLogits(x, y, { posWeight: 2 }).value.data as Float32Array)[0]!;
  // PyTorch: mean(pw·y·softplus(−x) + (1 − y)·softplus(x))
  const expected = (2 * Math.log1p(Math.exp(-2)) + Math.log1p(Math.exp(-1))) / 2;
  assert.ok(Math.abs(bce - expected) < 1e-6, `${bce} vs ${expected}`);
  const logits = Var.constant(Tensor.fromArray(Float32Array.from([1, 2, 0.5, -1]), [2, 2], 'f32'));
  const ce = (crossEntropy(logits, Tensor.fromArray(Int32Array.from([1, 0]), [2], 'i32')).value.data as Float32Array)[0]!;
  const lse = (a: number, b: number) => Math.log(Math.exp(a) + Math.exp(b));
  const ceExpected = (lse(1, 2) - 2 + lse(0.5, -1) - 0.5) / 2;
  assert.ok(Math.abs(ce - ceExpected) < 1e-6, `${ce} vs ${ceExpected}`);
  const dice = (
    diceLoss(Var.constant(Tensor.fromArray(Float32Array.from([50, -50]), [1, 2], 'f32')), Tensor.fromArray(Float32Array.from([1, 0]), [1, 2], 'f32')).value
      .data as Float32Array
  )[0]!;
  assert.ok(Math.abs(dice) < 1e-6, `a perfect prediction's Dice loss is 0, got ${dice}`);
});

test('the convolution family through autograd', () => {
  gradcheck('conv2d stride 2, padding 1, bias', [{ shape: [2, 2, 5, 5] }, { shape: [3, 2, 3, 3] }, { shape: [3] }], ([x, w, b]) =>
    conv2d(x!, w!, b!, { stride: 2, padding: 1 }),
  );
  gradcheck('conv2d groups 2, dilation 2', [{ shape: [1, 4, 6, 6] }, { shape: [4, 2, 3, 3] }], ([x, w]) =>
    conv2d(x!, w!, null, { groups: 2, dilation: 2, padding: 2 }),
  );
  gradcheck('convTranspose2d k2 s2', [{ shape: [1, 3, 3, 3] }, { shape: [3, 2, 2, 2] }, { shape: [2] }], ([x, w, b]) =>
    convTranspose2d(x!, w!, b!, { stride: 2 }),
  );
  gradcheck('maxPool2d', [{ shape: [2, 2, 4, 4] }], ([x]) => maxPool2d(x!, { kernelSize: 2 }));
  gradcheck('upsample bilinear ×2', [{ shape: [1, 2, 3, 3] }], ([x]) => upsample2d(x!, { scaleFactor: 2 }));
  gradcheck('upsample nearest to 5×7', [{ shape: [1, 1, 2, 3] }], ([x]) => upsample2d(x!, { mode: 'nearest', size: [5, 7] }));
  gradcheck('batchNorm2d training', [{ shape: [2, 3, 2, 2] }, { shape: [3], range: 'positive' }, { shape: [3] }], ([x, g, b]) =>
    batchNorm2d(x!, g!, b!, null, null, { training: true }),
  );
});

test("conv2d's fused ReLU has relu(conv2d)'s value and gradients", () => {
  const run = (fused: boolean) => {
    const x = Var.parameter(Tensor.fromArray(spread(2 * 2 * 5 * 5, 1), [2, 2, 5, 5], 'f32'));
    const w = Var.parameter(Tensor.fromArray(spread(3 * 2 * 3 * 3, 2), [3, 2, 3, 3], 'f32'));
    const b = Var.parameter(Tensor.fromArray(spread(3, 3), [3], 'f32'));
    const y = fused ? conv2d(x, w, b, { padding: 1, activation: 'relu' }) : F.relu(conv2d(x, w, b, { padding: 1 }));
    const out = [...(y.value.data as Float32Array)];
    backward(F.sum(F.mul(y, y)));
    return [out, ...[x, w, b].map((p) => [...(p.grad!.data as Float32Array)])];
  };
  const fused = run(true);
  const composed = run(false);
  assert.ok(fused[0]!.some((v) => v === 0) && fused[0]!.some((v) => v > 0), 'the ReLU clamps some outputs');
  for (const [k, list] of fused.entries()) {
    for (const [i, v] of list.entries()) assert.ok(Math.abs(v - composed[k]![i]!) < 1e-5, `list ${k}[${i}]`);
  }
});
