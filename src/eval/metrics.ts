/**
 * Mask comparison as crack-detection papers score it (CrackForest, DeepCrack): a predicted
 * defect pixel is a true positive when a truth pixel lies within `tolerance` pixels of it,
 * and a truth pixel is recalled when a predicted pixel lies within `tolerance` of it. The
 * distance is Euclidean between pixel centres (dx² + dy² ≤ tolerance²), so tolerance 1 accepts
 * the 4 direct neighbours, 1.5 the 8 neighbours, 0 only the pixel itself. IoU is strict (no
 * tolerance). Object recall counts truth connected components (8-connected) touched by a
 * predicted pixel within `tolerance`; object precision counts predicted components touched by a
 * truth pixel within `tolerance`.
 *
 * Masks are row-major bytes, any non-zero byte a defect pixel.
 */

/** Pixel and object counts of one comparison; they add up across images (micro-averaging). */
export interface MaskCounts {
  pixels: number;
  /** Truth defect pixels. */
  truth: number;
  /** Predicted defect pixels. */
  predicted: number;
  /** Predicted pixels with a truth pixel within the tolerance. */
  matchedPredicted: number;
  /** Truth pixels with a predicted pixel within the tolerance. */
  matchedTruth: number;
  /** Pixels defect in both (no tolerance). */
  intersection: number;
  /** Pixels defect in either (no tolerance). */
  union: number;
  truthObjects: number;
  /** Truth components with a predicted pixel within the tolerance. */
  detectedObjects: number;
  predictedObjects: number;
  /** Predicted components with a truth pixel within the tolerance. */
  matchedPredictedObjects: number;
}

/** Rates from counts; null where the denominator is 0 (e.g. recall of an image without defects). */
export interface MaskScores {
  precision: number | null;
  recall: number | null;
  f1: number | null;
  iou: number | null;
  objectRecall: number | null;
  objectPrecision: number | null;
}

export const ZERO_COUNTS: Readonly<MaskCounts> = Object.freeze({
  pixels: 0,
  truth: 0,
  predicted: 0,
  matchedPredicted: 0,
  matchedTruth: 0,
  intersection: 0,
  union: 0,
  truthObjects: 0,
  detectedObjects: 0,
  predictedObjects: 0,
  matchedPredictedObjects: 0,
});

/**
 * 1 where a non-zero pixel of `mask` lies within Euclidean distance `radius` (0 = the mask itself).
 * Per row the horizontal distance to the nearest set pixel, then per pixel the rows within
 * radius: O(width × height × (2⌊radius⌋ + 1)).
 */
export function withinDistance(mask: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const R = Math.floor(radius);
  if (R === 0) {
    for (let i = 0; i < out.length; i++) out[i] = mask[i] ? 1 : 0;
    return out;
  }
  // hd[p]: |dx| to the nearest set pixel in p's row, capped at R + 1
  const cap = R + 1;
  const hd = new Uint16Array(width * height);
  const rows = new Uint8Array(height); // rows with any set pixel (hd is only computed and read there)
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++)
      if (mask[o + x]) {
        rows[y] = 1;
        break;
      }
    if (!rows[y]) continue;
    let last = -cap - 1;
    for (let x = 0; x < width; x++) {
      if (mask[o + x]) last = x;
      hd[o + x] = Math.min(cap, x - last);
    }
    last = width + cap + 1;
    for (let x = width - 1; x >= 0; x--) {
      if (mask[o + x]) last = x;
      const d = last - x;
      if (d < hd[o + x]!) hd[o + x] = d;
    }
  }
  const reach = new Int32Array(2 * R + 1);
  for (let dy = -R; dy <= R; dy++) reach[dy + R] = Math.floor(Math.sqrt(radius * radius - dy * dy) + 1e-9);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let dy = Math.max(-R, -y); dy <= Math.min(R, height - 1 - y); dy++) {
      if (!rows[y + dy]) continue;
      const q = (y + dy) * width;
      const lim = reach[dy + R]!;
      for (let x = 0; x < width; x++) if (hd[q + x]! <= lim) out[o + x] = 1;
    }
  }
  return out;
}

/**
 * Labels the 8-connected (or 4-connected) components of the non-zero pixels: returns the label
 * per pixel (0 = background, 1 … count) and the count.
 */
export function components(mask: Uint8Array, width: number, height: number, connectivity: 4 | 8 = 8): { labels: Int32Array; count: number } {
  const labels = new Int32Array(width * height);
  const stack = new Int32Array(width * height);
  let count = 0;
  for (let start = 0; start < labels.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const id = ++count;
    labels[start] = id;
    let top = 0;
    stack[top++] = start;
    while (top > 0) {
      const p = stack[--top]!;
      const y = (p / width) | 0;
      const x = p - y * width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width || (connectivity === 4 && dx !== 0 && dy !== 0)) continue;
          const q = ny * width + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = id;
            stack[top++] = q;
          }
        }
      }
    }
  }
  return { labels, count };
}

/** The non-zero pixels of `mask` in components of at least `minArea` pixels (inspect's verdict ignores smaller ones). */
export function keptPixels(mask: Uint8Array, width: number, height: number, minArea: number, connectivity: 4 | 8 = 8): number {
  const { labels, count } = components(mask, width, height, connectivity);
  const area = new Int32Array(count + 1);
  for (const l of labels) area[l]!++;
  let kept = 0;
  for (let l = 1; l <= count; l++) if (area[l]! >= minArea) kept += area[l]!;
  return kept;
}

/**
 * The 8-connected components of `mask` (which has `set` non-zero pixels), and how many of them
 * have a pixel where `near` is non-zero. Flood fill with a stack sized to the set pixels, so a
 * sparse mask costs one scan.
 */
function touched(mask: Uint8Array, width: number, height: number, set: number, near: Uint8Array): { count: number; touched: number } {
  const seen = new Uint8Array(width * height);
  const stack = new Int32Array(set);
  let count = 0;
  let hit = 0;
  for (let start = 0; start < seen.length; start++) {
    if (!mask[start] || seen[start]) continue;
    count++;
    let found = false;
    seen[start] = 1;
    let top = 0;
    stack[top++] = start;
    while (top > 0) {
      const p = stack[--top]!;
      if (near[p]) found = true;
      const y = (p / width) | 0;
      const x = p - y * width;
      const y0 = y > 0 ? -1 : 0;
      const y1 = y < height - 1 ? 1 : 0;
      const x0 = x > 0 ? -1 : 0;
      const x1 = x < width - 1 ? 1 : 0;
      for (let dy = y0; dy <= y1; dy++)
        for (let dx = x0; dx <= x1; dx++) {
          const q = p + dy * width + dx;
          if (mask[q] && !seen[q]) {
            seen[q] = 1;
            stack[top++] = q;
          }
        }
    }
    if (found) hit++;
  }
  return { count, touched: hit };
}

/**
 * The pixel counts of one comparison (the object counts left 0): all that pixel precision,
 * recall, F1 and IoU need. `nearTruth` is withinDistance(truth, …, tolerance), for callers that
 * compare many predictions with one truth.
 */
export function pixelCounts(pred: Uint8Array, truth: Uint8Array, width: number, height: number, tolerance: number, nearTruth?: Uint8Array): MaskCounts {
  const n = width * height;
  let predicted = 0;
  let truthPx = 0;
  let intersection = 0;
  for (let i = 0; i < n; i++) {
    const p = pred[i] !== 0;
    const t = truth[i] !== 0;
    if (p) predicted++;
    if (t) truthPx++;
    if (p && t) intersection++;
  }
  const counts: MaskCounts = { ...ZERO_COUNTS, pixels: n, truth: truthPx, predicted, intersection, union: predicted + truthPx - intersection };
  if (predicted === 0 || truthPx === 0) return counts;
  const near = nearTruth ?? withinDistance(truth, width, height, tolerance);
  const nearPred = withinDistance(pred, width, height, tolerance);
  for (let i = 0; i < n; i++) {
    if (pred[i] && near[i]) counts.matchedPredicted++;
    if (truth[i] && nearPred[i]) counts.matchedTruth++;
  }
  return counts;
}

/** Compares one predicted mask with its truth (same width × height, row-major, non-zero = defect). */
export function compareMasks(pred: Uint8Array, truth: Uint8Array, width: number, height: number, tolerance: number): MaskCounts {
  const counts = pixelCounts(pred, truth, width, height, tolerance);
  const none = new Uint8Array(0);
  if (counts.predicted === 0 || counts.truth === 0) {
    if (counts.truth) counts.truthObjects = touched(truth, width, height, counts.truth, none).count;
    if (counts.predicted) counts.predictedObjects = touched(pred, width, height, counts.predicted, none).count;
    return counts;
  }
  const nearTruth = withinDistance(truth, width, height, tolerance);
  const nearPred = withinDistance(pred, width, height, tolerance);
  const t = touched(truth, width, height, counts.truth, nearPred);
  counts.truthObjects = t.count;
  counts.detectedObjects = t.touched;
  const p = touched(pred, width, height, counts.predicted, nearTruth);
  counts.predictedObjects = p.count;
  counts.matchedPredictedObjects = p.touched;
  return counts;
}

/** Sums counts (micro-averaging: overall rates from summed counts, each pixel weighing the same). */
export function addCounts(a: MaskCounts, b: MaskCounts): MaskCounts {
  const out = { ...a };
  for (const k of Object.keys(b) as (keyof MaskCounts)[]) out[k] += b[k];
  return out;
}

const ratio = (a: number, b: number) => (b === 0 ? null : a / b);

export function scores(c: MaskCounts): MaskScores {
  const precision = ratio(c.matchedPredicted, c.predicted);
  const recall = ratio(c.matchedTruth, c.truth);
  // F1 is 0 when either side is empty and the other is not; undefined when both are
  const f1 =
    precision === null && recall === null
      ? null
      : precision !== null && recall !== null && precision + recall > 0
        ? (2 * precision * recall) / (precision + recall)
        : 0;
  return {
    precision,
    recall,
    f1,
    iou: ratio(c.intersection, c.union),
    objectRecall: ratio(c.detectedObjects, c.truthObjects),
    objectPrecision: ratio(c.matchedPredictedObjects, c.predictedObjects),
  };
}
