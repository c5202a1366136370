import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FLIP_AXES, flip, flipPrograms, flipWordsScalar } from '../../../src/ops/geometry/flip.js';
import { runFlipWords } from '../../../src/ops/geometry/flip-words.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { dispatchedPrograms, gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertConversions, assertExactEverywhere, DTYPES, specialImage } from './_exact.js';

const gpu = await testGpu();

describe('flip', () => {
  test('mirrors columns, rows or both', () => {
    const x = Tensor.fromArray(new Uint8Array([1, 2, 3, 4, 5, 6]), [1, 1, 2, 3], 'u8');
    assert.deepEqual([...flip(x, { axis: 'horizontal' }).data], [3, 2, 1, 6, 5, 4]);
    assert.deepEqual([...flip(x, { axis: 'vertical' }).data], [4, 5, 6, 1, 2, 3]);
    assert.deepEqual([...flip(x, { axis: 'both' }).data], [6, 5, 4, 3, 2, 1]);
  });

  test('CPU reference matches OpenCV flip codes 1, 0, -1 (exact)', async () => {
    const { cv } = await opencv();
    const codes = { horizontal: 1, vertical: 0, both: -1 } as const;
    for (const dtype of ['u8', 'u16', 'i32', 'f32'] as const) {
      for (const axis of FLIP_AXES) {
        const x = naturalImage([1, 1, 13, 18], dtype, 4);
        const src = toMat(cv, x);
        const dst = new cv.Mat();
        // cv.flip(src, dst, flipCode)
        cv.flip(src, dst, codes[axis]);
        assertClose(flip(x, { axis }), fromMat(dst, dtype), EXACT, `${dtype} ${axis}`);
        src.delete();
        dst.delete();
      }
    }
  });

  test('GPU is bit-exact with the CPU: axes, dtypes, batches, odd sizes, channels, special values', { skip: gpuSkip(gpu) }, async () => {
    for (const axis of FLIP_AXES) await assertExactEverywhere(gpu!, (t) => flip(t, { axis }), `flip ${axis}`);
    await assertConversions(gpu!, (t, dtype) => flip(t, { axis: 'both', dtype }), 'flip');
  });

  test('word kernel (rows on a word) and its vec4 form: bit-exact at every dtype and axis', { skip: gpuSkip(gpu) }, async () => {
    // widths: 32 (vec4 rows for every dtype), 8 (vec4 for u16/i32/f32, words for u8), 12 and 6
    for (const dtype of DTYPES) {
      for (const [n, c, h, w] of [
        [2, 1, 7, 32],
        [1, 3, 5, 8],
        [3, 1, 4, 12],
        [1, 2, 3, 6],
      ] as const) {
        const x = specialImage([n, c, h, w], dtype, w);
        const g = await x.toGpu(gpu!);
        for (const axis of FLIP_AXES) {
          const expected = flip(x, { axis });
          for (const run of [() => flip(g, { axis }), () => flipWordsScalar(g, axis)]) {
            const out = run();
            if (!out) continue; // width not on a word: the gather engine's case, tested above
            assertClose(await out.toCpu(), expected, EXACT, `${dtype} ${axis} ${w}`);
            out.dispose();
          }
        }
        g.dispose();
      }
    }
  });

  test('per-sample flags by words (vec4 and scalar): bit-exact with the CPU, one flip_words dispatch', { skip: gpuSkip(gpu) }, async () => {
    const horizontal = [false, true, false, true];
    const vertical = [false, false, true, true];
    for (const dtype of DTYPES) {
      for (const w of [32, 12]) {
        const x = specialImage([4, 2, 5, w], dtype, w + 1);
        const expected = flip(x, { horizontal, vertical });
        const g = await x.toGpu(gpu!);
        const { result: outs, names } = dispatchedPrograms(gpu!, () => [flip(g, { horizontal, vertical }), runFlipWords(g, { horizontal, vertical }, false)]);
        assert.deepEqual(names, ['flip_words', 'flip_words'], `${dtype} ${w}`);
        for (const out of outs) {
          assertClose(await out.toCpu(), expected, EXACT, `${dtype} per-sample ${w}`);
          out.dispose();
        }
        g.dispose();
      }
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of flipPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed values', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(
      () => flip(x, { axis: 'diagonal' as never }),
      /Expected one of "horizontal", "vertical", "both" for axis but received "diagonal" of type string/,
    );
    assert.throws(() => flip(x, { axis: 1 as never }), /Expected one of "horizontal", "vertical", "both" for axis but received 1 of type number/);
    assert.throws(() => flip(x, { axis: 'both', dtype: 'f64' as never }), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "f64"/);
    assert.throws(() => flip(x.reshape([1, 16]), { axis: 'both' }), /Expected x of shape \[N, C, H, W\] but received \[1, 16\]/);
  });
});
