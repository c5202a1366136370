import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ClassicRecipe, DEFAULT_RECIPE, parseRecipe } from '../../src/detect/recipe.js';
import { responseMap } from '../../src/detect/classic.js';
import { detect } from '../../src/detect/detector.js';
import { convert } from '../../src/ops/color/convert.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor } from '../../src/tensor.js';
import { BACKENDS, gpuSkip, testGpu } from '../_kit/gpu.js';

// one device for the file: testGpu destroys it after the test (or file) that first asks for it
const gpu = await testGpu();
const W = 64;
/** A flat grey surface with a 1-px dark line (12 grey levels deep, about 0.047) at x = 30, and a 1-px bright one at y = 40. */
function lines(): Uint8Array {
  const img = new Uint8Array(W * W).fill(128);
  for (let y = 8; y < 56; y++) img[y * W + 30] = 116;
  for (let x = 8; x < 24; x++) img[40 * W + x] = 140;
  return img;
}

// no denoise and no contrast channel: the 1-px lines' central differences (about 0.024) stay under the threshold
const base = { denoise: { sigma: 0 }, contrast: { background: 0 }, morphology: { close: 0 }, components: { minArea: 8 } };

describe('black-hat and top-hat channels', () => {
  test('absent from the default recipe (its JSON and hash do not change)', () => {
    assert.ok(!('blackhat' in DEFAULT_RECIPE.recipe) && !('tophat' in DEFAULT_RECIPE.recipe));
    assert.doesNotMatch(DEFAULT_RECIPE.json, /hat/);
  });

  for (const kind of BACKENDS) {
    test(`${kind}: the black-hat finds the thin dark line, the top-hat the bright one, weighted`, async (t) => {
      if (kind === 'gpu' && !gpu) return t.skip(gpuSkip(gpu) || undefined);
      const batch = await Tensor.fromFrames([lines()], [1, 1, W, W], 'u8', kind === 'gpu' ? gpu! : undefined);
      const run = async (extra: object) => (await detect(batch, parseRecipe({ ...base, ...extra }).recipe, false))[0]!;
      assert.equal((await run({})).defects.length, 0, 'the gradient alone misses both lines');
      const dark = await run({ blackhat: { size: 5, weight: 2 } });
      assert.equal(dark.defects.length, 1);
      assert.deepEqual([dark.defects[0]!.x, dark.defects[0]!.w], [30, 1]);
      const bright = await run({ tophat: { size: 5, weight: 2 } });
      assert.equal(bright.defects.length, 1);
      assert.deepEqual([bright.defects[0]!.y, bright.defects[0]!.h], [40, 1]);
      assert.equal((await run({ blackhat: { size: 5, weight: 1 } })).defects.length, 0, 'weight 1: 0.047 stays under the threshold 0.055');
      assert.equal((await run({ blackhat: { size: 5, weight: 2 }, tophat: { size: 5, weight: 2 } })).defects.length, 2);
      batch.dispose();
    });
  }

  for (const kind of BACKENDS) {
    test(`${kind}: gradient.weight 0 turns the gradient off and leaves the black-hat alone`, async (t) => {
      if (kind === 'gpu' && !gpu) return t.skip(gpuSkip(gpu) || undefined);
      const batch = await Tensor.fromFrames([lines()], [1, 1, W, W], 'u8', kind === 'gpu' ? gpu! : undefined);
      // at 0.01 the central differences of both lines' edges (about 0.024) are candidates
      const low = { ...base, threshold: { value: 0.01 } };
      const run = async (extra: object) => (await detect(batch, parseRecipe({ ...low, ...extra }).recipe, false))[0]!;
      assert.equal((await run({})).defects.length, 2, 'the gradient finds both lines');
      assert.equal((await run({ gradient: { weight: 0 } })).defects.length, 0, 'nothing is left without it');
      const dark = await run({ gradient: { weight: 0 }, blackhat: { size: 5, weight: 1 } });
      assert.equal(dark.defects.length, 1, 'the black-hat alone: only the dark line');
      assert.deepEqual([dark.defects[0]!.x, dark.defects[0]!.w], [30, 1]);
      assert.equal((await run({ gradient: { weight: 0.3 } })).defects.length, 0, '0.3 × 0.024 is under 0.01');
      batch.dispose();
    });
  }

  for (const kind of BACKENDS) {
    test(`${kind}: a black-hat at several sizes sums their responses`, async (t) => {
      if (kind === 'gpu' && !gpu) return t.skip(gpuSkip(gpu) || undefined);
      const batch = await Tensor.fromFrames([lines()], [1, 1, W, W], 'u8', kind === 'gpu' ? gpu! : undefined);
      const hatOnly = { ...base, gradient: { weight: 0 } };
      const response = async (blackhat: object) =>
        (await responseMap(batch, parseRecipe({ ...hatOnly, blackhat }).recipe as ClassicRecipe).toCpu()).data as Float32Array;
      const [five, nine, both] = [await response({ size: 5 }), await response({ size: 9 }), await response({ size: [5, 9], weight: 1.5 })];
      for (let i = 0; i < both.length; i++)
        assert.ok(Math.abs(both[i]! - 1.5 * (five[i]! + nine[i]!)) <= 1e-6, `pixel ${i}: ${both[i]} for 1.5 × (${five[i]} + ${nine[i]})`);
      // the line's 0.047 at either size stays under the threshold 0.055; the two sizes' sum does not
      const run = async (blackhat: object) => (await detect(batch, parseRecipe({ ...base, blackhat }).recipe, false))[0]!.defects;
      assert.equal((await run({ size: 9 })).length, 0);
      const found = await run({ size: [5, 9] });
      assert.deepEqual([found.length, found[0]?.x, found[0]?.w], [1, 30, 1]);
      batch.dispose();
    });
  }

  test('recipe ranges are checked', () => {
    for (const [size, got] of [
      [1, '1'],
      [97, '97'],
    ] as const) {
      assert.throws(() => parseRecipe({ blackhat: { size } }), {
        code: 'KENSA_ERR_RECIPE',
        message: `Invalid recipe: blackhat.size: expected an integer from 3 to 95 (px), received ${got}`,
      });
    }
    for (const [size, got] of [
      [7.5, '7.5'],
      [[], '[]'],
      [[5, 5], '[5,5]'],
      [[3, 5, 7, 9], '[3,5,7,9]'],
    ] as const) {
      assert.throws(() => parseRecipe({ blackhat: { size } }), {
        code: 'KENSA_ERR_RECIPE',
        message: `Invalid recipe: blackhat.size: expected an integer from 3 to 95 (px) or a list of 1 to 3 different ones, received ${got}`,
      });
    }
    assert.throws(() => parseRecipe({ tophat: { size: [5, 200] } }), {
      code: 'KENSA_ERR_RECIPE',
      message: 'Invalid recipe: tophat.size.1: expected an integer from 3 to 95 (px), received 200',
    });
    assert.deepEqual((parseRecipe({ blackhat: { size: [15, 95] } }).recipe as ClassicRecipe).blackhat?.size, [15, 95]);
    assert.equal((parseRecipe({ tophat: { size: 95 } }).recipe as ClassicRecipe).tophat?.size, 95);
    assert.throws(() => parseRecipe({ tophat: { weight: 0 } }), { code: 'KENSA_ERR_RECIPE', message: /tophat\.weight/ });
    assert.throws(() => parseRecipe({ gradient: { weight: -1 } }), { code: 'KENSA_ERR_RECIPE', message: /gradient\.weight/ });
    assert.doesNotMatch(DEFAULT_RECIPE.json, /weight/, 'gradient.weight is absent from the default recipe (its hash does not change)');
  });
});

/** Grey 128 with vertical grinding streaks (each column ±12 levels) and pixel noise, and a disc of radius 22 in the middle 10 levels darker (about 0.039). */
function streakedWithDisc(w = 120, h = 100): Uint8Array {
  const r = mulberry32(5);
  const column = Array.from({ length: w }, () => (r() - 0.5) * 24);
  const img = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) img[y * w + x] = Math.round(128 + column[x]! + (r() - 0.5) * 8 - (Math.hypot(x - w / 2, y - h / 2) < 22 ? 10 : 0));
  return img;
}
const inDisc = (i: number) => Math.hypot((i % 120) - 60, Math.floor(i / 120) - 50) < 22;

describe('the area channel', () => {
  const areaBase = { ...base, gradient: { weight: 0 }, threshold: { value: 0.02 }, components: { minArea: 50 } };

  test('absent from the default recipe (its JSON and hash do not change)', () => {
    assert.ok(!('area' in DEFAULT_RECIPE.recipe));
    assert.doesNotMatch(DEFAULT_RECIPE.json, /area/);
  });

  for (const kind of BACKENDS) {
    test(`${kind}: it finds a darker region on a streaked surface, which a black-hat cannot tell from the streaks`, async (t) => {
      if (kind === 'gpu' && !gpu) return t.skip(gpuSkip(gpu) || undefined);
      const batch = await Tensor.fromFrames([streakedWithDisc()], [1, 1, 100, 120], 'u8', kind === 'gpu' ? gpu! : undefined);
      const run = async (extra: object) => (await detect(batch, parseRecipe({ ...areaBase, ...extra }).recipe, true))[0]!;
      /** The share of the disc's pixels marked, and of the others. */
      const shares = (d: Awaited<ReturnType<typeof run>>) => {
        const marked = [0, 0];
        const all = [0, 0];
        for (const [i, v] of d.mask!.entries()) {
          const k = inDisc(i) ? 0 : 1;
          all[k]!++;
          if (v) marked[k]!++;
        }
        return [marked[0]! / all[0]!, marked[1]! / all[1]!];
      };
      const area = await run({ area: { sigma: 4, background: 32 } });
      assert.equal(area.defects.length, 1, 'the disc, and none of the streaks');
      const [d] = area.defects;
      assert.ok(d!.x >= 34 && d!.x + d!.w <= 86 && d!.y >= 24 && d!.y + d!.h <= 76, `inside the disc's box: ${JSON.stringify(d)}`);
      const [inside, outside] = shares(area);
      assert.ok(inside! > 0.6 && outside! < 0.02, `${inside} of the disc, ${outside} of the rest`);
      const [hatInside, hatOutside] = shares(await run({ blackhat: { size: 15 } }));
      assert.ok(hatOutside! > 0.5 * hatInside!, `the black-hat marks ${hatInside} of the disc and ${hatOutside} of the rest`);
      batch.dispose();
    });
  }

  test('GPU and CPU give the same response, on every pyramid level the sigmas pick and on images too small for them', { skip: gpuSkip(gpu) }, async () => {
    for (const [w, h] of [
      [120, 100],
      [21, 13],
    ] as const) {
      const img = streakedWithDisc(w, h);
      for (const area of [
        { sigma: 1, background: 16 },
        { sigma: 3, background: 40, weight: 2 },
        { sigma: 8, background: 128 },
      ]) {
        const r = parseRecipe({ ...areaBase, area }).recipe as ClassicRecipe;
        const cpu = (await responseMap(await Tensor.fromFrames([img], [1, 1, h, w], 'u8'), r).toCpu()).data as Float32Array;
        const onGpu = (await responseMap(await Tensor.fromFrames([img], [1, 1, h, w], 'u8', gpu!), r).toCpu()).data as Float32Array;
        let worst = 0;
        for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(cpu[i]! - onGpu[i]!));
        assert.ok(worst <= 1e-5, `${w}×${h} ${JSON.stringify(area)}: ${worst}`);
      }
    }
  });

  test('away from the border, the pyramid levels give the full-resolution difference of the two Gaussian means', async () => {
    const x = await Tensor.fromFrames([streakedWithDisc(192, 192)], [1, 1, 192, 192], 'u8');
    const smooth = convert(x, { dtype: 'f32', scale: 1 / 255 });
    for (const [sigma, background] of [
      [2, 16],
      [6, 24],
    ] as const) {
      const r = parseRecipe({ ...areaBase, denoise: { sigma: 0 }, area: { sigma, background } }).recipe as ClassicRecipe;
      const got = (await responseMap(x, r).toCpu()).data as Float32Array;
      const a = (await gaussianBlur(smooth, { sigma, border: 'replicate' }).toCpu()).data as Float32Array;
      const b = (await gaussianBlur(smooth, { sigma: background, border: 'replicate' }).toCpu()).data as Float32Array;
      let err = 0;
      let signal = 0;
      // the levels' replicated edges differ from full resolution's within about 2 × background of the border
      for (let y = 48; y < 144; y++)
        for (let i = y * 192 + 48; i < y * 192 + 144; i++) {
          err += Math.abs(got[i]! - Math.abs(a[i]! - b[i]!));
          signal += Math.abs(a[i]! - b[i]!);
        }
      assert.ok(err / signal < 0.05, `sigma ${sigma}, background ${background}: mean error ${err / signal} of the mean response`);
    }
  });

  test('recipe ranges are checked, each in one sentence with the value received', () => {
    for (const [area, message] of [
      [{ sigma: 0 }, 'area.sigma: expected a number from 1 to 8 (px), received 0'],
      [{ sigma: 9.5 }, 'area.sigma: expected a number from 1 to 8 (px), received 9.5'],
      [{ background: 200 }, 'area.background: expected a number from 16 to 128 (px), received 200'],
      [{ background: '64' }, 'area.background: expected a number from 16 to 128 (px), received "64"'],
    ] as const)
      assert.throws(() => parseRecipe({ area }), { code: 'KENSA_ERR_RECIPE', message: `Invalid recipe: ${message}` });
    assert.throws(() => parseRecipe({ area: { weight: 0 } }), { code: 'KENSA_ERR_RECIPE', message: /area\.weight/ });
    assert.deepEqual((parseRecipe({ area: {} }).recipe as ClassicRecipe).area, { sigma: 4, background: 32, weight: 1 });
  });
});
