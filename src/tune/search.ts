/**
 * The search: `budget` candidate recipes (the base recipe first, then quasi-random points of the
 * search space) scored by successive halving with η = 3: every candidate on a few images, the best
 * third on three times as many, and so on until the last few run on every tuning image; the best
 * of the last rung wins. Each evaluation is recorded in a state file as it completes, so an
 * interrupted search resumes where it stopped and, candidates and image subsets being fixed by
 * the seed, ends exactly where an uninterrupted one would. The search only ever receives the
 * tuning images: held-out scoring is the caller's (tune.ts).
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Backend } from '../backend.js';
import type { ClassicRecipe, LoadedRecipe } from '../detect/recipe.js';
import { KensaError } from '../errors.js';
import { mulberry32 } from '../rng.js';
import { integerInRange, invalidParameter, numberInRange } from '../validate.js';
import { dataHash, type LabelledFrame } from './data.js';
import { scoreRecipe, type Metric } from './score.js';
import { haltonPoint, MAX_DIMENSIONS } from './sequence.js';
import { candidate, CLASSIC_SPACE, type Dimension } from './space.js';

/** Each rung keeps this share (1/η) of its candidates and gives them η times the images. */
const ETA = 3;
/** The fewest images a rung scores on (fewer says little about a candidate). */
const MIN_IMAGES = 3;

export interface SearchProgress {
  evaluations: number;
  total: number;
  rung: number;
  rungs: number;
  /** Best score of the current rung so far. */
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
      /** The winner's score on every tuning image. */
      score: number;
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

/** The rungs: candidate counts falling by η and image counts rising by η, the last on every image. */
export function schedule(budget: number, images: number): Rung[] {
  const rungs: Rung[] = [];
  let c = budget;
  for (;;) {
    rungs.push({ candidates: c, images: 0 });
    if (c <= 1) break;
    c = Math.ceil(c / ETA);
    if (c === rungs.at(-1)!.candidates) break;
  }
  const n = rungs.length;
  for (const [k, r] of rungs.entries()) r.images = Math.min(images, Math.max(MIN_IMAGES, Math.ceil(images / ETA ** (n - 1 - k))));
  return rungs;
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
  version: 1;
  key: string;
  scores: Record<string, number>;
}

async function readState(path: string, key: string): Promise<State> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { version: 1, key, scores: {} };
  }
  let s: State;
  try {
    s = JSON.parse(text) as State;
  } catch (e) {
    throw new KensaError('KENSA_ERR_TUNE_STATE', `The tuning state ${path} is not JSON (${(e as Error).message}); delete it to start over`);
  }
  if (s.version !== 1 || s.key !== key || typeof s.scores !== 'object') {
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
  const recipeOf = (i: number): LoadedRecipe => (i === 0 ? o.base : candidate(base as ClassicRecipe, haltonPoint(i - 1, space.length, seed), space));

  const key = createHash('sha256')
    .update(JSON.stringify({ data: dataHash(train), base: o.base.hash, metric: o.metric, tolerance: o.tolerance, budget, seed, space }))
    .digest('hex');
  const state = o.statePath ? await readState(o.statePath, key) : { version: 1 as const, key, scores: {} };

  const total = rungs.reduce((s, r) => s + r.candidates, 0);
  const work = rungs.reduce((s, r) => s + r.candidates * r.images, 0);
  let evaluations = 0;
  let workDone = 0;
  let workTimed = 0;
  let timeMs = 0;
  let alive = Array.from({ length: budget }, (_, i) => i);
  let last: { i: number; score: number }[] = [];
  for (let k = 0; k < rungs.length; k++) {
    const rung = rungs[k]!;
    const images = order.slice(0, rung.images);
    const scored: { i: number; score: number }[] = [];
    for (const i of alive) {
      const id = `${k}/${i}`;
      let score = state.scores[id];
      if (score === undefined) {
        if (o.signal?.aborted) return { aborted: true, evaluations };
        const t = performance.now();
        score = await scoreRecipe(o.backend, images, recipeOf(i).recipe, o.metric, o.tolerance);
        timeMs += performance.now() - t;
        workTimed += rung.images;
        state.scores[id] = score;
        if (o.statePath) await writeState(o.statePath, state);
      }
      scored.push({ i, score });
      evaluations++;
      workDone += rung.images;
      const best = Math.max(...scored.map((s) => s.score));
      o.onProgress?.({
        evaluations,
        total,
        rung: k + 1,
        rungs: rungs.length,
        best,
        etaS: workTimed ? ((timeMs / workTimed) * (work - workDone)) / 1000 : null,
      });
    }
    // best first; ties go to the earlier candidate (the base recipe wins a tie)
    scored.sort((a, b) => b.score - a.score || a.i - b.i);
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
    recipe: recipeOf(winner.i),
    score: winner.score,
    baseScore: baseRun,
    evaluations,
    rungs: rungs.length,
    seen: order.slice(0, rungs.at(-1)!.images).map((f) => f.name),
  };
}
