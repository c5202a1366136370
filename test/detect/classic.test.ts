import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classicDetector, detectClassic, responseHistogram, responseMap } from '../../src/detect/classic.js';
import { detect, transferables } from '../../src/detect/detector.js';
import { DEFAULT_RECIPE, parseRecipe, type ClassicRecipe } from '../../src/detect/recipe.js';
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

test('under a relative threshold a featureless frame finds nothing: its rounding noise is not standardised into defects', async () => {
  const relative = { ...recipe, threshold: { value: 3, mode: 'relative' }, blackhat: { size: 9, weight: 2 } } satisfies ClassicRecipe;
  const flat = Tensor.fromArray(new Uint8Array(2 * 72 * 96).fill(128), [2, 1, 72, 96], 'u8');
  const inputs = [flat, ...(gpu ? [await flat.toGpu(gpu)] : [])];
  for (const x of inputs) {
    const found = await detectClassic(x, relative, true);
    assert.deepEqual(
      found.map((f) => [f.verdict, f.defects.length, f.mask!.some((v) => v !== 0)]),
      [
        ['OK', 0, false],
        ['OK', 0, false],
      ],
      x.device,
    );
  }
  // a real one still stands out from its frame: the spot's region
  const spot = (await detectClassic(frames(), relative, true))[1]!.defects;
  assert.ok(spot.length === 1 && spot[0]!.x <= 50 && spot[0]!.x + spot[0]!.w >= 57, JSON.stringify(spot));
});

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
  ['hysteresis 0.5', { ...recipe, threshold: { ...recipe.threshold, hysteresis: 0.5 } }],
  ['relative threshold, black-hat 5 + 15', { ...recipe, threshold: { value: 3, mode: 'relative' }, blackhat: { size: [5, 15], weight: 1 } }],
  [
    'relative threshold, black-hat 9, hysteresis 0.5, 4-connected',
    {
      ...recipe,
      threshold: { value: 3, mode: 'relative', hysteresis: 0.5 },
      blackhat: { size: 9, weight: 2 },
      components: { ...recipe.components, connectivity: 4 },
    },
  ],
];

/**
 * 64×96: a dark crack along row 20 whose contrast fades half-way (grey 30, then 100, on 128) and
 * an isolated faint segment (100) along row 45; the black-hat alone sees them.
 */
function fadingCrack(): Tensor {
  const W = 96;
  const img = new Uint8Array(64 * W).fill(128);
  for (let x = 10; x < 86; x++) img[20 * W + x] = x < 50 ? 30 : 100;
  for (let x = 20; x < 41; x++) img[45 * W + x] = 100;
  return Tensor.fromArray(img, [1, 1, 64, W], 'u8');
}

test('hysteresis keeps the faint stretch of a crack that continues a strong one and drops a faint segment on its own (both modes)', async () => {
  const blackhat = { ...recipe, denoise: { sigma: 0 }, gradient: { ...recipe.gradient, weight: 0 }, contrast: { ...recipe.contrast, background: 0 } };
  for (const mode of ['absolute', 'relative'] as const) {
    const base = { ...blackhat, threshold: { ...recipe.threshold, mode }, blackhat: { size: 9, weight: 1 }, morphology: { close: 0, fillHoles: 0 } };
    const response = responseMap(fadingCrack(), base).data as Float32Array;
    const [strong, faint] = [response[20 * 96 + 30]!, response[20 * 96 + 70]!];
    assert.equal(response[45 * 96 + 30], faint, 'the faint segments respond alike');
    // the threshold between the two responses, the low one below the faint one
    const value = (strong + faint) / 2;
    const masks = async (threshold: ClassicRecipe['threshold']) => {
      const m = (await detectClassic(fadingCrack(), { ...base, threshold, components: { connectivity: 8, minArea: 1 } }, true))[0]!.mask!;
      return { strong: m[20 * 96 + 30], faint: m[20 * 96 + 70], alone: m[45 * 96 + 30] };
    };
    assert.deepEqual(await masks({ mode, value }), { strong: 255, faint: 0, alone: 0 }, `${mode}: the threshold alone`);
    assert.deepEqual(await masks({ mode, value: faint / 2 }), { strong: 255, faint: 255, alone: 255 }, `${mode}: a low threshold alone`);
    const hysteresis = faint / 2 / value;
    assert.deepEqual(await masks({ mode, value, hysteresis }), { strong: 255, faint: 255, alone: 0 }, `${mode}: hysteresis ${hysteresis}`);
  }
});

test('hysteresis 1 is off: the masks and defects of the recipe without it', async () => {
  for (const x of [frames(), stainFrames()])
    for (const [what, r] of VARIANTS.filter(([, v]) => v.threshold.hysteresis === undefined))
      assert.deepEqual(await detectClassic(x, { ...r, threshold: { ...r.threshold, hysteresis: 1 } }, true), await detectClassic(x, r, true), what);
});

test('GPU and CPU give the same defects and masks', { skip: gpuSkip(gpu) }, async () => {
  for (const x of [frames(), stainFrames()]) {
    for (const [what, r] of VARIANTS) {
      const cpu = await detectClassic(x, r, true);
      const xg = await x.toGpu(gpu!);
      const g = await detectClassic(xg, r, true);
      xg.dispose();
      for (let i = 0; i < x.shape[0]!; i++) {
        assert.equal(g[i]!.verdict, cpu[i]!.verdict, what);
        if (!gpu!.info.isCpu) {
          // a hardware GPU fuses multiply-adds: a response within an ulp of the threshold can fall on the other side,
          // and the closing and hole filling carry such a flip to its neighbours; lavapipe keeps every bit
          const differing = g[i]!.mask!.reduce((s, v, j) => s + (v !== cpu[i]!.mask![j] ? 1 : 0), 0);
          assert.ok(differing <= 0.01 * g[i]!.mask!.length, `${what}: ${differing} mask pixels differ`);
          continue;
        }
        assert.deepEqual(g[i]!.mask, cpu[i]!.mask, what);
        assert.deepEqual(
          g[i]!.defects.map((d) => [d.x, d.y, d.w, d.h, d.area, d.class]),
          cpu[i]!.defects.map((d) => [d.x, d.y, d.w, d.h, d.area, d.class]),
          what,
        );
        for (const [k, d] of g[i]!.defects.entries()) assert.ok(Math.abs(d.meanGradient - cpu[i]!.defects[k]!.meanGradient) < 1e-5, what);
        assert.deepEqual(g[i]!.counted, cpu[i]!.counted, what);
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
    // area, x, y, w, h, meanGradient, the mask and the response histogram: every one transferable, none shared
    assert.deepEqual(
      buffers.map((b) => b.length),
      [8, 8, 8],
      x.device,
    );
    assert.equal(new Set(buffers.flat()).size, 24, x.device);
  }
  assert.deepEqual(
    (await classicDetector.device(frames(), recipe, true)).map((p) => classicDetector.post(p, recipe)),
    await detect(frames(), recipe, true),
  );
});

test('the response histogram: GPU equals CPU on the same response map, both in the payload with every pixel', { skip: gpuSkip(gpu) }, async () => {
  using response = responseMap(stainFrames(), recipe);
  using cpu = responseHistogram(response, recipe);
  using onGpu = await response.toGpu(gpu!);
  using g = responseHistogram(onGpu, recipe);
  assert.deepEqual((await g.toCpu()).data, cpu.data);
  const counts = cpu.data as Int32Array;
  assert.ok(
    counts.some((c, b) => c > 0 && b > 0 && b < counts.length / 2 - 1),
    'the map spreads over several bins',
  );
  for (const p of await classicDetector.device(stainFrames(), recipe, false))
    assert.equal(
      p.hist!.reduce((a, c) => a + c, 0),
      128 * 128,
    );
});

/**
 * A ground surface without defects: 120 grinding marks (1 px high, 10–40 px long, ±24–40 grey
 * levels) on noisy grey, strong enough for the gradient to call many of them defects; `spot`
 * adds a dark spot (−110, radius 8) in the middle.
 */
function groundSurface(seed: number, spot: boolean): Uint8Array {
  const S = 128;
  const r = mulberry32(seed);
  const marks = new Float64Array(S * S);
  for (let k = 0; k < 120; k++) {
    const y = Math.floor(r() * S);
    const x0 = Math.floor(r() * S);
    const len = 10 + Math.floor(r() * 30);
    const a = (r() < 0.5 ? -1 : 1) * 40 * (0.6 + 0.4 * r());
    for (let x = x0; x < Math.min(S, x0 + len); x++) marks[y * S + x]! += a;
  }
  const img = new Uint8Array(S * S);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const v = 128 + marks[y * S + x]! + (r() - 0.5) * 6 - (spot && Math.hypot(y - 64, x - 64) < 8 ? 110 : 0);
      img[y * S + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  return img;
}

test('verdict.background: a textured defect-free surface is OK by the default (NG without the rule); a spot on it is NG', async () => {
  const seeds = [1, 2, 3, 4];
  const batch = (spot: boolean) => {
    const data = new Uint8Array(seeds.length * 128 * 128);
    for (const [i, s] of seeds.entries()) data.set(groundSurface(s, spot), i * 128 * 128);
    return Tensor.fromArray(data, [seeds.length, 1, 128, 128], 'u8');
  };
  const off = parseRecipe({}).recipe as ClassicRecipe; // the default before the rule
  const clean = await detectClassic(batch(false), off, false);
  assert.deepEqual(
    clean.map((d) => d.verdict),
    ['NG', 'NG', 'NG', 'NG'],
    'the marks are defects to the gradient',
  );
  const judged = await detectClassic(batch(false), recipe, false);
  assert.deepEqual(
    judged.map((d) => d.defects.length),
    clean.map((d) => d.defects.length),
    'the same defects are found',
  );
  assert.deepEqual(
    judged.map((d) => d.verdict),
    ['OK', 'OK', 'OK', 'OK'],
  );
  const spotted = await detectClassic(batch(true), recipe, false);
  assert.deepEqual(
    spotted.map((d) => d.verdict),
    ['NG', 'NG', 'NG', 'NG'],
  );
  for (const d of spotted) {
    const counted = d.defects.filter((_, i) => d.counted![i]);
    assert.ok(
      counted.every((c) => c.x <= 64 && c.x + c.w >= 64 && c.y <= 64 && c.y + c.h >= 64),
      'only the defect over the spot counts',
    );
  }
});
