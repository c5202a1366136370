import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { f16BitsToF32 } from '../../../src/dtype.js';
import { fillRects, fillRectsPrograms, type Rect } from '../../../src/ops/color/fill-rects.js';
import { Tensor } from '../../../src/tensor.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';
import { EXACT } from '../../_kit/compare.js';

const gpu = await testGpu();

const RECTS: Rect[][] = [
  [[2, 3, 4, 5]],
  [],
  [
    [-2, -2, 5, 4],
    [9, 6, 10, 10],
    [4, 4, 0, 3],
  ],
];

describe('fillRects', () => {
  test('fills exactly the pixels inside each sample’s rectangles, clipped to the image', () => {
    const x = naturalImage([3, 2, 9, 12], 'u8', 1);
    const y = fillRects(x, { rects: RECTS, value: [7, 300] });
    for (let n = 0; n < 3; n++)
      for (let c = 0; c < 2; c++)
        for (let yy = 0; yy < 9; yy++)
          for (let xx = 0; xx < 12; xx++) {
            const inside = RECTS[n]!.some(([rx, ry, rw, rh]) => xx >= rx && xx < rx + rw && yy >= ry && yy < ry + rh);
            const i = ((n * 2 + c) * 9 + yy) * 12 + xx;
            assert.equal(y.data[i], inside ? (c === 0 ? 7 : 255) : x.data[i], `n${n} c${c} (${xx}, ${yy})`);
          }
  });

  test('one list of rectangles applies to every sample', () => {
    const x = naturalImage([2, 1, 6, 6], 'f32', 2);
    const y = fillRects(x, { rects: [[1, 1, 2, 2]], value: -1 });
    for (const n of [0, 1]) assert.equal(y.at(n * 36 + 7), -1);
    assert.equal(y.at(0), x.at(0));
  });

  test('GPU equals the CPU exactly (every dtype, batches, odd sizes)', { skip: gpuSkip(gpu) }, async () => {
    for (const dtype of ['u8', 'u16', 'i32', 'f32', 'f16'] as const) {
      const x = naturalImage([3, 3, 9, 13], dtype, 2);
      await assertGpuMatchesCpu(gpu!, [x], (t) => fillRects(t, { rects: RECTS, value: [0.3, 17.5, -2] }), EXACT, dtype);
    }
    const h = fillRects(Tensor.zeros([1, 1, 2, 2], 'f16'), { rects: [[0, 0, 1, 1]], value: 0.1 });
    assert.ok(Math.abs(f16BitsToF32(h.data[0]!) - 0.1) < 1e-4);
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of fillRectsPrograms()) await gpu!.compile(p);
  });

  test('bad rectangles and fills are refused with one sentence naming them', () => {
    const x = naturalImage([2, 3, 4, 4], 'u8', 1);
    assert.throws(
      () => fillRects(x, { rects: [[1, 2, 3]] as unknown as Rect[] }),
      /Expected \[x, y, width, height\] of integers .* for rects\[0\] but received \[1, 2, 3\]/,
    );
    assert.throws(() => fillRects(x, { rects: [[[0, 0, -1, 2]], []] }), /for rects\[0\]\[0\] but received \[0, 0, -1, 2\]/);
    assert.throws(() => fillRects(x, { rects: [[[0, 0, 1, 2]]] }), /Expected one array of rectangles per sample \(2\) for rects but received "an array of 1"/);
    assert.throws(() => fillRects(x, { rects: [], value: [1, 2] }), /Expected a number or an array of 1 or 3 numbers for value but received \[1, 2\]/);
    const many: Rect[] = Array.from({ length: 1537 }, () => [0, 0, 1, 1]);
    assert.throws(() => fillRects(x, { rects: many }), /Expected at most 3072 rectangles in all for rects but received "3074 rectangles"/);
  });
});
