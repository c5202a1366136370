/**
 * One evaluation of a recipe on frames held in memory: the recipe's full detector (both stages,
 * on the backend's device) over batches of equal-size frames, each image's defect mask keeping
 * only the components the recipe keeps as defects (at least components.minArea pixels), scored
 * against the truth with `kensa eval`'s pixel metrics.
 */
import type { Backend } from '../backend.js';
import { detect, type ImageDetection } from '../detect/detector.js';
import { componentsOf, type Recipe } from '../detect/recipe.js';
import { addCounts, compareMasks, scores, ZERO_COUNTS, type MaskCounts } from '../eval/metrics.js';
import type { Frame, LabelledFrame } from './data.js';

export const METRICS = ['f1', 'iou'] as const;
export type Metric = (typeof METRICS)[number];

/** Frames per detector batch (of one size). */
const BATCH = 8;

/** The recipe's detection of every frame (masks included), in the frames' order. */
export async function detectFrames(backend: Backend, frames: readonly Frame[], recipe: Recipe): Promise<ImageDetection[]> {
  const out: ImageDetection[] = new Array(frames.length);
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
        const dets = await detect(batch, recipe, true);
        for (const [k, i] of part.entries()) out[i] = dets[k]!;
      } finally {
        batch.dispose();
      }
    }
  }
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

/** Counts of the recipe's kept defect masks against the truth, summed over the frames (micro-averaged). */
export async function recipeCounts(backend: Backend, frames: readonly LabelledFrame[], recipe: Recipe, tolerance: number): Promise<MaskCounts> {
  const dets = await detectFrames(backend, frames, recipe);
  let counts: MaskCounts = { ...ZERO_COUNTS };
  frames.forEach((f, i) => {
    const { minArea, connectivity } = componentsOf(recipe);
    const mask = keptMask(dets[i]!.mask!, f.width, f.height, minArea, connectivity);
    counts = addCounts(counts, compareMasks(mask, f.truth, f.width, f.height, tolerance));
  });
  return counts;
}

/** The recipe's score on the frames. */
export async function scoreRecipe(backend: Backend, frames: readonly LabelledFrame[], recipe: Recipe, metric: Metric, tolerance: number): Promise<number> {
  return metricOf(await recipeCounts(backend, frames, recipe, tolerance), metric);
}
