import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { pad, padPrograms } from '../../../src/ops/geometry/pad.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertConversions, assertExactEverywhere } from './_exact.js';

const gpu = await testGpu();

describe('pad', () => {
  test('places the image and fills the margins by border mode', () => {
    const x = Tensor.fromArray(new Uint8Array([1, 2, 3]), [1, 1, 1, 3], 'u8');
    assert.deepEqual([...pad(x, { left: 2, right: 2 }).data], [0, 0, 1, 2, 3, 0, 0]);
    assert.deepEqual([...pad(x, { left: 2, right: 2, value: 9 }).data], [9, 9, 1, 2, 3, 9, 9]);
    assert.deepEqual([...pad(x, { left: 2, right: 2, border: 'replicate' }).data], [1, 1, 1, 2, 3, 3, 3]);
    assert.deepEqual([...pad(x, { left: 4, right: 4, border: 'reflect101' }).data], [1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3]);
    const y = pad(x, { top: 1, bottom: 2, border: 'reflect101' });
    assert.deepEqual([...y.shape], [1, 1, 4, 3]);
    assert.deepEqual([...y.data], [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3], 'one row reflects onto itself');
    assert.deepEqual([...pad(x, { left: 1, value: 300 }).data], [255, 1, 2, 3], 'value saturates to u8');
  });

  test('CPU reference matches OpenCV copyMakeBorder (exact), margins wider than the image too', async () => {
    const { cv } = await opencv();
    for (const dtype of ['u8', 'u16', 'i32', 'f32'] as const) {
      for (const border of BORDER_MODES) {
        for (const [t, b, l, r] of [
          [2, 3, 1, 4],
          [9, 0, 13, 7],
        ] as const) {
          const x = naturalImage([1, 1, 5, 6], dtype, 9);
          const src = toMat(cv, x);
          const dst = new cv.Mat();
          // cv.copyMakeBorder(src, dst, top, bottom, left, right, borderType, new cv.Scalar(7))
          cv.copyMakeBorder(src, dst, t, b, l, r, cvBorder(cv, border), new cv.Scalar(7, 7, 7, 7));
          assertClose(pad(x, { top: t, bottom: b, left: l, right: r, border, value: 7 }), fromMat(dst, dtype), EXACT, `${dtype} ${border} ${t},${b},${l},${r}`);
          src.delete();
          dst.delete();
        }
      }
    }
  });

  test('GPU is bit-exact with the CPU: borders, dtypes, batches, odd sizes, channels, special values', { skip: gpuSkip(gpu) }, async () => {
    for (const border of BORDER_MODES) {
      await assertExactEverywhere(gpu!, (t) => pad(t, { top: 3, bottom: 1, left: 2, right: 11, border, value: -5.5 }), `pad ${border}`);
    }
    await assertExactEverywhere(gpu!, (t) => pad(t, { top: 20, left: 30, border: 'reflect101' }), 'pad wide reflect101');
    await assertConversions(gpu!, (t, dtype) => pad(t, { top: 1, bottom: 2, left: 3, right: 1, value: 1000, dtype }), 'pad');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of padPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => pad(x, { top: -1 }), /Expected integer between 0 and 65535 for top but received -1 of type number/);
    assert.throws(() => pad(x, { right: 2.5 }), /Expected integer between 0 and 65535 for right but received 2.5 of type number/);
    assert.throws(
      () => pad(x, { left: 1, border: 'reflect' as never }),
      /Expected one of "reflect101", "replicate", "constant" for border but received "reflect"/,
    );
    assert.throws(() => pad(x, { left: 1, value: NaN }), /Expected number between -1e\+30 and 1e\+30 for value but received NaN of type number/);
    assert.throws(() => pad(x.reshape([16]), { left: 1 }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
  });
});
