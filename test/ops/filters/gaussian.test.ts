import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { gaussianBlur } from '../../../src/ops/filters/gaussian.js';
import { gaussianKernel1d } from '../../../src/ops/filters/kernels.js';
import { separablePerSamplePrograms, separablePrograms } from '../../../src/ops/filters/separable.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

describe('gaussianBlur', () => {
  test('kernel weights follow getGaussianKernel', () => {
    assert.deepEqual(gaussianKernel1d(5, 0), [0.0625, 0.25, 0.375, 0.25, 0.0625]);
    const k = gaussianKernel1d(9, 1.5);
    assert.equal(k.length, 9);
    assert.ok(Math.abs(k.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.ok(k[4]! > k[3]! && k[3]! > k[2]!);
  });

  test('CPU reference matches OpenCV GaussianBlur (u8 ±1, f32 1e-5)', async () => {
    const { cv } = await opencv();
    for (const border of BORDER_MODES) {
      for (const dtype of ['u8', 'f32'] as const) {
        const x = naturalImage([1, 1, 19, 23], dtype, 3);
        const ours = gaussianBlur(x, { sigma: 1.3, border });
        const src = toMat(cv, x);
        const dst = new cv.Mat();
        // cv.GaussianBlur(src, dst, (0,0), 1.3, 1.3, border)
        cv.GaussianBlur(src, dst, new cv.Size(0, 0), 1.3, 1.3, cvBorder(cv, border));
        assertClose(ours, fromMat(dst, dtype), dtype === 'u8' ? { int: 1 } : { atol: 1e-5, rtol: 1e-5 }, `${border} ${dtype}`);
        src.delete();
        dst.delete();
      }
    }
  });

  test('GPU matches the CPU reference: dtypes, borders, batches, odd sizes, 1 and 3 channels', { skip: gpuSkip(gpu) }, async () => {
    for (const [shape, dtype] of [
      [[1, 1, 17, 23], 'u8'],
      [[3, 3, 9, 8], 'u8'],
      [[2, 1, 13, 7], 'u16'],
      [[2, 3, 11, 5], 'f32'],
      [[1, 1, 6, 33], 'f16'],
    ] as const) {
      for (const border of BORDER_MODES) {
        const x = (shape[0] > 1 ? randomImage : naturalImage)(shape as [number, number, number, number], dtype, 7);
        await assertGpuMatchesCpu(gpu!, [x], (t) => gaussianBlur(t, { sigma: 1.1, border, borderValue: 3 }), {}, `${dtype} ${border}`);
      }
    }
  });

  test('f16 output from u8 input; ksize pair; large sigma', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([2, 1, 31, 29], 'u8', 5);
    await assertGpuMatchesCpu(gpu!, [x], (t) => gaussianBlur(t, { sigma: 2, dtype: 'f16' }), {}, 'f16 out');
    await assertGpuMatchesCpu(gpu!, [x], (t) => gaussianBlur(t, { ksize: [3, 7], dtype: 'f32' }), {}, 'ksize pair');
    await assertGpuMatchesCpu(gpu!, [x], (t) => gaussianBlur(t, { sigma: 12, border: 'replicate' }), {}, 'sigma 12');
  });

  test('tiled path: widths over several tiles, every output packing', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([1, 1, 60, 200], 'u8', 9); // interior and rim tiles
    for (const dtype of ['u8', 'u16', 'f16', 'f32'] as const) {
      for (const border of BORDER_MODES) {
        await assertGpuMatchesCpu(gpu!, [x], (t) => gaussianBlur(t, { ksize: [17, 5], sigma: 2.5, border, dtype }), {}, `tiled ${dtype} ${border}`);
      }
    }
  });

  test('per-sample ksize and sigma: each sample equals its scalar blur (CPU ±1: the scalar path may sum in another order) and GPU = CPU', {
    skip: gpuSkip(gpu),
  }, async () => {
    const ksize = [3, 7, 5, 1];
    const sigma = [0, 1.7, 0.6, 0];
    for (const dtype of ['u8', 'f32'] as const) {
      const x = naturalImage([4, 3, 13, 11], dtype, 4);
      for (const border of BORDER_MODES) {
        const o = { ksize, sigma, border, borderValue: 9 };
        const batch = gaussianBlur(x, o);
        const per = x.size / 4;
        for (let n = 0; n < 4; n++) {
          const item = Tensor.fromArray(x.data.slice(n * per, (n + 1) * per), [1, 3, 13, 11], dtype);
          const alone = gaussianBlur(item, { ksize: ksize[n]!, sigma: sigma[n]!, border, borderValue: 9 });
          assertClose(
            Tensor.fromArray(batch.data.slice(n * per, (n + 1) * per), [1, 3, 13, 11], dtype),
            alone,
            { int: 1, atol: 1e-5 },
            `${dtype} ${border} sample ${n}`,
          );
        }
        await assertGpuMatchesCpu(gpu!, [x], (t) => gaussianBlur(t, o), {}, `${dtype} ${border} per sample`);
      }
    }
    const y = naturalImage([2, 1, 9, 9], 'u8', 1);
    await assertGpuMatchesCpu(gpu!, [y], (t) => gaussianBlur(t, { sigma: [0.8, 2], sigmaY: 1, dtype: 'f32' }), {}, 'per-sample sigma, ksize from sigma');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of separablePrograms(['u8', 'u16', 'i32', 'f32', 'f16'], BORDER_MODES)) await gpu!.compile(p);
    for (const p of separablePerSamplePrograms(['u8', 'u16', 'i32', 'f32', 'f16'], BORDER_MODES)) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => gaussianBlur(x, { sigma: -1 }), /Expected number between 0 and 1000 for sigma but received -1 of type number/);
    assert.throws(() => gaussianBlur(x, { ksize: 4 }), /Expected odd integer between 1 and 255 for ksize but received 4 of type number/);
    assert.throws(() => gaussianBlur(x, {}), /Expected a number above 0 when ksize is not given for sigma but received undefined/);
    assert.throws(
      () => gaussianBlur(x, { sigma: 1, border: 'wrap' as never }),
      /Expected one of "reflect101", "replicate", "constant" for border but received "wrap"/,
    );
    assert.throws(() => gaussianBlur(x.reshape([16]), { sigma: 1 }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
    const b = randomImage([3, 1, 4, 4], 'u8');
    assert.throws(() => gaussianBlur(b, { ksize: [3, 4, 5] }), /Expected odd integer between 1 and 255 for ksize\[1\] but received 4 of type number/);
    assert.throws(() => gaussianBlur(b, { sigma: [1, 0, 2] }), /Expected a number above 0 when ksize is not given for sigma\[1\] but received 0/);
    assert.throws(
      () => gaussianBlur(randomImage([1000, 1, 1, 1], 'u8'), { ksize: new Array(1000).fill(11) }),
      /Expected per-sample kernels of at most 10 taps for a batch of 1000 for ksize but received "11 taps"/,
    );
  });
});
