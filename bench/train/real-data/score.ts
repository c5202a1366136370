/**
 * One scorer for the real-data comparison: folders of predicted masks (kensa's UNet, PyTorch's)
 * and classical recipes run here on the same test images, all scored by `kensa eval`'s code
 * (evaluateMasks and its image-level report): pixel precision, recall and F1 with a pixel within
 * `--tolerance` px (default 2, Euclidean) of the other side a match, strict IoU, micro-averaged
 * over the images; image level: an image is NG when its mask keeps a defect pixel — false alarms
 * are defect-free images judged NG, misses defective images judged OK. A recipe's mask is its
 * kept defects' (components of at least its components.minArea), as docs/tune.md scores recipes.
 *
 *   node dist/bench/train/real-data/score.js --images DIR --truth DIR [--device gpu] [--json FILE] LABEL=PRED_DIR… [--recipe NAME_OR_FILE]…
 * Prints a Markdown table, one row per prediction folder and recipe.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { imageLevelReport } from '../../../src/cli/eval-images.js';
import { type DeviceChoice, openBackend } from '../../../src/backend.js';
import { builtinRecipe, componentsOf, loadRecipe } from '../../../src/detect/recipe.js';
import { evaluateMasks, type Evaluation } from '../../../src/eval/evaluate.js';
import type { MaskSource } from '../../../src/eval/masks.js';
import { loadFrames } from '../../../src/tune/data.js';
import { detectFrames, keptMask } from '../../../src/tune/score.js';

const { values: a, positionals } = parseArgs({
  options: {
    images: { type: 'string' },
    truth: { type: 'string' },
    device: { type: 'string' },
    tolerance: { type: 'string' },
    json: { type: 'string' },
    recipe: { type: 'string', multiple: true },
  },
  allowPositionals: true,
});
const tolerance = Number(a.tolerance ?? 2);
const sources: [string, MaskSource][] = positionals.map((p) => {
  const eq = p.indexOf('=');
  if (eq < 1) throw new Error(`expected LABEL=PRED_DIR but received '${p}'`);
  return [p.slice(0, eq), p.slice(eq + 1)];
});
if (a.recipe?.length) {
  const frames = await loadFrames('images', a.images!);
  const backend = await openBackend({ device: (a.device ?? 'auto') as DeviceChoice });
  for (const name of a.recipe) {
    const { recipe } = builtinRecipe(name) ?? (await loadRecipe(name));
    const { minArea, connectivity } = componentsOf(recipe);
    const dets = await detectFrames(backend, frames, recipe);
    const masks = frames.map((f, i) => ({
      name: f.name,
      mask: { width: f.width, height: f.height, data: keptMask(dets[i]!.mask!, f.width, f.height, minArea, connectivity) },
    }));
    sources.push([`recipe ${name}`, () => masks]);
  }
  backend.close();
}

const f3 = (v: number | null) => (v === null ? '–' : v.toFixed(3));
const rows: { label: string; evaluation: Evaluation; imageLevel: Awaited<ReturnType<typeof imageLevelReport>>['atZero'] }[] = [];
for (const [label, source] of sources) {
  const evaluation = await evaluateMasks(source, a.truth!, { tolerance });
  rows.push({ label, evaluation, imageLevel: (await imageLevelReport(evaluation, undefined)).atZero });
}
const problems = rows.flatMap((r) => [
  ...r.evaluation.errors.map((e) => `${r.label}: ${e.name}: ${e.error}`),
  ...(r.evaluation.missing.length ? [`${r.label}: no prediction for ${r.evaluation.missing.length} image(s) (scored as empty)`] : []),
]);
console.log(`${rows[0]?.evaluation.overall.images ?? 0} test images, pixel F1 at ${tolerance} px tolerance, IoU strict, micro-averaged\n`);
console.log('| detector | pixel precision | recall | F1 | IoU | false alarms (defect-free NG) | missed (defective OK) |');
console.log('|---|---|---|---|---|---|---|');
for (const { label, evaluation: e, imageLevel: z } of rows) {
  const s = e.overall.scores;
  console.log(
    `| ${label} | ${f3(s.precision)} | ${f3(s.recall)} | ${f3(s.f1)} | ${f3(s.iou)} | ${z.falseNg}/${z.goodImages} (${f3(z.falseNgRate)}) | ${z.missed}/${z.defectiveImages} (${f3(z.missRate)}) |`,
  );
}
for (const p of problems) console.log(`\n${p}`);
if (a.json)
  writeFileSync(
    a.json,
    JSON.stringify(
      rows.map((r) => ({ label: r.label, overall: r.evaluation.overall, imageLevel: r.imageLevel, missing: r.evaluation.missing })),
      null,
      1,
    ),
  );
