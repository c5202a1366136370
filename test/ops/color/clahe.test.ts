import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clahe, clahePrograms } from '../../../src/ops/color/clahe.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

describe('clahe', () => {
  test('CPU reference equals OpenCV CLAHE exactly (grid multiples and padded sizes, clipped and unclipped)', async () => {
    const { cv } = await opencv();
    for (const [h, w, grid, limit] of [
      [32, 48, [8, 8], 2],
      [37, 29, [4, 3], 3.5],
      [20, 20, [2, 5], 0],
      [16, 16, [8, 8], 40],
    ] as const) {
      const x = naturalImage([1, 1, h, w], 'u8', 3);
      const src = toMat(cv, x);
      const dst = new cv.Mat();
      // new cv.CLAHE(limit, new cv.Size(grid[0], grid[1])).apply(src, dst)
      const op = new cv.CLAHE(limit, new cv.Size(grid[0], grid[1]));
      op.apply(src, dst);
      assertClose(clahe(x, { clipLimit: limit, tileGrid: grid }), fromMat(dst, 'u8'), { int: 0 }, `${h}×${w} grid ${grid} limit ${limit}`);
      op.delete();
      src.delete();
      dst.delete();
    }
  });

  test('GPU matches the CPU (±1), per-sample limits, 3 channels; a batch equals its samples alone', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([3, 3, 21, 34], 'u8', 7);
    const clipLimit = [1, null, 0];
    await assertGpuMatchesCpu(gpu!, [x], (t) => clahe(t, { clipLimit, tileGrid: [4, 3] }), { int: 1 }, 'natural');
    await assertGpuMatchesCpu(gpu!, [randomImage([2, 1, 16, 16], 'u8', 2)], (t) => clahe(t, { clipLimit: 4 }), { int: 1 }, 'random 8×8 grid');
    const batch = clahe(x, { clipLimit, tileGrid: [4, 3] });
    const per = x.size / 3;
    for (let n = 0; n < 3; n++) {
      const item = Tensor.fromArray(x.data.slice(n * per, (n + 1) * per), [1, 3, 21, 34], 'u8');
      const alone = clipLimit[n] === null ? item : clahe(item, { clipLimit: clipLimit[n]!, tileGrid: [4, 3] });
      assert.deepEqual([...batch.data.slice(n * per, (n + 1) * per)], [...alone.data], `sample ${n}`);
    }
  });

  test('every program compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of clahePrograms()) await gpu!.compile(p);
  });

  test('bad arguments are refused with one sentence naming them', () => {
    const x = naturalImage([2, 1, 8, 8], 'u8', 1);
    assert.throws(() => clahe(naturalImage([1, 1, 4, 4], 'f32', 1)), /Expected x of dtype u8 but received f32/);
    assert.throws(() => clahe(x, { clipLimit: -1 }), /Expected number between 0 and 1000 for clipLimit but received -1/);
    assert.throws(() => clahe(x, { clipLimit: [1, 2, 3] }), /for clipLimit but received an array of 3/);
    assert.throws(() => clahe(x, { tileGrid: [0, 8] }), /Expected integer between 1 and 64 for tileGrid\[0\] but received 0/);
  });
});
