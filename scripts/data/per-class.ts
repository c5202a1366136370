/**
 * Held-out scores of recipes broken down by image class, the part of an image's name before its
 * first '_' (as scripts/data/magnetic-tile.mjs names them: blowhole_…, free_…): per class the pixel
 * precision, recall and F1 (tolerance 2 px, on the kept defects' masks, as held-out.ts and kensa
 * tune score), the class's share of the truth pixels, and how many of its images are NG. The
 * "all" row is held-out.ts's row. Micro-averaged pixel F1 weighs classes by their truth pixels, so
 * on Magnetic-tile the few large "uneven" and "fray" areas outweigh every blowhole and crack.
 *
 *   node --import tsx scripts/data/per-class.ts --images DIR --truth DIR [--device cpu] RECIPE…
 * A RECIPE is a file or a built-in name (classic, decoupled). Prints a Markdown table per recipe.
 */
import { parseArgs } from 'node:util';
import { openBackend, type DeviceChoice } from '../../src/backend.js';
import { builtinRecipe, componentsOf, loadRecipe } from '../../src/detect/recipe.js';
import { addCounts, compareMasks, scores, ZERO_COUNTS, type MaskCounts } from '../../src/eval/metrics.js';
import { loadLabelled } from '../../src/tune/data.js';
import { detectFrames, keptMask } from '../../src/tune/score.js';

const { values, positionals } = parseArgs({
  options: { images: { type: 'string' }, truth: { type: 'string' }, device: { type: 'string' } },
  allowPositionals: true,
});
const frames = await loadLabelled(values.images!, values.truth!);
const backend = await openBackend({ device: (values.device ?? 'auto') as DeviceChoice });
const f3 = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(3));
const classOf = (name: string) => (name.includes('_') ? name.slice(0, name.indexOf('_')) : '(none)');
const truthPixels = frames.map((f) => f.truth.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0));
const allTruth = truthPixels.reduce((a, b) => a + b, 0);
console.log(`${frames.length} images on ${backend.name}`);
for (const arg of positionals) {
  const r = builtinRecipe(arg) ?? (await loadRecipe(arg));
  const { minArea, connectivity } = componentsOf(r.recipe);
  const dets = await detectFrames(backend, frames, r.recipe);
  const rows = new Map<string, { counts: MaskCounts; n: number; ng: number; truth: number }>();
  const add = (key: string, c: MaskCounts, ng: boolean, truth: number) => {
    const row = rows.get(key) ?? { counts: { ...ZERO_COUNTS }, n: 0, ng: 0, truth: 0 };
    row.counts = addCounts(row.counts, c);
    row.n++;
    if (ng) row.ng++;
    row.truth += truth;
    rows.set(key, row);
  };
  frames.forEach((f, i) => {
    const d = dets[i]!;
    const c = compareMasks(keptMask(d.mask!, f.width, f.height, minArea, connectivity), f.truth, f.width, f.height, 2);
    add(classOf(f.name), c, d.verdict === 'NG', truthPixels[i]!);
    add('all', c, d.verdict === 'NG', truthPixels[i]!);
  });
  console.log(`\n${arg}\n\n| class | images | share of truth px | pixel precision | recall | F1 | NG |\n|---|---|---|---|---|---|---|`);
  for (const [key, row] of [...rows].sort(([a], [b]) => (a === 'all' ? 1 : b === 'all' ? -1 : a < b ? -1 : 1))) {
    const s = scores(row.counts);
    console.log(
      `| ${key} | ${row.n} | ${f3(allTruth ? row.truth / allTruth : null)} | ${f3(s.precision)} | ${f3(s.recall)} | ${f3(s.f1)} | ${row.ng}/${row.n} |`,
    );
  }
}
backend.close();
