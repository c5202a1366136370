import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { detect } from '../../src/detect/detector.js';
import { openRecipeModels } from '../../src/detect/model.js';
import { parseRecipe, type CascadeRecipe } from '../../src/detect/recipe.js';
import { isKensaError } from '../../src/errors.js';
import { thresholdModel } from '../../src/models/tiny.js';
import { Tensor } from '../../src/tensor.js';
import { tempDir } from '../_kit/tmp.js';

/** A 16×16 u8 image of 20 with a 6×6 square of `v` at (5, 5). */
function square(v: number): Uint8Array {
  const data = new Uint8Array(16 * 16).fill(20);
  for (let y = 5; y < 11; y++) data.fill(v, y * 16 + 5, y * 16 + 11);
  return data;
}

test('cascade: images outside the uncertain band exit after the first stage; those inside are judged by the full model', async () => {
  const dir = tempDir('kensa-cascade-');
  const cheap = join(dir, 'cheap.onnx');
  const full = join(dir, 'full.onnx');
  writeFileSync(cheap, thresholdModel({ level: 0.5, gain: 20 }));
  writeFileSync(full, thresholdModel({ level: 0.6, gain: 20 }));
  const loaded = parseRecipe({
    kind: 'cascade',
    first: { kind: 'model', model: { path: cheap }, components: { minArea: 4 } },
    full: { kind: 'model', model: { path: full }, components: { minArea: 4 } },
    band: { low: 0.1, high: 1.5 },
  });
  const { loaded: run, models } = await openRecipeModels(loaded, { providers: ['cpu'] }, 3, null);
  try {
    const r = run.recipe as CascadeRecipe;
    assert.equal(models.length, 2);
    assert.match(r.first.kind === 'model' ? (r.first.model.sha256 ?? '') : '', /^[0-9a-f]{64}$/);
    assert.match(r.full.model.sha256 ?? '', /^[0-9a-f]{64}$/);
    // 220: the cheap model is sure (score ≈ 2); 20: nothing (score 0); 135 (0.53): p = σ(0.59) = 0.64, score 1.28, uncertain
    const batch = Tensor.fromArray(new Uint8Array([...square(220), ...square(20), ...square(135)]), [3, 1, 16, 16], 'u8');
    const found = await detect(batch, r, false);
    assert.deepEqual(
      found.map((d) => d.cascade),
      ['first', 'first', 'full'],
    );
    // the full model (level 0.6) finds nothing in the 0.53 square: the first stage's NG is overturned
    assert.deepEqual(
      found.map((d) => d.verdict),
      ['NG', 'OK', 'OK'],
    );
    const cheapOnly = await detect(batch, r.first, false);
    assert.equal(cheapOnly[2]!.verdict, 'NG');
  } finally {
    await Promise.all(models.map((m) => m.close()));
  }
});

test('cascade: a band whose low end is not below its high end is refused, naming it', () => {
  assert.throws(
    () => parseRecipe({ kind: 'cascade', first: { kind: 'classic' }, full: { kind: 'model', model: { path: 'm.onnx' } }, band: { low: 2, high: 1 } }),
    (e) => isKensaError(e, 'KENSA_ERR_RECIPE') && e.message === 'Invalid recipe: band: band.low must be below band.high',
  );
});
