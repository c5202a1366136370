/**
 * The search: `budget` candidate recipes (the base recipe first, then quasi-random points of the
 * search space) scored by successive halving with η = 3: every candidate on a few images, the best
 * third on three times as many, and so on until the last few run on every tuning image; the best
 * of the last rung wins. Candidates are ranked by their cross-validated score (crossValidated), not
 * by their best sweep point's score on the same images, which favours the largest sweeps. Each evaluation is recorded in a state file as it completes, so an
 * interrupted search resumes where it stopped and, candidates and image subsets being fixed by
 * the seed, ends exactly where an uninterrupted one would. The search only ever receives the
 * tuning images: held-out scoring is the caller's (tune.ts).
 *
 * The threshold, its hysteresis ratio and the minimum area cost no run of their own: each
 * candidate's response map is thresholded at every value of a grid, each with every hysteresis
 * ratio of another, and its components filtered at every minimum area of a third (score.ts
 * sweepImageCounts), and the candidate keeps its best triple. The grid of thresholds is k = 0.5 …
 * 6 standard deviations under a relative threshold, the space's threshold.value range without the
 * local contrast, and the candidate's own value otherwise (there the contrast's scores depend on
 * it); the ratios are 0.25, 0.5, 0.75 and 1 (off) under either. The base recipe (candidate 0)
 * keeps its own values.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Backend } from '../backend.js';
import { parseRecipe, type ClassicRecipe, type LoadedRecipe } from '../detect/recipe.js';
import { KensaError } from '../errors.js';
import { mulberry32 } from '../rng.js';
import { integerInRange, invalidParameter, numberInRange } from '../validate.js';
import { dataHash, type LabelledFrame } from './data.js';
import { addCounts, ZERO_COUNTS, type MaskCounts } from '../eval/metrics.js';
import { metricOf, sumImages, sweepImageCounts, sweepLevels, sweepsThresholds, thresholdAt, type Metric, type SweepGrid } from './score.js';
import { haltonPoint, MAX_DIMENSIONS } from './sequence.js';
import { anchors, BASELINE_ANCHORS, MULTISCALE_ANCHORS, candidate, CLASSIC_SPACE, valueAt, type Dimension } from './space.js';

/** Each rung keeps this share (1/η) of its candidates and gives them η times the images. */
const ETA = 3;
/** The fewest images a rung scores on (fewer says little about a candidate). */
const MIN_IMAGES = 3;
/** Relative thresholds a sweep tries: standard deviations above each image's mean. */
export const RELATIVE_THRESHOLDS: readonly number[] = [0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6];
/** Points of the absolute threshold's range a sweep tries, spread as the dimension samples. */
const SWEEP_POINTS = 10;
/** Folds of the cross-validation that ranks candidates (with fewer images, one image a fold). */
const FOLDS = 5;
/** Points of the hysteresis ratio's range a sweep tries, its ends (1 = off) among them. */
const HYSTERESIS_POINTS = 4;
/** Minimum areas a sweep tries (those inside the space's range): the OpenCV baseline's 1, 10, 40, 150 and 400 among them. */
export const SWEPT_MIN_AREAS: readonly number[] = [1, 4, 10, 20, 40, 80, 150, 250, 400, 700, 1200, 2000];

/** The sweep grid of a candidate: only the dimensions the space searches are swept. */
export function sweepGrid(r: ClassicRecipe, space: readonly Dimension[]): SweepGrid {
  const spread = (d: Dimension, points: number) => Array.from({ length: points }, (_, j) => valueAt(d, Math.min(j / (points - 1), 1 - 1e-9)) as number);
  const threshold = space.find((d) => d.path === 'threshold.value');
  const hysteresis = space.find((d) => d.path === 'threshold.hysteresis');
  const minArea = space.find((d) => d.path === 'components.minArea');
  const thresholds =
    !threshold || !sweepsThresholds(r) ? [r.threshold.value] : r.threshold.mode === 'relative' ? RELATIVE_THRESHOLDS : spread(threshold, SWEEP_POINTS);
  const minAreas = minArea ? SWEPT_MIN_AREAS.filter((a) => a >= minArea.min && a <= minArea.max) : [];
  return {
    thresholds: [...new Set(thresholds)],
    // the response map does not depend on the ratio: it is swept whatever the threshold mode
    hysteresis: hysteresis ? [...new Set(spread(hysteresis, HYSTERESIS_POINTS))] : [r.threshold.hysteresis ?? 1],
    minAreas: minAreas.length ? minAreas : [r.components.minArea],
  };
}

/** The grid point whose summed counts score best (the first best in grid order) and its score. */
function bestPoint(counts: readonly MaskCounts[][], metric: Metric): { score: number; t: number; a: number } {
  let best = { score: -1, t: 0, a: 0 };
  for (const [t, row] of counts.entries())
    for (const [a, c] of row.entries()) {
      const score = metricOf(c, metric);
      if (score > best.score) best = { score, t, a };
    }
  return best;
}

/**
 * The cross-validated score of a swept candidate from its per-image counts (perImage[i][t][a]):
 * image i is in fold i mod 5 (fewer than 5 images: one a fold), each fold is scored at the grid
 * point that is best on the other folds, and the folds' counts are summed. The best point's score
 * on all the images is optimistic by the choice among the grid's points, the more so the more
 * points; this is not, so a candidate with a large sweep competes fairly with one without (the
 * base recipe, whose two scores are equal). One image: its best point's score.
 */
export function crossValidated(perImage: readonly MaskCounts[][][], grid: SweepGrid, metric: Metric): number {
  const folds = Math.min(FOLDS, perImage.length);
  if (folds < 2) return bestPoint(sumImages(perImage, grid), metric).score;
  let total: MaskCounts = { ...ZERO_COUNTS };
  for (let k = 0; k < folds; k++) {
    const others = [...perImage.keys()].filter((i) => i % folds !== k);
    const { t, a } = bestPoint(sumImages(perImage, grid, others), metric);
    for (let i = k; i < perImage.length; i += folds) total = addCounts(total, perImage[i]![t]![a]!);
  }
  return metricOf(total, metric);
}

/** The candidate's best threshold setting and minimum area on `images`, its score there, and its cross-validated score (what ranks it). */
async function sweptScore(
  o: SearchOptions,
  images: readonly LabelledFrame[],
  r: ClassicRecipe,
  grid: SweepGrid,
): Promise<{ score: number; cv: number; pick: Pick }> {
  const perImage = await sweepImageCounts(o.backend, images, r, grid, o.tolerance);
  const best = bestPoint(sumImages(perImage, grid), o.metric);
  const level = sweepLevels(grid)[best.t]!;
  return { score: best.score, cv: crossValidated(perImage, grid, o.metric), pick: [level.value, level.hysteresis, grid.minAreas[best.a]!] };
}

/** A swept threshold value, hysteresis ratio (1 = off) and minimum area. */
type Pick = [number, number, number];

/** The recipe with a swept threshold setting and minimum area. */
function picked(r: LoadedRecipe, pick: Pick | undefined): LoadedRecipe {
  const c = r.recipe as ClassicRecipe;
  if (!pick || (pick[0] === c.threshold.value && pick[1] === (c.threshold.hysteresis ?? 1) && pick[2] === c.components.minArea)) return r;
  const threshold = thresholdAt(c.threshold, { value: pick[0], hysteresis: pick[1] });
  return parseRecipe({ ...c, threshold, components: { ...c.components, minArea: pick[2] } }, 'tuned recipe');
}

export interface SearchProgress {
  /** Which search this is, where a tuning runs several (k-fold: "fold 2/5", "every image"). */
  stage?: string;
  evaluations: number;
  total: number;
  rung: number;
  rungs: number;
  /** Best cross-validated score of the current rung so far. */
  best: number;
  /** Seconds left, from the image-evaluations done so far (null before the first). */
  etaS: number | null;
}

export interface SearchOptions {
  backend: Backend;
  base: LoadedRecipe;
  metric: Metric;
  tolerance: number;
  /** Candidate recipes, the base one included: 1 … 100,000. */
  budget: number;
  /** Integer 0 … 2³²−1. */
  seed: number;
  /** The parameters searched (default CLASSIC_SPACE: every one; a subset keeps the others at the base recipe's values). */
  space?: readonly Dimension[];
  /** A JSON file recording every evaluation: an interrupted search resumes from it. */
  statePath?: string;
  signal?: AbortSignal;
  onProgress?: (p: SearchProgress) => void;
}

export type SearchResult =
  | {
      aborted: false;
      recipe: LoadedRecipe;
      /** The winner's score on every tuning image (at its best threshold and minimum area there). */
      score: number;
      /** The winner's cross-validated score on them (what chose it; crossValidated). */
      cvScore: number;
      /** The base recipe's score on every tuning image (when it reached the last rung), else on the most it ran on. */
      baseScore: number;
      evaluations: number;
      /** Successive-halving rungs run (each evaluation is one candidate on one rung). */
      rungs: number;
      /** Names of the images the search ran recipes on. */
      seen: string[];
    }
  | { aborted: true; evaluations: number };

interface Rung {
  /** Candidates evaluated on this rung. */
  candidates: number;
  /** Leading images of the shuffled order used. */
  images: number;
}

/**
 * The rungs: as many as the images allow from MIN_IMAGES up by η (log_η(images / MIN_IMAGES) + 1),
 * candidates falling by η and images rising by η, the last on every image with budget / η^(rungs−1)
 * candidates still in it (its best wins). Fewer rungs when the candidates run out first.
 */
export function schedule(budget: number, images: number): Rung[] {
  let n = 1;
  while (MIN_IMAGES * ETA ** n <= images && Math.ceil(budget / ETA ** (n - 1)) > 1) n++;
  return Array.from({ length: n }, (_, k) => ({
    candidates: Math.ceil(budget / ETA ** k),
    images: Math.min(images, Math.max(MIN_IMAGES, Math.ceil(images / ETA ** (n - 1 - k)))),
  }));
}

/**
 * The images in a seeded order whose every prefix holds defective and defect-free images in their
 * overall proportion (each class shuffled, then interleaved), so a rung's few images are never all
 * clean (where every candidate scores 0 and the rung decides nothing). Rungs use its prefixes.
 */
export function stratifiedOrder(train: readonly LabelledFrame[], seed: number): LabelledFrame[] {
  const rng = mulberry32(seed);
  const byName = [...train].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const classes = [byName.filter((f) => f.truth.some((v) => v !== 0)), byName.filter((f) => !f.truth.some((v) => v !== 0))];
  const keyed: { f: LabelledFrame; key: number }[] = [];
  classes.forEach((c, k) => {
    for (let i = c.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [c[i], c[j]] = [c[j]!, c[i]!];
    }
    // defective images first at equal keys
    for (const [i, f] of c.entries()) keyed.push({ f, key: (i + 0.5) / c.length + k * 1e-9 });
  });
  return keyed.sort((a, b) => a.key - b.key).map((x) => x.f);
}

interface State {
  version: 5;
  key: string;
  scores: Record<string, number>;
  /** The cross-validated score of each evaluation (what ranks it). */
  cv: Record<string, number>;
  /** The swept threshold value, hysteresis ratio and minimum area of each evaluation. */
  picks: Record<string, Pick>;
}

async function readState(path: string, key: string): Promise<State> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { version: 5, key, scores: {}, cv: {}, picks: {} };
  }
  let s: State;
  try {
    s = JSON.parse(text) as State;
  } catch (e) {
    throw new KensaError('KENSA_ERR_TUNE_STATE', `The tuning state ${path} is not JSON (${(e as Error).message}); delete it to start over`);
  }
  if (s.version !== 5 || s.key !== key || typeof s.scores !== 'object' || typeof s.cv !== 'object' || typeof s.picks !== 'object') {
    throw new KensaError(
      'KENSA_ERR_TUNE_STATE',
      `The tuning state ${path} belongs to another search (other images, recipe, metric, budget or seed); delete it to start over`,
    );
  }
  return s;
}

async function writeState(path: string, s: State): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(s));
  await rename(`${path}.tmp`, path);
}

/** Runs the search on the tuning images `train`. */
export async function searchRecipe(train: readonly LabelledFrame[], o: SearchOptions): Promise<SearchResult> {
  const budget = integerInRange('budget', o.budget, 1, 100_000);
  const seed = integerInRange('seed', o.seed, 0, 0xffffffff);
  numberInRange('tolerance', o.tolerance, 0, 100);
  if (o.base.recipe.kind !== 'classic') throw invalidParameter('recipe', 'a classic recipe (tune searches the classic parameters)', o.base.recipe.kind);
  if (o.base.recipe.input.scale !== 1) throw invalidParameter('recipe input.scale', '1 (tune scores masks at full resolution)', o.base.recipe.input.scale);
  if (!train.length) throw new KensaError('KENSA_ERR_TUNE_DATA', 'No tuning images');
  const base = o.base.recipe;

  const order = stratifiedOrder(train, seed);
  const rungs = schedule(budget, order.length);
  const space = o.space ?? CLASSIC_SPACE;
  if (space.length > MAX_DIMENSIONS) throw invalidParameter('space', `at most ${MAX_DIMENSIONS} dimensions`, space.length);
  // the base recipe, then the baseline's recipes, then quasi-random points
  const anchored = anchors(base as ClassicRecipe, space);
  const recipeOf = (i: number): LoadedRecipe =>
    i === 0
      ? o.base
      : i <= anchored.length
        ? anchored[i - 1]!
        : candidate(base as ClassicRecipe, haltonPoint(i - 1 - anchored.length, space.length, seed), space);

  const key = createHash('sha256')
    .update(
      JSON.stringify({
        data: dataHash(train),
        base: o.base.hash,
        metric: o.metric,
        tolerance: o.tolerance,
        budget,
        seed,
        space,
        RELATIVE_THRESHOLDS,
        HYSTERESIS_POINTS,
        SWEPT_MIN_AREAS,
        BASELINE_ANCHORS,
        MULTISCALE_ANCHORS,
      }),
    )
    .digest('hex');
  const state: State = o.statePath ? await readState(o.statePath, key) : { version: 5, key, scores: {}, cv: {}, picks: {} };

  const total = rungs.reduce((s, r) => s + r.candidates, 0);
  const work = rungs.reduce((s, r) => s + r.candidates * r.images, 0);
  let evaluations = 0;
  let workDone = 0;
  let workTimed = 0;
  let timeMs = 0;
  let alive = Array.from({ length: budget }, (_, i) => i);
  let last: { i: number; cv: number }[] = [];
  for (let k = 0; k < rungs.length; k++) {
    const rung = rungs[k]!;
    const images = order.slice(0, rung.images);
    const scored: { i: number; cv: number }[] = [];
    for (const i of alive) {
      const id = `${k}/${i}`;
      let cv = state.cv[id];
      if (cv === undefined) {
        if (o.signal?.aborted) return { aborted: true, evaluations };
        const t = performance.now();
        const r = recipeOf(i).recipe as ClassicRecipe;
        const swept = await sweptScore(
          o,
          images,
          r,
          i === 0 ? { thresholds: [r.threshold.value], hysteresis: [r.threshold.hysteresis ?? 1], minAreas: [r.components.minArea] } : sweepGrid(r, space),
        );
        cv = swept.cv;
        timeMs += performance.now() - t;
        workTimed += rung.images;
        state.scores[id] = swept.score;
        state.cv[id] = swept.cv;
        state.picks[id] = swept.pick;
        if (o.statePath) await writeState(o.statePath, state);
      }
      scored.push({ i, cv });
      evaluations++;
      workDone += rung.images;
      const best = Math.max(...scored.map((s) => s.cv));
      o.onProgress?.({
        evaluations,
        total,
        rung: k + 1,
        rungs: rungs.length,
        best,
        etaS: workTimed ? ((timeMs / workTimed) * (work - workDone)) / 1000 : null,
      });
    }
    // best cross-validated score first; ties go to the earlier candidate (the base recipe wins a tie)
    scored.sort((a, b) => b.cv - a.cv || a.i - b.i);
    last = scored;
    alive = scored.slice(0, rungs[k + 1]?.candidates ?? 1).map((s) => s.i);
  }
  const winner = last[0]!;
  const baseRun = [...rungs.keys()]
    .reverse()
    .map((k) => state.scores[`${k}/0`])
    .find((s) => s !== undefined)!;
  return {
    aborted: false,
    recipe: picked(recipeOf(winner.i), state.picks[`${rungs.length - 1}/${winner.i}`]),
    score: state.scores[`${rungs.length - 1}/${winner.i}`]!,
    cvScore: winner.cv,
    baseScore: baseRun,
    evaluations,
    rungs: rungs.length,
    seen: order.slice(0, rungs.at(-1)!.images).map((f) => f.name),
  };
}
