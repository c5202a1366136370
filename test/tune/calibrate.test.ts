import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openBackend } from '../../src/backend.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import { calibrate, criticalScore, minScoreFor } from '../../src/tune/calibrate.js';
import { calibrateHeldOut } from '../../src/tune/tune.js';
import { good } from './_data.js';

describe('calibration from good images', () => {
  test('minScore leaves at most the target share of critical scores NG', () => {
    const c = [0, 0, 1.2, 1.5, 2, 3, 0, 0, 0, 0];
    assert.equal(minScoreFor(c, 0.2, 0), 1.75, 'two may stay NG (3 and 2): halfway between 1.5 and 2');
    assert.equal(minScoreFor(c, 0.1, 0), 2.5, 'one may stay NG');
    assert.equal(minScoreFor(c, 0.4, 0), 0, 'four images at most can be NG: nothing to change');
    assert.equal(minScoreFor(c, 0.4, 0.7), 0.7, 'never below the base minScore');
    assert.ok(minScoreFor(c, 0, 0) > 3);
    assert.equal(criticalScore({ defects: [{ score: 2 }, { score: 5 }, { score: 3 }] as never, verdict: 'NG', score: 5 }, 1), 3);
  });

  test('hits the requested false-NG rate on held-out synthetic good images', async () => {
    const backend = await openBackend({ device: 'cpu' });
    // sensitive on purpose: nearly every clean image is NG before calibration
    const base = parseRecipe({ threshold: { value: 0.02 } });
    const frames = good(80, 64, 5);
    for (const target of [0.1, 0.25]) {
      const c = await calibrateHeldOut(backend, frames, base, target, 0.5);
      assert.ok(c.baseHeldOutFalseNg > 0.9, `base false-NG ${c.baseHeldOutFalseNg}`);
      assert.ok(c.trainFalseNg <= target);
      assert.ok(Math.abs(c.heldOutFalseNg - target) <= 0.1, `held-out false-NG ${c.heldOutFalseNg} for target ${target}`);
      assert.equal(c.recipe.recipe.kind === 'classic' && c.recipe.recipe.verdict.minScore, c.minScore);
      assert.equal(c.trainImages + c.heldOutImages, frames.length);
      assert.ok(c.flagged > 0.9 * c.trainImages, `${c.flagged} of ${c.trainImages} flagged`);
    }
  });

  test('an empty set of good images and a decoupled recipe are refused', async () => {
    const backend = await openBackend({ device: 'cpu' });
    await assert.rejects(calibrate(backend, [], parseRecipe({}), 0.05), { code: 'KENSA_ERR_TUNE_DATA', message: 'No defect-free images to calibrate on' });
    await assert.rejects(calibrate(backend, good(1, 16, 1), parseRecipe({ kind: 'decoupled' }), 0.05), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: /for recipe but received "decoupled"/,
    });
  });
});
