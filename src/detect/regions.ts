/**
 * Defect regions, shared by the recipe kinds: the device stage labels a u8 defect mask and reads
 * back each component's statistics with the mean of a value map over it (the fused gradient, the
 * congestion); the post stage keeps the regions of at least `minArea` pixels as defects.
 */
import { KensaError } from '../errors.js';
import { connectedComponents } from '../ops/analysis/components.js';
import type { Defect, DefectClass } from './defect.js';
import type { ImageDetection } from './detector.js';
import type { Tensor } from '../tensor.js';
import type { ClassifyRules } from './recipe.js';

/**
 * One image's component statistics (labels 1…count, indexed by label − 1), the mean value over
 * each, and, when asked, its mask: every array the image's own (a payload crosses to a worker by
 * transfer).
 */
export type RegionPayload = {
  area: Int32Array;
  x: Int32Array;
  y: Int32Array;
  w: Int32Array;
  h: Int32Array;
  mean: Float64Array;
  mask?: Uint8Array;
  /**
   * For a background verdict rule: the image's value map in HISTOGRAM_BINS bins over
   * [0, HISTOGRAM_SPAN × unit), then one bin for every value at or above that.
   */
  hist?: Int32Array;
};

/** The value-map histogram of a payload (`hist`): this many bins … */
export const HISTOGRAM_BINS = 4096;
/** … over [0, this × the recipe's threshold unit): 1/256 of the threshold a bin. */
export const HISTOGRAM_SPAN = 16;

/** A verdict rule relative to the image (recipe.verdict.background). */
export interface BackgroundRule {
  readonly quantile: number;
  readonly ratio: number;
}

/**
 * The `quantile` of the values `hist` counts (its last bin: values ≥ `hi`) with the `area` highest
 * taken off: the value of rank ⌈quantile · (n − area)⌉, interpolated within its bin; `hi` when it
 * lies in the last bin (so at least that).
 */
export function backgroundLevel(hist: Int32Array, hi: number, area: number, quantile: number): number {
  const bins = hist.length - 1;
  let n = 0;
  for (const c of hist) n += c;
  const rank = Math.ceil(quantile * (n - area));
  let below = 0;
  for (let b = 0; b < bins && rank > 0; b++) {
    const c = hist[b]!;
    if (below + c >= rank) return ((b + (rank - below) / c) * hi) / bins;
    below += c;
  }
  return rank > 0 ? hi : 0;
}

/** Each image's regions of `mask` (N×1×H×W u8, 255 = defect) with the mean of `values`; the caller keeps both tensors. */
export async function regionsOf(mask: Tensor, values: Tensor, connectivity: 4 | 8, wantMasks: boolean): Promise<RegionPayload[]> {
  const [, , H, W] = mask.shape as [number, number, number, number];
  const cc = await connectedComponents(mask, { connectivity, values });
  cc.labels.dispose();
  const maskHost = wantMasks ? ((await mask.toCpu()).data as Uint8Array) : null;
  // area and the bounding box are views of the batch's readback: copied, so a payload posts only its own
  return cc.stats.map((s, n) => ({
    area: s.area.slice(),
    x: s.x.slice(),
    y: s.y.slice(),
    w: s.w.slice(),
    h: s.h.slice(),
    mean: s.mean!, // connectedComponents computes means whenever values are given
    ...(maskHost ? { mask: maskHost.slice(n * H * W, (n + 1) * H * W) } : {}),
  }));
}

/** The recipes' shape rules (recipe.classify). */
export function classify(w: number, h: number, area: number, rules: ClassifyRules): DefectClass {
  const long = Math.max(w, h);
  const short = Math.max(1, Math.min(w, h));
  const elongation = long / short;
  const fill = area / (w * h);
  if (elongation <= rules.spotMaxElongation && fill >= rules.spotMinFill) return 'spot';
  // a straight thin line: its area is about its length times its width
  const width = area / long;
  if (long >= rules.scratchMinLength && width <= rules.scratchMaxWidth && (elongation >= 8 || fill <= (2 * rules.scratchMaxWidth) / short)) return 'scratch';
  return 'crack';
}

/**
 * The regions of at least `minArea` pixels as defects: `meanGradient` holds the region's mean
 * value, `score` that over `unit` (1 = just detected), the class by shape.
 */
export function regionDefects(p: RegionPayload, minArea: number, unit: number, rules: ClassifyRules): Defect[] {
  const defects: Defect[] = [];
  for (let i = 0; i < p.area.length; i++) {
    const area = p.area[i]!;
    if (area < minArea) continue;
    const mean = p.mean[i]!;
    const d = { x: p.x[i]!, y: p.y[i]!, w: p.w[i]!, h: p.h[i]!, area, meanGradient: mean, score: mean / unit };
    defects.push({ ...d, class: classify(d.w, d.h, area, rules) });
  }
  return defects;
}

/**
 * An image's detection from its regions: the defects (regionDefects), NG when more than
 * `verdict.maxDefects` of them count — score at least `verdict.minScore` and, with
 * `verdict.background`, have a mean value at least `ratio` × backgroundLevel of the payload's
 * histogram — the image's score its best defect's. The post stage of every recipe whose device
 * stage ends in regions.
 */
export function regionDetection(
  p: RegionPayload,
  minArea: number,
  unit: number,
  rules: ClassifyRules,
  verdict: { readonly minScore: number; readonly maxDefects: number; readonly background?: BackgroundRule | null | undefined },
): ImageDetection {
  const defects = regionDefects(p, minArea, unit, rules);
  const rule = verdict.background;
  if (rule && !p.hist) throw new KensaError('KENSA_ERR_INTERNAL', 'verdict.background needs the response histogram, but the payload has none');
  const counted = defects.map(
    (d) => d.score >= verdict.minScore && (!rule || d.meanGradient >= rule.ratio * backgroundLevel(p.hist!, HISTOGRAM_SPAN * unit, d.area, rule.quantile)),
  );
  return {
    defects,
    verdict: counted.filter(Boolean).length > verdict.maxDefects ? 'NG' : 'OK',
    score: defects.reduce((m, d) => Math.max(m, d.score), 0),
    ...(rule ? { counted } : {}),
    ...(p.mask ? { mask: p.mask } : {}),
  };
}
