import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../_kit/tmp.js';
import { DEFAULT_RECIPE, loadRecipe, parseRecipe } from '../../src/pipeline/recipe.js';

test('defaults are filled in, the hash follows the content', () => {
  const r = DEFAULT_RECIPE.recipe;
  assert.equal(r.kind, 'classic');
  assert.equal(r.threshold.value, 0.05);
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
    assert.throws(() => parseRecipe({ input: { scale } }), (e: unknown) => (e as Error).message === 'Invalid recipe: input.scale: Invalid option: expected one of 1|0.5|0.25|0.125', String(scale));
  }
});

test('JSON and YAML files load; broken files name the file', async () => {
  const dir = tempDir('kensa-recipe-');
  writeFileSync(join(dir, 'r.yaml'), 'name: line-3\nthreshold:\n  value: 0.07\n');
  writeFileSync(join(dir, 'r.json'), '{"name": "j", "denoise": {"sigma": 0}}');
  writeFileSync(join(dir, 'bad.json'), '{"name": ');
  assert.equal((await loadRecipe(join(dir, 'r.yaml'))).recipe.threshold.value, 0.07);
  assert.equal((await loadRecipe(join(dir, 'r.json'))).recipe.denoise.sigma, 0);
  await assert.rejects(loadRecipe(join(dir, 'bad.json')), /Cannot parse recipe .*bad\.json/);
  await assert.rejects(loadRecipe(join(dir, 'missing.yaml')), /Cannot read recipe .*missing\.yaml/);
});
