import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openBackend } from '../../src/backend.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import { mulberry32 } from '../../src/rng.js';
import { allowedNg, calibrate, criticalScore, minScoreFor } from '../../src/tune/calibrate.js';
import { calibrateHeldOut } from '../../src/tune/tune.js';
import { good } from './_data.js';

describe('calibration from good images', () => {
  test('minScore leaves at most the allowed number of critical scores NG', () => {
    const c = [0, 0, 1.2, 1.5, 2, 3, 0, 0, 0, 0];
    assert.equal(minScoreFor(c, 0.4, 0), 2.5, 'one may stay NG at 0.4 of 10: halfway between 2 and 3');
    assert.equal(minScoreFor(c, 0.2, 0), 3 * 1.05 + 1e-6, 'none may at 0.2 of 10 (P(Bin(10, 0.2) = 0) is 0.107, over 0.1)');
    assert.equal(minScoreFor(c, 0.7, 0), 0, 'four may at 0.7: nothing to change');
    assert.equal(minScoreFor(c, 0.4, 2.7), 2.7, 'never below the base minScore');
    assert.ok(minScoreFor(c, 0, 0) > 3);
    assert.equal(criticalScore({ defects: [{ score: 2 }, { score: 5 }, { score: 3 }] as never, verdict: 'NG', score: 5 }, 1), 3);
    const counted = [true, false, true]; // a background verdict rule: the 5 does not stand out from its image
    assert.equal(criticalScore({ defects: [{ score: 2 }, { score: 5 }, { score: 3 }] as never, verdict: 'NG', score: 5, counted }, 0), 3);
    assert.equal(criticalScore({ defects: [{ score: 2 }, { score: 5 }, { score: 3 }] as never, verdict: 'NG', score: 5, counted }, 2), 0);
  });

  test('allowedNg: the largest k with P(Binomial(n, target) ≤ k) ≤ 0.1', () => {
    // the binomial CDF summed directly (small n: the coefficients are exact in doubles)
    const cdf = (n: number, t: number, k: number) => {
      let s = 0;
      let coef = 1;
      for (let j = 0; j <= k; j++) {
        s += coef * t ** j * (1 - t) ** (n - j);
        coef = (coef * (n - j)) / (j + 1);
      }
      return s;
    };
    for (const [n, t] of [
      [40, 0.1],
      [40, 0.25],
      [60, 0.05],
      [50, 0.5],
    ] as const) {
      const k = allowedNg(n, t);
      assert.ok(cdf(n, t, k) <= 0.1 && cdf(n, t, k + 1) > 0.1, `n ${n}, target ${t}: k ${k}`);
      assert.ok(k < Math.floor(n * t), 'fewer than the plain quantile allows');
    }
    assert.equal(allowedNg(265, 0.05), 8, '13 by the plain quantile');
    assert.equal(allowedNg(30, 0.05), 0, 'too few images for one NG');
    assert.deepEqual([allowedNg(5, 0), allowedNg(5, 1)], [0, 5]);
    assert.ok(allowedNg(100_000, 0.05) > 4800 && allowedNg(100_000, 0.05) < 5000, 'large n: no underflow');
  });

  test('the calibrated rate on new images exceeds the target in about a tenth of calibrations, not half', () => {
    // critical scores uniform on (0, 1): a minScore m leaves exactly 1 − m of new images NG
    const rng = mulberry32(3);
    const trials = 400;
    let over = 0;
    let overPlain = 0;
    for (let i = 0; i < trials; i++) {
      const c = Array.from({ length: 200 }, () => rng() || 0.5);
      if (1 - minScoreFor(c, 0.05, 0) > 0.05) over++;
      const sorted = [...c].sort((a, b) => b - a);
      if (sorted[Math.floor(0.05 * c.length)]! < 0.95) overPlain++;
    }
    assert.ok(over / trials <= 0.13, `over the target in ${over} of ${trials}`);
    assert.ok(overPlain / trials > 0.3, `the plain quantile: ${overPlain} of ${trials}`);
  });

  test('keeps the false-NG rate on held-out synthetic good images at or under the target, following it', async () => {
    const backend = await openBackend({ device: 'cpu' });
    // sensitive on purpose: nearly every clean image is NG before calibration
    const base = parseRecipe({ threshold: { value: 0.02 } });
    const frames = good(80, 64, 5);
    const heldOut: number[] = [];
    for (const target of [0.1, 0.25]) {
      const c = await calibrateHeldOut(backend, frames, base, target, 0.5);
      assert.ok(c.baseHeldOutFalseNg > 0.9, `base false-NG ${c.baseHeldOutFalseNg}`);
      assert.ok(c.trainFalseNg <= target);
      assert.ok(c.heldOutFalseNg <= target + 0.05, `held-out false-NG ${c.heldOutFalseNg} for target ${target}`);
      heldOut.push(c.heldOutFalseNg);
      assert.equal(c.recipe.recipe.kind === 'classic' && c.recipe.recipe.verdict.minScore, c.minScore);
      assert.equal(c.trainImages + c.heldOutImages, frames.length);
      assert.ok(c.flagged > 0.9 * c.trainImages, `${c.flagged} of ${c.trainImages} flagged`);
    }
    assert.ok(heldOut[1]! > heldOut[0]!, `a looser target leaves more NG: ${heldOut}`);
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
