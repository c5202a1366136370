/**
 * Scores predicted defect masks against ground truth, image by image and overall
 * (micro-averaged: rates from counts summed over the images). Every truth image is scored;
 * one without a prediction counts as an empty prediction and is listed in `missing`;
 * predictions without truth are listed in `unmatched`; a size mismatch, an unreadable file or
 * a name found twice becomes an `error` item (left out of the overall scores), and the
 * evaluation goes on.
 *
 * @example
 * const r = await evaluateMasks('out/masks', 'samples', { tolerance: 2 });
 * r.overall.scores.f1;
 * // from a run's results: a producer of (name, mask) pairs
 * await evaluateMasks(async function* () { for (const it of items) yield { name: it.name, mask: it.mask }; }, 'samples');
 */
import { KensaError } from '../errors.js';
import { integerInRange, invalidParameter, numberInRange } from '../validate.js';
import { checkMask, listMaskFolder, readMask, type Mask, type MaskSource, type NamedMask } from './masks.js';
import { addCounts, compareMasks, keptPixels, scores, ZERO_COUNTS, type MaskCounts, type MaskScores } from './metrics.js';

export interface EvaluateOptions {
  /** Tolerance radius in pixels (Euclidean), 0 … 100 (default 2). */
  tolerance?: number;
  /** Mask files: a pixel is a defect when above this value, 0 … 254 (default 0: any non-zero value). */
  threshold?: number;
  /**
   * For the image-level score (`keptArea`): predicted components (`connectivity`-connected)
   * smaller than this many pixels don't count, as inspect's verdict ignores those below the
   * recipe's components.minArea, 1 … 100000000 (default 1: every predicted pixel counts). The
   * pixel metrics score the whole mask.
   */
  minArea?: number;
  /** Connectivity of the predicted components for `minArea`, 4 or 8 (default 8). */
  connectivity?: 4 | 8;
  /** Mask pairs read ahead while one is scored, 1 … 64 (default 4). */
  readAhead?: number;
}

export type ImageEvaluation =
  | {
      name: string;
      /** scored: prediction vs truth; missing: no prediction, scored as an empty one. */
      status: 'scored' | 'missing';
      width: number;
      height: number;
      counts: MaskCounts;
      scores: MaskScores;
      /** Predicted pixels in components of at least `minArea` pixels: the image-level score. */
      keptArea: number;
    }
  | { name: string; status: 'error'; error: string };

export interface Evaluation {
  tolerance: number;
  distance: 'euclidean';
  /** Predicted components smaller than this don't count towards `keptArea` (1: all do). */
  minArea: number;
  /** One per truth image (and per error), sorted by name. */
  images: ImageEvaluation[];
  /** Micro-averaged over the scored and missing images. */
  overall: { images: number; counts: MaskCounts; scores: MaskScores };
  /** Truth images without a prediction. */
  missing: string[];
  /** Predictions without a truth mask (not scored). */
  unmatched: string[];
  /** Items that could not be scored. */
  errors: { name: string; error: string }[];
}

/** One truth image to score: its truth and, if there is one, its prediction. */
interface Pair {
  name: string;
  truth: () => Promise<Mask>;
  pred: (() => Promise<Mask>) | null;
  /** Known before reading (a duplicate name, a bad mask from a producer). */
  error?: string;
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Truth by name: a folder is listed, a producer read into memory (its masks are kept until scored). */
async function truthTable(truth: MaskSource, threshold: number) {
  const get = new Map<string, () => Promise<Mask>>();
  const errors = new Map<string, string>();
  if (typeof truth === 'string') {
    const f = listMaskFolder('truth', truth);
    for (const [name, path] of f.files) get.set(name, () => readMask(path, threshold));
    for (const [name, paths] of f.duplicates) errors.set(name, `truth found twice: ${paths.join(', ')}`);
  } else {
    for await (const item of truth()) {
      const bad = checkMask(item?.mask);
      if (get.has(item.name) || errors.has(item.name)) {
        get.delete(item.name);
        errors.set(item.name, 'truth yielded twice');
      } else if (bad) errors.set(item.name, `truth: ${bad}`);
      else get.set(item.name, () => Promise.resolve(item.mask));
    }
  }
  return { get, errors };
}

/** The pairs to score, and the predictions without truth. */
async function* pairs(pred: MaskSource, truth: MaskSource, threshold: number, unmatched: string[]): AsyncGenerator<Pair> {
  const t = await truthTable(truth, threshold);
  for (const [name, error] of t.errors) yield { name, truth: () => Promise.reject(new KensaError('KENSA_ERR_DECODE', error)), pred: null, error };
  if (typeof pred === 'string') {
    const p = listMaskFolder('pred', pred);
    for (const name of p.files.keys()) if (!t.get.has(name) && !t.errors.has(name)) unmatched.push(name);
    for (const name of p.duplicates.keys()) if (!t.get.has(name) && !t.errors.has(name)) unmatched.push(name);
    for (const [name, truthMask] of [...t.get].sort((a, b) => byName({ name: a[0] }, { name: b[0] }))) {
      const dup = p.duplicates.get(name);
      if (dup) yield { name, truth: truthMask, pred: null, error: `prediction found twice: ${dup.join(', ')}` };
      else {
        const path = p.files.get(name);
        yield { name, truth: truthMask, pred: path === undefined ? null : () => readMask(path, threshold) };
      }
    }
    return;
  }
  const seen = new Set<string>();
  for await (const item of pred() as AsyncIterable<NamedMask>) {
    const name = item?.name;
    if (typeof name !== 'string') {
      yield {
        name: String(name),
        truth: () => Promise.reject(new KensaError('KENSA_ERR_INVALID_ARGUMENT', 'bad name')),
        pred: null,
        error: `prediction without a string name (received ${String(name)})`,
      };
      continue;
    }
    const truthMask = t.get.get(name);
    if (t.errors.has(name)) continue; // reported once, above
    if (!truthMask) {
      if (!seen.has(name)) unmatched.push(name);
      seen.add(name);
      continue;
    }
    if (seen.has(name)) {
      yield { name, truth: truthMask, pred: null, error: 'prediction yielded twice' };
      continue;
    }
    seen.add(name);
    const bad = checkMask(item.mask);
    yield bad ? { name, truth: truthMask, pred: null, error: `prediction: ${bad}` } : { name, truth: truthMask, pred: () => Promise.resolve(item.mask) };
  }
  for (const [name, truthMask] of t.get) if (!seen.has(name)) yield { name, truth: truthMask, pred: null };
}

type Loaded = { name: string; error: string } | { name: string; truth: Mask; pred: Mask | null };

async function load(p: Pair): Promise<Loaded> {
  if (p.error !== undefined) return { name: p.name, error: p.error };
  const [truth, pred] = await Promise.all([
    p.truth().catch((e: unknown) => new KensaError('KENSA_ERR_DECODE', `truth: ${message(e)}`)),
    p.pred ? p.pred().catch((e: unknown) => new KensaError('KENSA_ERR_DECODE', `prediction: ${message(e)}`)) : Promise.resolve(null),
  ]);
  if (truth instanceof Error) return { name: p.name, error: truth.message };
  if (pred instanceof Error) return { name: p.name, error: pred.message };
  return { name: p.name, truth, pred };
}

/**
 * Scores `pred` against `truth`. Each is a folder of mask images or a producer of
 * `{ name, mask }`; a producer as truth is read into memory first, a producer as prediction is
 * consumed as it yields.
 */
export async function evaluateMasks(pred: MaskSource, truth: MaskSource, options: EvaluateOptions = {}): Promise<Evaluation> {
  const tolerance = numberInRange('tolerance', options.tolerance ?? 2, 0, 100);
  const threshold = integerInRange('threshold', options.threshold ?? 0, 0, 254);
  const readAhead = integerInRange('readAhead', options.readAhead ?? 4, 1, 64);
  const minArea = integerInRange('minArea', options.minArea ?? 1, 1, 100_000_000);
  const connectivity = options.connectivity ?? 8;
  if (connectivity !== 4 && connectivity !== 8) throw invalidParameter('connectivity', '4 or 8', connectivity);
  for (const [argument, source] of [
    ['pred', pred],
    ['truth', truth],
  ] as const) {
    if (typeof source !== 'string' && typeof source !== 'function')
      throw invalidParameter(argument, 'a folder path or a function yielding { name, mask }', source);
  }
  const images: ImageEvaluation[] = [];
  const unmatched: string[] = [];
  const queue: Promise<Loaded>[] = [];
  const score = (l: Loaded) => {
    if ('error' in l) {
      images.push({ name: l.name, status: 'error', error: l.error });
      return;
    }
    const { truth: t, pred: p } = l;
    if (p && (p.width !== t.width || p.height !== t.height)) {
      images.push({ name: l.name, status: 'error', error: `size mismatch: prediction ${p.width}×${p.height}, truth ${t.width}×${t.height}` });
      return;
    }
    const counts = compareMasks(p ? p.data : new Uint8Array(t.width * t.height), t.data, t.width, t.height, tolerance);
    const keptArea = p && minArea > 1 ? keptPixels(p.data, t.width, t.height, minArea, connectivity) : counts.predicted;
    images.push({ name: l.name, status: p ? 'scored' : 'missing', width: t.width, height: t.height, counts, scores: scores(counts), keptArea });
  };
  for await (const pair of pairs(pred, truth, threshold, unmatched)) {
    queue.push(load(pair));
    if (queue.length >= readAhead) score(await queue.shift()!);
  }
  while (queue.length) score(await queue.shift()!);

  images.sort(byName);
  let counts: MaskCounts = { ...ZERO_COUNTS };
  let n = 0;
  for (const im of images)
    if (im.status !== 'error') {
      counts = addCounts(counts, im.counts);
      n++;
    }
  return {
    tolerance,
    distance: 'euclidean',
    minArea,
    images,
    overall: { images: n, counts, scores: scores(counts) },
    missing: images.filter((i) => i.status === 'missing').map((i) => i.name),
    unmatched: unmatched.sort(),
    errors: images.flatMap((i) => (i.status === 'error' ? [{ name: i.name, error: i.error }] : [])),
  };
}
