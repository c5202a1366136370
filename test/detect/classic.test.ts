import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classicDetector, detectClassic } from '../../src/detect/classic.js';
import { detect, transferables } from '../../src/detect/detector.js';
import { DEFAULT_RECIPE, type ClassicRecipe } from '../../src/detect/recipe.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';

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
  assert.deepEqual(
    found.map((f) => f.verdict),
    ['NG', 'NG', 'OK'],
  );
  assert.equal(found[1]!.defects[0]!.class, 'spot');
  const spot = found[1]!.defects[0]!;
  assert.ok(spot.x <= 50 && spot.x + spot.w >= 57 && spot.y <= 40 && spot.y + spot.h >= 47, 'the bbox covers the spot');
  assert.equal(found[2]!.defects.length, 0);
  assert.ok(found[0]!.mask!.some((v) => v === 255));
  assert.ok(found[2]!.mask!.every((v) => v === 0));
});

/** A faint stain (+18/255 with a 6 px soft edge, too gentle for the gradient) on noisy flat grey, and the same frame without it. */
function stainFrames(): Tensor {
  const S = 128;
  const img = new Uint8Array(2 * S * S);
  const r = mulberry32(5);
  for (let n = 0; n < 2; n++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const edge = Math.min(1, Math.max(0, (16 - Math.hypot(y - 64, x - 60)) / 6));
        img[(n * S + y) * S + x] = Math.round(120 + (n === 0 ? 18 * edge : 0) + (r() - 0.5) * 4);
      }
  return Tensor.fromArray(img, [2, 1, S, S], 'u8');
}

test('the local contrast finds a stain whose outline is too faint for the gradient; off, the stain is missed', async () => {
  const found = await detectClassic(stainFrames(), recipe, true);
  assert.deepEqual(
    found.map((f) => f.verdict),
    ['NG', 'OK'],
  );
  const d = found[0]!.defects[0]!;
  assert.equal(d.class, 'spot');
  assert.ok(d.x <= 52 && d.x + d.w >= 68 && d.y <= 56 && d.y + d.h >= 72, `the bbox covers the stain's core (${JSON.stringify(d)})`);
  assert.ok(found[0]!.mask![64 * 128 + 60] === 255, 'the centre is in the mask, not just an outline');
  const off = { ...recipe, contrast: { ...recipe.contrast, background: 0 } };
  assert.deepEqual(
    (await detectClassic(stainFrames(), off, false)).map((f) => f.verdict),
    ['OK', 'OK'],
  );
});

/** Variants that take every branch: pyramid gradients, hole filling, 4-connectivity, contrast on level 1 and off. */
const VARIANTS: [string, ClassicRecipe][] = [
  ['default', recipe],
  [
    'scales 3, fillHoles, 4-connected',
    { ...recipe, gradient: { ...recipe.gradient, scales: 3 }, morphology: { close: 3, fillHoles: 64 }, components: { ...recipe.components, connectivity: 4 } },
  ],
  ['contrast on level 1, no closing', { ...recipe, contrast: { ...recipe.contrast, background: 16 }, morphology: { close: 0, fillHoles: 1000 } }],
  ['contrast off, no denoise', { ...recipe, contrast: { ...recipe.contrast, background: 0 }, denoise: { sigma: 0 } }],
  ['relative threshold, black-hat 9', { ...recipe, threshold: { value: 3, mode: 'relative' }, blackhat: { size: 9, weight: 2 } }],
];

test('GPU and CPU give the same defects and masks', { skip: gpuSkip(gpu) }, async () => {
  for (const x of [frames(), stainFrames()]) {
    for (const [what, r] of VARIANTS) {
      const cpu = await detectClassic(x, r, true);
      const xg = await x.toGpu(gpu!);
      const g = await detectClassic(xg, r, true);
      xg.dispose();
      for (let i = 0; i < x.shape[0]!; i++) {
        assert.equal(g[i]!.verdict, cpu[i]!.verdict, what);
        assert.deepEqual(g[i]!.mask, cpu[i]!.mask, what);
        assert.deepEqual(
          g[i]!.defects.map((d) => [d.x, d.y, d.w, d.h, d.area, d.class]),
          cpu[i]!.defects.map((d) => [d.x, d.y, d.w, d.h, d.area, d.class]),
          what,
        );
        for (const [k, d] of g[i]!.defects.entries()) assert.ok(Math.abs(d.meanGradient - cpu[i]!.defects[k]!.meanGradient) < 1e-5, what);
      }
    }
  }
});

test('the device stage hands over payloads that own their buffers (CPU and GPU); detect() composes the two stages', async () => {
  const inputs = [frames(), ...(gpu ? [await frames().toGpu(gpu)] : [])];
  for (const x of inputs) {
    const payloads = await classicDetector.device(x, recipe, true);
    assert.equal(payloads.length, 3);
    const buffers = payloads.map((p) => transferables(p));
    // area, x, y, w, h, meanGradient and the mask: every one transferable, none shared
    assert.deepEqual(
      buffers.map((b) => b.length),
      [7, 7, 7],
      x.device,
    );
    assert.equal(new Set(buffers.flat()).size, 21, x.device);
  }
  assert.deepEqual(
    (await classicDetector.device(frames(), recipe, true)).map((p) => classicDetector.post(p, recipe)),
    await detect(frames(), recipe, true),
  );
});
