/**
 * The classical inspection recipe, on a batch tensor (N×1×H×W u8 or u16) on either device:
 *   normalise to [0, 1] and Gaussian denoise (one pass) → gradient magnitude on pyramid levels 1, 1/2, 1/4
 *   (upsampled back and fused by maximum) → threshold → closing → connected components with the
 *   mean gradient per component → defects (bbox, area, mean gradient, score, class by shape) →
 *   verdict. On the GPU every step up to the component statistics is one command stream; the only
 *   readbacks are the compact statistics (and the masks, when asked for).
 */
import { connectedComponents } from '../ops/analysis/components.js';
import { convert } from '../ops/color/convert.js';
import { customKernel } from '../ops/custom/kernel.js';
import { gradientMagnitude } from '../ops/features/gradient.js';
import { pyrDown } from '../ops/features/pyramid.js';
import { gaussianKernel1d, gaussianKsizeForSigma } from '../ops/filters/kernels.js';
import { filter2dSeparable } from '../ops/filters/separable.js';
import { resize } from '../ops/geometry/resize.js';
import { morphologyEx } from '../ops/morphology/morphology.js';
import { threshold } from '../ops/threshold/binary.js';
import type { Tensor } from '../tensor.js';
import type { Defect, DefectClass } from '../store/schema.js';
import type { Detector, ImageDetection } from './detector.js';
import type { ClassicRecipe, ClassifyRules } from './recipe.js';

/**
 * A defect as the store keeps it: bbox, area, `meanGradient` (mean fused gradient magnitude over
 * the defect, normalised units), `score` (mean gradient over the recipe threshold, so 1 = just
 * detected) and the class by shape.
 */
export type { Defect, DefectClass } from '../store/schema.js';

export type { ImageDetection } from './detector.js';

/** Elementwise maximum of two equal-shape f32 maps (the multi-scale fusion). */
const maximum = customKernel({
  name: 'fuse_max',
  inputs: ['a', 'b'],
  pixel: 'fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 { return max(a_px(n, c, y, x), b_px(n, c, y, x)); }',
  cpu: ({ a, b }, _u, n, c, y, x) => Math.max(a.px(n, c, y, x), b.px(n, c, y, x)),
});

/** The recipes' shape rules (recipe.classify). */
export function classify(w: number, h: number, area: number, rules: ClassifyRules): DefectClass {
  const long = Math.max(w, h);
  const short = Math.max(1, Math.min(w, h));
  const elongation = long / short;
  const fill = area / (w * h);
  if (elongation <= rules.spotMaxElongation && fill >= rules.spotMinFill) return 'spot';
  // a straight thin line: its area is about its length times its width
  const width = area / long;
  if (long >= rules.scratchMinLength && width <= rules.scratchMaxWidth && (elongation >= 8 || fill <= 2 * rules.scratchMaxWidth / short)) return 'scratch';
  return 'crack';
}

/**
 * The frames as f32 in [0, 1], blurred with the recipe's Gaussian: one pass straight from the
 * u8/u16 pixels, the 1/max normalisation folded into the horizontal weights (no f32 copy of the
 * batch before the blur). The kernel size follows OpenCV's rule for float images.
 */
function normalisedDenoise(batch: Tensor, sigma: number): Tensor {
  const max = batch.dtype === 'u16' ? 65535 : 255;
  if (sigma <= 0) return convert(batch, { dtype: 'f32', scale: 1 / max });
  const k = gaussianKernel1d(gaussianKsizeForSigma(sigma, false), sigma);
  return filter2dSeparable(batch, { kx: k.map((w) => w / max), ky: k, border: 'reflect101', borderValue: 0, dtype: 'f32' });
}

/** Gradient map fused over pyramid levels; disposes every intermediate. */
function fusedGradient(x: Tensor, r: ClassicRecipe): Tensor {
  const [, , H, W] = x.shape as [number, number, number, number];
  let level = x;
  let fused = gradientMagnitude(x, { operator: r.gradient.operator, dtype: 'f32' });
  for (let s = 1; s < r.gradient.scales && Math.min(level.shape[2]!, level.shape[3]!) >= 8; s++) {
    const down = pyrDown(level);
    if (level !== x) level.dispose();
    level = down;
    const g = gradientMagnitude(level, { operator: r.gradient.operator, dtype: 'f32' });
    const up = resize(g, { width: W, height: H, interpolation: 'bilinear' });
    g.dispose();
    const next = maximum([fused, up], {});
    fused.dispose();
    up.dispose();
    fused = next;
  }
  if (level !== x) level.dispose();
  return fused;
}

/**
 * One image's component statistics (labels 1…count, indexed by label − 1) and, when asked, its
 * mask: what the post stage needs, every array the image's own.
 */
export type ClassicPayload = {
  area: Int32Array;
  x: Int32Array;
  y: Int32Array;
  w: Int32Array;
  h: Int32Array;
  /** Mean fused gradient per component. */
  meanGradient: Float64Array;
  mask?: Uint8Array;
};

/** The device stage: everything up to the connected-component statistics (and the masks). */
async function device(batch: Tensor, r: ClassicRecipe, wantMasks: boolean): Promise<ClassicPayload[]> {
  const [, , H, W] = batch.shape as [number, number, number, number];
  const smooth = normalisedDenoise(batch, r.denoise.sigma);
  const gradient = fusedGradient(smooth, r);
  smooth.dispose();
  const raw = threshold(gradient, { thresh: r.threshold.value, maxval: 255, dtype: 'u8' });
  const mask = r.morphology.close > 1 ? morphologyEx(raw, { op: 'close', ksize: r.morphology.close }) : raw;
  if (mask !== raw) raw.dispose();
  const cc = await connectedComponents(mask, { connectivity: r.components.connectivity, values: gradient });
  cc.labels.dispose();
  gradient.dispose();
  const maskHost = wantMasks ? ((await mask.toCpu()).data as Uint8Array) : null;
  mask.dispose();
  return cc.stats.map((s, n) => ({
    area: s.area,
    x: s.x,
    y: s.y,
    w: s.w,
    h: s.h,
    meanGradient: s.mean!, // connectedComponents computes means whenever values are given
    ...(maskHost ? { mask: maskHost.slice(n * H * W, (n + 1) * H * W) } : {}),
  }));
}

/** The post stage: minimum-area filter, scores, classes and the verdict. */
function post(p: ClassicPayload, r: ClassicRecipe): ImageDetection {
  const defects: Defect[] = [];
  for (let i = 0; i < p.area.length; i++) {
    const area = p.area[i]!;
    if (area < r.components.minArea) continue;
    const meanGradient = p.meanGradient[i]!;
    const d = { x: p.x[i]!, y: p.y[i]!, w: p.w[i]!, h: p.h[i]!, area, meanGradient, score: meanGradient / r.threshold.value };
    defects.push({ ...d, class: classify(d.w, d.h, area, r.classify) });
  }
  const scored = defects.filter((d) => d.score >= r.verdict.minScore);
  return {
    defects,
    verdict: scored.length > r.verdict.maxDefects ? 'NG' : 'OK',
    score: defects.reduce((m, d) => Math.max(m, d.score), 0),
    ...(p.mask ? { mask: p.mask } : {}),
  };
}

export const classicDetector: Detector<ClassicRecipe, ClassicPayload> = { device, post };

/**
 * Runs the classic recipe on a batch, both stages on this thread; returns one detection per image.
 * @param wantMasks read the masks back (for --masks and report overlays)
 */
export async function detectClassic(batch: Tensor, r: ClassicRecipe, wantMasks: boolean): Promise<ImageDetection[]> {
  return (await device(batch, r, wantMasks)).map((p) => post(p, r));
}
