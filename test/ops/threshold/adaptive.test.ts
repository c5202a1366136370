import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adaptiveThreshold, adaptiveThresholdPrograms } from '../../../src/ops/threshold/adaptive.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();
const EXACT = { int: 0 };

describe('adaptiveThreshold', () => {
  test('CPU reference equals OpenCV adaptiveThreshold MEAN_C exactly (u8)', async () => {
    const { cv } = await opencv();
    const cases: [number, number, number][] = [
      [3, 2, 255],
      [5, -3, 255],
      [11, 0.5, 200],
      [15, -2.5, 255],
      [17, 0, 128.5],
      [31, 4, 255],
      [7, 1, -5],
      [61, 1.2, 255],
    ];
    for (const [blockSize, C, maxval] of cases) {
      for (const type of ['binary', 'binary_inv'] as const) {
        for (const [i, x] of [naturalImage([1, 1, 29, 37], 'u8', blockSize), randomImage([1, 1, 13, 17], 'u8', C + 5)].entries()) {
          const ours = adaptiveThreshold(x, { blockSize, C, maxval, type });
          const src = toMat(cv, x);
          const dst = new cv.Mat();
          // cv.adaptiveThreshold(src, dst, maxval, ADAPTIVE_THRESH_MEAN_C, THRESH_BINARY | THRESH_BINARY_INV, blockSize, C)
          cv.adaptiveThreshold(src, dst, maxval, cv.ADAPTIVE_THRESH_MEAN_C, type === 'binary' ? cv.THRESH_BINARY : cv.THRESH_BINARY_INV, blockSize, C);
          assertClose(ours, fromMat(dst, 'u8'), EXACT, `block ${blockSize} C ${C} maxval ${maxval} ${type} image ${i}`);
          src.delete();
          dst.delete();
        }
      }
    }
  });

  test('GPU matches the CPU reference exactly: batches, odd sizes, 1 and 3 channels, block sizes', { skip: gpuSkip(gpu) }, async () => {
    const cases: [[number, number, number, number], number, number][] = [
      [[1, 1, 17, 23], 3, 2],
      [[3, 3, 9, 7], 5, -1],
      [[2, 1, 31, 29], 15, 0.5],
      [[1, 1, 13, 11], 41, 3],
      [[1, 3, 6, 33], 7, -2.5],
    ];
    for (const [shape, blockSize, C] of cases) {
      for (const type of ['binary', 'binary_inv'] as const) {
        const x = (shape[0] > 1 ? randomImage : naturalImage)(shape, 'u8', blockSize);
        await assertGpuMatchesCpu(gpu!, [x], (t) => adaptiveThreshold(t, { blockSize, C, type, maxval: 250 }), EXACT, `${shape} ${blockSize} ${type}`);
      }
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of adaptiveThresholdPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 8, 8], 'u8');
    assert.throws(() => adaptiveThreshold(x, { blockSize: 4 }), /Expected odd integer between 3 and 255 for blockSize but received 4 of type number/);
    assert.throws(() => adaptiveThreshold(x, { blockSize: 1 }), /Expected odd integer between 3 and 255 for blockSize but received 1 of type number/);
    assert.throws(() => adaptiveThreshold(x, {} as never), /Expected odd integer between 3 and 255 for blockSize but received undefined of type undefined/);
    assert.throws(
      () => adaptiveThreshold(x, { blockSize: 3, C: NaN }),
      /Expected number between -1000000000 and 1000000000 for C but received NaN of type number/,
    );
    assert.throws(
      () => adaptiveThreshold(x, { blockSize: 3, type: 'otsu' as never }),
      /Expected one of "binary", "binary_inv" for type but received "otsu" of type string/,
    );
    assert.throws(() => adaptiveThreshold(randomImage([1, 1, 8, 8], 'f32'), { blockSize: 3 }), /Expected x of dtype u8 but received f32/);
    assert.throws(() => adaptiveThreshold(x.reshape([1, 64]), { blockSize: 3 }), /Expected x of shape \[N, C, H, W\] but received \[1, 64\]/);
  });
});
