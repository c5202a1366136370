/**
 * Per-sample parameters (one value, matrix, box or choice per sample of the batch): for each op,
 * the batch equals the op run on each sample alone with that sample's scalar value, the GPU
 * equals the CPU reference, and wrong lengths or values are refused with one sentence.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DType } from '../../src/dtype.js';
import { brightnessContrast } from '../../src/ops/color/brightness-contrast.js';
import { affinePerSamplePrograms } from '../../src/ops/color/convert.js';
import { gamma, gammaPerSamplePrograms } from '../../src/ops/color/gamma.js';
import { crop } from '../../src/ops/geometry/crop.js';
import { flip, type FlipAxis } from '../../src/ops/geometry/flip.js';
import { resize, type ResizeBox } from '../../src/ops/geometry/resize.js';
import { rot90 } from '../../src/ops/geometry/rot90.js';
import { warpAffine, type WarpInterpolation } from '../../src/ops/geometry/warp-affine.js';
import { MAX_PER_SAMPLE, numberItem, perSample } from '../../src/ops/image.js';
import { BORDER_MODES } from '../../src/kernels/border.js';
import { Tensor } from '../../src/tensor.js';
import { arithmeticExact, assertClose, EXACT } from '../_kit/compare.js';
import { BACKENDS, testGpu } from '../_kit/gpu.js';
import { naturalImage, randomImage } from '../_kit/images.js';
import { assertGpuMatchesCpu } from '../_kit/parity.js';

const gpu = await testGpu();

type Shape4 = readonly [number, number, number, number];
const GRAY: Shape4 = [4, 1, 32, 48];
const RGB: Shape4 = [4, 3, 17, 23];

/** Sample n of a CPU batch as a batch of one. */
function sample(t: Tensor, n: number): Tensor {
  const [, c, h, w] = t.shape as Shape4;
  const per = c * h * w;
  return Tensor.fromArray(t.data.slice(n * per, (n + 1) * per), [1, c, h, w], t.dtype);
}

/**
 * Runs `batch` on x and `item(sample n, n)` on each sample alone, on `backend`; asserts that
 * sample n of the batch's output equals the item's output.
 */
async function assertBatchIsPerItem(
  backend: 'cpu' | 'gpu',
  x: Tensor,
  batch: (t: Tensor) => Tensor,
  item: (t: Tensor, n: number) => Tensor,
  what: string,
  tol = EXACT,
): Promise<void> {
  const run = async (t: Tensor, op: (t: Tensor) => Tensor): Promise<Tensor> => {
    if (backend === 'cpu') return op(t);
    const g = await t.toGpu(gpu!);
    const out = op(g);
    const cpu = await out.toCpu();
    g.dispose();
    out.dispose();
    return cpu;
  };
  const all = await run(x, batch);
  for (let n = 0; n < x.shape[0]!; n++) {
    assertClose(sample(all, n), await run(sample(x, n), (t) => item(t, n)), tol, `${backend} ${what} sample ${n}`);
  }
}

/** cv.getRotationMatrix2D(center, angle, scale) */
function rotation(cx: number, cy: number, degrees: number, scale: number): number[] {
  const a = (degrees * Math.PI) / 180;
  const al = Math.cos(a) * scale;
  const be = Math.sin(a) * scale;
  return [al, be, (1 - al) * cx - be * cy, -be, al, be * cx + (1 - al) * cy];
}

const MATRICES = [rotation(20, 14, 15, 1), [1, 0, 3.25, 0, 1, -2.5], rotation(10, 10, -40, 0.8), [0.9, 0.2, 1, -0.1, 1.1, 0]];
const BOXES: ResizeBox[] = [
  [0, 0, 23, 17],
  [3, 2, 10, 9],
  [5, 1, 17, 4],
  [22, 16, 1, 1],
];

describe('per-sample parameters', () => {
  for (const backend of BACKENDS) {
    const skip = backend === 'gpu' && !gpu;
    test(`${backend}: brightnessContrast with per-sample alpha and beta equals each sample alone`, { skip }, async () => {
      const alpha = [0.5, 1, 1.3, 2.5];
      const beta = [-20, 0, 12.5, 40];
      for (const [shape, dtype] of [
        [GRAY, 'u8'],
        [RGB, 'f32'],
      ] as const) {
        const x = naturalImage(shape, dtype, 3);
        await assertBatchIsPerItem(
          backend,
          x,
          (t) => brightnessContrast(t, { alpha, beta }),
          (t, n) => brightnessContrast(t, { alpha: alpha[n]!, beta: beta[n]! }),
          `${dtype} alpha and beta`,
        );
        await assertBatchIsPerItem(
          backend,
          x,
          (t) => brightnessContrast(t, { alpha, dtype: 'f16' }),
          (t, n) => brightnessContrast(t, { alpha: alpha[n]!, dtype: 'f16' }),
          `${dtype} alpha only → f16`,
        );
      }
    });

    test(`${backend}: gamma with per-sample gamma (and gain) equals each sample alone`, { skip }, async () => {
      const g = [0.5, 1, 1.7, 2.2];
      for (const [shape, dtype] of [
        [GRAY, 'u8'],
        [RGB, 'f32'],
      ] as const) {
        const x = naturalImage(shape, dtype, 4);
        await assertBatchIsPerItem(
          backend,
          x,
          (t) => gamma(t, { gamma: g }),
          (t, n) => gamma(t, { gamma: g[n]! }),
          `${dtype} gamma`,
        );
        await assertBatchIsPerItem(
          backend,
          x,
          (t) => gamma(t, { gamma: 1.5, gain: g }),
          (t, n) => gamma(t, { gamma: 1.5, gain: g[n]! }),
          `${dtype} gain`,
        );
      }
    });

    test(`${backend}: warpAffine with a matrix per sample equals each sample alone (both interpolations, every border)`, { skip }, async () => {
      for (const [shape, dtype] of [
        [GRAY, 'u8'],
        [RGB, 'f32'],
      ] as const) {
        const x = naturalImage(shape, dtype, 5);
        for (const interpolation of ['nearest', 'bilinear'] as WarpInterpolation[]) {
          for (const border of BORDER_MODES) {
            const o = { interpolation, border, borderValue: 7, width: 21, height: 19 };
            await assertBatchIsPerItem(
              backend,
              x,
              (t) => warpAffine(t, { ...o, matrix: MATRICES }),
              (t, n) => warpAffine(t, { ...o, matrix: MATRICES[n]! }),
              `${dtype} ${interpolation} ${border}`,
            );
          }
        }
      }
    });

    test(`${backend}: resize with a box per sample equals resize(crop(sample, box))`, { skip }, async () => {
      for (const [shape, dtype] of [
        [RGB, 'u8'],
        [RGB, 'f32'],
      ] as const) {
        const x = naturalImage(shape, dtype, 6);
        for (const interpolation of ['nearest', 'bilinear'] as const) {
          for (const [width, height] of [
            [11, 7],
            [30, 20],
          ]) {
            await assertBatchIsPerItem(
              backend,
              x,
              (t) => resize(t, { width: width!, height: height!, interpolation, boxes: BOXES }),
              (t, n) => {
                const [bx, by, bw, bh] = BOXES[n]!;
                return resize(crop(t, { x: bx, y: by, width: bw, height: bh }), { width: width!, height: height!, interpolation });
              },
              `${dtype} ${interpolation} ${width}×${height}`,
            );
          }
        }
      }
    });

    test(`${backend}: crop, flip and rot90 with a per-sample choice equal each sample alone`, { skip }, async () => {
      for (const dtype of ['u8', 'f16'] as const) {
        const x = randomImage(RGB, dtype, 7);
        const xs = [0, 5, 12, 3];
        const ys = [2, 0, 7, 9];
        await assertBatchIsPerItem(
          backend,
          x,
          (t) => crop(t, { x: xs, y: ys, width: 11, height: 8 }),
          (t, n) => crop(t, { x: xs[n]!, y: ys[n]!, width: 11, height: 8 }),
          `${dtype} crop`,
        );
        const h = [true, false, true, false];
        const v = [false, false, true, true];
        const axes: (FlipAxis | null)[] = ['horizontal', null, 'both', 'vertical'];
        await assertBatchIsPerItem(
          backend,
          x,
          (t) => flip(t, { horizontal: h, vertical: v }),
          (t, n) => (axes[n] ? flip(t, { axis: axes[n] }) : crop(t, { x: 0, y: 0, width: 23, height: 17 })),
          `${dtype} flip`,
        );
        const k = [1, 3, -1, 5];
        await assertBatchIsPerItem(
          backend,
          x,
          (t) => rot90(t, { k }),
          (t, n) => rot90(t, { k: k[n]! }),
          `${dtype} rot90 odd k on a non-square image`,
        );
        const square = randomImage([4, 3, 17, 17], dtype, 8);
        const mixed = [0, 1, 2, 3];
        await assertBatchIsPerItem(
          backend,
          square,
          (t) => rot90(t, { k: mixed }),
          (t, n) => rot90(t, { k: mixed[n]! }),
          `${dtype} rot90 mixed k on a square image`,
        );
      }
    });
  }

  test('GPU matches the CPU reference with per-sample values (u8, f32, f16 outputs)', { skip: !gpu }, async () => {
    const g = gpu!;
    const u8 = naturalImage(GRAY, 'u8', 9);
    const f32 = naturalImage(RGB, 'f32', 10);
    for (const [x, to] of [
      [u8, undefined],
      [f32, undefined],
      [u8, 'f16'],
      [f32, 'u8'],
    ] as [Tensor, DType | undefined][]) {
      const what = `${x.dtype}→${to ?? x.dtype}`;
      await assertGpuMatchesCpu(
        g,
        [x],
        (t) => brightnessContrast(t, { alpha: [0.5, 1, 1.3, 2.5], beta: [-0.1, 0, 0.2, 3], dtype: to }),
        arithmeticExact(g),
        `brightnessContrast ${what}`,
      );
      // WGSL pow is exp2 · log2: integer outputs may differ by 1 at rounding ties (gamma.ts)
      await assertGpuMatchesCpu(g, [x], (t) => gamma(t, { gamma: [0.5, 1, 1.7, 2.2], gain: [1, 0.9, 1.1, 1], dtype: to }), { int: 1 }, `gamma ${what}`);
      for (const interpolation of ['nearest', 'bilinear'] as const) {
        await assertGpuMatchesCpu(
          g,
          [x],
          (t) => warpAffine(t, { matrix: MATRICES, interpolation, border: 'reflect101', dtype: to }),
          interpolation === 'nearest' ? EXACT : {},
          `warpAffine ${interpolation} ${what}`,
        );
        const boxes = BOXES.map(([bx, by, bw, bh]) => [bx, by, Math.min(bw, 17), Math.min(bh, 17)] as const);
        await assertGpuMatchesCpu(
          g,
          [x],
          (t) => resize(t, { width: 13, height: 9, interpolation, boxes, dtype: to }),
          interpolation === 'nearest' ? EXACT : {},
          `resize boxes ${interpolation} ${what}`,
        );
      }
      await assertGpuMatchesCpu(
        g,
        [x],
        (t) => flip(t, { horizontal: [true, false, true, false], vertical: [false, true, true, false], dtype: to }),
        EXACT,
        `flip ${what}`,
      );
      await assertGpuMatchesCpu(g, [x], (t) => rot90(t, { k: [2, 0, -2, 4], dtype: to }), EXACT, `rot90 ${what}`);
      await assertGpuMatchesCpu(g, [x], (t) => crop(t, { x: [0, 1, 2, 3], y: 2, width: 9, height: 5, dtype: to }), EXACT, `crop ${what}`);
    }
  });

  test('every per-sample program variant compiles (the geometry ones are in their ops’ lists)', { skip: !gpu }, async () => {
    for (const p of [...affinePerSamplePrograms(), ...gammaPerSamplePrograms()]) await gpu!.compile(p);
  });

  test('per-sample values come as arrays, typed arrays or CPU tensors; a scalar keeps the scalar form', () => {
    const item = numberItem(0, 10);
    assert.deepEqual(perSample('alpha', 2, 3, item), { values: [2], perSample: false });
    assert.deepEqual(perSample('alpha', [1, 2, 3], 3, item), { values: [1, 2, 3], perSample: true });
    assert.deepEqual(perSample('alpha', Float32Array.of(1, 2, 3), 3, item), { values: [1, 2, 3], perSample: true });
    assert.deepEqual(perSample('alpha', Tensor.fromArray(Float32Array.of(4, 5, 6), [3], 'f32'), 3, item), { values: [4, 5, 6], perSample: true });
    const x = naturalImage([2, 1, 9, 11], 'u8', 1);
    const m = Tensor.fromArray(Float32Array.from([...MATRICES[0]!, ...MATRICES[1]!]), [2, 2, 3], 'f32');
    const fromTensor = warpAffine(x, { matrix: m });
    const fromArrays = warpAffine(x, { matrix: [MATRICES[0]!, MATRICES[1]!].map((r) => r.map(Math.fround)) });
    assert.deepEqual([...fromTensor.data], [...fromArrays.data]);
    const flags = flip(x, { horizontal: Tensor.fromArray(Uint8Array.of(1, 0), [2], 'u8') });
    assert.deepEqual([...sample(flags, 0).data], [...flip(sample(x, 0), { axis: 'horizontal' }).data]);
    assert.deepEqual([...sample(flags, 1).data], [...sample(x, 1).data]);
  });

  test('wrong lengths and values name the argument, the expected count and what was received', () => {
    const x = randomImage([4, 1, 17, 23], 'u8');
    assert.throws(
      () => brightnessContrast(x, { alpha: [1, 2, 3] }),
      /^KensaError: Expected a number or one per sample \(4 numbers as an array or a CPU tensor\) for alpha but received an array of 3$/,
    );
    assert.throws(
      () => brightnessContrast(x, { beta: Tensor.fromArray(new Float32Array(4), [2, 2], 'f32') }),
      /Expected a number or one per sample \(4 numbers as an array or a CPU tensor\) for beta but received a CPU tensor of shape \[2, 2\]/,
    );
    assert.throws(() => brightnessContrast(x, { alpha: [1, 2, -1, 1] }), /Expected number between 0 and 1000 for alpha\[2\] but received -1 of type number/);
    assert.throws(
      () => gamma(x, { gamma: new Float32Array(3) }),
      /Expected a number or one per sample \(4 numbers as an array or a CPU tensor\) for gamma but received a Float32Array of 3/,
    );
    assert.throws(() => gamma(x, { gamma: [1, 1, 0, 1] }), /Expected number above 0 and at most 100 for gamma\[2\] but received 0 of type number/);
    assert.throws(
      () => warpAffine(x, { matrix: [MATRICES[0]!] }),
      /Expected a matrix \[a, b, c, d, e, f\] or one per sample \(4 matrices as an array or a CPU tensor\) for matrix but received an array of 1/,
    );
    assert.throws(
      () => warpAffine(x, { matrix: [MATRICES[0]!, MATRICES[1]!, [1, 2, 3], MATRICES[3]!] }),
      /Expected an array of 6 finite numbers for matrix\[2\] but received \[1, 2, 3\] of type object/,
    );
    assert.throws(
      () => warpAffine(x, { matrix: [...MATRICES.slice(0, 3), [1, 2, 3, 2, 4, 6]] }),
      /Expected an invertible affine matrix \(a·e − b·d ≠ 0\) for matrix\[3\] but received \[1, 2, 3, 2, 4, 6\] of type object/,
    );
    assert.throws(
      () => resize(x, { width: 8, height: 8, boxes: [BOXES[0]!, [20, 0, 10, 5], BOXES[2]!, BOXES[3]!] }),
      /Expected a box \[x, y, width, height\] of integers inside the 23×17 image for boxes\[1\] but received \[20, 0, 10, 5\] of type object/,
    );
    assert.throws(
      () => resize(x, { width: 8, height: 8, boxes: BOXES.slice(0, 2) }),
      /Expected a box \[x, y, width, height\] or one per sample \(4 boxes as an array or a CPU tensor\) for boxes but received an array of 2/,
    );
    assert.throws(
      () => resize(x, { width: 8, height: 8, boxes: BOXES, interpolation: 'area' }),
      /Expected one of "nearest", "bilinear" with boxes for interpolation but received "area"/,
    );
    assert.throws(
      () => flip(x, { axis: 'horizontal', horizontal: true }),
      /Expected no axis when horizontal or vertical is given for axis but received "horizontal"/,
    );
    assert.throws(() => flip(x, { horizontal: [true, 2, false, false] as never }), /Expected a boolean for horizontal\[1\] but received 2 of type number/);
    assert.throws(
      () => rot90(x, { k: [0, 1, 2, 3] }),
      /Expected quarter turns of one parity \(all even or all odd\) on non-square images \(23×17\) for k but received \[0, 1, 2, 3\] of type object/,
    );
    assert.throws(() => rot90(x, { k: [1, 1.5, 1, 1] }), /Expected integer between -1000000000 and 1000000000 for k\[1\] but received 1.5 of type number/);
    assert.throws(() => crop(x, { x: [0, 0, 15, 0], y: 0, width: 10, height: 4 }), /Expected integer between 1 and 8 for width but received 10 of type number/);
    const big = Tensor.zeros([MAX_PER_SAMPLE + 1, 1, 1, 1], 'u8');
    assert.throws(
      () => brightnessContrast(big, { alpha: new Array<number>(MAX_PER_SAMPLE + 1).fill(1) }),
      /Expected a batch of at most 1024 samples for per-sample alpha but received 1025/,
    );
  });

  test('a GPU tensor of per-sample values is refused with the same sentence', { skip: !gpu }, async () => {
    const x = randomImage([4, 1, 5, 7], 'u8');
    const alpha = await Tensor.fromArray(Float32Array.of(1, 1, 1, 1), [4], 'f32').toGpu(gpu!);
    assert.throws(() => brightnessContrast(x, { alpha }), /for alpha but received a GPU tensor of shape \[4\]/);
    alpha.dispose();
  });
});
