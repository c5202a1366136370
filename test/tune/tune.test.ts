import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openBackend, type Backend } from '../../src/backend.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import type { AnyTypedArray } from '../../src/dtype.js';
import { ZERO_COUNTS, type MaskCounts } from '../../src/eval/metrics.js';
import { metricOf, scoreRecipe, sumImages } from '../../src/tune/score.js';
import { crossValidated, schedule, searchRecipe, stratifiedOrder, type SearchOptions } from '../../src/tune/search.js';
import { foldSplit, holdoutSplit, nameFraction } from '../../src/tune/split.js';
import { foldStatePath, tune } from '../../src/tune/tune.js';
import { labelled, SMALL_SPACE } from './_data.js';

const root = mkdtempSync(join(tmpdir(), 'kensa-tune-'));
after(() => rmSync(root, { recursive: true, force: true }));

const frames = labelled(16, 96, 3);
/** Deliberately bad: a threshold far above the defects' gradients, no denoise, no contrast channel, huge minimum area. */
const BAD = parseRecipe({ threshold: { value: 0.3 }, denoise: { sigma: 0 }, contrast: { background: 0 }, components: { minArea: 300 } });

async function cpu(): Promise<Backend> {
  return openBackend({ device: 'cpu' });
}

const options = async (extra: Partial<SearchOptions> = {}): Promise<SearchOptions> => ({
  backend: await cpu(),
  base: BAD,
  metric: 'f1',
  tolerance: 2,
  budget: 9,
  seed: 1,
  space: SMALL_SPACE,
  ...extra,
});

describe('kensa tune: the search', () => {
  test('successive halving: candidates fall by 3, images rise by 3 from 3, the last rung on every image', () => {
    assert.deepEqual(schedule(9, 11), [
      { candidates: 9, images: 4 },
      { candidates: 3, images: 11 },
    ]);
    assert.deepEqual(schedule(1, 5), [{ candidates: 1, images: 5 }]);
    assert.deepEqual(schedule(6, 5), [{ candidates: 6, images: 5 }], 'too few images for a second rung');
    assert.deepEqual(
      schedule(30, 100).map((r) => [r.candidates, r.images]),
      [
        [30, 4],
        [10, 12],
        [4, 34],
        [2, 100],
      ],
    );
    assert.deepEqual(
      schedule(3, 100).map((r) => r.candidates),
      [3, 1],
      'fewer rungs when the candidates run out',
    );
  });

  test('candidates are ranked by a cross-validated score: a sweep that fits each image does not beat a steady recipe', () => {
    // pixel counts of one image with 10 defect pixels, 10 predicted and `hit` of each matched
    const image = (hit: number): MaskCounts => ({ ...ZERO_COUNTS, pixels: 100, truth: 10, predicted: 10, matchedPredicted: hit, matchedTruth: hit });
    const steady = { grid: { thresholds: [0.1], hysteresis: [1], minAreas: [1] }, perImage: [6, 6, 6, 6].map((h) => [[image(h)]]) };
    // two minimum areas, each right on two images and wrong on the other two
    const fitted = {
      grid: { thresholds: [0.1], hysteresis: [1], minAreas: [1, 10] },
      perImage: [
        [10, 3],
        [10, 3],
        [3, 10],
        [3, 10],
      ].map(([a, b]) => [[image(a!), image(b!)]]),
    };
    const best = (c: typeof steady) =>
      Math.max(
        ...sumImages(c.perImage, c.grid)
          .flat()
          .map((s) => metricOf(s, 'f1')),
      );
    // scored by its best point on the same images (the old rule), the fitted sweep wins
    assert.ok(best(fitted) > best(steady), `${best(fitted)} > ${best(steady)}`);
    assert.ok(Math.abs(best(fitted) - 0.65) < 1e-9);
    // cross-validated, each image is scored at the point the others chose: the wrong one
    assert.ok(Math.abs(crossValidated(fitted.perImage, fitted.grid, 'f1') - 0.3) < 1e-9);
    assert.equal(crossValidated(steady.perImage, steady.grid, 'f1'), best(steady), 'without a choice, both scores are equal');
    // a point that is best on every fold scores what it scores on all images
    const consistent = fitted.perImage.map(([row]) => [[row![0]!, { ...row![1]!, matchedPredicted: 0, matchedTruth: 0 }]]);
    assert.equal(crossValidated(consistent, fitted.grid, 'f1'), metricOf(sumImages(consistent, fitted.grid)[0]![0]!, 'f1'));
  });

  test('every prefix of the image order holds defective images in their share', () => {
    const order = stratifiedOrder(frames, 1);
    assert.equal(order.length, frames.length);
    assert.equal(new Set(order.map((f) => f.name)).size, frames.length);
    const defective = (f: (typeof frames)[number]) => f.truth.some((v) => v !== 0);
    const share = frames.filter(defective).length / frames.length;
    for (const n of [3, 6, 9]) assert.ok(Math.abs(order.slice(0, n).filter(defective).length - share * n) <= 1, `prefix ${n}`);
    assert.notDeepEqual(
      order.map((f) => f.name),
      stratifiedOrder(frames, 2).map((f) => f.name),
    );
  });

  test('the split depends on the names alone, and neither side is empty', () => {
    const a = holdoutSplit(frames, 0.3, 'images');
    const b = holdoutSplit([...frames].reverse().slice(0, 10), 0.3, 'images');
    for (const f of b.heldOut) assert.ok(a.heldOut.some((g) => g.name === f.name));
    for (const f of a.heldOut) assert.ok(nameFraction(f.name) < 0.3);
    assert.throws(() => holdoutSplit(frames.slice(0, 1), 0.3, 'labelled images'), {
      code: 'KENSA_ERR_TUNE_DATA',
      message: /leaves [01] of the 1 labelled images to tune on/,
    });
  });

  test('small sets: at least one image held out and up to three tuned on, the lowest name hashes held out', () => {
    const named = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `img-${i}.png` }));
    for (const [n, held] of [
      [2, 1],
      [3, 1],
      [4, 1],
      [6, 1],
    ] as const) {
      const items = named(n);
      const { train, heldOut } = holdoutSplit(items, 0.05, 'labelled images');
      assert.equal(heldOut.length, held, `${n} images`);
      assert.equal(train.length + heldOut.length, n);
      const lowest = Math.min(...items.map((f) => nameFraction(f.name)));
      assert.equal(nameFraction(heldOut[0]!.name), lowest, 'the lowest hash is held out');
      assert.deepEqual(holdoutSplit([...items].reverse(), 0.05, 'labelled images').heldOut, heldOut, 'the order does not matter');
    }
    // a large share still leaves three to tune on
    const six = holdoutSplit(named(6), 0.95, 'labelled images');
    assert.deepEqual([six.train.length, six.heldOut.length], [3, 3]);
    assert.equal(holdoutSplit(named(3), 0.95, 'labelled images').train.length, 2);
    assert.throws(() => holdoutSplit(named(0), 0.3, 'labelled images'), { code: 'KENSA_ERR_TUNE_DATA', message: /at least 2 labelled images are needed/ });
  });

  test('recovers good parameters from a bad start; the held-out score is measured on images the search never ran', async () => {
    const backend = await cpu();
    const uploaded = new Set<AnyTypedArray>();
    const spy: Backend = {
      ...backend,
      framesToDevice: (f, shape, dtype) => {
        for (const x of f) uploaded.add(x);
        return backend.framesToDevice(f, shape, dtype);
      },
    };
    const { train, heldOut } = holdoutSplit(frames, 0.3, 'labelled images');
    const found = await searchRecipe(train, { ...(await options()), backend: spy });
    assert.ok(!found.aborted);
    // by construction: the search only received `train`, and every frame it ran is one of them
    for (const f of heldOut) assert.ok(!uploaded.has(f.data), `${f.name} was held out`);
    assert.ok(found.seen.every((n) => train.some((f) => f.name === n)));

    const r = await tune(frames, { ...(await options()), holdout: 0.3 });
    assert.ok(!r.aborted);
    assert.deepEqual(
      r.heldOut,
      heldOut.map((f) => f.name),
    );
    assert.equal(r.heldOutScore, await scoreRecipe(backend, heldOut, r.recipe.recipe, 'f1', 2));
    assert.equal(r.baseHeldOutScore, 0, 'the bad start finds nothing');
    assert.ok(r.heldOutScore >= 0.3, `tuned held-out F1 ${r.heldOutScore} should beat the bad start by 0.3`);
    const p = r.recipe.recipe.kind === 'classic' ? r.recipe.recipe.provenance : undefined;
    assert.equal(p?.heldOutScore, Math.round(r.heldOutScore * 1e4) / 1e4);
    assert.equal(p?.budget, 9);
    assert.match(String(p?.data), /^[0-9a-f]{64}$/);
  });

  test('an interrupted search resumes from its state file and ends where an uninterrupted one does', async () => {
    const whole = await searchRecipe(frames, await options());
    const statePath = join(root, 'resume.state.json');
    const controller = new AbortController();
    const first = await searchRecipe(
      frames,
      await options({ statePath, signal: controller.signal, onProgress: (p) => p.evaluations === 5 && controller.abort() }),
    );
    assert.deepEqual(first, { aborted: true, evaluations: 5 });
    assert.ok(existsSync(statePath));
    let ran = 0;
    const resumed = await searchRecipe(frames, await options({ statePath, onProgress: (p) => (ran = p.evaluations) }));
    assert.ok(!resumed.aborted && !whole.aborted);
    assert.equal(ran, 12, '9 candidates on 6 images, 3 on all 16');
    assert.equal(resumed.recipe.hash, whole.recipe.hash);
    assert.equal(resumed.score, whole.score);
    await assert.rejects(searchRecipe(frames, await options({ statePath, seed: 2 })), {
      code: 'KENSA_ERR_TUNE_STATE',
      message: /resume\.state\.json belongs to another search/,
    });
  });

  test('k folds: names alone place the images, one in each fold per k, and a fold never outnumbers another by two', () => {
    const items = Array.from({ length: 11 }, (_, i) => ({ name: `img-${i}.png` }));
    const folds = foldSplit(items, 3, 'labelled images');
    assert.deepEqual(
      folds.map((f) => f.length),
      [4, 4, 3],
    );
    assert.deepEqual(
      folds
        .flat()
        .map((it) => it.name)
        .sort(),
      items.map((it) => it.name).sort(),
      'every image in one fold',
    );
    assert.deepEqual(
      foldSplit([...items].reverse(), 3, 'labelled images').map((f) => f.map((it) => it.name).sort()),
      folds.map((f) => f.map((it) => it.name).sort()),
    );
    assert.throws(() => foldSplit(items.slice(0, 4), 5, 'labelled images'), {
      code: 'KENSA_ERR_TUNE_DATA',
      message: '5-fold cross-validation needs at least 5 labelled images (one in each fold) but received 4',
    });
  });

  test('k folds: each fold is scored by a search that never ran its images; the recipe comes from a search on every image', async () => {
    const backend = await cpu();
    // every upload is logged, then each progress report: a search uploads before it reports, so an upload belongs to the next report's search
    const log: ({ data: AnyTypedArray } | { stage: string })[] = [];
    const spy: Backend = {
      ...backend,
      framesToDevice: (f, shape, dtype) => {
        for (const data of f) log.push({ data });
        return backend.framesToDevice(f, shape, dtype);
      },
    };
    const r = await tune(frames, { ...(await options()), backend: spy, holdout: 0.3, folds: 3, onProgress: (p) => log.push({ stage: p.stage! }) });
    assert.ok(!r.aborted);
    const folds = foldSplit(frames, 3, 'labelled images');
    const ranBy = new Map<string, Set<AnyTypedArray>>();
    let pending: AnyTypedArray[] = [];
    for (const e of log) {
      if ('data' in e) pending.push(e.data);
      else {
        const set = ranBy.get(e.stage) ?? new Set();
        for (const d of pending) set.add(d);
        ranBy.set(e.stage, set);
        pending = [];
      }
    }
    assert.deepEqual([...ranBy.keys()], ['fold 1/3', 'fold 2/3', 'fold 3/3', 'every image']);
    for (const [f, fold] of folds.entries()) {
      const ran = ranBy.get(`fold ${f + 1}/3`)!;
      assert.ok(ran.size > 0);
      for (const x of fold) assert.ok(!ran.has(x.data), `${x.name} is in fold ${f + 1}, which its search never ran`);
    }
    assert.deepEqual([r.folds, r.foldScores.length, r.heldOut.length, r.train.length], [3, 3, frames.length, frames.length]);
    const whole = await searchRecipe(frames, await options());
    assert.ok(!whole.aborted);
    assert.deepEqual([r.trainScore, r.cvScore], [whole.score, whole.cvScore], 'the recipe is the search on every image');
    assert.equal(r.baseHeldOutScore, 0, 'the bad start finds nothing');
    assert.ok(r.heldOutScore >= 0.3, `tuned cross-validated F1 ${r.heldOutScore} should beat the bad start by 0.3`);
    const p = r.recipe.recipe.kind === 'classic' ? r.recipe.recipe.provenance : undefined;
    assert.deepEqual(
      [p?.folds, p?.heldOutScore, p?.foldScores],
      [3, Math.round(r.heldOutScore * 1e4) / 1e4, r.foldScores.map((v) => Math.round(v * 1e4) / 1e4).join(' ')],
    );
    await assert.rejects(tune(frames, { ...(await options()), holdout: 0.3, folds: 1 }), { code: 'KENSA_ERR_INVALID_ARGUMENT', message: /folds/ });
  });

  test('k folds: an interrupted tuning resumes from the state file of each search and ends as an uninterrupted one', async () => {
    const statePath = join(root, 'folds.state.json');
    const controller = new AbortController();
    const first = await tune(frames, {
      ...(await options({ statePath, signal: controller.signal, onProgress: (p) => p.stage === 'fold 2/3' && p.evaluations === 3 && controller.abort() })),
      holdout: 0.3,
      folds: 3,
    });
    assert.ok(first.aborted);
    assert.ok(existsSync(foldStatePath(statePath, 1)) && existsSync(foldStatePath(statePath, 2)) && !existsSync(foldStatePath(statePath, 3)));
    const resumed = await tune(frames, { ...(await options({ statePath })), holdout: 0.3, folds: 3 });
    const whole = await tune(frames, { ...(await options()), holdout: 0.3, folds: 3 });
    assert.ok(!resumed.aborted && !whole.aborted);
    assert.deepEqual([resumed.foldScores, resumed.heldOutScore, resumed.recipe.hash], [whole.foldScores, whole.heldOutScore, whole.recipe.hash]);
  });

  test('a budget of zero is refused', async () => {
    await assert.rejects(searchRecipe(frames, await options({ budget: 0 })), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: 'Expected integer between 1 and 100000 for budget but received 0 of type number',
    });
  });
});
