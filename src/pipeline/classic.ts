/**
 * The classical inspection recipe, on a batch tensor (N×1×H×W u8 or u16) on either device:
 *   normalise to [0, 1] and Gaussian denoise (one pass) → gradient magnitude on pyramid levels 1, 1/2, 1/4
 *   (upsampled back and fused by maximum) → threshold → closing → connected components with the
 *   mean gradient per component → defects (bbox, area, mean gradient, score, class by shape) →
 *   verdict. On the GPU every step up to the component statistics is one command stream; the only
 *   readbacks are the compact statistics (and the masks, when asked for).
 */
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
import type { Detector, ImageDetection } from './detector.js';
import type { ClassicRecipe } from './recipe.js';
import { regionDefects, regionsOf, type RegionPayload } from './regions.js';

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

/** The device stage: everything up to the regions' statistics (and the masks). */
async function device(batch: Tensor, r: ClassicRecipe, wantMasks: boolean): Promise<RegionPayload[]> {
  const smooth = normalisedDenoise(batch, r.denoise.sigma);
  const gradient = fusedGradient(smooth, r);
  smooth.dispose();
  const raw = threshold(gradient, { thresh: r.threshold.value, maxval: 255, dtype: 'u8' });
  const mask = r.morphology.close > 1 ? morphologyEx(raw, { op: 'close', ksize: r.morphology.close }) : raw;
  if (mask !== raw) raw.dispose();
  const regions = await regionsOf(mask, gradient, r.components.connectivity, wantMasks);
  gradient.dispose();
  mask.dispose();
  return regions;
}

/** The post stage: minimum-area filter, scores (mean gradient over the threshold), classes and the verdict. */
function post(p: RegionPayload, r: ClassicRecipe): ImageDetection {
  const defects = regionDefects(p, r.components.minArea, r.threshold.value, r.classify);
  const scored = defects.filter((d) => d.score >= r.verdict.minScore);
  return {
    defects,
    verdict: scored.length > r.verdict.maxDefects ? 'NG' : 'OK',
    score: defects.reduce((m, d) => Math.max(m, d.score), 0),
    ...(p.mask ? { mask: p.mask } : {}),
  };
}

export const classicDetector: Detector<ClassicRecipe, RegionPayload> = { device, post };

/**
 * Runs the classic recipe on a batch, both stages on this thread; returns one detection per image.
 * @param wantMasks read the masks back (for --masks and report overlays)
 */
export async function detectClassic(batch: Tensor, r: ClassicRecipe, wantMasks: boolean): Promise<ImageDetection[]> {
  return (await device(batch, r, wantMasks)).map((p) => post(p, r));
}
