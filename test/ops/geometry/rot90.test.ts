import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { flip } from '../../../src/ops/geometry/flip.js';
import { rot90, rot90Programs } from '../../../src/ops/geometry/rot90.js';
import { transpose } from '../../../src/ops/geometry/transpose.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertConversions, assertExactEverywhere } from './_exact.js';

const gpu = await testGpu();

describe('rot90', () => {
  test('turns counter-clockwise as numpy.rot90', () => {
    // [[1, 2, 3], [4, 5, 6]]
    const x = Tensor.fromArray(new Uint8Array([1, 2, 3, 4, 5, 6]), [1, 1, 2, 3], 'u8');
    // np.rot90(m, 1) = [[3, 6], [2, 5], [1, 4]]
    const r1 = rot90(x, { k: 1 });
    assert.deepEqual([...r1.shape], [1, 1, 3, 2]);
    assert.deepEqual([...r1.data], [3, 6, 2, 5, 1, 4]);
    assert.deepEqual([...rot90(x, { k: 2 }).data], [6, 5, 4, 3, 2, 1]);
    assert.deepEqual([...rot90(x, { k: 3 }).data], [4, 1, 5, 2, 6, 3]);
    assert.deepEqual([...rot90(x, { k: 0 }).data], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...rot90(x, { k: -1 }).data], [...rot90(x, { k: 3 }).data]);
    assert.deepEqual([...rot90(x, { k: 5 }).data], [...r1.data]);
    assert.deepEqual([...rot90(x).data], [...r1.data], 'k defaults to 1');
  });

  test('k = 1 is transpose then vertical flip; k = 3 transpose then horizontal flip', () => {
    const x = randomImage([2, 3, 7, 10], 'f32', 8);
    assertClose(rot90(x, { k: 1 }), flip(transpose(x), { axis: 'vertical' }), EXACT);
    assertClose(rot90(x, { k: 3 }), flip(transpose(x), { axis: 'horizontal' }), EXACT);
  });

  test('CPU reference matches OpenCV rotate (exact): k=1 COUNTERCLOCKWISE, 2 = 180, 3 = CLOCKWISE', async () => {
    const { cv } = await opencv();
    const codes: [number, number][] = [
      [1, cv.ROTATE_90_COUNTERCLOCKWISE],
      [2, cv.ROTATE_180],
      [3, cv.ROTATE_90_CLOCKWISE],
    ];
    for (const dtype of ['u8', 'u16', 'i32', 'f32'] as const) {
      for (const [k, code] of codes) {
        const x = naturalImage([1, 1, 9, 14], dtype, 1);
        const src = toMat(cv, x);
        const dst = new cv.Mat();
        // cv.rotate(src, dst, rotateCode)
        cv.rotate(src, dst, code);
        assertClose(rot90(x, { k }), fromMat(dst, dtype), EXACT, `${dtype} k=${k}`);
        src.delete();
        dst.delete();
      }
    }
  });

  test('GPU is bit-exact with the CPU: k, dtypes, batches, odd sizes, channels, special values', { skip: gpuSkip(gpu) }, async () => {
    for (const k of [0, 1, 2, 3]) await assertExactEverywhere(gpu!, (t) => rot90(t, { k }), `rot90 k=${k}`);
    await assertConversions(gpu!, (t, dtype) => rot90(t, { k: 3, dtype }), 'rot90');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of rot90Programs()) await gpu!.compile(p);
  });

  test('bad arguments', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => rot90(x, { k: 1.5 }), /Expected integer between -1000000000 and 1000000000 for k but received 1.5 of type number/);
    assert.throws(() => rot90(x, { k: '1' as never }), /Expected integer between -1000000000 and 1000000000 for k but received "1" of type string/);
    assert.throws(() => rot90(x, { dtype: 'x' as never }), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "x"/);
  });
});
