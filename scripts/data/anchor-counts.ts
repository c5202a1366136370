/**
 * Each image's pixel counts at every point of the sweep (k × minArea) of each OpenCV-baseline
 * anchor of `kensa tune` (the black-hat alone, 7 … 95 px), written as JSON: what a study of how
 * `kensa tune` picks among them needs, without running the detector again per rule tried.
 * counts[size][image][k][minArea] = [truth, predicted, matchedPredicted, matchedTruth] (2 px tolerance).
 *
 *   node --import tsx scripts/data/anchor-counts.ts --images DIR --truth DIR --out FILE.json [--device cpu]
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { openBackend, type DeviceChoice } from '../../src/backend.js';
import { DEFAULT_RECIPE, hatSizes, type ClassicRecipe } from '../../src/detect/recipe.js';
import { loadLabelled } from '../../src/tune/data.js';
import { sweepImageCounts } from '../../src/tune/score.js';
import { RELATIVE_THRESHOLDS, SWEPT_MIN_AREAS } from '../../src/tune/search.js';
import { anchors } from '../../src/tune/space.js';

const { values } = parseArgs({ options: { images: { type: 'string' }, truth: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' } } });
const frames = await loadLabelled(values.images!, values.truth!);
const backend = await openBackend({ device: (values.device ?? 'auto') as DeviceChoice });
const grid = { thresholds: RELATIVE_THRESHOLDS, hysteresis: [1], minAreas: SWEPT_MIN_AREAS };
const counts: Record<string, number[][][][]> = {};
for (const a of anchors(DEFAULT_RECIPE.recipe as ClassicRecipe)) {
  const r = a.recipe as ClassicRecipe;
  const perImage = await sweepImageCounts(backend, frames, r, grid, 2);
  counts[hatSizes(r.blackhat!).join('+')] = perImage.map((im) => im.map((row) => row.map((c) => [c.truth, c.predicted, c.matchedPredicted, c.matchedTruth])));
  console.error(`black-hat ${hatSizes(r.blackhat!).join(' + ')} px done`);
}
backend.close();
await writeFile(values.out!, JSON.stringify({ names: frames.map((f) => f.name), k: grid.thresholds, minArea: grid.minAreas, counts }));
