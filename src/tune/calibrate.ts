/**
 * Calibration from defect-free images: the recipe runs once on them, and the verdict's minScore
 * is set so that at most the target share of them is judged NG. An image is NG when more than
 * verdict.maxDefects of its defects score at least minScore, so its critical score is its
 * (maxDefects + 1)-th highest defect score (0 when it has fewer defects: never NG); minScore goes
 * halfway between the highest critical score allowed to stay NG and the next one up. Fewer than
 * target · n may stay NG: as many as keep the rate on new good images under the target with 90 %
 * confidence (allowedNg), so a held-out check meets the target instead of missing it half the time. The pixel
 * threshold is left alone: the masks still show every candidate, the verdict decides.
 */
import type { Backend } from '../backend.js';
import { parseRecipe, type LoadedRecipe } from '../detect/recipe.js';
import type { ImageDetection } from '../detect/detector.js';
import { KensaError } from '../errors.js';
import { invalidParameter, numberInRange } from '../validate.js';
import type { Frame } from './data.js';
import { detectFrames } from './score.js';

/** The score at which the image turns NG (0: it never does); only defects that pass a background verdict rule count. */
export function criticalScore(d: ImageDetection, maxDefects: number): number {
  const s = d.defects
    .filter((_, i) => d.counted?.[i] ?? true)
    .map((x) => x.score)
    .sort((a, b) => b - a);
  return s[maxDefects] ?? 0;
}

/**
 * How sure calibration is that the false-NG rate on new good images stays at or under the
 * target. Leaving the k highest of n critical scores NG, the rate on new images exceeds t with
 * probability P(Binomial(n, t) ≤ k), whatever the scores' distribution (the threshold is an order
 * statistic); the plain quantile (k = t · n) exceeds it about half the time.
 */
const CONFIDENCE = 0.9;

/** The most of n calibration images that may stay NG so that the rate on new images is ≤ target with CONFIDENCE (at least 0). */
export function allowedNg(n: number, target: number): number {
  if (target >= 1) return n;
  if (target <= 0) return 0;
  let logPmf = n * Math.log1p(-target);
  const odds = Math.log(target / (1 - target));
  let cdf = 0;
  let k = -1;
  for (let j = 0; j <= n; j++) {
    cdf += Math.exp(logPmf);
    if (cdf > 1 - CONFIDENCE) break;
    k = j;
    logPmf += Math.log((n - j) / (j + 1)) + odds;
  }
  return Math.max(0, k);
}

/** The smallest minScore ≥ `floor` that leaves at most allowedNg(n, target) of the critical scores NG (≥ minScore). */
export function minScoreFor(critical: readonly number[], target: number, floor: number): number {
  const s = critical.filter((c) => c > 0).sort((a, b) => b - a);
  const allowed = allowedNg(critical.length, target);
  if (s.length <= allowed) return floor;
  const stay = s[allowed]!; // the highest score that must be judged OK
  const above = s
    .slice(0, allowed)
    .filter((c) => c > stay)
    .at(-1);
  return Math.max(floor, above === undefined ? stay * 1.05 + 1e-6 : (stay + above) / 2);
}

export interface Calibration {
  recipe: LoadedRecipe;
  minScore: number;
  /** Share of the calibration images judged NG by the calibrated recipe. */
  falseNgRate: number;
  /** Calibration images with enough defects to be NG at some minScore (0: minScore stays the base's). */
  flagged: number;
}

/** Calibrates `base` on defect-free frames for a target false-NG rate (0 … 1). */
export async function calibrate(backend: Backend, good: readonly Frame[], base: LoadedRecipe, targetFalseNg: number): Promise<Calibration> {
  const target = numberInRange('targetFalseNg', targetFalseNg, 0, 1);
  if (!good.length) throw new KensaError('KENSA_ERR_TUNE_DATA', 'No defect-free images to calibrate on');
  const r = base.recipe;
  if (r.kind !== 'classic') throw invalidParameter('recipe', 'a classic recipe (calibration sets its verdict.minScore)', r.kind);
  const dets = await detectFrames(backend, good, r);
  const critical = dets.map((d) => criticalScore(d, r.verdict.maxDefects));
  const minScore = minScoreFor(critical, target, r.verdict.minScore);
  const recipe = parseRecipe({ ...r, verdict: { ...r.verdict, minScore } }, 'calibrated recipe');
  const flagged = critical.filter((c) => c > 0).length;
  return { recipe, minScore, falseNgRate: critical.filter((c) => c > 0 && c >= minScore).length / good.length, flagged };
}

/** Share of the frames the recipe judges NG. */
export async function falseNgRate(backend: Backend, good: readonly Frame[], recipe: LoadedRecipe): Promise<number> {
  const dets = await detectFrames(backend, good, recipe.recipe);
  return dets.filter((d) => d.verdict === 'NG').length / good.length;
}
