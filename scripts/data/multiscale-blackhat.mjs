#!/usr/bin/env node
/**
 * Does a multi-scale black-hat beat one size? The OpenCV baseline's three steps
 * (scripts/baseline/opencv-baseline.mjs: 5×5 Gaussian, black-hat with a square, threshold at
 * mean + k·std of each image's response, 8-connected components under minArea dropped), with the
 * one black-hat replaced by a combination of black-hats at 2 or 3 sizes from 7, 15, 31, 47, 63 and
 * 95 px (35 sets), combined three ways per image:
 *   zsum  Σ (h_s − mean_s) / std_s  (each size standardised by its own mean and std, then summed)
 *   zmax  max_s (h_s − mean_s) / std_s
 *   sum   Σ h_s  (raw; the largest size dominates)
 * (The raw max is left out: a closing with a larger square is never below one with a smaller one, so
 * the raw max is the largest size's black-hat.)
 *
 * On the training side only: the baseline's 240-point grid (sizes 7 … 95, k 0.5 … 4, minArea
 * 1 … 400) and the same k and minArea grid for each of the 105 combinations (3,150 points), each
 * family's best point by pixel F1 at the tolerance (micro-averaged; ties to the earlier point).
 * `--grid kensa` takes k and minArea from `kensa tune`'s sweep instead (11 k × 12 minimum areas),
 * as the baseline's script does.
 * Cross-validation, from each image's counts at every point: "pick CV" fixes the pick's channel
 * and chooses k and minArea on four folds for the fifth (kensa tune's crossValidated: image i in
 * fold i mod 5, the folds' counts summed); "family CV" chooses the channel too inside the folds
 * (nested: what choosing among 105 combinations costs). Both also over `--repeats` random 5-fold
 * partitions. Then the two picks are scored once on the test side (kensa's compareMasks), with a
 * paired bootstrap over images of multi − single on each side.
 *
 *   node --import tsx scripts/data/multiscale-blackhat.mjs --train DIR --test DIR [--grid kensa] [--tolerance 2] [--repeats 20] [--draws 4000] [--seed 1]
 * DIR holds images/ and masks/ (as scripts/data/*.mjs write them).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { addCounts, compareMasks, components, scores, withinDistance, ZERO_COUNTS } from '../../src/eval/metrics.ts';
import { mulberry32 } from '../../src/rng.ts';
import { loadLabelled } from '../../src/tune/data.ts';
import { blackhat, gridOf, SIZES } from '../baseline/steps.mjs';

const POOL = [7, 15, 31, 47, 63, 95]; // sizes the combinations draw from
const COMBINERS = ['zsum', 'zmax', 'sum'];
const FOLDS = 5;

const { values } = parseArgs({
  options: {
    train: { type: 'string' },
    test: { type: 'string' },
    tolerance: { type: 'string' },
    repeats: { type: 'string' },
    draws: { type: 'string' },
    seed: { type: 'string' },
    grid: { type: 'string' },
  },
});
const { ks: KS, minAreas: MIN_AREAS } = gridOf(values.grid);
const tolerance = Number(values.tolerance ?? 2);
const repeats = Number(values.repeats ?? 20);
const draws = Number(values.draws ?? 4000);
const seed = Number(values.seed ?? 1);

/** Mean and population standard deviation (as cv.meanStdDev). */
function meanStd(r) {
  let s = 0;
  for (const v of r) s += v;
  const mean = s / r.length;
  let q = 0;
  for (const v of r) q += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(q / r.length) };
}

/** The channels: the baseline's single sizes, then every 2- and 3-size set of the pool under each combiner. */
function channels() {
  const out = SIZES.map((s) => ({ name: `${s}`, sizes: [s], combine: 'single' }));
  const sets = [];
  for (let a = 0; a < POOL.length; a++)
    for (let b = a + 1; b < POOL.length; b++) {
      sets.push([POOL[a], POOL[b]]);
      for (let c = b + 1; c < POOL.length; c++) sets.push([POOL[a], POOL[b], POOL[c]]);
    }
  sets.sort((x, y) => x.length - y.length);
  for (const combine of COMBINERS) for (const sizes of sets) out.push({ name: `${combine}(${sizes.join('+')})`, sizes, combine });
  return out;
}

/** One image's response of a channel (hats: size → u8 black-hat). */
function response(ch, hats) {
  if (ch.combine === 'single') return hats.get(ch.sizes[0]);
  const n = hats.get(ch.sizes[0]).length;
  const out = new Float64Array(n).fill(ch.combine === 'zmax' ? -Infinity : 0);
  for (const s of ch.sizes) {
    const h = hats.get(s);
    if (ch.combine === 'sum') {
      for (let i = 0; i < n; i++) out[i] += h[i];
      continue;
    }
    const { mean, std } = meanStd(h);
    const inv = std > 0 ? 1 / std : 0;
    if (ch.combine === 'zsum') for (let i = 0; i < n; i++) out[i] += (h[i] - mean) * inv;
    else for (let i = 0; i < n; i++) out[i] = Math.max(out[i], (h[i] - mean) * inv);
  }
  return out;
}

// Offsets within the tolerance (dx² + dy² ≤ tolerance², as withinDistance reaches)
const R = Math.floor(tolerance);
const DISC = [];
for (let dy = -R; dy <= R; dy++) {
  const reach = Math.floor(Math.sqrt(tolerance * tolerance - dy * dy) + 1e-9);
  for (let dx = -reach; dx <= reach; dx++) DISC.push([dx, dy]);
}

/**
 * One image's pixel counts at every (k, minArea) of the grid, in one labelling per k: a component
 * of area A is kept at every minArea ≤ A, and a truth pixel is recalled at every minArea ≤ the
 * largest kept area within the tolerance. Writes out[(k·MIN_AREAS + a)·4 + (predicted,
 * matchedPredicted, truth, matchedTruth)], the same counts as pixelCounts of the kept mask.
 */
function imageCounts(f, near, truthIdx, r, out) {
  const { width: w, height: h } = f;
  const { mean, std } = meanStd(r);
  const bin = new Uint8Array(r.length);
  for (const [ki, k] of KS.entries()) {
    const level = mean + k * std;
    for (let i = 0; i < r.length; i++) bin[i] = r[i] > level ? 1 : 0;
    const { labels, count } = components(bin, w, h, 8);
    const area = new Int32Array(count + 1);
    const matched = new Int32Array(count + 1);
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i];
      if (!l) continue;
      area[l]++;
      if (near[i]) matched[l]++;
    }
    const base = ki * MIN_AREAS.length * 4;
    for (let l = 1; l <= count; l++)
      for (const [ai, a] of MIN_AREAS.entries())
        if (area[l] >= a) {
          out[base + ai * 4] += area[l];
          out[base + ai * 4 + 1] += matched[l];
        }
    for (const t of truthIdx) {
      const y = (t / w) | 0;
      const x = t - y * w;
      let reach = 0;
      for (const [dx, dy] of DISC) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
        const l = labels[ny * w + nx];
        if (l && area[l] > reach) reach = area[l];
      }
      for (const [ai, a] of MIN_AREAS.entries()) {
        out[base + ai * 4 + 2]++;
        if (reach >= a) out[base + ai * 4 + 3]++;
      }
    }
  }
}

const POINTS = KS.length * MIN_AREAS.length;

/** Pixel F1 from (predicted, matchedPredicted, truth, matchedTruth) by scores() (0 where undefined). */
function f1Of(p, mp, t, mt) {
  return scores({ ...ZERO_COUNTS, predicted: p, matchedPredicted: mp, truth: t, matchedTruth: mt }).f1 ?? 0;
}

/** Summed counts over `idx` of channel c (counts[c]: images × POINTS × 4), per point. */
function sumOver(perChannel, idx) {
  const s = new Float64Array(POINTS * 4);
  for (const i of idx) {
    const o = i * POINTS * 4;
    for (let j = 0; j < POINTS * 4; j++) s[j] += perChannel[o + j];
  }
  return s;
}

/** The best point of summed counts (first best in grid order). */
function bestOf(sum) {
  let best = { f1: -1, p: 0 };
  for (let p = 0; p < POINTS; p++) {
    const f1 = f1Of(sum[p * 4], sum[p * 4 + 1], sum[p * 4 + 2], sum[p * 4 + 3]);
    if (f1 > best.f1) best = { f1, p };
  }
  return best;
}

/** The best (channel, point) among `chs` (indices) on images `idx`. */
function bestIn(counts, chs, idx) {
  let best = { f1: -1, c: -1, p: 0 };
  for (const c of chs) {
    const b = bestOf(sumOver(counts[c], idx));
    if (b.f1 > best.f1) best = { ...b, c };
  }
  return best;
}

/**
 * Cross-validated F1 of choosing among `chs` (one channel: k and minArea chosen; several: the
 * channel too) on the other folds for each fold, the folds' counts summed. fold[i]: image i's fold.
 */
function crossValidated(counts, chs, fold, n) {
  const total = new Float64Array(4);
  for (let k = 0; k < FOLDS; k++) {
    const others = [];
    const mine = [];
    for (let i = 0; i < n; i++) (fold[i] === k ? mine : others).push(i);
    const { c, p } = bestIn(counts, chs, others);
    for (const i of mine) for (let j = 0; j < 4; j++) total[j] += counts[c][(i * POINTS + p) * 4 + j];
  }
  return f1Of(...total);
}

const train = await loadLabelled(join(values.train, 'images'), join(values.train, 'masks'));
const test = await loadLabelled(join(values.test, 'images'), join(values.test, 'masks'));
const CH = channels();
const singles = CH.flatMap((c, i) => (c.combine === 'single' ? [i] : []));
const multis = CH.flatMap((c, i) => (c.combine === 'single' ? [] : [i]));

const t0 = performance.now();
const trainHats = train.map((f) => new Map(SIZES.map((s) => [s, blackhat(f, s).hat])));
const near = train.map((f) => withinDistance(f.truth, f.width, f.height, tolerance));
const truthIdx = train.map((f) => Int32Array.from(f.truth.keys()).filter((i) => f.truth[i] !== 0));
const counts = CH.map((ch) => {
  const out = new Float64Array(train.length * POINTS * 4);
  for (const [i, f] of train.entries()) imageCounts(f, near[i], truthIdx[i], response(ch, trainHats[i]), out.subarray(i * POINTS * 4, (i + 1) * POINTS * 4));
  return out;
});
const searchS = (performance.now() - t0) / 1000;

const all = train.map((_, i) => i);
const point = (p) => ({ k: KS[Math.floor(p / MIN_AREAS.length)], minArea: MIN_AREAS[p % MIN_AREAS.length] });
const describe = (b) => `${CH[b.c].name}, k ${point(b.p).k}, minArea ${point(b.p).minArea}`;
const single = bestIn(counts, singles, all);
const multi = bestIn(counts, multis, all);

// the fast counts against kensa's own (kept mask, compareMasks) at both picks
for (const b of [single, multi]) {
  const { k, minArea } = point(b.p);
  let sum = { ...ZERO_COUNTS };
  for (const [i, f] of train.entries()) sum = addCounts(sum, scoreMask(f, response(CH[b.c], trainHats[i]), k, minArea));
  const got = scores(sum).f1;
  if (Math.abs(got - b.f1) > 1e-12) throw new Error(`fast counts disagree with compareMasks at ${describe(b)}: ${b.f1} against ${got}`);
}

/** Counts of one image by kensa's compareMasks at (k, minArea): the kept components of the thresholded response. */
function scoreMask(f, r, k, minArea) {
  const { mean, std } = meanStd(r);
  const level = mean + k * std;
  const bin = Uint8Array.from(r, (v) => (v > level ? 1 : 0));
  const { labels, count } = components(bin, f.width, f.height, 8);
  const area = new Int32Array(count + 1);
  for (const l of labels) area[l]++;
  const mask = Uint8Array.from(labels, (l) => (l > 0 && area[l] >= minArea ? 255 : 0));
  return compareMasks(mask, f.truth, f.width, f.height, tolerance);
}

// cross-validation: kensa's folds (i mod 5), then random 5-fold partitions
const modFold = all.map((i) => i % FOLDS);
const rng = mulberry32(seed);
const cvOf = (fold) => ({
  singlePick: crossValidated(counts, [single.c], fold, train.length),
  multiPick: crossValidated(counts, [multi.c], fold, train.length),
  singleFamily: crossValidated(counts, singles, fold, train.length),
  multiFamily: crossValidated(counts, multis, fold, train.length),
});
const cvMod = cvOf(modFold);
const cvRand = [];
for (let r = 0; r < repeats; r++) {
  const perm = all.map((i) => ({ i, u: rng() })).sort((a, b) => a.u - b.u);
  const fold = new Array(train.length);
  for (const [j, { i }] of perm.entries()) fold[i] = j % FOLDS;
  cvRand.push(cvOf(fold));
}
const meanOf = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const avg = (key) => meanOf(cvRand.map((c) => c[key]));
const ahead = (a, b) => cvRand.filter((c) => c[b] > c[a]).length;

/** Each image's counts of a pick on frames (the test side: computed here, once). */
function perImage(frames, hatsOf, b) {
  const { k, minArea } = point(b.p);
  return frames.map((f, i) => scoreMask(f, response(CH[b.c], hatsOf(i)), k, minArea));
}
const testHats = test.map((f) => new Map([...new Set([...CH[single.c].sizes, ...CH[multi.c].sizes])].map((s) => [s, blackhat(f, s).hat])));
const testSingle = perImage(test, (i) => testHats[i], single);
const testMulti = perImage(test, (i) => testHats[i], multi);
const trainSingle = perImage(train, (i) => trainHats[i], single);
const trainMulti = perImage(train, (i) => trainHats[i], multi);

/** F1 of summed counts, and a paired bootstrap over images of b − a. */
function paired(a, b) {
  const f1 = (cs, idx) => scores(idx.reduce((s, i) => addCounts(s, cs[i]), { ...ZERO_COUNTS })).f1 ?? 0;
  const idxAll = a.map((_, i) => i);
  const r = mulberry32(seed);
  const diffs = [];
  for (let d = 0; d < draws; d++) {
    const idx = idxAll.map(() => Math.floor(r() * a.length));
    diffs.push(f1(b, idx) - f1(a, idx));
  }
  diffs.sort((x, y) => x - y);
  const q = (p) => diffs[Math.min(draws - 1, Math.floor(p * draws))];
  return { a: f1(a, idxAll), b: f1(b, idxAll), lo: q(0.025), hi: q(0.975), ahead: diffs.filter((x) => x > 0).length / draws };
}
/** The source photographs of a DeepCrack crop (docs/tune.md, Why DeepCrack is lost): 111xx, 112xx, 113xx, 7Q3A or IMG (other sets' names group by their first three characters, which means nothing there). */
const sourceOf = (name) => /^(IMG|7Q3A)/.exec(name)?.[1] ?? `${name.slice(0, 3)}xx`;
/** F1 of each pick on each source of the frames: `source (n): single / multi`. */
function bySource(frames, a, b) {
  const groups = new Map();
  for (const [i, f] of frames.entries()) groups.set(sourceOf(f.name), [...(groups.get(sourceOf(f.name)) ?? []), i]);
  const f1 = (cs, idx) => scores(idx.reduce((s, i) => addCounts(s, cs[i]), { ...ZERO_COUNTS })).f1 ?? 0;
  return [...groups]
    .sort(([x], [y]) => (x < y ? -1 : 1))
    .map(([src, idx]) => `${src} (${idx.length}): ${f1(a, idx).toFixed(3)} / ${f1(b, idx).toFixed(3)}`)
    .join(', ');
}
const onTrain = paired(trainSingle, trainMulti);
const onTest = paired(testSingle, testMulti);

// ranking on the training side: each channel's best point, and the best per combiner and set size
const ranked = CH.map((_, c) => ({ c, ...bestOf(sumOver(counts[c], all)) })).sort((a, b) => b.f1 - a.f1);
const f4 = (x) => x.toFixed(4);
const f3 = (x) => x.toFixed(3);
const testScores = (cs) => scores(cs.reduce((s, c) => addCounts(s, c), { ...ZERO_COUNTS }));
const ts = testScores(testSingle);
const tm = testScores(testMulti);

console.log(
  `${train.length} training, ${test.length} test images; ${CH.length} channels (${singles.length} single sizes, ${multis.length} combinations) × ${POINTS} points = ${CH.length * POINTS} on the training side (${searchS.toFixed(0)} s)\n`,
);
console.log('Best 12 channels on the training side (best point; pick CV at i mod 5):\n');
console.log('| channel | k | minArea | train F1 | pick CV F1 |\n|---|---|---|---|---|');
for (const r of ranked.slice(0, 12)) {
  const { k, minArea } = point(r.p);
  console.log(`| ${CH[r.c].name} | ${k} | ${minArea} | ${f4(r.f1)} | ${f4(crossValidated(counts, [r.c], modFold, train.length))} |`);
}
console.log('\nBest of each combiner and set size on the training side:\n');
console.log('| combiner | sizes | best channel | k | minArea | train F1 |\n|---|---|---|---|---|---|');
for (const combine of ['single', ...COMBINERS])
  for (const n of combine === 'single' ? [1] : [2, 3]) {
    const r = ranked.find((x) => CH[x.c].combine === combine && CH[x.c].sizes.length === n);
    const { k, minArea } = point(r.p);
    console.log(`| ${combine} | ${n} | ${CH[r.c].name} | ${k} | ${minArea} | ${f4(r.f1)} |`);
  }
console.log(`\nSingle-size pick: ${describe(single)}; multi-scale pick: ${describe(multi)}\n`);
console.log(
  `| detector | train F1 (${singles.length * POINTS}-point / ${multis.length * POINTS}-point grid) | pick CV F1 (i mod 5) | pick CV F1 (mean of ${repeats} random 5-fold) | family CV F1 (i mod 5) | family CV F1 (mean of ${repeats}) | test precision | test recall | test F1 |\n|---|---|---|---|---|---|---|---|---|`,
);
console.log(
  `| single size: ${describe(single)} | ${f4(single.f1)} | ${f4(cvMod.singlePick)} | ${f4(avg('singlePick'))} | ${f4(cvMod.singleFamily)} | ${f4(avg('singleFamily'))} | ${f3(ts.precision)} | ${f3(ts.recall)} | ${f4(ts.f1)} |`,
);
console.log(
  `| multi-scale: ${describe(multi)} | ${f4(multi.f1)} | ${f4(cvMod.multiPick)} | ${f4(avg('multiPick'))} | ${f4(cvMod.multiFamily)} | ${f4(avg('multiFamily'))} | ${f3(tm.precision)} | ${f3(tm.recall)} | ${f4(tm.f1)} |`,
);
console.log(
  `\nrandom 5-fold partitions where multi-scale is ahead: pick CV ${ahead('singlePick', 'multiPick')}/${repeats}, family CV ${ahead('singleFamily', 'multiFamily')}/${repeats}`,
);
for (const [side, r] of [
  ['training', onTrain],
  ['test', onTest],
])
  console.log(
    `paired bootstrap over ${side} images (${draws} draws), multi − single: ${f4(r.b - r.a)} (95 % interval ${f4(r.lo)} to ${f4(r.hi)}; multi ahead in ${f3(r.ahead)} of the draws)`,
  );
for (const [side, frames, a, b] of [
  ['training', train, trainSingle, trainMulti],
  ['test', test, testSingle, testMulti],
])
  console.log(`F1 by source on the ${side} side, single / multi: ${bySource(frames, a, b)}`);
