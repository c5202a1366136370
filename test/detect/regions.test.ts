import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RECIPE, type ClassicRecipe } from '../../src/detect/recipe.js';
import { backgroundLevel, classify, regionDefects, regionDetection, regionsOf, HISTOGRAM_BINS, HISTOGRAM_SPAN } from '../../src/detect/regions.js';
import { Tensor } from '../../src/tensor.js';

const rules = (DEFAULT_RECIPE.recipe as ClassicRecipe).classify;

test('shape rules: compact → spot, long thin straight → scratch, thin irregular → crack', () => {
  assert.equal(classify(8, 7, 50, rules), 'spot');
  assert.equal(classify(200, 3, 500, rules), 'scratch');
  assert.equal(classify(60, 40, 300, rules), 'crack');
});

test('regions: statistics and mean value per component, per image, each with its own arrays and mask', async () => {
  const [H, W] = [12, 16];
  const mask = new Uint8Array(2 * H * W);
  const values = new Float32Array(2 * H * W).fill(0.5);
  for (let y = 2; y < 6; y++) for (let x = 3; x < 7; x++) mask[y * W + x] = 255; // 4×4 block, image 0
  for (let x = 1; x < 15; x++) {
    mask[H * W + 9 * W + x] = 255; // a line in image 1 …
    values[H * W + 9 * W + x] = 2;
  }
  mask[H * W] = 255; // … and a 1-pixel speck
  const found = await regionsOf(Tensor.fromArray(mask, [2, 1, H, W], 'u8'), Tensor.fromArray(values, [2, 1, H, W], 'f32'), 8, true);
  assert.equal(found.length, 2);
  assert.deepEqual([...found[0]!.area], [16]);
  assert.deepEqual([found[0]!.x[0], found[0]!.y[0], found[0]!.w[0], found[0]!.h[0]], [3, 2, 4, 4]);
  assert.deepEqual([...found[0]!.mean], [0.5]);
  assert.deepEqual(found[1]!.mask, mask.subarray(H * W));
  assert.notEqual(found[0]!.area.buffer, found[1]!.area.buffer);
  const defects = regionDefects(found[1]!, 2, 0.25, rules);
  assert.equal(defects.length, 1, 'the speck is under minArea');
  assert.deepEqual(defects[0], { x: 1, y: 9, w: 14, h: 1, area: 14, meanGradient: 2, score: 8, class: 'crack' });
});

test("backgroundLevel: the quantile with the defect's pixels taken off the top, interpolated in its bin", () => {
  // 4 bins over [0, 4) and the overflow: 50 values in [0, 1), 40 in [1, 2), 10 at or above 4
  const hist = Int32Array.from([50, 40, 0, 0, 10]);
  assert.equal(backgroundLevel(hist, 4, 0, 0.5), 1, 'rank 50: the top of bin 0');
  assert.equal(backgroundLevel(hist, 4, 10, 0.5), 0.9, 'rank 45 of the 90 left: 45/50 into bin 0');
  assert.equal(backgroundLevel(hist, 4, 10, 1), 2, 'rank 90: the top of bin 1');
  assert.equal(backgroundLevel(hist, 4, 0, 0.95), 4, 'rank 95 lies in the overflow: at least hi');
  assert.equal(backgroundLevel(hist, 4, 100, 0.99), 0, 'a defect as large as the image: nothing left');
});

test('regionDetection: with verdict.background only defects that stand out from their image count', () => {
  const unit = 0.05;
  const hist = new Int32Array(HISTOGRAM_BINS + 1);
  // 10,000 pixels: 9,800 in the first bin and 200 in the one at 2 × unit = 0.1
  hist[0] = 9800;
  hist[(2 * HISTOGRAM_BINS) / HISTOGRAM_SPAN] = 200;
  const region = (mean: number, area: number) => ({ area, mean });
  const payload = (regions: { area: number; mean: number }[]) => ({
    area: Int32Array.from(regions, (r) => r.area),
    x: new Int32Array(regions.length),
    y: new Int32Array(regions.length),
    w: Int32Array.from(regions, () => 10),
    h: Int32Array.from(regions, () => 10),
    mean: Float64Array.from(regions, (r) => r.mean),
    hist,
  });
  const verdict = { maxDefects: 0, minScore: 0, background: { quantile: 0.99, ratio: 1.5 } };
  // a 250-pixel region leaves 9,750, whose rank 9,653 lies in the first bin (under unit / 256): any mean counts
  assert.deepEqual(regionDetection(payload([region(0.06, 250)]), 1, unit, rules, verdict).counted, [true]);
  // a 50-pixel one leaves 9,950, whose rank 9,851 lies in the bin at 0.1: 0.12 < 1.5 × 0.1 does not count, 0.2 does
  const d = regionDetection(payload([region(0.12, 50), region(0.2, 50)]), 1, unit, rules, verdict);
  assert.deepEqual(d.counted, [false, true]);
  assert.equal(d.verdict, 'NG');
  assert.equal(regionDetection(payload([region(0.12, 50)]), 1, unit, rules, verdict).verdict, 'OK');
  assert.equal(regionDetection(payload([region(0.12, 50)]), 1, unit, rules, { maxDefects: 0, minScore: 0 }).verdict, 'NG', 'off: every defect counts');
});
