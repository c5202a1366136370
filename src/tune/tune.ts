/**
 * Tuning with a held-out split: the labelled images are split by name (split.ts), the search
 * receives only the tuning side, and the held-out side scores the winner and the base recipe
 * once, at the end. With k folds instead, every image is held out once: k searches each run
 * without one fold and their winners score the fold they never saw (the counts of the k folds
 * pooled: the held-out score of the tuning procedure), and the recipe written is a last search's
 * on every image, so no labelled image is spent on the estimate alone. The tuned recipe carries
 * its provenance: the data's hash, the metric, both held-out scores, the budget and the seed.
 * Calibration from good images splits the same way and reports the false-NG rate on the
 * held-out good images.
 */
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { Backend } from '../backend.js';
import { parseRecipe, type LoadedRecipe } from '../detect/recipe.js';
import { addCounts, ZERO_COUNTS, type MaskCounts } from '../eval/metrics.js';
import { integerInRange, numberInRange } from '../validate.js';
import { calibrate, falseNgRate } from './calibrate.js';
import { dataHash, type Frame, type LabelledFrame } from './data.js';
import { metricOf, recipeCounts, scoreRecipe } from './score.js';
import { searchRecipe, type SearchOptions, type SearchResult } from './search.js';
import { foldSplit, holdoutSplit } from './split.js';

export interface TuneOptions extends SearchOptions {
  /** Share of the images held out (by name hash), 0.05 … 0.95; unused with `folds`. */
  holdout: number;
  /** K-fold cross-validation (2 … 20) instead of one held-out share: k + 1 searches, the recipe from the one on every image. */
  folds?: number;
}

export type TuneResult =
  | {
      aborted: false;
      recipe: LoadedRecipe;
      trainScore: number;
      /** The winner's cross-validated score on the tuning images (what chose it). */
      cvScore: number;
      heldOutScore: number;
      baseHeldOutScore: number;
      /** The images the recipe was searched on, and those the held-out score was measured on (with folds: all, each by a search that did not see it). */
      train: string[];
      heldOut: string[];
      /** With folds: k and each fold's score (by the search without it); else null and []. */
      folds: number | null;
      foldScores: number[];
      evaluations: number;
      /** Successive-halving rungs run; `evaluations` counts candidates × the rungs each reached. */
      rungs: number;
    }
  | { aborted: true; evaluations: number };

const round = (v: number) => Math.round(v * 1e4) / 1e4;

/** The recipe with a provenance record (any earlier one replaced). */
export function withProvenance(r: LoadedRecipe, provenance: Record<string, string | number | boolean | null>): LoadedRecipe {
  return parseRecipe({ ...r.recipe, provenance }, 'tuned recipe');
}

/** Searches on the tuning side of `frames`, scores on the held-out side (or, with `folds`, on each fold by a search without it). */
export async function tune(frames: readonly LabelledFrame[], o: TuneOptions): Promise<TuneResult> {
  if (o.folds !== undefined) return tuneFolds(frames, o, integerInRange('folds', o.folds, 2, 20));
  const holdout = numberInRange('holdout', o.holdout, 0.05, 0.95);
  const { train, heldOut } = holdoutSplit(frames, holdout, 'labelled images');
  const found = await searchRecipe(train, o);
  if (found.aborted) return found;
  const heldOutScore = await scoreRecipe(o.backend, heldOut, found.recipe.recipe, o.metric, o.tolerance);
  const baseHeldOutScore = await scoreRecipe(o.backend, heldOut, o.base.recipe, o.metric, o.tolerance);
  return result(frames, o, {
    found,
    train: train.map((f) => f.name),
    heldOut: heldOut.map((f) => f.name),
    split: `held out: the lowest sha256(name), those < ${holdout} · 2^32, at least 1, leaving at least 3 to tune on`,
    heldOutScore,
    baseHeldOutScore,
    folds: null,
    foldScores: [],
    evaluations: found.evaluations,
  });
}

/** What a tuning measured besides its search: the split, the held-out scores and the evaluations of every search. */
interface Measured {
  found: Extract<SearchResult, { aborted: false }>;
  train: string[];
  heldOut: string[];
  split: string;
  heldOutScore: number;
  baseHeldOutScore: number;
  folds: number | null;
  foldScores: number[];
  evaluations: number;
}

/** The tuning's result: the winner with its provenance. */
function result(frames: readonly LabelledFrame[], o: TuneOptions, m: Measured): TuneResult {
  const recipe = withProvenance(m.found.recipe, {
    tool: 'kensa tune',
    data: dataHash(frames),
    images: frames.length,
    heldOut: m.heldOut.length,
    ...(m.folds !== null ? { folds: m.folds } : {}),
    split: m.split,
    metric: o.metric,
    tolerance: o.tolerance,
    trainScore: round(m.found.score),
    cvScore: round(m.found.cvScore),
    heldOutScore: round(m.heldOutScore),
    ...(m.folds !== null ? { foldScores: m.foldScores.map(round).join(' ') } : {}),
    baseHeldOutScore: round(m.baseHeldOutScore),
    base: o.base.hash,
    budget: o.budget,
    seed: o.seed,
  });
  return {
    aborted: false,
    recipe,
    trainScore: m.found.score,
    cvScore: m.found.cvScore,
    heldOutScore: m.heldOutScore,
    baseHeldOutScore: m.baseHeldOutScore,
    train: m.train,
    heldOut: m.heldOut,
    folds: m.folds,
    foldScores: m.foldScores,
    evaluations: m.evaluations,
    rungs: m.found.rungs,
  };
}

/** Fold f's state file beside the search's own (`x.state.json` → `x.state.fold-f.json`). */
export function foldStatePath(statePath: string, fold: number): string {
  return statePath.endsWith('.json') ? `${statePath.slice(0, -5)}.fold-${fold}.json` : `${statePath}.fold-${fold}`;
}

async function tuneFolds(frames: readonly LabelledFrame[], o: TuneOptions, k: number): Promise<TuneResult> {
  const folds = foldSplit(frames, k, 'labelled images');
  let pooled: MaskCounts = { ...ZERO_COUNTS };
  const foldScores: number[] = [];
  let evaluations = 0;
  const withStage = (stage: string): Pick<SearchOptions, 'onProgress'> => (o.onProgress ? { onProgress: (p) => o.onProgress!({ ...p, stage }) } : {});
  for (const [f, heldOut] of folds.entries()) {
    const found = await searchRecipe(
      frames.filter((x) => !heldOut.includes(x)),
      { ...o, ...withStage(`fold ${f + 1}/${k}`), ...(o.statePath ? { statePath: foldStatePath(o.statePath, f + 1) } : {}) },
    );
    evaluations += found.evaluations;
    if (found.aborted) return { aborted: true, evaluations };
    const counts = await recipeCounts(o.backend, heldOut, found.recipe.recipe, o.tolerance);
    foldScores.push(metricOf(counts, o.metric));
    pooled = addCounts(pooled, counts);
  }
  const found = await searchRecipe(frames, { ...o, ...withStage('every image') });
  evaluations += found.evaluations;
  if (found.aborted) return { aborted: true, evaluations };
  const names = frames.map((f) => f.name);
  return result(frames, o, {
    found,
    train: names,
    heldOut: names,
    split: `${k}-fold: the image of rank r by sha256(name) in fold r mod ${k}; each fold scored by the winner of a search without it, the folds' counts pooled; the recipe from a search on every image`,
    heldOutScore: metricOf(pooled, o.metric),
    // the base recipe is not tuned: its folds pooled are its score on every image
    baseHeldOutScore: await scoreRecipe(o.backend, frames, o.base.recipe, o.metric, o.tolerance),
    folds: k,
    foldScores,
    evaluations,
  });
}

export interface CalibrateResult {
  recipe: LoadedRecipe;
  minScore: number;
  trainFalseNg: number;
  heldOutFalseNg: number;
  baseHeldOutFalseNg: number;
  /** Good images calibrated on and held out. */
  trainImages: number;
  heldOutImages: number;
  /** Of the good images calibrated on, those with enough defects to be NG at some minScore. */
  flagged: number;
}

/** Calibrates on the tuning side of the good images, checks the false-NG rate on the held-out side. */
export async function calibrateHeldOut(
  backend: Backend,
  good: readonly Frame[],
  base: LoadedRecipe,
  targetFalseNg: number,
  holdout: number,
): Promise<CalibrateResult> {
  const { train, heldOut } = holdoutSplit(good, numberInRange('holdout', holdout, 0.05, 0.95), 'good images');
  const c = await calibrate(backend, train, base, targetFalseNg);
  const heldOutFalseNg = await falseNgRate(backend, heldOut, c.recipe);
  const baseHeldOutFalseNg = await falseNgRate(backend, heldOut, base);
  const prior = base.recipe.kind === 'classic' ? (base.recipe.provenance ?? {}) : {};
  const recipe = withProvenance(c.recipe, {
    ...prior,
    calibratedBy: 'kensa tune --good',
    goodData: dataHash(good),
    goodImages: good.length,
    goodHeldOut: heldOut.length,
    targetFalseNg: targetFalseNg,
    heldOutFalseNg: round(heldOutFalseNg),
  });
  return {
    recipe,
    minScore: c.minScore,
    trainFalseNg: c.falseNgRate,
    heldOutFalseNg,
    baseHeldOutFalseNg,
    trainImages: train.length,
    heldOutImages: heldOut.length,
    flagged: c.flagged,
  };
}

/** Writes the recipe as YAML, every field spelled out, with a comment saying where it came from. */
export async function writeRecipeYaml(path: string, r: LoadedRecipe, comment: string): Promise<void> {
  const head = comment
    .split('\n')
    .map((l) => `# ${l}`)
    .join('\n');
  await writeFile(path, `${head}\n${stringify(r.recipe)}`);
}
