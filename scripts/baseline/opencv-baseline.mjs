#!/usr/bin/env node
/**
 * The three-step OpenCV baseline that issue 13 measures kensa against, tuned on a training split
 * and scored on a test split with kensa's own metric code (src/eval/metrics.ts, as `kensa eval`
 * and `kensa tune` score): a 5×5 Gaussian blur, a black-hat with a square of `size` px, a threshold
 * at mean + k·std of each image's black-hat response, then connected components (8-connected) of
 * fewer than `minArea` px dropped. An image is NG when any component is kept.
 *
 * Its three numbers are chosen by a grid search on the training split (the best pixel F1 at the
 * tolerance, micro-averaged over the images; ties go to the earlier grid point): size 7 … 95
 * px (kensa's largest hat), k 0.5 … 4, minArea 1 … 400 (240 points; pixel counts only while searching). The test split is scored once, with the winner.
 *
 *   node --import tsx scripts/baseline/opencv-baseline.mjs --train DIR --test DIR [--tolerance 2] [--grid kensa]
 * `--grid kensa` chooses k and minArea from `kensa tune`'s sweep instead (k 0.5 … 6 in 11 steps,
 * minArea 1 … 2000 in 12; 1,056 points with the sizes): the same three steps on kensa's grid.
 * DIR holds images/ and masks/ (as scripts/data/*.mjs write them). Prints the chosen numbers and a
 * Markdown row of held-out scores (pixel precision, recall, F1; false NG on defect-free images and
 * misses on defective ones).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { addCounts, compareMasks, pixelCounts, scores, withinDistance, ZERO_COUNTS } from '../../src/eval/metrics.ts';
import { loadLabelled } from '../../src/tune/data.ts';
import { blackhat, cv, gridOf, SIZES } from './steps.mjs';

const { values } = parseArgs({ options: { train: { type: 'string' }, test: { type: 'string' }, tolerance: { type: 'string' }, grid: { type: 'string' } } });
const tolerance = Number(values.tolerance ?? 2);
const { ks, minAreas } = gridOf(values.grid);

/** Labels and component areas of the response above mean + k·std. */
function candidates(frame, r, k) {
  const level = r.mean + k * r.std;
  const bin = Uint8Array.from(r.hat, (v) => (v > level ? 255 : 0));
  const mat = cv.matFromArray(frame.height, frame.width, cv.CV_8UC1, bin);
  const labels = new cv.Mat();
  const stats = new cv.Mat();
  const centroids = new cv.Mat();
  const n = cv.connectedComponentsWithStats(mat, labels, stats, centroids, 8, cv.CV_32S);
  const areas = Array.from({ length: n }, (_, i) => stats.intAt(i, cv.CC_STAT_AREA));
  const out = { labels: Int32Array.from(labels.data32S), areas };
  for (const m of [mat, labels, stats, centroids]) m.delete();
  return out;
}

/** The mask of the components of at least minArea px (label 0 is the background). */
function kept(c, minArea) {
  return Uint8Array.from(c.labels, (l) => (l > 0 && c.areas[l] >= minArea ? 255 : 0));
}

/** Summed counts and verdicts of one parameter set on the frames, for every minArea of the grid at once. */
function evaluate(frames, hats, k, minAreas, compare) {
  const counts = minAreas.map(() => ({ ...ZERO_COUNTS }));
  const verdicts = minAreas.map(() => ({ good: 0, falseNg: 0, bad: 0, missed: 0 }));
  for (const [i, f] of frames.entries()) {
    const c = candidates(f, hats[i], k);
    const defective = f.truth.some((v) => v !== 0);
    minAreas.forEach((a, j) => {
      const mask = kept(c, a);
      counts[j] = addCounts(counts[j], compare(mask, f));
      const ng = mask.some((v) => v !== 0);
      const v = verdicts[j];
      if (defective) {
        v.bad++;
        if (!ng) v.missed++;
      } else {
        v.good++;
        if (ng) v.falseNg++;
      }
    });
  }
  return minAreas.map((minArea, j) => ({ minArea, counts: counts[j], verdicts: verdicts[j] }));
}

const train = await loadLabelled(join(values.train, 'images'), join(values.train, 'masks'));
const test = await loadLabelled(join(values.test, 'images'), join(values.test, 'masks'));
const near = new Map(train.map((f) => [f, withinDistance(f.truth, f.width, f.height, tolerance)]));
const fast = (mask, f) => pixelCounts(mask, f.truth, f.width, f.height, tolerance, near.get(f));
const t0 = performance.now();
let best = { f1: -1 };
for (const size of SIZES) {
  const hats = train.map((f) => blackhat(f, size));
  for (const k of ks)
    for (const e of evaluate(train, hats, k, minAreas, fast)) {
      const f1 = scores(e.counts).f1 ?? 0;
      if (f1 > best.f1) best = { f1, size, k, minArea: e.minArea };
    }
}
const searchS = (performance.now() - t0) / 1000;
const [held] = evaluate(
  test,
  test.map((f) => blackhat(f, best.size)),
  best.k,
  [best.minArea],
  (mask, f) => compareMasks(mask, f.truth, f.width, f.height, tolerance),
);
const s = scores(held.counts);
const v = held.verdicts;
const f3 = (x) => (x === null ? '-' : x.toFixed(3));
const rate = (n, d) => `${n}/${d} (${f3(d ? n / d : null)})`;
console.log(
  `tuned on ${train.length} training images (${SIZES.length * ks.length * minAreas.length} grid points, ${searchS.toFixed(0)} s): black-hat ${best.size} px, k ${best.k}, minArea ${best.minArea}; f1 ${best.f1.toFixed(3)} on them`,
);
console.log(`held out ${test.length} test images:\n`);
console.log('| recipe | pixel precision | recall | F1 | false NG (defect-free) | missed (defective) |\n|---|---|---|---|---|---|');
console.log(
  `| OpenCV baseline (black-hat ${best.size}, k ${best.k}, minArea ${best.minArea}) | ${f3(s.precision)} | ${f3(s.recall)} | ${f3(s.f1)} | ${rate(v.falseNg, v.good)} | ${rate(v.missed, v.bad)} |`,
);
