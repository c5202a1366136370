/**
 * Train-side study of the area channel (recipe `area`) on Magnetic-tile: the OpenCV baseline's
 * steps (kensa's anchor: denoise σ 1.1, no gradient, no local contrast, no closing, a relative
 * threshold) with the black-hat 15 px alone, the area channel alone, and both fused, each swept
 * over k and minimum area as `kensa tune` sweeps. Prints a Markdown row per recipe: the best sweep
 * point on all images, its F1, the 5-fold cross-validated F1 (the point chosen on four folds of
 * images, i mod 5, scored on the fifth), the uneven + fray pixels' recall and F1 at the best point
 * and each class's F1 (classes from the names, as scripts/data/per-class.ts reads them).
 *
 *   node --import tsx scripts/data/area-channel.ts --images DIR --truth DIR [--device cpu]
 */
import { parseArgs } from 'node:util';
import { openBackend, type DeviceChoice } from '../../src/backend.js';
import { parseRecipe, type ClassicRecipe } from '../../src/detect/recipe.js';
import { addCounts, scores, ZERO_COUNTS, type MaskCounts } from '../../src/eval/metrics.js';
import { loadLabelled } from '../../src/tune/data.js';
import { sweepImageCounts } from '../../src/tune/score.js';

const { values } = parseArgs({ options: { images: { type: 'string' }, truth: { type: 'string' }, device: { type: 'string' } } });
const frames = await loadLabelled(values.images!, values.truth!);
const backend = await openBackend({ device: (values.device ?? 'auto') as DeviceChoice });
const grid = { thresholds: [0.5, 1, 1.5, 2, 3], hysteresis: [1], minAreas: [1, 10, 40, 150, 400, 1200, 2000] };
const anchor = {
  denoise: { sigma: 1.1 },
  gradient: { weight: 0 },
  contrast: { background: 0 },
  morphology: { close: 0 },
  threshold: { mode: 'relative', value: 2 },
};
const variants: [string, object][] = [
  ['black-hat 15', { blackhat: { size: 15 } }],
  ['area 2/16 alone', { area: { sigma: 2, background: 16 } }],
  ['area 4/32 alone', { area: { sigma: 4, background: 32 } }],
];
for (const [sigma, background] of [
  [2, 16],
  [4, 32],
])
  for (const weight of [1, 2, 4])
    variants.push([`black-hat 15 + area ${sigma}/${background} × ${weight}`, { blackhat: { size: 15 }, area: { sigma, background, weight } }]);

const classOf = (name: string) => name.slice(0, name.indexOf('_'));
const sum = (c: MaskCounts[][][], images: number[], t: number, a: number) => images.reduce((acc, i) => addCounts(acc, c[i]![t]![a]!), { ...ZERO_COUNTS });
/** The sweep point with the best F1 over `images` (ties: the earlier point). */
function best(c: MaskCounts[][][], images: number[]) {
  let b = { f1: -1, t: 0, a: 0 };
  for (let t = 0; t < grid.thresholds.length; t++)
    for (let a = 0; a < grid.minAreas.length; a++) {
      const f1 = scores(sum(c, images, t, a)).f1 ?? 0;
      if (f1 > b.f1) b = { f1, t, a };
    }
  return b;
}
const f3 = (v: number | null | undefined) => (v ?? 0).toFixed(3);
const all = frames.map((_, i) => i);
const ofClasses = (...names: string[]) => all.filter((i) => names.includes(classOf(frames[i]!.name)));
console.log('| recipe | best point | F1 | 5-fold CV F1 | uneven + fray recall | uneven + fray F1 | blowhole | break | crack | fray | uneven |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const [name, extra] of variants) {
  const c = await sweepImageCounts(backend, frames, parseRecipe({ ...anchor, ...extra }).recipe as ClassicRecipe, grid, 2);
  const b = best(c, all);
  let cv = { ...ZERO_COUNTS };
  for (let f = 0; f < 5; f++) {
    const p = best(
      c,
      all.filter((i) => i % 5 !== f),
    );
    cv = addCounts(
      cv,
      sum(
        c,
        all.filter((i) => i % 5 === f),
        p.t,
        p.a,
      ),
    );
  }
  const area = scores(sum(c, ofClasses('uneven', 'fray'), b.t, b.a));
  const perClass = ['blowhole', 'break', 'crack', 'fray', 'uneven'].map((k) => f3(scores(sum(c, ofClasses(k), b.t, b.a)).f1));
  console.log(
    `| ${name} | k ${grid.thresholds[b.t]}, minArea ${grid.minAreas[b.a]} | ${f3(b.f1)} | ${f3(scores(cv).f1)} | ${f3(area.recall)} | ${f3(area.f1)} | ${perClass.join(' | ')} |`,
  );
}
backend.close();
