import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { imageLevel, thresholdCurve, type ScoredImage } from '../../src/eval/images.js';
import { curveSvg, niceTicks } from '../../src/eval/plot.js';

// 3 defect-free images (scores 0, 0, 5) and 3 defective ones (scores 0, 4, 9)
const images: ScoredImage[] = [
  { name: 'g1', defective: false, score: 0 },
  { name: 'g2', defective: false, score: 0 },
  { name: 'g3', defective: false, score: 5 },
  { name: 'd1', defective: true, score: 0 },
  { name: 'd2', defective: true, score: 4 },
  { name: 'd3', defective: true, score: 9 },
];

describe('image-level metrics', () => {
  test('false-NG and miss rates at a threshold (NG when score > threshold)', () => {
    const r = imageLevel(images, 0);
    assert.deepEqual(
      { falseNg: r.falseNg, good: r.goodImages, missed: r.missed, defective: r.defectiveImages },
      { falseNg: 1, good: 3, missed: 1, defective: 3 },
    );
    assert.equal(r.falseNgRate, 1 / 3);
    assert.equal(r.missRate, 1 / 3);
    assert.equal(r.precision, 2 / 3);
    assert.equal(r.recall, 2 / 3);
    const strict = imageLevel(images, 4.5);
    assert.equal(strict.falseNg, 1);
    assert.equal(strict.missed, 2);
    assert.equal(strict.precision, 0.5);
  });

  test('without NG images precision is undefined; without good images the false-NG rate is', () => {
    assert.equal(imageLevel(images, 100).precision, null);
    assert.equal(
      imageLevel(
        images.filter((i) => i.defective),
        0,
      ).falseNgRate,
      null,
    );
    assert.throws(() => imageLevel(images, Number.NaN), { code: 'KENSA_ERR_INVALID_ARGUMENT' });
  });

  test('the curve runs from every image OK to every image NG, one point per distinct score', () => {
    const c = thresholdCurve(images);
    assert.equal(c.length, 5); // all OK, then below 9, 5, 4, 0
    assert.deepEqual(
      c.map((p) => [p.falseNg, p.missed]),
      [
        [0, 3],
        [0, 2],
        [1, 2],
        [1, 1],
        [3, 0],
      ],
    );
    assert.deepEqual(
      c.map((p) => p.recall),
      [0, 1 / 3, 1 / 3, 2 / 3, 1],
    );
    assert.equal(c[0]!.precision, null);
    assert.equal(c[4]!.precision, 0.5);
  });

  test('the plot is an SVG with the precision/recall polyline', () => {
    const svg = curveSvg(thresholdCurve(images), 'a < b');
    assert.match(svg, /^<svg /);
    assert.match(svg, /a &lt; b/);
    assert.equal(svg.match(/<polyline/g)?.length, 3);
  });

  test('the plot labels both x axes, puts threshold values on the right one and the legend above the panels', () => {
    assert.deepEqual(niceTicks(-1, 9), [0, 2, 4, 6, 8]);
    assert.deepEqual(niceTicks(0, 120), [0, 50, 100]);
    assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    const svg = curveSvg(thresholdCurve(images), 'curve');
    const xLabels = [...svg.matchAll(/<text x="[\d.]+" y="(\d+(?:\.\d+)?)" text-anchor="middle" font-size="11">([^<]+)<\/text>/g)].map((m) => m[2]);
    // recall 0 … 1 on the left, the area thresholds (-1 … 9) on the right
    assert.deepEqual(xLabels, ['0', '0.25', '0.5', '0.75', '1', '0', '2', '4', '6', '8']);
    for (const m of svg.matchAll(/<text x="[\d.]+" y="([\d.]+)"[^>]*>(false-NG rate|miss rate)</g)) assert.ok(Number(m[1]) < 48, `${m[2]} above the panel`);
  });
});
