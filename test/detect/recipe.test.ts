import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../_kit/tmp.js';
import { builtinRecipe, DEFAULT_RECIPE, loadRecipe, parseRecipe } from '../../src/detect/recipe.js';

test('defaults are filled in, the hash follows the content', () => {
  const r = DEFAULT_RECIPE.recipe;
  assert.equal(r.kind, 'classic');
  assert.equal(r.threshold.value, 0.055);
  assert.deepEqual(r.contrast, { background: 64, value: 0.04, noise: 4.5 });
  assert.deepEqual(r.morphology, { close: 3, fillHoles: 0 });
  assert.equal(r.components.connectivity, 8);
  assert.equal(r.input.scale, 1);
  assert.equal(parseRecipe({ input: { scale: 0.125 } }).recipe.input.scale, 0.125);
  const tuned = parseRecipe({ threshold: { value: 0.1 } });
  assert.notEqual(tuned.hash, DEFAULT_RECIPE.hash);
  assert.equal(parseRecipe({ threshold: { value: 0.1 } }).hash, tuned.hash, 'same content, same hash');
  assert.match(tuned.hash, /^[0-9a-f]{64}$/);
});

test('errors point at the bad field', () => {
  assert.throws(() => parseRecipe({ threshold: { value: -1 } }), /Invalid recipe: threshold\.value: Too small/);
  assert.throws(() => parseRecipe({ morphology: { close: 2.5 } }), /morphology\.close: /);
  assert.throws(() => parseRecipe({ threshold: { valu: 1 } }), /threshold: Unrecognized key: "valu"/);
  assert.throws(() => parseRecipe({ kind: 'magic' }), /kind: Invalid/);
  assert.throws(() => parseRecipe({ components: { connectivity: 6 } }), /components\.connectivity/);
  for (const scale of [0.3, 2, '0.5', 0]) {
    assert.throws(
      () => parseRecipe({ input: { scale } }),
      (e: unknown) => (e as Error).message === 'Invalid recipe: input.scale: Invalid option: expected one of 1|0.5|0.25|0.125',
      String(scale),
    );
  }
  assert.throws(() => parseRecipe({ contrast: { background: 300 } }), /Invalid recipe: contrast\.background: Too big/);
  assert.throws(() => parseRecipe({ contrast: { value: 0 } }), /contrast\.value: Too small/);
  assert.throws(() => parseRecipe({ morphology: { fillHoles: -1 } }), /morphology\.fillHoles: Too small/);
});

test('decoupled: every field has a default, the name and the built-in match', () => {
  const d = parseRecipe({ kind: 'decoupled' });
  assert.equal(d.recipe.kind, 'decoupled');
  assert.deepEqual(d.recipe, {
    kind: 'decoupled',
    name: 'decoupled',
    input: { scale: 1 },
    kmeans: { k: 4, iterations: 10, seed: null },
    canny: { low: 100, high: 200 },
    congestion: { sigma: 12, level: 0.1 },
    components: { connectivity: 8, minArea: 16 },
    classify: { spotMaxElongation: 3, spotMinFill: 0.3, scratchMinLength: 60, scratchMaxWidth: 4 },
    verdict: { minScore: 0.05 },
  });
  assert.equal(builtinRecipe('decoupled')!.hash, d.hash);
  assert.equal(builtinRecipe('classic'), DEFAULT_RECIPE);
  assert.equal(builtinRecipe('line-3.yaml'), undefined);
  assert.equal(builtinRecipe('toString'), undefined, 'only the kinds, not Object.prototype');
});

test('decoupled: errors name the field', () => {
  const bad = (v: Record<string, unknown>) => () => parseRecipe({ kind: 'decoupled', ...v });
  assert.throws(bad({ kmeans: { k: 1 } }), /^KensaError: Invalid recipe: kmeans\.k: Too small: expected number to be >=2$/);
  assert.throws(bad({ kmeans: { k: 17 } }), /Invalid recipe: kmeans\.k: Too big: expected number to be <=16$/);
  assert.throws(bad({ kmeans: { seed: 1.5 } }), /Invalid recipe: kmeans\.seed: Invalid input: expected int, received number$/);
  assert.throws(bad({ canny: { low: -1 } }), /Invalid recipe: canny\.low: Too small: expected number to be >=0$/);
  assert.throws(bad({ congestion: { sigma: 40 } }), /Invalid recipe: congestion\.sigma: Too big: expected number to be <=31$/);
  assert.throws(bad({ congestion: { level: 0 } }), /Invalid recipe: congestion\.level: Too small: expected number to be >0$/);
  assert.throws(bad({ verdict: { minScore: 2 } }), /Invalid recipe: verdict\.minScore: Too big: expected number to be <=1$/);
  assert.throws(bad({ congestion: { sigm: 10 } }), /Invalid recipe: congestion: Unrecognized key: "sigm"$/);
  assert.throws(bad({ threshold: { value: 0.1 } }), /Invalid recipe: \(root\): Unrecognized key: "threshold"$/, 'a classic field is not a decoupled one');
});

test('JSON and YAML files load; broken files name the file', async () => {
  const dir = tempDir('kensa-recipe-');
  writeFileSync(join(dir, 'r.yaml'), 'name: line-3\nthreshold:\n  value: 0.07\n');
  writeFileSync(join(dir, 'r.json'), '{"name": "j", "denoise": {"sigma": 0}}');
  writeFileSync(join(dir, 'd.yaml'), 'kind: decoupled\ncongestion: { sigma: 20 }\n');
  writeFileSync(join(dir, 'bad.json'), '{"name": ');
  const yaml = (await loadRecipe(join(dir, 'r.yaml'))).recipe;
  assert.equal(yaml.kind, 'classic');
  assert.equal(yaml.threshold.value, 0.07);
  const json = (await loadRecipe(join(dir, 'r.json'))).recipe;
  assert.equal(json.kind, 'classic');
  assert.equal(json.denoise.sigma, 0);
  const d = (await loadRecipe(join(dir, 'd.yaml'))).recipe;
  assert.equal(d.kind, 'decoupled');
  assert.deepEqual(d.congestion, { sigma: 20, level: 0.1 });
  await assert.rejects(loadRecipe(join(dir, 'bad.json')), /Cannot parse recipe .*bad\.json/);
  await assert.rejects(loadRecipe(join(dir, 'missing.yaml')), /Cannot read recipe .*missing\.yaml/);
});

test('verdict.background: on in the built-in recipe, off (absent) in recipe files, validated', () => {
  assert.deepEqual(DEFAULT_RECIPE.recipe.kind === 'classic' && DEFAULT_RECIPE.recipe.verdict, {
    maxDefects: 0,
    minScore: 0,
    background: { quantile: 0.99, ratio: 1.5 },
  });
  const file = parseRecipe({});
  assert.ok(file.recipe.kind === 'classic' && !file.recipe.verdict.background);
  assert.doesNotMatch(file.json, /background":\{"quantile|"background":null/, 'absent: recipe files written before keep their hash');
  assert.notEqual(file.hash, DEFAULT_RECIPE.hash);
  assert.ok(parseRecipe({ threshold: { mode: 'relative' }, verdict: { background: null } }));
  const bad: [unknown, string][] = [
    [{ quantile: 0.3, ratio: 1.5 }, 'verdict.background.quantile: Too small: expected number to be >=0.5'],
    [{ quantile: 1.2, ratio: 1.5 }, 'verdict.background.quantile: Too big: expected number to be <=1'],
    [{ quantile: 0.99, ratio: 0 }, 'verdict.background.ratio: Too small: expected number to be >0'],
    [{ quantile: 0.99 }, 'verdict.background.ratio: Invalid input: expected number, received undefined'],
    [{ quantile: 0.99, ratio: 1.5, q: 1 }, 'verdict.background: Unrecognized key: "q"'],
  ];
  for (const [background, message] of bad)
    assert.throws(() => parseRecipe({ verdict: { background } }), { code: 'KENSA_ERR_RECIPE', message: `Invalid recipe: ${message}` });
  assert.throws(() => parseRecipe({ threshold: { mode: 'relative' }, verdict: { background: { quantile: 0.99, ratio: 1.5 } } }), {
    code: 'KENSA_ERR_RECIPE',
    message:
      'Invalid recipe: verdict.background: must be absent or null under threshold.mode relative, which already judges each image against its own statistics',
  });
});

test('threshold.hysteresis: absent (off) keeps the hash of recipes written before, a ratio in (0, 1] or a named error', () => {
  assert.equal(parseRecipe({ threshold: { value: 0.07 } }).json.includes('hysteresis'), false);
  const r = parseRecipe({ threshold: { value: 0.07, hysteresis: 0.5 } }).recipe;
  assert.ok(r.kind === 'classic' && r.threshold.hysteresis === 0.5);
  assert.ok(parseRecipe({ threshold: { mode: 'relative', value: 1, hysteresis: 1 } }));
  for (const got of [0, -0.5, 1.5, '0.5'])
    assert.throws(() => parseRecipe({ threshold: { hysteresis: got } }), {
      code: 'KENSA_ERR_RECIPE',
      message: `Invalid recipe: threshold.hysteresis: expected a ratio above 0 and at most 1 (the low threshold over threshold.value; 1 = off), received ${JSON.stringify(got)}`,
    });
});
