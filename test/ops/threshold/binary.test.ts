import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DTYPES, type DType } from '../../../src/dtype.js';
import { threshold, thresholdPrograms } from '../../../src/ops/threshold/binary.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

describe('threshold', () => {
  test('CPU reference equals OpenCV threshold (exact) for u8, u16, f32', async () => {
    const { cv } = await opencv();
    const cases: [DType, number, number][] = [
      ['u8', 100, 255],
      ['u8', 100.5, 200],
      ['u8', -1, 255],
      ['u8', 255, 255],
      ['u8', 0, 300],
      ['u16', 30000.7, 65535],
      ['u16', 12, 1000],
      ['f32', 0.5, 1],
      ['f32', 0.3333, 7.25],
    ];
    for (const [dtype, thresh, maxval] of cases) {
      for (const type of ['binary', 'binary_inv'] as const) {
        const x = naturalImage([1, 1, 21, 19], dtype, 4);
        const ours = threshold(x, { thresh, maxval, type });
        const src = toMat(cv, x);
        const dst = new cv.Mat();
        // cv.threshold(src, dst, thresh, maxval, THRESH_BINARY | THRESH_BINARY_INV)
        cv.threshold(src, dst, thresh, maxval, type === 'binary' ? cv.THRESH_BINARY : cv.THRESH_BINARY_INV);
        assertClose(ours, fromMat(dst, dtype), EXACT, `${dtype} ${thresh} ${maxval} ${type}`);
        src.delete();
        dst.delete();
      }
    }
  });

  test('strict comparison and defaults (maxval 255 for integers, 1 for floats)', () => {
    const u8 = Tensor.fromArray(new Uint8Array([99, 100, 101, 255]), [1, 1, 1, 4], 'u8');
    assert.deepEqual([...threshold(u8, { thresh: 100 }).data], [0, 0, 255, 255]);
    assert.deepEqual([...threshold(u8, { thresh: 100, type: 'binary_inv' }).data], [255, 255, 0, 0]);
    assert.deepEqual([...threshold(u8, { thresh: 99.5, maxval: 7 }).data], [0, 7, 7, 7]);
    const f = Tensor.fromArray(new Float32Array([0.25, 0.5, 0.75]), [1, 1, 1, 3], 'f32');
    assert.deepEqual([...threshold(f, { thresh: 0.5 }).data], [0, 0, 1]);
    const out = threshold(f, { thresh: 0.5, dtype: 'u8', maxval: 255 });
    assert.equal(out.dtype, 'u8');
    assert.deepEqual([...out.data], [0, 0, 255]);
  });

  test('GPU matches the CPU reference exactly: dtypes, output dtypes, batches, odd and 16-multiple sizes, 1 and 3 channels', {
    skip: gpuSkip(gpu),
  }, async () => {
    const cases: [[number, number, number, number], DType, DType, number][] = [
      [[1, 1, 17, 23], 'u8', 'u8', 128],
      [[3, 3, 9, 7], 'u8', 'f16', 90.5],
      [[2, 1, 13, 7], 'u16', 'u16', 30000],
      [[2, 3, 11, 5], 'f32', 'f32', 0.42],
      [[2, 3, 11, 5], 'f32', 'u8', 0.42],
      [[1, 1, 6, 33], 'f16', 'f16', 0.3],
      [[2, 1, 5, 9], 'i32', 'i32', 500],
      [[1, 3, 7, 3], 'u8', 'u16', 200],
      // 16-element multiples: the vector program
      [[2, 3, 8, 8], 'u8', 'u8', 100],
      [[1, 1, 16, 16], 'f32', 'u8', 0.5],
      [[2, 1, 4, 8], 'u16', 'f16', 300],
      [[1, 2, 4, 4], 'i32', 'i32', 0],
    ];
    for (const [shape, dtype, out, thresh] of cases) {
      for (const type of ['binary', 'binary_inv'] as const) {
        const x = (shape[0] > 1 ? randomImage : naturalImage)(shape, dtype, 9);
        const maxval = out === 'u8' && dtype === 'f32' ? 255 : undefined;
        await assertGpuMatchesCpu(gpu!, [x], (t) => threshold(t, { thresh, type, dtype: out, maxval }), EXACT, `${dtype}→${out} ${type}`);
      }
    }
    // maxval saturates to the output dtype alike on both backends
    await assertGpuMatchesCpu(gpu!, [naturalImage([1, 1, 5, 5], 'u8')], (t) => threshold(t, { thresh: 60, maxval: 1e6 }), EXACT, 'sat u8');
    await assertGpuMatchesCpu(gpu!, [naturalImage([1, 1, 5, 5], 'u8')], (t) => threshold(t, { thresh: 60, maxval: 1e6, dtype: 'f16' }), EXACT, 'sat f16');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of thresholdPrograms(DTYPES, DTYPES)) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => threshold(x, {} as never), /Expected number between -3.4e\+38 and 3.4e\+38 for thresh but received undefined of type undefined/);
    assert.throws(() => threshold(x, { thresh: NaN }), /Expected number between -3.4e\+38 and 3.4e\+38 for thresh but received NaN of type number/);
    assert.throws(
      () => threshold(x, { thresh: 1, maxval: Infinity }),
      /Expected number between -3.4e\+38 and 3.4e\+38 for maxval but received Infinity of type number/,
    );
    assert.throws(
      () => threshold(x, { thresh: 1, type: 'trunc' as never }),
      /Expected one of "binary", "binary_inv" for type but received "trunc" of type string/,
    );
    assert.throws(
      () => threshold(x, { thresh: 1, dtype: 'u4' as never }),
      /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "u4" of type string/,
    );
    assert.throws(() => threshold(x.reshape([16]), { thresh: 1 }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
  });
});
