/**
 * One evaluation of a recipe on frames held in memory: the recipe's full detector (both stages,
 * on the backend's device) over batches of equal-size frames, each image's defect mask keeping
 * only the components the recipe keeps as defects (at least components.minArea pixels), scored
 * against the truth with `kensa eval`'s pixel metrics. A sweep scores many thresholds (each with
 * several hysteresis ratios) and minimum areas from one response map per batch: the heavy stages
 * run once.
 */
import type { Backend } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { responseMap, responseRegions } from '../detect/classic.js';
import { detect, type ImageDetection } from '../detect/detector.js';
import { componentsOf, type ClassicRecipe, type Recipe } from '../detect/recipe.js';
import { templateTensor } from '../detect/template.js';
import { addCounts, components, pixelCounts, scores, withinDistance, ZERO_COUNTS, type MaskCounts } from '../eval/metrics.js';
import { invalidParameter } from '../validate.js';
import type { Frame, LabelledFrame } from './data.js';

export const METRICS = ['f1', 'iou'] as const;
export type Metric = (typeof METRICS)[number];

/** Frames per detector batch (of one size). */
const BATCH = 8;

/** Runs `each` on every batch of up to BATCH equal-size frames on the device, with the frames' indices. */
async function forBatches(backend: Backend, frames: readonly Frame[], each: (batch: Tensor, indices: number[]) => Promise<void>): Promise<void> {
  const groups = new Map<string, number[]>();
  frames.forEach((f, i) => {
    const key = `${f.width}×${f.height}:${f.dtype}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  for (const idx of groups.values()) {
    for (let s = 0; s < idx.length; s += BATCH) {
      const part = idx.slice(s, s + BATCH);
      const f0 = frames[part[0]!]!;
      const batch = await backend.framesToDevice(
        part.map((i) => frames[i]!.data),
        [part.length, 1, f0.height, f0.width],
        f0.dtype,
      );
      try {
        await each(batch, part);
      } finally {
        batch.dispose();
      }
    }
  }
}

/** The recipe's detection of every frame (masks included), in the frames' order. */
export async function detectFrames(backend: Backend, frames: readonly Frame[], recipe: Recipe): Promise<ImageDetection[]> {
  const out: ImageDetection[] = new Array(frames.length);
  await forBatches(backend, frames, async (batch, part) => {
    const dets = await detect(batch, recipe, true);
    for (const [k, i] of part.entries()) out[i] = dets[k]!;
  });
  return out;
}

/** The mask without its components of fewer than `minArea` pixels (what the recipe drops before calling them defects). */
export function keptMask(mask: Uint8Array, width: number, height: number, minArea: number, connectivity: 4 | 8): Uint8Array {
  const out = new Uint8Array(mask.length);
  if (minArea <= 1) {
    for (let i = 0; i < mask.length; i++) out[i] = mask[i] ? 255 : 0;
    return out;
  }
  const seen = new Uint8Array(mask.length);
  const stack = new Int32Array(mask.length);
  const members: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    members.length = 0;
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const p = stack[--top]!;
      members.push(p);
      const y = (p / width) | 0;
      const x = p - y * width;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          if ((dx === 0 && dy === 0) || (connectivity === 4 && dx !== 0 && dy !== 0)) continue;
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || xx < 0 || yy >= height || xx >= width) continue;
          const q = yy * width + xx;
          if (mask[q] && !seen[q]) {
            seen[q] = 1;
            stack[top++] = q;
          }
        }
    }
    if (members.length >= minArea) for (const p of members) out[p] = 255;
  }
  return out;
}

/** The metric's value from summed counts (0 where it is undefined: nothing predicted and nothing true counts as no evidence). */
export function metricOf(counts: MaskCounts, metric: Metric): number {
  const s = scores(counts);
  return (metric === 'f1' ? s.f1 : s.iou) ?? 0;
}

/** Each truth mask's pixels within a tolerance (every candidate compares with the same truth). */
const nearCache = new WeakMap<Uint8Array, { tolerance: number; near: Uint8Array }>();
function nearTruth(f: LabelledFrame, tolerance: number): Uint8Array {
  const hit = nearCache.get(f.truth);
  if (hit?.tolerance === tolerance) return hit.near;
  const near = withinDistance(f.truth, f.width, f.height, tolerance);
  nearCache.set(f.truth, { tolerance, near });
  return near;
}

/** Pixel counts of one kept mask against its frame's truth. */
const countsOf = (mask: Uint8Array, f: LabelledFrame, tolerance: number) => pixelCounts(mask, f.truth, f.width, f.height, tolerance, nearTruth(f, tolerance));

/** Pixel counts (the object counts 0) of the recipe's kept defect masks against the truth, summed over the frames (micro-averaged). */
export async function recipeCounts(backend: Backend, frames: readonly LabelledFrame[], recipe: Recipe, tolerance: number): Promise<MaskCounts> {
  const dets = await detectFrames(backend, frames, recipe);
  let counts: MaskCounts = { ...ZERO_COUNTS };
  frames.forEach((f, i) => {
    const { minArea, connectivity } = componentsOf(recipe);
    const mask = keptMask(dets[i]!.mask!, f.width, f.height, minArea, connectivity);
    counts = addCounts(counts, countsOf(mask, f, tolerance));
  });
  return counts;
}

/** Threshold values, hysteresis ratios and minimum areas a sweep tries. */
export interface SweepGrid {
  thresholds: readonly number[];
  /** threshold.hysteresis ratios tried at every threshold value (1 = off). */
  hysteresis: readonly number[];
  minAreas: readonly number[];
}

/** A threshold setting of a sweep: the value and the hysteresis ratio (1 = off). */
export interface SweepLevel {
  value: number;
  hysteresis: number;
}

/** The grid's threshold settings, each value with each ratio: the order of the counts' second index. */
export function sweepLevels(grid: SweepGrid): SweepLevel[] {
  return grid.thresholds.flatMap((value) => grid.hysteresis.map((hysteresis) => ({ value, hysteresis })));
}

/** The recipe's threshold section at a sweep level: a ratio of 1 leaves hysteresis out (off, as in a recipe that never had it). */
export function thresholdAt(section: ClassicRecipe['threshold'], level: SweepLevel): ClassicRecipe['threshold'] {
  const out: ClassicRecipe['threshold'] = { ...section, value: level.value, hysteresis: level.hysteresis };
  if (level.hysteresis === 1) delete out.hysteresis;
  return out;
}

/**
 * Whether the recipe's response map is the same whatever its threshold.value (a relative
 * threshold, or no local contrast, whose scores are in threshold units): only then may one map be
 * thresholded at many values.
 */
export function sweepsThresholds(r: ClassicRecipe): boolean {
  return r.threshold.mode === 'relative' || r.contrast.background === 0;
}

/**
 * counts[i][t][a]: frame i's pixel counts of the recipe at threshold setting sweepLevels(grid)[t]
 * (threshold.value and threshold.hysteresis) and components.minArea = grid.minAreas[a]. The heavy
 * stages (denoise, gradients, contrast, hats) run once per batch; each setting then runs the
 * threshold (or hysteresis), closing and hole filling on that map, and each minimum area only
 * filters its components' areas.
 */
export async function sweepImageCounts(
  backend: Backend,
  frames: readonly LabelledFrame[],
  recipe: ClassicRecipe,
  grid: SweepGrid,
  tolerance: number,
): Promise<MaskCounts[][][]> {
  if (!grid.thresholds.length || !grid.hysteresis.length || !grid.minAreas.length)
    throw invalidParameter(
      'grid',
      'at least one threshold, one hysteresis ratio and one minimum area',
      `${grid.thresholds.length}, ${grid.hysteresis.length} and ${grid.minAreas.length}`,
    );
  if (grid.thresholds.length > 1 && !sweepsThresholds(recipe))
    throw invalidParameter(
      'grid.thresholds',
      "one value for a recipe whose local contrast depends on it (threshold.mode 'absolute' with contrast.background > 0)",
      grid.thresholds.length,
    );
  const counts: MaskCounts[][][] = new Array(frames.length);
  const { connectivity } = recipe.components;
  await forBatches(backend, frames, async (batch, part) => {
    const template = await templateTensor(batch, recipe);
    using response = responseMap(batch, recipe, template);
    for (const [t, level] of sweepLevels(grid).entries()) {
      const payloads = await responseRegions(response, { ...recipe, threshold: thresholdAt(recipe.threshold, level) }, true);
      for (const [k, i] of part.entries()) {
        const f = frames[i]!;
        const { labels, count } = components(payloads[k]!.mask!, f.width, f.height, connectivity);
        const areas = new Int32Array(count + 1);
        for (const l of labels) areas[l]!++;
        counts[i] ??= [];
        counts[i]![t] = grid.minAreas.map((minArea) => {
          const kept = new Uint8Array(labels.length);
          for (let p = 0; p < labels.length; p++) if (labels[p] && areas[labels[p]!]! >= minArea) kept[p] = 255;
          return countsOf(kept, f, tolerance);
        });
      }
    }
  });
  return counts;
}

/** counts[t][a] of sweepImageCounts summed over the frames (micro-averaged): equal to recipeCounts of each grid point's recipe. */
export async function sweepCounts(
  backend: Backend,
  frames: readonly LabelledFrame[],
  recipe: ClassicRecipe,
  grid: SweepGrid,
  tolerance: number,
): Promise<MaskCounts[][]> {
  return sumImages(await sweepImageCounts(backend, frames, recipe, grid, tolerance), grid);
}

/** Per-image sweep counts summed over the images listed (all of them when `images` is absent). */
export function sumImages(perImage: readonly MaskCounts[][][], grid: SweepGrid, images?: readonly number[]): MaskCounts[][] {
  const sum = sweepLevels(grid).map(() => grid.minAreas.map(() => ({ ...ZERO_COUNTS })));
  for (const i of images ?? perImage.keys())
    for (const [t, row] of sum.entries()) for (const a of row.keys()) row[a] = addCounts(row[a]!, perImage[i]![t]![a]!);
  return sum;
}

/** The recipe's score on the frames. */
export async function scoreRecipe(backend: Backend, frames: readonly LabelledFrame[], recipe: Recipe, metric: Metric, tolerance: number): Promise<number> {
  return metricOf(await recipeCounts(backend, frames, recipe, tolerance), metric);
}
