import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  type Conv2dOptions,
  type ConvGeometry,
  channelSumReference,
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardInputReference,
  conv2dBackwardWeight,
  conv2dBackwardWeightReference,
  conv2dForward,
  conv2dReference,
  enableConvTensorCores,
  convGeometry,
  convParams,
} from '../../../src/nn/ops/conv2d.js';
import { Gpu } from '../../../src/gpu/gpu.js';
import { gemmStorePath } from '../../../src/nn/ops/gemm-store.js';
import { GEMM_TILE_SIZES, gemmMeasurements, withGemmTuning } from '../../../src/nn/ops/implicit-gemm.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { assertGradient, dot, randomTensor, randomValues } from '../_kit.js';

const gpu = await testGpu();

interface Case {
  x: [number, number, number, number];
  cout: number;
  k: [number, number];
  opts: Conv2dOptions;
}
const CASES: Case[] = [
  { x: [2, 3, 9, 9], cout: 4, k: [3, 3], opts: { padding: 1 } },
  { x: [2, 4, 9, 8], cout: 6, k: [3, 2], opts: { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 } },
  { x: [2, 4, 7, 7], cout: 6, k: [1, 1], opts: { groups: 2 } },
  { x: [1, 4, 8, 8], cout: 4, k: [4, 4], opts: { stride: 2, padding: 1, groups: 4 } },
];

function geometryOf(c: Case): ConvGeometry {
  return convGeometry(convParams(c.opts), c.x[0], c.x[1], c.x[2], c.x[3], c.cout, c.k[0], c.k[1], 'x');
}

test('conv2d: the CPU backward references are the gradients of the forward (central differences in f64)', () => {
  for (const [i, c] of CASES.entries()) {
    const g = geometryOf(c);
    const x = randomValues(
      c.x.reduce((a, b) => a * b),
      10 + i,
    );
    const w = randomValues(g.cout * (g.cin / g.groups) * g.kh * g.kw, 20 + i);
    const bias = randomValues(g.cout, 30 + i);
    const r = randomValues(g.n * g.cout * g.oh * g.ow, 40 + i);
    const loss = () => dot(r, conv2dReference(g, x, w, bias));
    assertGradient(`case ${i} dx`, loss, x, conv2dBackwardInputReference(g, r, w));
    assertGradient(`case ${i} dw`, loss, w, conv2dBackwardWeightReference(g, r, x));
    assertGradient(`case ${i} db`, loss, bias, channelSumReference(r, g.n, g.cout, g.oh * g.ow));
  }
});

test('conv2d: the output size and a hand-computed value follow PyTorch', () => {
  // 1×1×3×3 ones ⊛ 2×2 ones, padding 1, stride 2: 2×2 output, each window covers one input pixel... or more
  const x = Tensor.fromArray(new Float32Array(9).fill(1), [1, 1, 3, 3], 'f32');
  const w = Tensor.fromArray(new Float32Array(4).fill(1), [1, 1, 2, 2], 'f32');
  const y = conv2dForward(x, w, Tensor.fromArray(new Float32Array([0.5]), [1], 'f32'), { padding: 1, stride: 2 });
  assert.deepEqual([...y.shape], [1, 1, 2, 2]);
  assert.deepEqual([...y.data], [1.5, 2.5, 2.5, 4.5]);
  const relu = conv2dForward(x, Tensor.fromArray(new Float32Array(4).fill(-1), [1, 1, 2, 2], 'f32'), null, { activation: 'relu' });
  assert.deepEqual([...relu.data], [0, 0, 0, 0]);
});

// lavapipe compiles each GEMM pipeline in seconds: the fused ReLU runs on the smallest tile only
test('conv2d: GPU forward and backward = CPU reference on every tile', { skip: gpuSkip(gpu) }, async () => {
  const tol = { atol: 1e-4, rtol: 1e-4 };
  for (const [i, c] of CASES.entries()) {
    const x = randomTensor(c.x, 50 + i);
    const w = randomTensor([c.cout, c.x[1] / (c.opts.groups ?? 1), c.k[0], c.k[1]], 60 + i);
    const b = randomTensor([c.cout], 70 + i);
    const y = conv2dForward(x, w, b, c.opts);
    const dy = randomTensor(y.shape, 80 + i);
    const [gx, gw, gb, gdy] = await Promise.all([x, w, b, dy].map((t) => t.toGpu(gpu!)));
    const expected = {
      y,
      relu: conv2dForward(x, w, b, { ...c.opts, activation: 'relu' }),
      dx: conv2dBackwardInput(dy, w, { ...c.opts, inputSize: [c.x[2], c.x[3]] }),
      dw: conv2dBackwardWeight(dy, x, { ...c.opts, kernelSize: c.k }),
      db: conv2dBackwardBias(dy),
    };
    for (const tile of GEMM_TILE_SIZES) {
      const actual = withGemmTuning({ tile }, () => ({
        y: conv2dForward(gx!, gw!, gb!, c.opts),
        relu: tile === 32 ? conv2dForward(gx!, gw!, gb!, { ...c.opts, activation: 'relu' }) : null,
        dx: conv2dBackwardInput(gdy!, gw!, { ...c.opts, inputSize: [c.x[2], c.x[3]] }),
        dw: conv2dBackwardWeight(gdy!, gx!, { ...c.opts, kernelSize: c.k }),
        db: conv2dBackwardBias(gdy!),
      }));
      for (const [name, t] of Object.entries(actual)) {
        if (!t) continue;
        assertClose(await t.toCpu(), expected[name as keyof typeof expected], tol, `case ${i} tile ${tile} ${name}`);
        t.dispose();
      }
    }
    for (const t of [gx, gw, gb, gdy]) t!.dispose();
  }
});

test('conv2d: precision f16 runs on the tensor cores where they fit, else as f32; either way within f16 rounding of the CPU', {
  skip: gpuSkip(gpu),
}, async () => {
  // K = 3·3·48 = 432 products of f16-rounded inputs (relative error 2^-11 each) in f32 sums
  await enableConvTensorCores(gpu!);
  const x = randomTensor([2, 48, 9, 9], 92);
  const w = randomTensor([40, 48, 3, 3], 93);
  const b = randomTensor([40], 94);
  const dy = randomTensor([2, 40, 9, 9], 95);
  const opts = { padding: 1 };
  const [gx, gw, gb, gdy] = await Promise.all([x, w, b, dy].map((t) => t.toGpu(gpu!)));
  const f16 = { ...opts, precision: 'f16' as const };
  const pairs: [Tensor, Tensor, string][] = [
    [conv2dForward(gx!, gw!, gb!, { ...f16, activation: 'relu' }), conv2dForward(x, w, b, { ...opts, activation: 'relu' }), 'y'],
    [conv2dBackwardInput(gdy!, gw!, { ...f16, inputSize: [9, 9] }), conv2dBackwardInput(dy, w, { ...opts, inputSize: [9, 9] }), 'dx'],
    // K = 2·81 products for the weight gradient
    [conv2dBackwardWeight(gdy!, gx!, { ...f16, kernelSize: 3 }), conv2dBackwardWeight(dy, x, { ...opts, kernelSize: 3 }), 'dw'],
  ];
  for (const [actual, expected, name] of pairs) assertClose(await actual.toCpu(), expected, { atol: 2e-2, rtol: 1e-2 }, name);
});

test('conv2d: the weight gradient split over K (a long batch sum) = CPU reference', { skip: gpuSkip(gpu) }, async () => {
  const x = randomTensor([2, 1, 40, 40], 90);
  const dy = randomTensor([2, 2, 40, 40], 91);
  const opts = { padding: 1, kernelSize: 3 };
  const expected = conv2dBackwardWeight(dy, x, opts);
  const actual = conv2dBackwardWeight(await dy.toGpu(gpu!), await x.toGpu(gpu!), opts);
  assertClose(await actual.toCpu(), expected, { atol: 1e-3, rtol: 1e-4 });
});

/** The dispatches one weight gradient of (dy, x) records on `g`, its result checked against the CPU's. */
async function weightGradientDispatches(g: Gpu, dy: Tensor, x: Tensor): Promise<number> {
  const opts = { padding: 1, kernelSize: 3 };
  const expected = conv2dBackwardWeight(dy, x, opts);
  const [gx, gdy] = await Promise.all([x.toGpu(g), dy.toGpu(g)]);
  const before = g.stats.dispatches;
  const dw = conv2dBackwardWeight(gdy, gx, opts);
  const dispatches = g.stats.dispatches - before;
  assertClose(await dw.toCpu(), expected, { atol: 1e-3, rtol: 1e-4 });
  for (const t of [dw, gx, gdy]) t.dispose();
  return dispatches;
}

test('conv2d: the first GEMM of a shape times every candidate in a pass of its own, the size rule last; later calls run the fastest', {
  skip: gpuSkip(gpu),
}, async () => {
  // the weight gradient of a 3×1×3×3 kernel over 2×48² outputs: M 3, N 9, K 4608, so K slices are worth trying
  const x = randomTensor([2, 1, 48, 48], 96);
  const dy = randomTensor([2, 3, 48, 48], 97);
  const problem = () => gemmMeasurements(gpu!).find((m) => m.problem.includes(' 1×3×9×4608 f32'));
  const run = () => weightGradientDispatches(gpu!, dy, x);
  // by default hardware GPUs measure, software adapters (lavapipe) do not; forced on: three SIMT tiles, each whole
  // and in 4 K slices (a GEMM and a sum of the slices)
  assert.equal(await withGemmTuning({ measure: false }, run), 2, 'the size rule: one GEMM and the sum of its K slices');
  const everyCandidate = 3 * 1 + 3 * 2;
  if (gpu!.info.isCpu) {
    assert.equal(await run(), 2, 'not measured on a software adapter by default');
    assert.equal(await withGemmTuning({ measure: true }, run), everyCandidate);
  } else {
    assert.equal(await run(), everyCandidate, 'measured on a hardware GPU by default');
  }
  for (let i = 0; i < 200 && !problem(); i++) await new Promise((r) => setTimeout(r, 25));
  const measured = problem();
  assert.ok(measured, 'the timings came back');
  assert.deepEqual(measured.candidates.map((c) => c.label).sort(), [
    'SIMT 128',
    'SIMT 128, K in 4',
    'SIMT 32',
    'SIMT 32, K in 4',
    'SIMT 64',
    'SIMT 64, K in 4',
  ]);
  const ms = measured.candidates.map((c) => c.gpuMs);
  assert.ok(ms.every((v) => Number.isFinite(v) && v >= 0) && ms.every((v, i) => i === 0 || v >= ms[i - 1]!), ms.join(', '));
  const fastest = measured.candidates[0]!.label.includes('K in') ? 2 : 1;
  assert.equal(await withGemmTuning({ measure: true }, run), fastest, `the fastest: ${measured.candidates[0]!.label}`);
  // a forced tile is not measured
  assert.equal(await withGemmTuning({ tile: 64, measure: true }, run), 2);
});

test('conv2d: a measured choice is kept on disk for the adapter; another device takes it without measuring; a broken file is ignored', {
  skip: gpuSkip(gpu),
}, async () => {
  const x = randomTensor([2, 1, 40, 40], 98);
  const dy = randomTensor([2, 3, 40, 40], 99);
  const run = (g: Gpu) => weightGradientDispatches(g, dy, x);
  const path = gemmStorePath(gpu!.info);
  await withGemmTuning({ measure: true }, async () => {
    assert.equal(await run(gpu!), 9, 'the first device measures every candidate');
    for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 25));
    const choices = JSON.parse(readFileSync(path, 'utf8')).choices as Record<string, { kernel: string; splits: number }>;
    const stored = Object.entries(choices).find(([k]) => k.includes(' 1×3×9×3200 f32 '));
    assert.ok(stored, Object.keys(choices).join('; '));
    const other = await Gpu.open();
    try {
      assert.equal(await run(other), stored[1].splits > 1 ? 2 : 1, 'a second device runs the stored choice alone');
      assert.equal(gemmMeasurements(other).length, 0, 'and measures nothing');
    } finally {
      other.destroy();
    }
    writeFileSync(path, '{ not json');
    const third = await Gpu.open();
    try {
      assert.equal(await run(third), 9, 'an unreadable file: measured again');
    } finally {
      third.destroy();
    }
  });
});

test('conv2d: bad shapes and options get errors naming them', () => {
  const x = Tensor.zeros([1, 4, 8, 8], 'f32');
  const w = Tensor.zeros([6, 2, 3, 3], 'f32');
  assert.throws(() => conv2dForward(x, w, null, { groups: 3 }), /Expected a divisor of both Cin \(4\) and Cout \(6\) for groups but received 3/);
  assert.throws(() => conv2dForward(x, w), /Expected weight of shape \[Cout, Cin \/ groups = 4, KH, KW\] but received \[6, 2, 3, 3\]/);
  assert.throws(() => conv2dForward(x, w, null, { groups: 2, stride: 0 }), /Expected integer between 1 and 64 for stride but received 0/);
  assert.throws(() => conv2dForward(x, w, null, { groups: 2, padding: [1, -1] }), /for padding but received \[1, -1\]/);
  assert.throws(() => conv2dForward(x, w, Tensor.zeros([4], 'f32'), { groups: 2 }), /Expected bias of shape \[Cout\] = \[6\] but received \[4\]/);
  assert.throws(() => conv2dForward(x, w, null, { groups: 2, activation: 'gelu' as 'relu' }), /for activation but received "gelu"/);
  assert.throws(() => conv2dForward(x, w, null, { groups: 2, precision: 'tf32' as 'f32' }), /Expected one of "f32", "f16" for precision but received "tf32"/);
  assert.throws(() => conv2dForward(Tensor.zeros([1, 4, 2, 2], 'f32'), w, null, { groups: 2 }), /Expected x of at least one output pixel/);
  assert.throws(() => conv2dForward(Tensor.zeros([1, 4, 8, 8], 'u8'), w, null, { groups: 2 }), /Expected x of dtype f32 but received u8/);
  const dy = Tensor.zeros([1, 6, 6, 6], 'f32');
  assert.throws(
    () => conv2dBackwardInput(dy, w, { groups: 2, inputSize: [8, 9] }),
    /Expected dy of shape \[N, Cout, OH, OW\] = \[1, 6, 6, 7\] but received \[1, 6, 6, 6\]/,
  );
  assert.throws(() => conv2dBackwardInput(dy, w, { groups: 2 } as never), /for inputSize but received undefined/);
  assert.throws(() => conv2dBackwardWeight(dy, x, { groups: 2 } as never), /for kernelSize but received undefined/);
});
