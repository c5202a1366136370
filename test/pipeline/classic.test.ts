import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classicDetector, detectClassic } from '../../src/pipeline/classic.js';
import { detect, transferables } from '../../src/pipeline/detector.js';
import { DEFAULT_RECIPE, type ClassicRecipe } from '../../src/pipeline/recipe.js';
import { Tensor } from '../../src/tensor.js';
import { testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();
const recipe = DEFAULT_RECIPE.recipe as ClassicRecipe;

function frames(): Tensor {
  const H = 72;
  const W = 96;
  const img = new Uint8Array(3 * H * W).fill(128);
  for (let x = 10; x < 86; x++) img[(30 + Math.round(6 * Math.sin(x / 9))) * W + x] = 30; // crack-like line
  for (let y = 40; y < 47; y++) for (let x = 50; x < 57; x++) img[H * W + y * W + x] = 235; // spot
  return Tensor.fromArray(img, [3, 1, H, W], 'u8'); // third frame clean
}

test('classic recipe finds the line and the spot, passes the clean frame (CPU)', async () => {
  const found = await detectClassic(frames(), recipe, true);
  assert.deepEqual(found.map((f) => f.verdict), ['NG', 'NG', 'OK']);
  assert.equal(found[1]!.defects[0]!.class, 'spot');
  const spot = found[1]!.defects[0]!;
  assert.ok(spot.x <= 50 && spot.x + spot.w >= 57 && spot.y <= 40 && spot.y + spot.h >= 47, 'the bbox covers the spot');
  assert.equal(found[2]!.defects.length, 0);
  assert.ok(found[0]!.mask!.some((v) => v === 255));
  assert.ok(found[2]!.mask!.every((v) => v === 0));
});

test('GPU and CPU give the same defects and masks', { skip: !gpu }, async () => {
  const x = frames();
  const cpu = await detectClassic(x, recipe, true);
  const xg = await x.toGpu(gpu!);
  const g = await detectClassic(xg, recipe, true);
  xg.dispose();
  for (let i = 0; i < 3; i++) {
    assert.equal(g[i]!.verdict, cpu[i]!.verdict);
    assert.deepEqual(g[i]!.mask, cpu[i]!.mask);
    assert.deepEqual(g[i]!.defects.map((d) => [d.x, d.y, d.w, d.h, d.area, d.class]), cpu[i]!.defects.map((d) => [d.x, d.y, d.w, d.h, d.area, d.class]));
    g[i]!.defects.forEach((d, k) => assert.ok(Math.abs(d.meanGradient - cpu[i]!.defects[k]!.meanGradient) < 1e-5));
  }
});

test('the device stage hands over payloads that own their buffers; detect() composes the two stages', async () => {
  const payloads = await classicDetector.device(frames(), recipe, true);
  assert.equal(payloads.length, 3);
  const buffers = payloads.map((p) => transferables(p));
  // area, x, y, w, h, meanGradient and the mask: every one transferable, none shared
  assert.deepEqual(buffers.map((b) => b.length), [7, 7, 7]);
  assert.equal(new Set(buffers.flat()).size, 21);
  assert.deepEqual(payloads.map((p) => classicDetector.post(p, recipe)), await detect(frames(), recipe, true));
});
