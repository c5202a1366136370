/**
 * Held-out scores of recipes on a labelled folder, as docs/tune.md reports them: pixel precision,
 * recall and F1 (tolerance 2 px, on the kept defects' masks, as kensa tune scores), and the
 * verdicts' false-NG rate on the defect-free images and miss rate on the defective ones.
 *
 *   node --import tsx scripts/data/held-out.ts --images DIR --truth DIR [--device cpu] RECIPE…
 * A RECIPE is a file or a built-in name (classic, decoupled). Prints a Markdown table.
 */
import { parseArgs } from 'node:util';
import { openBackend, type DeviceChoice } from '../../src/backend.js';
import { builtinRecipe, componentsOf, loadRecipe } from '../../src/detect/recipe.js';
import { addCounts, compareMasks, scores, ZERO_COUNTS } from '../../src/eval/metrics.js';
import { loadLabelled } from '../../src/tune/data.js';
import { detectFrames, keptMask } from '../../src/tune/score.js';

const { values, positionals } = parseArgs({
  options: { images: { type: 'string' }, truth: { type: 'string' }, device: { type: 'string' } },
  allowPositionals: true,
});
const frames = await loadLabelled(values.images!, values.truth!);
const backend = await openBackend({ device: (values.device ?? 'auto') as DeviceChoice });
const f3 = (v: number | null) => (v === null ? '-' : v.toFixed(3));
console.log(`${frames.length} images on ${backend.name}\n`);
console.log('| recipe | pixel precision | recall | F1 | false NG (defect-free) | missed (defective) |\n|---|---|---|---|---|---|');
for (const arg of positionals) {
  const r = builtinRecipe(arg) ?? (await loadRecipe(arg));
  const dets = await detectFrames(backend, frames, r.recipe);
  let counts = { ...ZERO_COUNTS };
  let good = 0;
  let falseNg = 0;
  let bad = 0;
  let missed = 0;
  frames.forEach((f, i) => {
    const d = dets[i]!;
    counts = addCounts(
      counts,
      compareMasks(keptMask(d.mask!, f.width, f.height, componentsOf(r.recipe).minArea, componentsOf(r.recipe).connectivity), f.truth, f.width, f.height, 2),
    );
    if (f.truth.some((v) => v !== 0)) {
      bad++;
      if (d.verdict === 'OK') missed++;
    } else {
      good++;
      if (d.verdict === 'NG') falseNg++;
    }
  });
  const s = scores(counts);
  console.log(
    `| ${arg} | ${f3(s.precision)} | ${f3(s.recall)} | ${f3(s.f1)} | ${falseNg}/${good} (${f3(good ? falseNg / good : null)}) | ${missed}/${bad} (${f3(bad ? missed / bad : null)}) |`,
  );
}
backend.close();
