import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ClassicRecipe, DEFAULT_RECIPE, parseRecipe } from '../../src/detect/recipe.js';
import { responseMap } from '../../src/detect/classic.js';
import { detect } from '../../src/detect/detector.js';
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
