/**
 * The classical inspection recipe, on a batch tensor (N×1×H×W u8 or u16) on either device:
 *   normalise to [0, 1] and Gaussian denoise (one pass) → gradient magnitude on pyramid levels 1, 1/2, 1/4
 *   (upsampled back, aligned with pyrDown's sampling, and fused by maximum) → fused by maximum
 *   with the local contrast (the image minus its background, measured on a coarse pyramid level,
 *   upsampled, in gradient units) → threshold → closing → hole filling → connected components
 *   with the mean fused value per component → defects (bbox, area, mean value, score, class by
 *   shape) → verdict. On the GPU every step up to the component statistics is one command stream;
 *   the only readbacks are the compact statistics (and the masks, when asked for).
 */
import { imageStats } from '../ops/analysis/stats.js';
import { convert } from '../ops/color/convert.js';
import { customKernel } from '../ops/custom/kernel.js';
import { gradientMagnitude } from '../ops/features/gradient.js';
import { pyrDown } from '../ops/features/pyramid.js';
import { gaussianBlur } from '../ops/filters/gaussian.js';
import { gaussianKernel1d, gaussianKsizeForSigma } from '../ops/filters/kernels.js';
import { filter2dSeparable } from '../ops/filters/separable.js';
import { warpAffine } from '../ops/geometry/warp-affine.js';
import { fillHoles } from '../ops/morphology/fill-holes.js';
import { morphologyEx } from '../ops/morphology/morphology.js';
import { threshold } from '../ops/threshold/binary.js';
import type { Tensor } from '../tensor.js';
import type { Detector, ImageDetection } from './detector.js';
import type { ClassicRecipe } from './recipe.js';
import { regionDefects, regionsOf, type RegionPayload } from './regions.js';

/**
 * A defect as the store keeps it: bbox, area, `meanGradient` (mean over the defect of the fused
 * map: the gradient magnitude, or the local contrast rescaled so that its threshold equals the
 * gradient threshold, whichever is larger; normalised units), `score` (that mean over the recipe
 * threshold, so 1 = just detected) and the class by shape.
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

/** a − b, for the difference between a pyramid level and its background. */
const difference = customKernel({
  name: 'difference',
  inputs: ['a', 'b'],
  pixel: 'fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 { return a_px(n, c, y, x) - b_px(n, c, y, x); }',
  cpu: ({ a, b }, _u, n, c, y, x) => a.px(n, c, y, x) - b.px(n, c, y, x),
});

/**
 * |d| in gradient units: × unit / max(value, noise · std of d over the image), where `s` holds
 * each image's imageStats (min, max, mean, std) of d as N×1×1×4. Zero within `margin` pixels of
 * the border, where the background is extrapolated (replicated edge) and less reliable.
 */
const contrastScore = customKernel({
  name: 'contrast_score',
  inputs: ['d', 's'],
  uniforms: { unit: 'f32', value: 'f32', noise: 'f32', margin: 'u32' },
  pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let sh = u.d_shape;
  if (y < u.margin || x < u.margin || y + u.margin >= sh.z || x + u.margin >= sh.w) { return 0.0; }
  return abs(d_px(n, c, y, x)) * u.unit / max(u.value, u.noise * s_px(n, 0u, 0u, 3u));
}`,
  cpu: ({ d, s }, u, n, c, y, x) => {
    const [, , H, W] = d.shape;
    if (y < u.margin || x < u.margin || y + u.margin >= H || x + u.margin >= W) return 0;
    return (Math.abs(d.px(n, c, y, x)) * u.unit) / Math.max(u.value, u.noise * s.px(n, 0, 0, 3));
  },
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

/** The local contrast is measured on the pyramid level where the background sigma is about this many of its pixels. */
const CONTRAST_LEVEL_SIGMA = 8;
/** Largest level sigma: the Gaussian kernel (8σ + 1 taps for f32) stays within its 255 taps. */
const MAX_LEVEL_SIGMA = 31;

/** Pyramid level of the local contrast for a background of `sigma` px (64 → 3, the ⅛-resolution level). */
function contrastLevel(sigma: number): number {
  return Math.max(0, Math.round(Math.log2(sigma / CONTRAST_LEVEL_SIGMA)));
}

/**
 * Gradient map fused over pyramid levels, then with the local contrast when the recipe has it (on
 * its level, or the coarsest one made: levels stop at 4 px on a side); disposes every intermediate.
 */
function fusedMap(x: Tensor, r: ClassicRecipe): Tensor {
  const at = r.contrast.background > 0 ? contrastLevel(r.contrast.background) : -1;
  const depth = Math.max(r.gradient.scales - 1, at);
  let level = x;
  let s = 0;
  let fused = gradientMagnitude(x, { operator: r.gradient.operator, dtype: 'f32' });
  for (; s < depth && Math.min(level.shape[2]!, level.shape[3]!) >= 8; s++) {
    if (s === at) fused = fuseContrast(fused, level, s, r);
    const down = pyrDown(level);
    if (level !== x) level.dispose();
    level = down;
    if (s + 1 < r.gradient.scales) fused = fuseUp(fused, gradientMagnitude(level, { operator: r.gradient.operator, dtype: 'f32' }), s + 1);
  }
  if (s <= at) fused = fuseContrast(fused, level, s, r);
  if (level !== x) level.dispose();
  return fused;
}

/**
 * max(fused, g), g a map of pyramid level s upsampled to fused's size; disposes fused and g.
 * pyrDown centres level pixel j on pixel 2j of the level below, so the upsampling samples g at
 * (x / 2^s, y / 2^s): a scale-only warp (resize's half-pixel centres would shift g by 2^(s−1) − ½ px).
 */
function fuseUp(fused: Tensor, g: Tensor, s: number): Tensor {
  const [, , H, W] = fused.shape as [number, number, number, number];
  const f = 2 ** s;
  const up = s === 0 ? g : warpAffine(g, { matrix: [f, 0, 0, 0, f, 0], width: W, height: H, border: 'replicate' });
  if (up !== g) g.dispose();
  const next = maximum([fused, up], {});
  fused.dispose();
  up.dispose();
  return next;
}

/** Fuses the local contrast of `level` (pyramid level `s`) into `fused`, in gradient units. */
function fuseContrast(fused: Tensor, level: Tensor, s: number, r: ClassicRecipe): Tensor {
  const sigma = Math.min(MAX_LEVEL_SIGMA, r.contrast.background / 2 ** s);
  // replicated edges: a reflected border would mirror the vignetting's fall-off into a dark rim
  const background = gaussianBlur(level, { sigma, border: 'replicate' });
  const d = difference([level, background], {});
  background.dispose();
  const stats = imageStats(d);
  const s4 = stats.reshape([level.shape[0]!, 1, 1, 4]);
  stats.dispose();
  const uniforms = { unit: r.threshold.value, value: r.contrast.value, noise: r.contrast.noise, margin: Math.ceil(sigma / 2) };
  const c = contrastScore([d, s4], { uniforms });
  d.dispose();
  s4.dispose();
  return fuseUp(fused, c, s);
}

/** max(fused, weight · hat(x)) for the recipe's black-hat and top-hat channels, when present; disposes what it replaces. */
function fuseHats(fused: Tensor, x: Tensor, r: ClassicRecipe): Tensor {
  for (const [op, hat] of [['blackhat', r.blackhat], ['tophat', r.tophat]] as const) {
    if (!hat) continue;
    const response = morphologyEx(x, { op, ksize: hat.size });
    const weighted = hat.weight === 1 ? response : convert(response, { dtype: 'f32', scale: hat.weight });
    if (weighted !== response) response.dispose();
    const next = maximum([fused, weighted], {});
    fused.dispose();
    weighted.dispose();
    fused = next;
  }
  return fused;
}

/** The device stage: everything up to the regions' statistics (and the masks). */
async function device(batch: Tensor, r: ClassicRecipe, wantMasks: boolean): Promise<RegionPayload[]> {
  const smooth = normalisedDenoise(batch, r.denoise.sigma);
  const gradient = fuseHats(fusedMap(smooth, r), smooth, r);
  smooth.dispose();
  const raw = threshold(gradient, { thresh: r.threshold.value, maxval: 255, dtype: 'u8' });
  const closed = r.morphology.close > 1 ? morphologyEx(raw, { op: 'close', ksize: r.morphology.close }) : raw;
  if (closed !== raw) raw.dispose();
  // holes of the background's connectivity: 4 for 8-connected components, and the reverse
  const mask = r.morphology.fillHoles > 0 ? fillHoles(closed, { maxArea: r.morphology.fillHoles, connectivity: r.components.connectivity === 8 ? 4 : 8 }) : closed;
  if (mask !== closed) closed.dispose();
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
