import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { scharr, sobel, sobelKernels, sobelPrograms } from '../../../src/ops/features/sobel.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

describe('sobel / scharr', () => {
  test('kernel weights follow getDerivKernels (normalize = false)', () => {
    assert.deepEqual(sobelKernels(1, 0, 3), { kx: [-1, 0, 1], ky: [1, 2, 1] });
    assert.deepEqual(sobelKernels(0, 2, 3), { kx: [1, 2, 1], ky: [1, -2, 1] });
    assert.deepEqual(sobelKernels(1, 0, 1), { kx: [-1, 0, 1], ky: [1] });
    assert.deepEqual(sobelKernels(2, 1, 1), { kx: [1, -2, 1], ky: [-1, 0, 1] });
    assert.deepEqual(sobelKernels(1, 0, 5), { kx: [-1, -2, 0, 2, 1], ky: [1, 4, 6, 4, 1] });
    assert.deepEqual(sobelKernels(0, 2, 5), { kx: [1, 4, 6, 4, 1], ky: [1, 0, -2, 0, 1] });
    assert.deepEqual(sobelKernels(1, 2, 7), { kx: [-1, -4, -5, 0, 5, 4, 1], ky: [1, 2, -1, -4, -1, 2, 1] });
    assert.deepEqual(sobelKernels(0, 1, 7).kx, [1, 6, 15, 20, 15, 6, 1]);
  });

  test('CPU reference matches OpenCV Sobel, CV_32F output, every border and ksize (atol 1e-4 + rtol 1e-4)', async () => {
    const { cv } = await opencv();
    const cases = [
      [1, 0, 3, 1, 0],
      [0, 1, 3, 1, 0],
      [1, 1, 3, 0.5, 2],
      [2, 0, 3, 1, 0],
      [1, 0, 1, 1, 0],
      [0, 2, 1, 2, -1],
      [1, 0, 5, 1, 0],
      [1, 2, 5, 0.25, 0],
      [0, 1, 7, 1, 0],
      [2, 2, 7, 1 / 64, 0.5],
    ] as const;
    for (const border of BORDER_MODES) {
      for (const dtype of ['u8', 'f32'] as const) {
        const x = naturalImage([1, 1, 19, 23], dtype, 3);
        const src = toMat(cv, x);
        for (const [dx, dy, ksize, scale, delta] of cases) {
          const ours = sobel(x, { dx, dy, ksize, scale, delta, border });
          const dst = new cv.Mat();
          // cv.Sobel(src, dst, cv.CV_32F, dx, dy, ksize, scale, delta, border)
          cv.Sobel(src, dst, cv.CV_32F, dx, dy, ksize, scale, delta, cvBorder(cv, border));
          assertClose(ours, fromMat(dst, 'f32'), { atol: 1e-4, rtol: 1e-4 }, `${border} ${dtype} dx=${dx} dy=${dy} k=${ksize}`);
          dst.delete();
        }
        src.delete();
      }
    }
  });

  test('CPU reference matches OpenCV Scharr, CV_32F output (atol 1e-4 + rtol 1e-4)', async () => {
    const { cv } = await opencv();
    for (const border of BORDER_MODES) {
      for (const dtype of ['u8', 'f32'] as const) {
        const x = naturalImage([1, 1, 17, 14], dtype, 9);
        const src = toMat(cv, x);
        for (const [dx, dy, scale, delta] of [
          [1, 0, 1, 0],
          [0, 1, 0.5, 3],
        ] as const) {
          const dst = new cv.Mat();
          // cv.Scharr(src, dst, cv.CV_32F, dx, dy, scale, delta, border)
          cv.Scharr(src, dst, cv.CV_32F, dx, dy, scale, delta, cvBorder(cv, border));
          assertClose(scharr(x, { dx, dy, scale, delta, border }), fromMat(dst, 'f32'), { atol: 1e-4, rtol: 1e-4 }, `${border} ${dtype} dx=${dx}`);
          dst.delete();
        }
        src.delete();
      }
    }
  });

  test('u8 output saturates like OpenCV (ddepth CV_8U, ±1)', async () => {
    const { cv } = await opencv();
    const x = naturalImage([1, 1, 16, 21], 'u8', 4);
    const src = toMat(cv, x);
    const dst = new cv.Mat();
    // cv.Sobel(src, dst, cv.CV_8U, 1, 0, 3, 0.25, 128, cv.BORDER_REFLECT_101)
    cv.Sobel(src, dst, cv.CV_8U, 1, 0, 3, 0.25, 128, cv.BORDER_REFLECT_101);
    assertClose(sobel(x, { dx: 1, dy: 0, scale: 0.25, delta: 128, dtype: 'u8' }), fromMat(dst, 'u8'), { int: 1 }, 'u8 out');
    src.delete();
    dst.delete();
  });

  test('GPU matches the CPU reference: input dtypes, f32/f16 outputs, borders, batches, ksizes', { skip: gpuSkip(gpu) }, async () => {
    const shapes = [
      [[1, 1, 17, 23], 'u8'],
      [[3, 3, 9, 8], 'u8'],
      [[2, 1, 13, 7], 'u16'],
      [[2, 3, 11, 5], 'f32'],
      [[1, 1, 6, 33], 'f16'],
    ] as const;
    for (const [shape, dtype] of shapes) {
      for (const border of BORDER_MODES) {
        const x = (shape[0] > 1 ? randomImage : naturalImage)(shape as unknown as [number, number, number, number], dtype, 7);
        await assertGpuMatchesCpu(gpu!, [x], (t) => sobel(t, { dx: 1, dy: 0, border, borderValue: 3 }), {}, `${dtype} ${border} sobel f32`);
        await assertGpuMatchesCpu(gpu!, [x], (t) => scharr(t, { dx: 0, dy: 1, border, dtype: 'f16' }), {}, `${dtype} ${border} scharr f16`);
      }
    }
  });

  test('GPU matches the CPU reference: every ksize and order, scale and delta, integer outputs', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([2, 1, 15, 19], 'u8', 11);
    for (const ksize of [1, 3, 5, 7] as const) {
      await assertGpuMatchesCpu(gpu!, [x], (t) => sobel(t, { dx: 2, dy: 1, ksize, scale: 0.5, delta: 7, dtype: 'f32' }), {}, `k=${ksize}`);
    }
    await assertGpuMatchesCpu(gpu!, [x], (t) => sobel(t, { dx: 0, dy: 2, ksize: 5, dtype: 'f16', delta: -3 }), {}, 'f16 delta');
    await assertGpuMatchesCpu(gpu!, [x], (t) => sobel(t, { dx: 1, dy: 0, scale: 0.25, delta: 128, dtype: 'u8' }), { int: 0 }, 'u8 out');
    await assertGpuMatchesCpu(gpu!, [x], (t) => sobel(t, { dx: 1, dy: 1, ksize: 7, dtype: 'i32' }), { int: 0 }, 'i32 out');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of sobelPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => sobel(x, { dx: 0, dy: 0 }), /Expected an integer of at least 1 for dx \+ dy but received 0 of type number/);
    assert.throws(() => sobel(x, { dx: 1, dy: 0, ksize: 4 as never }), /Expected odd integer between 1 and 7 for ksize but received 4 of type number/);
    assert.throws(() => sobel(x, { dx: 1, dy: 0, ksize: 9 as never }), /Expected odd integer between 1 and 7 for ksize but received 9 of type number/);
    assert.throws(() => sobel(x, { dx: 3 as never, dy: 0 }), /Expected integer between 0 and 2 for dx but received 3 of type number/);
    assert.throws(() => sobel(x, { dx: 1, dy: -1 as never }), /Expected integer between 0 and 2 for dy but received -1 of type number/);
    assert.throws(
      () => sobel(x, { dx: 1, dy: 0, scale: Infinity }),
      /Expected number between -1e\+30 and 1e\+30 for scale but received Infinity of type number/,
    );
    assert.throws(() => sobel(x, { dx: 1, dy: 0, dtype: 'f64' as never }), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "f64"/);
    assert.throws(
      () => sobel(x, { dx: 1, dy: 0, border: 'wrap' as never }),
      /Expected one of "reflect101", "replicate", "constant" for border but received "wrap"/,
    );
    assert.throws(() => sobel(x, undefined as never), /Expected an object with dx and dy for options but received undefined of type undefined/);
    assert.throws(() => scharr(x, { dx: 1, dy: 1 }), /Expected exactly 1 for dx \+ dy but received 2 of type number/);
    assert.throws(() => scharr(x, { dx: 2 as never, dy: 0 }), /Expected integer between 0 and 1 for dx but received 2 of type number/);
    assert.throws(() => sobel(x.reshape([16]), { dx: 1, dy: 0 }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
  });
});
