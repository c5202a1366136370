import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { filter2d, filter2dPrograms } from '../../../src/ops/filters/filter2d.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage, rng } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

/** rows × cols random f32 weights in [lo, hi). */
function randomKernel(rows: number, cols: number, seed: number, lo = -0.3, hi = 0.5): number[][] {
  const r = rng(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => Math.fround(lo + (hi - lo) * r())));
}

describe('filter2d', () => {
  test('CPU reference matches OpenCV filter2D: random 5×5 and 3×7 kernels (u8 ±1, f32 1e-5)', async () => {
    const { cv } = await opencv();
    for (const [rows, cols, seed] of [
      [5, 5, 11],
      [3, 7, 12],
    ] as const) {
      const kernel = randomKernel(rows, cols, seed);
      const kmat = cv.matFromArray(rows, cols, cv.CV_32F, kernel.flat());
      for (const border of BORDER_MODES) {
        for (const dtype of ['u8', 'f32'] as const) {
          const x = naturalImage([1, 1, 19, 23], dtype, 3);
          const delta = dtype === 'u8' ? 7 : 0.25;
          const ours = filter2d(x, { kernel, delta, border });
          const src = toMat(cv, x);
          const dst = new cv.Mat();
          // cv.filter2D(src, dst, -1, kernel, anchor (-1, -1), delta, border)
          cv.filter2D(src, dst, -1, kmat, new cv.Point(-1, -1), delta, cvBorder(cv, border));
          assertClose(ours, fromMat(dst, dtype), dtype === 'u8' ? { int: 1 } : { atol: 1e-5, rtol: 1e-5 }, `${rows}x${cols} ${border} ${dtype}`);
          src.delete();
          dst.delete();
        }
      }
      kmat.delete();
    }
  });

  test('correlation, not convolution: an off-centre tap shifts the image', () => {
    const x = Tensor.fromArray(
      Float32Array.from({ length: 5 * 6 }, (_, i) => i),
      [1, 1, 5, 6],
      'f32',
    );
    // weight at (row 1, col 2) of a 3×3 kernel reads src(y, x + 1)
    const y = filter2d(x, {
      kernel: [
        [0, 0, 0],
        [0, 0, 1],
        [0, 0, 0],
      ],
      border: 'replicate',
    });
    assert.equal(y.data[2 * 6 + 3], x.data[2 * 6 + 4]);
    assert.equal(y.data[2 * 6 + 5], x.data[2 * 6 + 5]);
  });

  test('GPU matches the CPU reference: dtypes, borders, batches, odd sizes, 1 and 3 channels', { skip: gpuSkip(gpu) }, async () => {
    const kernel = randomKernel(5, 3, 21);
    for (const [shape, dtype] of [
      [[1, 1, 17, 23], 'u8'],
      [[3, 3, 9, 8], 'u8'],
      [[2, 1, 13, 7], 'u16'],
      [[2, 3, 11, 5], 'f32'],
      [[1, 1, 6, 33], 'f16'],
      [[2, 1, 5, 9], 'i32'],
    ] as const) {
      for (const border of BORDER_MODES) {
        const x = (shape[0] > 1 ? randomImage : naturalImage)(shape as [number, number, number, number], dtype, 7);
        await assertGpuMatchesCpu(gpu!, [x], (t) => filter2d(t, { kernel, delta: 1, border, borderValue: 3 }), {}, `${dtype} ${border}`);
      }
    }
  });

  test('f16 and f32 outputs, 1×1 and 31×31 kernels, kernel larger than the image', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([2, 3, 23, 29], 'u8', 5);
    await assertGpuMatchesCpu(gpu!, [x], (t) => filter2d(t, { kernel: randomKernel(3, 3, 1, -1, 1), dtype: 'f16' }), {}, 'f16 out');
    await assertGpuMatchesCpu(gpu!, [x], (t) => filter2d(t, { kernel: randomKernel(1, 5, 2, -1, 1), delta: -3, dtype: 'f32' }), {}, 'f32 out');
    await assertGpuMatchesCpu(gpu!, [x], (t) => filter2d(t, { kernel: [[2]] }), { int: 0 }, '1x1');
    const big = randomKernel(31, 31, 3, 0, 2 / 961);
    await assertGpuMatchesCpu(gpu!, [x], (t) => filter2d(t, { kernel: big, border: 'reflect101' }), {}, '31x31');
    await assertGpuMatchesCpu(gpu!, [x], (t) => filter2d(t, { kernel: big, border: 'constant', borderValue: 200 }), {}, '31x31 constant');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of filter2dPrograms(['u8', 'u16', 'i32', 'f32', 'f16'], BORDER_MODES)) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    const expected = 'Expected rows of equal odd length \\(odd count and length 1 to 31\\) of finite numbers for kernel but received';
    assert.throws(() => filter2d(x, { kernel: [[1, 1]] }), new RegExp(`${expected} \\[\\[1, 1\\]\\] of type object`));
    assert.throws(() => filter2d(x, { kernel: [[1], [1]] }), new RegExp(`${expected} \\[\\[1\\], \\[1\\]\\] of type object`));
    assert.throws(
      () => filter2d(x, { kernel: [[1, 2, 3], [1], [1, 2, 3]] }),
      new RegExp(`${expected} \\[\\[1, 2, 3\\], \\[1\\], \\[1, 2, 3\\]\\] of type object`),
    );
    assert.throws(() => filter2d(x, { kernel: [] }), new RegExp(`${expected} \\[\\] of type object`));
    assert.throws(() => filter2d(x, { kernel: [[NaN]] }), new RegExp(`${expected} \\[\\[NaN\\]\\] of type object`));
    assert.throws(() => filter2d(x, { kernel: [new Array<number>(33).fill(0)] }), new RegExp(`${expected} \\[\\[0, 0,`));
    assert.throws(() => filter2d(x, { kernel: 3 as never }), new RegExp(`${expected} 3 of type number`));
    assert.throws(
      () => filter2d(x, { kernel: [[1]], delta: Infinity }),
      /Expected number between -1e\+30 and 1e\+30 for delta but received Infinity of type number/,
    );
    assert.throws(
      () => filter2d(x, { kernel: [[1]], border: 'wrap' as never }),
      /Expected one of "reflect101", "replicate", "constant" for border but received "wrap"/,
    );
    assert.throws(() => filter2d(x, { kernel: [[1]], dtype: 'f64' as never }), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "f64"/);
    assert.throws(() => filter2d(x.reshape([16]), { kernel: [[1]] }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
  });
});
