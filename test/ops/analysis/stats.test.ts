import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { f32ToF16Bits } from '../../../src/dtype.js';
import { imageStats, imageStatsPrograms, withStatsTuning } from '../../../src/ops/analysis/stats.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage, rng } from '../../_kit/images.js';
import { opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

/**
 * GPU vs CPU: min and max are exact; mean and std are f32 pairwise (tree) sums on the GPU against
 * an f64 reference, within rtol 1e-5 (f32 tree sums over ≤ 2^13 values err by ~log2(n)·6e-8).
 */
const GPU_TOL = { rtol: 1e-5, atol: 0 };

describe('imageStats', () => {
  test('min, max, mean and population std per image and channel', () => {
    const x = Tensor.fromArray(new Uint8Array([1, 2, 3, 4, 10, 10, 10, 10, 0, 0, 255, 255, 7, 7, 7, 9]), [2, 2, 2, 2], 'u8');
    const s = imageStats(x);
    assert.deepEqual([...s.shape], [2, 2, 4]);
    assert.equal(s.dtype, 'f32');
    const expected = [1, 4, 2.5, Math.sqrt(1.25), 10, 10, 10, 0, 0, 255, 127.5, 127.5, 7, 9, 7.5, Math.sqrt(0.75)];
    assert.deepEqual([...s.data], expected.map(Math.fround));
  });

  test('CPU reference matches OpenCV meanStdDev and minMaxLoc on u8 and f32 (rtol 1e-6: f32 output rounding)', async () => {
    const { cv } = await opencv();
    for (const x of [
      naturalImage([1, 1, 37, 41], 'u8', 2),
      randomImage([1, 1, 23, 19], 'u8', 3),
      naturalImage([1, 1, 29, 31], 'f32', 4),
      randomImage([1, 1, 16, 16], 'f32', 5),
    ]) {
      const ours = imageStats(x);
      const src = toMat(cv, x);
      const mean = new cv.Mat();
      const std = new cv.Mat();
      // cv.meanStdDev(src, mean, std); cv.minMaxLoc(src)
      cv.meanStdDev(src, mean, std);
      const mm = cv.minMaxLoc(src);
      const expected = Tensor.fromArray(new Float32Array([mm.minVal, mm.maxVal, mean.data64F[0], std.data64F[0]]), [1, 1, 4], 'f32');
      assertClose(ours, expected, { rtol: 1e-6, atol: 0 }, x.dtype);
      for (const m of [src, mean, std]) m.delete();
    }
  });

  test('GPU matches the CPU reference: dtypes, batches, odd sizes, 1 and 3 channels', { skip: gpuSkip(gpu) }, async () => {
    for (const [shape, dtype] of [
      [[1, 1, 17, 23], 'u8'],
      [[3, 3, 9, 8], 'u8'],
      [[2, 1, 64, 64], 'u8'],
      [[2, 1, 13, 7], 'u16'],
      [[2, 3, 11, 5], 'f32'],
      [[1, 1, 6, 33], 'f16'],
      [[2, 2, 5, 9], 'i32'],
    ] as const) {
      for (const make of [randomImage, naturalImage]) {
        const x = make(shape as unknown as [number, number, number, number], dtype, 7);
        await assertGpuMatchesCpu(gpu!, [x], imageStats, GPU_TOL, `${dtype} [${shape.join(', ')}] ${make.name}`);
      }
    }
  });

  test('GPU: several chunks per plane, a constant image, a large offset with a small spread', { skip: gpuSkip(gpu) }, async () => {
    await assertGpuMatchesCpu(gpu!, [naturalImage([2, 1, 100, 200], 'u8', 9)], imageStats, GPU_TOL, 'five chunks');
    // the u8 vec4 pass: 69632 px are two full 32768-pixel chunks and a partial one; a flat plane has std 0
    await assertGpuMatchesCpu(gpu!, [naturalImage([2, 1, 256, 272], 'u8', 9)], imageStats, GPU_TOL, 'u8 vec4 pass, three chunks');
    await assertGpuMatchesCpu(gpu!, [randomImage([1, 3, 48, 32], 'u8', 4)], imageStats, GPU_TOL, 'u8 vec4 pass, three channels');
    const flatU8 = Tensor.fromArray(new Uint8Array(2 * 64 * 64).fill(200), [2, 1, 64, 64], 'u8');
    assert.deepEqual([...(await imageStats(await flatU8.toGpu(gpu!)).toCpu()).data], [200, 200, 200, 0, 200, 200, 200, 0]);
    await assertGpuMatchesCpu(gpu!, [naturalImage([1, 1, 64, 64], 'f32', 9)], imageStats, GPU_TOL, 'f32 one chunk');
    const flat = Tensor.fromArray(new Float32Array(33 * 17).fill(0.3), [1, 1, 33, 17], 'f32');
    const f = await imageStats(await flat.toGpu(gpu!)).toCpu();
    assert.deepEqual([...f.data], [0.3, 0.3, 0.3, 0].map(Math.fround));
    const r = rng(11);
    const offset = Tensor.fromArray(
      Float32Array.from({ length: 2 * 40 * 50 }, () => 1000 + 0.01 * r()),
      [2, 1, 40, 50],
      'f32',
    );
    await assertGpuMatchesCpu(gpu!, [offset], imageStats, GPU_TOL, '1000 ± 0.01');
    const half = Tensor.fromArray(new Uint16Array([-2, 0.5, 4, 1.5].map(f32ToF16Bits)), [1, 1, 2, 2], 'f16');
    const h = await imageStats(await half.toGpu(gpu!)).toCpu();
    assertClose(h, Tensor.fromArray(new Float32Array([-2, 4, 1, Math.sqrt(4.625)]), [1, 1, 4], 'f32'), GPU_TOL, 'f16');
  });

  test('the u8 pass at 8 and 16 loads per thread: whole chunks (batched loads), partial chunks, and the largest exact sums (all 255, half 0 / half 255)', {
    skip: gpuSkip(gpu),
  }, async () => {
    for (const loads of [8, 16] as const) {
      await withStatsTuning({ u8Loads: loads }, async () => {
        await assertGpuMatchesCpu(gpu!, [naturalImage([2, 1, 256, 272], 'u8', 9)], imageStats, GPU_TOL, `loads=${loads}`);
        const full = Tensor.fromArray(new Uint8Array(256 * 512).fill(255), [1, 1, 256, 512], 'u8');
        assert.deepEqual([...(await imageStats(await full.toGpu(gpu!)).toCpu()).data], [255, 255, 255, 0], `all 255, loads=${loads}`);
        // every thread sees 0s and 255s alike: std 127.5 exactly
        const halves = Tensor.fromArray(
          Uint8Array.from({ length: 256 * 512 }, (_, i) => ((i >> 2) % 2) * 255),
          [1, 1, 256, 512],
          'u8',
        );
        assert.deepEqual([...(await imageStats(await halves.toGpu(gpu!)).toCpu()).data], [0, 255, 127.5, 127.5], `halves, loads=${loads}`);
      });
    }
  });

  test('the GPU result stays on the GPU until read', { skip: gpuSkip(gpu) }, async () => {
    const x = await naturalImage([1, 1, 8, 8], 'u8').toGpu(gpu!);
    const before = gpu!.stats.transfers.downloads;
    const s = imageStats(x);
    assert.equal(s.device, 'gpu');
    assert.equal(gpu!.stats.transfers.downloads, before);
    s.dispose();
    x.dispose();
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of imageStatsPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument', () => {
    assert.throws(() => imageStats(randomImage([1, 1, 4, 4], 'u8').reshape([16])), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
    assert.throws(() => imageStats(randomImage([1, 1, 4, 4], 'u8').reshape([1, 16])), /Expected x of shape \[N, C, H, W\] but received \[1, 16\]/);
  });
});
