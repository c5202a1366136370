import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { transpose, transposePrograms } from '../../../src/ops/geometry/transpose.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertConversions, assertExactEverywhere } from './_exact.js';

const gpu = await testGpu();

describe('transpose', () => {
  test('swaps rows and columns of every plane', () => {
    const x = Tensor.fromArray(new Uint16Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), [2, 1, 2, 3], 'u16');
    const y = transpose(x);
    assert.deepEqual([...y.shape], [2, 1, 3, 2]);
    assert.deepEqual([...y.data], [1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12]);
  });

  test('CPU reference matches OpenCV transpose (exact)', async () => {
    const { cv } = await opencv();
    for (const dtype of ['u8', 'u16', 'i32', 'f32'] as const) {
      const x = naturalImage([1, 1, 11, 17], dtype, 6);
      const src = toMat(cv, x);
      const dst = new cv.Mat();
      // cv.transpose(src, dst)
      cv.transpose(src, dst);
      assertClose(transpose(x), fromMat(dst, dtype), EXACT, dtype);
      src.delete();
      dst.delete();
    }
  });

  test('GPU is bit-exact with the CPU: dtypes, batches, odd sizes, channels, special values', { skip: gpuSkip(gpu) }, async () => {
    await assertExactEverywhere(gpu!, (t) => transpose(t), 'transpose');
    await assertConversions(gpu!, (t, dtype) => transpose(t, { dtype }), 'transpose');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of transposePrograms()) await gpu!.compile(p);
  });

  test('bad arguments', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => transpose(x, { dtype: 'u4' as never }), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "u4" of type string/);
    assert.throws(() => transpose(x.reshape([1, 1, 16])), /Expected x of shape \[N, C, H, W\] but received \[1, 1, 16\]/);
  });
});
