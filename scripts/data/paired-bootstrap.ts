/**
 * Whether recipe B's pixel F1 on a labelled folder differs from recipe A's by more than the
 * images' noise: a paired bootstrap over images (both recipes scored on the same resampled
 * images, micro-averaged as kensa eval and held-out.ts score: 2 px tolerance, the kept defects'
 * masks). Prints each F1, B − A and its 95 % percentile interval.
 *
 *   node --import tsx scripts/data/paired-bootstrap.ts --images DIR --truth DIR [--device cpu] [--draws 4000] [--seed 1] A B
 * A and B are recipe files or built-in names (classic, decoupled).
 */
import { parseArgs } from 'node:util';
import { openBackend, type DeviceChoice } from '../../src/backend.js';
import { builtinRecipe, componentsOf, loadRecipe } from '../../src/detect/recipe.js';
import { addCounts, compareMasks, scores, ZERO_COUNTS, type MaskCounts } from '../../src/eval/metrics.js';
import { mulberry32 } from '../../src/rng.js';
import { loadLabelled } from '../../src/tune/data.js';
import { detectFrames, keptMask } from '../../src/tune/score.js';

const { values, positionals } = parseArgs({
  options: { images: { type: 'string' }, truth: { type: 'string' }, device: { type: 'string' }, draws: { type: 'string' }, seed: { type: 'string' } },
  allowPositionals: true,
});
if (positionals.length !== 2) throw new Error(`paired-bootstrap needs two recipes (A and B), got ${positionals.length}`);
const frames = await loadLabelled(values.images!, values.truth!);
const backend = await openBackend({ device: (values.device ?? 'auto') as DeviceChoice });
const draws = Number(values.draws ?? 4000);
const rng = mulberry32(Number(values.seed ?? 1));

/** Each image's pixel counts under the recipe. */
async function perImage(arg: string): Promise<MaskCounts[]> {
  const r = builtinRecipe(arg) ?? (await loadRecipe(arg));
  const { minArea, connectivity } = componentsOf(r.recipe);
  const dets = await detectFrames(backend, frames, r.recipe);
  return frames.map((f, i) => compareMasks(keptMask(dets[i]!.mask!, f.width, f.height, minArea, connectivity), f.truth, f.width, f.height, 2));
}

const f1 = (counts: readonly MaskCounts[], idx: readonly number[]) => scores(idx.reduce((s, i) => addCounts(s, counts[i]!), { ...ZERO_COUNTS })).f1 ?? 0;
const [a, b] = [await perImage(positionals[0]!), await perImage(positionals[1]!)];
backend.close();
const all = frames.map((_, i) => i);
const diffs: number[] = [];
for (let d = 0; d < draws; d++) {
  const idx = all.map(() => Math.floor(rng() * frames.length));
  diffs.push(f1(b, idx) - f1(a, idx));
}
diffs.sort((x, y) => x - y);
const f3 = (v: number) => v.toFixed(3);
const q = (p: number) => diffs[Math.min(draws - 1, Math.floor(p * draws))]!;
console.log(`${frames.length} images, ${draws} paired draws over images`);
console.log(`A ${positionals[0]}: f1 ${f3(f1(a, all))}`);
console.log(`B ${positionals[1]}: f1 ${f3(f1(b, all))}`);
console.log(
  `B − A: ${f3(f1(b, all) - f1(a, all))} (95 % interval ${f3(q(0.025))} to ${f3(q(0.975))}; B ahead in ${f3(diffs.filter((x) => x > 0).length / draws)} of the draws)`,
);
