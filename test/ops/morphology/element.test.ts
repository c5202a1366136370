import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ELEMENT_SHAPES, structuringElement } from '../../../src/ops/morphology/element.js';
import { opencv } from '../../_kit/opencv.js';

describe('structuringElement', () => {
  test('equals OpenCV getStructuringElement for every shape and sizes 1..17 × 1..17 (exact)', async () => {
    const { cv } = await opencv();
    const codes = { rect: cv.MORPH_RECT, ellipse: cv.MORPH_ELLIPSE, cross: cv.MORPH_CROSS };
    for (const shape of ELEMENT_SHAPES) {
      for (let w = 1; w <= 17; w++) {
        for (let h = 1; h <= 17; h++) {
          // cv.getStructuringElement(shape, Size(w, h))
          const m = cv.getStructuringElement(codes[shape], new cv.Size(w, h));
          const expected = Array.from({ length: h }, (_, y) => Array.from(m.data.subarray(y * w, (y + 1) * w) as Uint8Array));
          m.delete();
          assert.deepEqual(structuringElement(shape, [w, h]), expected, `${shape} ${w}×${h}`);
        }
      }
    }
    for (const s of [31, 45, 64]) {
      const m = cv.getStructuringElement(cv.MORPH_ELLIPSE, new cv.Size(s, s - 6));
      assert.deepEqual(structuringElement('ellipse', [s, s - 6]).flat(), Array.from(m.data as Uint8Array), `ellipse ${s}`);
      m.delete();
    }
  });

  test('a single side means a square', () => {
    assert.deepEqual(structuringElement('cross', 3), [
      [0, 1, 0],
      [1, 1, 1],
      [0, 1, 0],
    ]);
  });

  test('bad arguments name the argument and the allowed range', () => {
    assert.throws(() => structuringElement('disk' as never, 3), /Expected one of "rect", "ellipse", "cross" for shape but received "disk" of type string/);
    assert.throws(() => structuringElement('rect', 0), /Expected integer between 1 and 255 for size but received 0 of type number/);
    assert.throws(() => structuringElement('rect', [3, -1]), /Expected integer between 1 and 255 for size\[1\] but received -1 of type number/);
    assert.throws(
      () => structuringElement('rect', [3] as never),
      /Expected an integer between 1 and 255 or a \[width, height\] pair for size but received \[3\] of type object/,
    );
  });
});
