import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { boxBlur, boxBlurPrograms } from '../../../src/ops/filters/box.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

describe('boxBlur', () => {
  test('CPU reference matches OpenCV blur (u8 exact for odd areas, ±1 for even areas; f32 1e-5)', async () => {
    const { cv } = await opencv();
    for (const border of BORDER_MODES) {
      for (const dtype of ['u8', 'f32'] as const) {
        for (const ksize of [5, [3, 7], 4, [2, 5]] as const) {
          const x = naturalImage([1, 1, 19, 23], dtype, 3);
          const ours = boxBlur(x, { ksize, border });
          const [kw, kh] = typeof ksize === 'number' ? [ksize, ksize] : ksize;
          const src = toMat(cv, x);
          const dst = new cv.Mat();
          // cv.blur(src, dst, (kw, kh), anchor (-1, -1), border)
          cv.blur(src, dst, new cv.Size(kw, kh), new cv.Point(-1, -1), cvBorder(cv, border));
          // u8: OpenCV's fixed-point division rounds .5 up, saturate_cast to even; only even areas have ties
          const tol = dtype === 'u8' ? { int: (kw * kh) % 2 === 1 ? 0 : 1 } : { atol: 1e-5, rtol: 1e-5 };
          assertClose(ours, fromMat(dst, dtype), tol, `${border} ${dtype} ${String(ksize)}`);
          src.delete();
          dst.delete();
        }
      }
    }
  });

  test('CPU reference matches OpenCV boxFilter without normalization (u8 → f32 1e-5; u8 saturates exactly)', async () => {
    const { cv } = await opencv();
    for (const border of BORDER_MODES) {
      const x = randomImage([1, 1, 13, 17], 'u8', 4);
      const src = toMat(cv, x);
      for (const dtype of ['f32', 'u8'] as const) {
        const ours = boxBlur(x, { ksize: [5, 3], normalize: false, border, dtype });
        const dst = new cv.Mat();
        // cv.boxFilter(src, dst, CV_32F | -1, (5, 3), anchor (-1, -1), normalize = false, border)
        cv.boxFilter(src, dst, dtype === 'f32' ? cv.CV_32F : -1, new cv.Size(5, 3), new cv.Point(-1, -1), false, cvBorder(cv, border));
        assertClose(ours, fromMat(dst, dtype), dtype === 'u8' ? { int: 0 } : { atol: 1e-5, rtol: 1e-5 }, `${border} ${dtype}`);
        dst.delete();
      }
      src.delete();
    }
  });

  test('mean of a constant image is the constant; sums count the window', () => {
    const x = Tensor.fromArray(new Float32Array(6 * 7).fill(2.5), [1, 1, 6, 7], 'f32');
    const mean = boxBlur(x, { ksize: [3, 5], border: 'replicate' });
    assert.ok([...mean.data].every((v) => Math.abs(v - 2.5) < 1e-6));
    const sum = boxBlur(x, { ksize: [3, 5], normalize: false, border: 'constant' });
    // centre pixel (row 3, col 3): the full 3×5 window is inside
    assert.equal(sum.data[3 * 7 + 3], 2.5 * 15);
    // corner (0, 0): 2 columns × 3 rows inside, the rest is the constant border 0
    assert.equal(sum.data[0], 2.5 * 6);
  });

  test('GPU matches the CPU reference: dtypes, borders, batches, odd sizes, 1 and 3 channels', { skip: gpuSkip(gpu) }, async () => {
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
        await assertGpuMatchesCpu(gpu!, [x], (t) => boxBlur(t, { ksize: [5, 3], border, borderValue: 3 }), {}, `${dtype} ${border}`);
        if (dtype === 'u8' || dtype === 'f32')
          await assertGpuMatchesCpu(gpu!, [x], (t) => boxBlur(t, { ksize: 4, border, borderValue: 3 }), {}, `${dtype} ${border} even`);
      }
    }
  });

  test('f16 output, unnormalized f32 sums, large window', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([2, 3, 31, 29], 'u8', 5);
    await assertGpuMatchesCpu(gpu!, [x], (t) => boxBlur(t, { ksize: 3, dtype: 'f16' }), {}, 'f16 out');
    await assertGpuMatchesCpu(gpu!, [x], (t) => boxBlur(t, { ksize: [7, 1], normalize: false, dtype: 'f32' }), {}, 'sums');
    await assertGpuMatchesCpu(gpu!, [x], (t) => boxBlur(t, { ksize: 41, border: 'constant', borderValue: 255 }), {}, 'ksize 41');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of boxBlurPrograms(['u8', 'u16', 'i32', 'f32', 'f16'], BORDER_MODES)) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => boxBlur(x, { ksize: 0 }), /Expected integer between 1 and 255 for ksize but received 0 of type number/);
    assert.throws(() => boxBlur(x, { ksize: -3 }), /Expected integer between 1 and 255 for ksize but received -3 of type number/);
    assert.throws(() => boxBlur(x, { ksize: 2.5 }), /Expected integer between 1 and 255 for ksize but received 2.5 of type number/);
    assert.throws(() => boxBlur(x, { ksize: 256 }), /Expected integer between 1 and 255 for ksize but received 256 of type number/);
    assert.throws(() => boxBlur(x, { ksize: [3, 0] }), /Expected integer between 1 and 255 for ksize\[1\] but received 0 of type number/);
    assert.throws(() => boxBlur(x, { ksize: [3] as never }), /Expected a number or \[width, height\] for ksize but received \[3\] of type object/);
    assert.throws(() => boxBlur(x, {} as never), /Expected integer between 1 and 255 for ksize but received undefined of type undefined/);
    assert.throws(() => boxBlur(x, { ksize: 3, normalize: 1 as never }), /Expected a boolean for normalize but received 1 of type number/);
    assert.throws(
      () => boxBlur(x, { ksize: 3, border: 'wrap' as never }),
      /Expected one of "reflect101", "replicate", "constant" for border but received "wrap"/,
    );
    assert.throws(() => boxBlur(x, { ksize: 3, dtype: 'f64' as never }), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "f64"/);
    assert.throws(() => boxBlur(x.reshape([16]), { ksize: 3 }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
  });
});
