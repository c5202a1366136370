import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DEFAULT_RECIPE, type ClassicRecipe } from '../../src/detect/recipe.js';
import { haltonPoint } from '../../src/tune/sequence.js';
import { sweepGrid } from '../../src/tune/search.js';
import { anchors, candidate, CLASSIC_SPACE, valueAt } from '../../src/tune/space.js';

const base = DEFAULT_RECIPE.recipe as ClassicRecipe;

/** A grid constant of the OpenCV baseline script (`const NAME = [a, b, …];`), read from its source. */
function baselineGrid(name: string): number[] {
  const source = readFileSync(new URL('../../scripts/baseline/steps.mjs', import.meta.url), 'utf8');
  const m = new RegExp(`const ${name} = \\[([^\\]]+)\\];`).exec(source);
  assert.ok(m, `${name} in the baseline script`);
  return m[1]!.split(',').map(Number);
}

describe('the search space', () => {
  test('both ends of every dimension are recipes the schema accepts', () => {
    for (const u of [0, 0.999999]) {
      const r = candidate(
        base,
        CLASSIC_SPACE.map(() => u),
      ).recipe as ClassicRecipe;
      assert.equal(r.kind, 'classic');
    }
    const hi = candidate(
      base,
      CLASSIC_SPACE.map(() => 0.999999),
    ).recipe as ClassicRecipe;
    assert.deepEqual(
      [hi.threshold.mode, hi.threshold.value, hi.threshold.hysteresis, hi.components.minArea, hi.blackhat?.size, hi.tophat?.weight, hi.gradient.weight],
      ['relative', 0.4, 1, 2000, 95, 4, 4],
    );
    assert.deepEqual(hi.area, { background: 128, sigma: 8, weight: 4 });
    const lo = candidate(
      base,
      CLASSIC_SPACE.map(() => 0),
    ).recipe as ClassicRecipe;
    assert.equal(lo.contrast.background, 0, 'off');
    assert.equal(lo.threshold.hysteresis, 0.25, 'the lowest hysteresis ratio');
    assert.equal(lo.threshold.mode, 'absolute');
    assert.ok(!lo.blackhat && !lo.tophat, 'hats off');
    assert.ok(!lo.area, 'the area channel off');
    assert.equal(lo.gradient.weight, 0, 'gradient off');
    // the base (the built-in recipe) has the background verdict rule: kept under an absolute threshold, off under a relative one
    assert.deepEqual(lo.verdict.background, base.verdict.background);
    assert.ok(base.verdict.background);
    assert.equal(hi.verdict.background, null);
  });

  test('a dimension after hysteresis adds a second black-hat size, summed with the first; off, or with the black-hat off, it adds none', () => {
    const i = CLASSIC_SPACE.findIndex((d) => d.append);
    assert.equal(
      i,
      CLASSIC_SPACE.findIndex((d) => d.path === 'threshold.hysteresis') + 1,
      'late: the dimensions before it keep their quasi-random coordinates',
    );
    const size = CLASSIC_SPACE.findIndex((d) => d.path === 'blackhat.size' && !d.append);
    const at = (first: number, second: number) => {
      const u = CLASSIC_SPACE.map(() => 0.6);
      u[size] = first;
      u[i] = second;
      return (candidate(base, u).recipe as ClassicRecipe).blackhat?.size;
    };
    // 0.5 of each interval is off; the rest maps 3 … 95 px on a log scale
    assert.deepEqual(at(0.999999, 0.5), [3, 95]);
    assert.deepEqual(at(0.5, 0.999999), [3, 95], 'ascending');
    assert.equal(at(0.999999, 0.2), 95, 'off: one size');
    assert.equal(at(0.999999, 0.999999), 95, 'the same size once');
    assert.equal(at(0.2, 0.999999), undefined, 'no black-hat, no second size');
  });

  test('the area channel comes last: off over half its switch, else background 16–128 px, sigma 1–8 px and weight 0.25–4, each on a log scale', () => {
    const paths = CLASSIC_SPACE.slice(-3).map((d) => d.path);
    assert.deepEqual(paths, ['area.background', 'area.sigma', 'area.weight'], 'last, its switch first');
    const at = (background: number, sigma: number, weight: number) => {
      const u = CLASSIC_SPACE.map(() => 0.6);
      u.splice(-3, 3, background, sigma, weight);
      return (candidate(base, u).recipe as ClassicRecipe).area;
    };
    assert.equal(at(0.4, 0.9, 0.9), undefined, 'off');
    assert.deepEqual(at(0.5, 0, 0), { background: 16, sigma: 1, weight: 0.25 });
    assert.deepEqual(at(0.75, 0.5, 0.5), { background: 45.25, sigma: 2.828, weight: 1 }, 'the middle of each log range');
    // the space without it gives the other dimensions the same values: it only adds the section
    const u = haltonPoint(3, CLASSIC_SPACE.length, 1);
    const { area, ...rest } = candidate(base, u).recipe as ClassicRecipe;
    assert.ok(area === undefined || area.background >= 16);
    assert.deepEqual(rest, candidate(base, u.slice(0, -3), CLASSIC_SPACE.slice(0, -3)).recipe);
  });

  test('the OpenCV baseline is in the space: its recipes come first, its k and minimum areas are swept', () => {
    const a = anchors(base).map((r) => r.recipe as ClassicRecipe);
    assert.deepEqual(
      a.map((r) => r.blackhat?.size),
      [7, 11, 15, 19, 23, 27, 31, 47, 63, 95, [7, 95], [15, 95], [31, 95], [63, 95]],
      "the baseline's sizes, then two sizes summed",
    );
    const sizes = baselineGrid('SIZES');
    assert.equal(Math.max(...sizes), CLASSIC_SPACE.find((d) => d.path === 'blackhat.size')!.max, 'both search up to the same square');
    for (const s of sizes)
      assert.ok(
        a.some((r) => r.blackhat?.size === s),
        `the baseline's black-hat ${s} is an anchor`,
      );
    for (const r of a) {
      assert.deepEqual(
        [r.denoise.sigma, r.gradient.weight, r.threshold.mode, r.contrast.background, r.morphology.close, r.blackhat?.weight, r.tophat],
        [1.1, 0, 'relative', 0, 0, 1, undefined],
      );
      const grid = sweepGrid(r, CLASSIC_SPACE);
      for (const k of baselineGrid('KS')) assert.ok(grid.thresholds.includes(k), `k ${k}`);
      for (const m of baselineGrid('MIN_AREAS')) assert.ok(grid.minAreas.includes(m), `minArea ${m}`);
      assert.ok(Math.max(...grid.minAreas) > 400, 'and larger areas');
    }
    assert.deepEqual(
      anchors(
        base,
        CLASSIC_SPACE.filter((d) => !d.append),
      ).map((r) => (r.recipe as ClassicRecipe).blackhat?.size),
      [7, 11, 15, 19, 23, 27, 31, 47, 63, 95],
      'a space without a second size: the single sizes',
    );
    assert.deepEqual(
      anchors(
        base,
        CLASSIC_SPACE.filter((d) => !d.path.startsWith('blackhat')),
      ),
      [],
      'a space without the black-hat has none',
    );
  });

  test('integer and log dimensions', () => {
    const d = { path: 'components.minArea', min: 1, max: 400, log: true, integer: true };
    assert.equal(valueAt(d, 0), 1);
    assert.equal(valueAt(d, 0.5), 20);
    assert.equal(valueAt({ path: 'morphology.close', min: 0, max: 9, log: false, integer: true }, 0.95), 9);
  });

  test('a categorical dimension picks its choices in equal shares', () => {
    const d = { path: 'threshold.mode', min: 0, max: 1, log: false, integer: false, choices: ['absolute', 'relative'] };
    assert.deepEqual(
      [0, 0.49, 0.5, 0.999].map((u) => valueAt(d, u)),
      ['absolute', 'absolute', 'relative', 'relative'],
    );
  });

  test('the sequence is seeded, in [0, 1), and its dimensions do not move in lockstep', () => {
    assert.deepEqual(haltonPoint(4, 12, 7), haltonPoint(4, 12, 7));
    assert.notDeepEqual(haltonPoint(4, 12, 7), haltonPoint(4, 12, 8));
    const pts = Array.from({ length: 30 }, (_, i) => haltonPoint(i, 12, 1));
    for (const p of pts) for (const v of p) assert.ok(v >= 0 && v < 1);
    // plain Halton gives i/31 and i/37 for the last two: increasing together over the first 30 points
    const rising = pts.slice(1).filter((p, i) => p[10]! > pts[i]![10]! === p[11]! > pts[i]![11]!).length;
    assert.ok(rising < 25, `${rising} of 29 steps move dimensions 10 and 11 together`);
  });
});
