import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RECIPE, type ClassicRecipe } from '../../src/detect/recipe.js';
import { classify, regionDefects, regionsOf } from '../../src/detect/regions.js';
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
