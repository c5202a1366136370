/**
 * Quality floor of the default classic recipe on `kensa samples` data: a regression in detection
 * fails here, not in a user's line. Small on purpose (12 images of 384², 6 of them clean more),
 * on the GPU when there is one, else on the CPU reference (the two agree, classic.test.ts).
 * Measured 2026-12-01 on the defaults: precision 0.961, recall 0.453, F1 0.615, objects 21/22,
 * verdicts 11/12, the clean images all OK; the previous, gradient-only defaults reached F1 0.440
 * and objects 18/22 on the same images, below both floors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addCounts, compareMasks, scores, ZERO_COUNTS } from '../../src/eval/metrics.js';
import { detectClassic } from '../../src/detect/classic.js';
import { DEFAULT_RECIPE, type ClassicRecipe } from '../../src/detect/recipe.js';
import { generateSample, type Sample } from '../../src/samples/generate.js';
import { Tensor } from '../../src/tensor.js';
import { testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();
const S = 384;

async function detect(samples: Sample[]) {
  const host = new Uint8Array(samples.length * S * S);
  for (const [i, s] of samples.entries()) host.set(s.image, i * S * S);
  const cpu = Tensor.fromArray(host, [samples.length, 1, S, S], 'u8');
  const x = gpu ? await cpu.toGpu(gpu) : cpu;
  const found = await detectClassic(x, DEFAULT_RECIPE.recipe as ClassicRecipe, true);
  if (x !== cpu) x.dispose();
  return found;
}

test('default recipe on 12 sample images (seed 1, 384², tolerance 2): F1 ≥ 0.55, object recall ≥ 0.86, precision ≥ 0.9', async () => {
  const samples = Array.from({ length: 12 }, (_, i) => generateSample({ width: S, height: S, seed: 1 }, i));
  const found = await detect(samples);
  let counts = { ...ZERO_COUNTS };
  for (const [i, s] of samples.entries()) counts = addCounts(counts, compareMasks(found[i]!.mask!, s.mask, S, S, 2));
  const q = scores(counts);
  const what = `P ${q.precision} R ${q.recall} F1 ${q.f1} objects ${counts.detectedObjects}/${counts.truthObjects}`;
  assert.ok(q.f1! >= 0.55, what);
  assert.ok(q.objectRecall! >= 0.86, what);
  assert.ok(q.precision! >= 0.9, what);
  const verdicts = found.filter((f, i) => (f.verdict === 'NG') === samples[i]!.defects.length > 0).length;
  assert.ok(verdicts >= 10, `${verdicts}/12 verdicts right`);
});

test('default recipe passes 6 clean sample images (no false NG)', async () => {
  const clean = Array.from({ length: 6 }, (_, i) => generateSample({ width: S, height: S, seed: 1, okFraction: 1 }, i));
  const found = await detect(clean);
  assert.deepEqual(
    found.map((f) => f.verdict),
    clean.map(() => 'OK'),
    JSON.stringify(found.map((f) => f.defects)),
  );
});
