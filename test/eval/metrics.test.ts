import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addCounts, compareMasks, components, keptPixels, pixelCounts, scores, withinDistance, ZERO_COUNTS } from '../../src/eval/metrics.js';
import { mulberry32 } from '../../src/rng.js';

/** A w×h mask with the listed [x, y] pixels set. */
function mask(w: number, h: number, px: readonly (readonly [number, number])[]): Uint8Array {
  const m = new Uint8Array(w * h);
  for (const [x, y] of px) m[y * w + x] = 255;
  return m;
}
const count = (m: Uint8Array) => m.reduce((n, v) => n + (v ? 1 : 0), 0);
const line = (x: number, y0: number, y1: number) => Array.from({ length: y1 - y0 + 1 }, (_, i) => [x, y0 + i] as const);

describe('eval/metrics', () => {
  test('withinDistance is a Euclidean disk: radius 1 = 4-neighbours, 1.5 = 8-neighbours, 2 = 13 pixels', () => {
    const one = mask(9, 9, [[4, 4]]);
    assert.deepEqual(
      withinDistance(one, 9, 9, 0),
      one.map((v) => (v ? 1 : 0)),
    );
    assert.equal(count(withinDistance(one, 9, 9, 1)), 5);
    assert.equal(count(withinDistance(one, 9, 9, 1.5)), 9);
    assert.equal(count(withinDistance(one, 9, 9, 2)), 13);
    assert.equal(count(withinDistance(one, 9, 9, 3)), 29);
    const corner = withinDistance(mask(9, 9, [[0, 0]]), 9, 9, 2);
    assert.equal(count(corner), 6); // (0,0) (1,0) (2,0) (0,1) (1,1) (0,2): the disk clipped at the border
  });

  test('withinDistance matches a brute-force distance check on random masks', () => {
    const r = mulberry32(17);
    for (const [w, h, density] of [
      [23, 17, 0.02],
      [40, 9, 0.1],
      [5, 31, 0.3],
    ] as const) {
      const m = new Uint8Array(w * h).map(() => (r() < density ? 1 : 0));
      for (const radius of [0, 1, 1.5, 2, 2.9, 4]) {
        const got = withinDistance(m, w, h, radius);
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) {
            let near = 0;
            for (let yy = 0; yy < h && !near; yy++)
              for (let xx = 0; xx < w && !near; xx++) if (m[yy * w + xx] && (xx - x) ** 2 + (yy - y) ** 2 <= radius * radius) near = 1;
            assert.equal(got[y * w + x], near, `${w}×${h} radius ${radius} at ${x},${y}`);
          }
      }
    }
  });

  test('components are 8-connected', () => {
    const diag = components(
      mask(5, 5, [
        [0, 0],
        [1, 1],
        [2, 2],
      ]),
      5,
      5,
    );
    assert.equal(diag.count, 1);
    const apart = components(
      mask(5, 5, [
        [0, 0],
        [2, 0],
        [4, 4],
        [4, 3],
      ]),
      5,
      5,
    );
    assert.equal(apart.count, 3);
    assert.equal(apart.labels[3 * 5 + 4], apart.labels[4 * 5 + 4]);
    assert.equal(components(new Uint8Array(25), 5, 5).count, 0);
  });

  test('kept pixels: only components of at least minArea count, 8- or 4-connected', () => {
    // a diagonal of 3 (one 8-connected component, three 4-connected ones) and a bar of 4
    const m = mask(6, 6, [
      [0, 0],
      [1, 1],
      [2, 2],
      [0, 5],
      [1, 5],
      [2, 5],
      [3, 5],
    ]);
    assert.equal(keptPixels(m, 6, 6, 1), 7);
    assert.equal(keptPixels(m, 6, 6, 3), 7);
    assert.equal(keptPixels(m, 6, 6, 4), 4);
    assert.equal(keptPixels(m, 6, 6, 5), 0);
    assert.equal(keptPixels(m, 6, 6, 2, 4), 4);
    assert.equal(components(m, 6, 6, 4).count, 4);
  });

  test('a line shifted by one pixel: tolerance 0 counts every pixel twice wrong (FP + FN), tolerance 1 all right; IoU stays 0', () => {
    const truth = mask(12, 10, line(5, 2, 7)); // 6 px
    const pred = mask(12, 10, line(6, 2, 7));
    const strict = compareMasks(pred, truth, 12, 10, 0);
    assert.deepEqual(strict, { ...ZERO_COUNTS, pixels: 120, truth: 6, predicted: 6, union: 12, truthObjects: 1, predictedObjects: 1 });
    assert.deepEqual(scores(strict), { precision: 0, recall: 0, f1: 0, iou: 0, objectRecall: 0, objectPrecision: 0 });
    const tol = compareMasks(pred, truth, 12, 10, 1);
    assert.equal(tol.matchedPredicted, 6);
    assert.equal(tol.matchedTruth, 6);
    assert.deepEqual(scores(tol), { precision: 1, recall: 1, f1: 1, iou: 0, objectRecall: 1, objectPrecision: 1 });
    // a diagonal shift is √2 away: outside tolerance 1, inside 1.5
    const diag = mask(12, 10, line(6, 3, 8));
    assert.equal(compareMasks(diag, truth, 12, 10, 1).matchedPredicted, 5); // (6,3..7) have (5,3..7) beside them; (6,8) does not
    assert.equal(compareMasks(diag, truth, 12, 10, 1.5).matchedPredicted, 6);
  });

  test('partial detection with a false alarm, counted by hand', () => {
    // truth: a 10 px vertical line at x=3, rows 0..9; prediction: rows 0..4 of it + a 3 px blob far away
    const truth = mask(20, 10, line(3, 0, 9));
    const pred = mask(20, 10, [...line(3, 0, 4), [15, 5], [16, 5], [15, 6]]);
    const c = compareMasks(pred, truth, 20, 10, 0);
    assert.equal(c.predicted, 8);
    assert.equal(c.truth, 10);
    assert.equal(c.intersection, 5);
    assert.equal(c.union, 13);
    assert.equal(c.matchedPredicted, 5);
    assert.equal(c.matchedTruth, 5);
    const s = scores(c);
    assert.equal(s.precision, 5 / 8);
    assert.equal(s.recall, 5 / 10);
    assert.ok(Math.abs(s.f1! - (2 * (5 / 8) * (1 / 2)) / (5 / 8 + 1 / 2)) < 1e-12); // = 5/9
    assert.ok(Math.abs(s.f1! - 5 / 9) < 1e-12);
    assert.equal(s.iou, 5 / 13);
    assert.equal(s.objectRecall, 1); // the line is found
    assert.equal(s.objectPrecision, 1 / 2); // one of the two predicted pieces is real
    // tolerance 2 recalls two more truth rows (5 and 6 lie within 2 px of row 4)
    const t2 = compareMasks(pred, truth, 20, 10, 2);
    assert.equal(t2.matchedTruth, 7);
    assert.equal(t2.matchedPredicted, 5);
  });

  test('empty masks: rates without a denominator are null; F1 is 0 when only one side is empty', () => {
    const empty = new Uint8Array(16);
    const some = mask(4, 4, [[1, 1]]);
    assert.deepEqual(scores(compareMasks(empty, empty, 4, 4, 2)), {
      precision: null,
      recall: null,
      f1: null,
      iou: null,
      objectRecall: null,
      objectPrecision: null,
    });
    assert.deepEqual(scores(compareMasks(some, empty, 4, 4, 2)), { precision: 0, recall: null, f1: 0, iou: 0, objectRecall: null, objectPrecision: 0 });
    assert.deepEqual(scores(compareMasks(empty, some, 4, 4, 2)), { precision: null, recall: 0, f1: 0, iou: 0, objectRecall: 0, objectPrecision: null });
  });

  test('micro-averaging adds counts: a large miss weighs more than a small hit', () => {
    const a = compareMasks(mask(4, 4, [[0, 0]]), mask(4, 4, [[0, 0]]), 4, 4, 0); // 1/1
    const b = compareMasks(new Uint8Array(64), mask(8, 8, line(2, 0, 7)), 8, 8, 0); // 0/8
    const sum = addCounts(a, b);
    assert.equal(sum.pixels, 16 + 64);
    assert.equal(sum.truth, 9);
    assert.equal(scores(sum).recall, 1 / 9);
    assert.equal(scores(sum).precision, 1);
    assert.equal(scores(sum).objectRecall, 1 / 2);
  });

  test('pixelCounts: the pixel fields of compareMasks, with or without a precomputed nearTruth; objects left 0', () => {
    const rng = mulberry32(9);
    const W = 40;
    const H = 30;
    for (const tolerance of [0, 1.5, 2]) {
      const pred = Uint8Array.from({ length: W * H }, () => (rng() < 0.1 ? 255 : 0));
      const truth = Uint8Array.from({ length: W * H }, () => (rng() < 0.1 ? 1 : 0));
      const full = compareMasks(pred, truth, W, H, tolerance);
      const pixels = { ...full, truthObjects: 0, detectedObjects: 0, predictedObjects: 0, matchedPredictedObjects: 0 };
      assert.deepEqual(pixelCounts(pred, truth, W, H, tolerance), pixels);
      assert.deepEqual(pixelCounts(pred, truth, W, H, tolerance, withinDistance(truth, W, H, tolerance)), pixels);
      assert.ok(full.matchedTruth > 0 && full.truthObjects > 0, 'the case compares something');
    }
  });
});
