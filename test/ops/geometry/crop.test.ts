import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crop, cropPrograms } from '../../../src/ops/geometry/crop.js';
import { Tensor } from '../../../src/tensor.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertClose } from '../../_kit/compare.js';
import { assertConversions, assertExactEverywhere } from './_exact.js';

const gpu = await testGpu();

describe('crop', () => {
  test('copies the rectangle of every plane', () => {
    const x = Tensor.fromArray(
      Int32Array.from({ length: 2 * 3 * 4 }, (_, i) => i),
      [2, 1, 3, 4],
      'i32',
    );
    const y = crop(x, { x: 1, y: 1, width: 2, height: 2 });
    assert.deepEqual([...y.shape], [2, 1, 2, 2]);
    // plane p holds 12p + 4r + c
    assert.deepEqual([...y.data], [5, 6, 9, 10, 17, 18, 21, 22]);
  });

  test('CPU reference matches OpenCV ROI copy (exact)', async () => {
    const { cv } = await opencv();
    for (const dtype of ['u8', 'u16', 'i32', 'f32'] as const) {
      const x = naturalImage([1, 1, 19, 23], dtype, 2);
      const src = toMat(cv, x);
      // src.roi(new cv.Rect(3, 5, 11, 7)).copyTo(dst)   (opencv.js's clone() of a ROI keeps the parent's stride)
      const roi = src.roi(new cv.Rect(3, 5, 11, 7));
      const dst = new cv.Mat();
      roi.copyTo(dst);
      assertClose(crop(x, { x: 3, y: 5, width: 11, height: 7 }), fromMat(dst, dtype), { int: 0, atol: 0, rtol: 0 }, dtype);
      src.delete();
      roi.delete();
      dst.delete();
    }
  });

  test('GPU is bit-exact with the CPU: dtypes, batches, odd sizes, channels, special values', { skip: gpuSkip(gpu) }, async () => {
    await assertExactEverywhere(gpu!, (t) => crop(t, { x: 1, y: 2, width: t.shape[3]! - 2, height: t.shape[2]! - 3 }), 'crop');
    await assertExactEverywhere(gpu!, (t) => crop(t, { x: t.shape[3]! - 1, y: 0, width: 1, height: t.shape[2]! }), 'crop last column');
    await assertConversions(gpu!, (t, dtype) => crop(t, { x: 2, y: 1, width: 5, height: 4, dtype }), 'crop');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of cropPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 6], 'u8');
    assert.throws(() => crop(x, { x: -1, y: 0, width: 2, height: 2 }), /Expected integer between 0 and 5 for x but received -1 of type number/);
    assert.throws(() => crop(x, { x: 0, y: 4, width: 2, height: 2 }), /Expected integer between 0 and 3 for y but received 4 of type number/);
    assert.throws(() => crop(x, { x: 2, y: 0, width: 5, height: 2 }), /Expected integer between 1 and 4 for width but received 5 of type number/);
    assert.throws(() => crop(x, { x: 0, y: 1, width: 2, height: 0 }), /Expected integer between 1 and 3 for height but received 0 of type number/);
    assert.throws(() => crop(x, { x: 0, y: 0, width: 1.5, height: 1 }), /Expected integer between 1 and 6 for width but received 1.5 of type number/);
    assert.throws(
      () => crop(x, { x: 0, y: 0, width: 1, height: 1, dtype: 'u32' as never }),
      /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "u32"/,
    );
    assert.throws(() => crop(x.reshape([4, 6]), { x: 0, y: 0, width: 1, height: 1 }), /Expected x of shape \[N, C, H, W\] but received \[4, 6\]/);
  });
});
