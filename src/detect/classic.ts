/**
 * The classical inspection recipe, on a batch tensor (N×1×H×W u8 or u16) on either device:
 *   normalise to [0, 1] and Gaussian denoise (one pass) → gradient magnitude on pyramid levels 1, 1/2, 1/4
 *   (upsampled back, aligned with pyrDown's sampling, and fused by maximum) → fused by maximum
 *   with the local contrast (the image minus its background, measured on a coarse pyramid level,
 *   upsampled, in gradient units), the hats and the golden template's difference → threshold →
 *   closing → hole filling → connected components
 *   with the mean fused value per component → defects (bbox, area, mean value, score, class by
 *   shape) → verdict (with verdict.background, against a histogram of the fused map). On the GPU
 *   every step up to the component statistics is one command stream; the only readbacks are the
 *   compact statistics (the histogram, and the masks, when asked for).
 */
import { componentsBytesPerPixel } from '../ops/analysis/components.js';
import { histogram } from '../ops/analysis/histogram.js';
import { imageStats } from '../ops/analysis/stats.js';
import { axpy } from '../ops/arith/axpy.js';
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
import { hysteresisThreshold } from '../ops/analysis/hysteresis.js';
import { tidy, type Tensor } from '../tensor.js';
import { invalidParameter } from '../validate.js';
import { classicTileGeometry, classicTiled } from './classic-tiled.js';
import type { Detector, ImageDetection } from './detector.js';
import { hatSizes, type ClassicRecipe, type TemplateSection } from './recipe.js';
import { templateTensor } from './template.js';
import { HISTOGRAM_BINS, HISTOGRAM_SPAN, regionDetection, regionsOf, type RegionPayload } from './regions.js';

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
export function normalisedDenoise(batch: Tensor, sigma: number): Tensor {
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

/** Which pyramid levels a classic recipe uses on an image: levels stop at 4 px on a side. */
export interface PyramidPlan {
  /** Gradient levels fused besides level 0 (1 … gradientLevels). */
  gradientLevels: number;
  /** The level of the local contrast; −1 without it. */
  contrastLevel: number;
  /** The deepest level made. */
  depth: number;
}

/** The plan for a height × width image: the contrast on its level, or on the coarsest one made. */
export function pyramidPlan(height: number, width: number, r: ClassicRecipe): PyramidPlan {
  const at = r.contrast.background > 0 ? contrastLevel(r.contrast.background) : -1;
  const deepest = Math.max(r.gradient.scales - 1, at);
  let made = 0;
  for (let h = height, w = width; made < deepest && Math.min(h, w) >= 8; made++) {
    h = Math.ceil(h / 2);
    w = Math.ceil(w / 2);
  }
  const gradientLevels = Math.min(r.gradient.scales - 1, made);
  const contrast = at < 0 ? -1 : Math.min(at, made);
  return { gradientLevels, contrastLevel: contrast, depth: Math.max(gradientLevels, contrast) };
}

/**
 * The gradient fused over the plan's levels, and the image of the contrast level (`x` itself at
 * level 0; null without contrast; the caller disposes it); disposes every other intermediate.
 * The plan comes from the whole image's size, so a tile of it makes the same levels.
 */
export function gradientPyramid(x: Tensor, r: ClassicRecipe, plan: PyramidPlan): { fused: Tensor; contrast: Tensor | null } {
  const weight = r.gradient.weight ?? 1;
  const gradient = (t: Tensor) =>
    weight === 1
      ? gradientMagnitude(t, { operator: r.gradient.operator, dtype: 'f32' })
      : tidy(() => convert(gradientMagnitude(t, { operator: r.gradient.operator, dtype: 'f32' }), { dtype: 'f32', scale: weight }));
  // off: a zero map for the other channels to fuse with, no gradient computed
  let fused = weight === 0 ? convert(x, { dtype: 'f32', scale: 0 }) : gradient(x);
  let level = x;
  let contrast = plan.contrastLevel === 0 ? x : null;
  for (let s = 1; s <= plan.depth; s++) {
    const down = pyrDown(level);
    if (level !== x && level !== contrast) level.dispose();
    level = down;
    if (weight > 0 && s <= plan.gradientLevels) fused = fuseUp(fused, gradient(level), s);
    if (s === plan.contrastLevel) contrast = level;
  }
  if (level !== x && level !== contrast) level.dispose();
  return { fused, contrast };
}

/**
 * max(fused, g), g a map of pyramid level s upsampled to fused's size; disposes fused and g.
 * pyrDown centres level pixel j on pixel 2j of the level below, so the upsampling samples g at
 * (x / 2^s, y / 2^s): a scale-only warp (resize's half-pixel centres would shift g by 2^(s−1) − ½ px).
 */
export function fuseUp(fused: Tensor, g: Tensor, s: number): Tensor {
  using _fused = fused;
  using _g = g;
  const [, , H, W] = fused.shape as [number, number, number, number];
  const f = 2 ** s;
  return tidy(() => maximum([fused, s === 0 ? g : warpAffine(g, { matrix: [f, 0, 0, 0, f, 0], width: W, height: H, border: 'replicate' })], {}));
}

/**
 * The local contrast of `level` (pyramid level `s`) in gradient units, at that level's size. Its
 * noise term is a statistic of the whole level: the tiled path computes it on the whole level.
 */
export function contrastScores(level: Tensor, s: number, r: ClassicRecipe): Tensor {
  const sigma = Math.min(MAX_LEVEL_SIGMA, r.contrast.background / 2 ** s);
  // a relative threshold standardises the response afterwards: the contrast must not depend on it
  const unit = r.threshold.mode === 'relative' ? 1 : r.threshold.value;
  const uniforms = { unit, value: r.contrast.value, noise: r.contrast.noise, margin: Math.ceil(sigma / 2) };
  return tidy(() => {
    // replicated edges: a reflected border would mirror the vignetting's fall-off into a dark rim
    const d = difference([level, gaussianBlur(level, { sigma, border: 'replicate' })], {});
    return contrastScore([d, imageStats(d).reshape([level.shape[0]!, 1, 1, 4])], { uniforms });
  });
}

/** The gradient fused over the pyramid levels and with the local contrast; disposes every intermediate. */
function fusedMap(x: Tensor, r: ClassicRecipe): Tensor {
  const plan = pyramidPlan(x.shape[2]!, x.shape[3]!, r);
  const { fused, contrast } = gradientPyramid(x, r, plan);
  if (!contrast) return fused;
  const c = contrastScores(contrast, plan.contrastLevel, r);
  if (contrast !== x) contrast.dispose();
  return fuseUp(fused, c, plan.contrastLevel);
}

/**
 * The candidate mask of the fused map: threshold (with threshold.hysteresis below 1, hysteresis:
 * the regions above hysteresis × value that hold a pixel above value), then the closing; the
 * caller keeps `fused`.
 */
export function candidateMask(fused: Tensor, r: ClassicRecipe): Tensor {
  const { value, hysteresis = 1 } = r.threshold;
  return tidy(() => {
    const raw =
      hysteresis < 1
        ? hysteresisThreshold(fused, { low: hysteresis * value, high: value, connectivity: r.components.connectivity })
        : threshold(fused, { thresh: value, maxval: 255, dtype: 'u8' });
    return r.morphology.close > 1 ? morphologyEx(raw, { op: 'close', ksize: r.morphology.close }) : raw;
  });
}

/** Hole filling, with holes of the background's connectivity: 4 for 8-connected components, and the reverse. */
export function filledMask(closed: Tensor, r: ClassicRecipe): Tensor {
  if (r.morphology.fillHoles <= 0) return closed;
  using _closed = closed;
  return fillHoles(closed, { maxArea: r.morphology.fillHoles, connectivity: r.components.connectivity === 8 ? 4 : 8 });
}

/**
 * max(fused, weight · Σ hat_size(x)) for the recipe's black-hat and top-hat channels, when present
 * (the sum over the channel's sizes); disposes what it replaces.
 */
export function fuseHats(fused: Tensor, x: Tensor, r: ClassicRecipe): Tensor {
  for (const [op, hat] of [
    ['blackhat', r.blackhat],
    ['tophat', r.tophat],
  ] as const) {
    if (!hat) continue;
    const previous = fused;
    fused = tidy(() => {
      const [first, ...more] = hatSizes(hat);
      const response = morphologyEx(x, { op, ksize: first! });
      if (more.length === 0 && hat.weight === 1) return maximum([previous, response], {});
      const sum = convert(response, { dtype: 'f32', scale: hat.weight });
      for (const size of more) axpy(sum, morphologyEx(x, { op, ksize: size }), { alpha: hat.weight });
      return maximum([previous, sum], {});
    });
    previous.dispose();
  }
  return fused;
}

/** weight · |a − b|: the area channel's difference of two means. */
const areaScore = customKernel({
  name: 'area_score',
  inputs: ['a', 'b'],
  uniforms: { weight: 'f32' },
  pixel: 'fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 { return u.weight * abs(a_px(n, c, y, x) - b_px(n, c, y, x)); }',
  cpu: ({ a, b }, u, n, c, y, x) => u.weight * Math.abs(a.px(n, c, y, x) - b.px(n, c, y, x)),
});

/**
 * The Gaussian sigma on pyramid level s that makes a full-resolution blur of `sigma` px: pyrDown's
 * own kernels already blurred level s by √((4^s − 1) / 3) full-resolution px.
 */
function levelSigma(sigma: number, s: number): number {
  return Math.min(MAX_LEVEL_SIGMA, Math.sqrt(Math.max(0, sigma * sigma - (4 ** s - 1) / 3)) / 2 ** s);
}

/**
 * max(fused, weight · |mean_sigma(x) − mean_background(x)|) for the recipe's area channel, when
 * present; disposes fused (fuseUp does). Each mean is taken on a pyramid level (the wide one where
 * its sigma is about CONTRAST_LEVEL_SIGMA pixels, the narrow one where it is 2–4), so neither blur
 * is wide; the wide mean is upsampled to the narrow level, the difference to full size (as fuseUp
 * samples). Away from the border this is the full-resolution difference within a few per cent.
 */
export function fuseArea(fused: Tensor, x: Tensor, r: ClassicRecipe): Tensor {
  const a = r.area;
  if (!a) return fused;
  return tidy(() => {
    const levels = [x];
    for (let h = x.shape[2]!, w = x.shape[3]!; levels.length <= contrastLevel(a.background) && Math.min(h, w) >= 8; h = Math.ceil(h / 2), w = Math.ceil(w / 2))
      levels.push(pyrDown(levels.at(-1)!));
    const wide = levels.length - 1;
    const narrow = Math.min(wide, Math.max(0, Math.floor(Math.log2(a.sigma)) - 1));
    // replicated edges, as the local contrast's background: a reflected border would mirror the vignetting
    const mean = (sigma: number, s: number) => gaussianBlur(levels[s]!, { sigma: levelSigma(sigma, s), border: 'replicate' });
    const [, , H, W] = levels[narrow]!.shape as [number, number, number, number];
    const f = 2 ** (wide - narrow);
    const background =
      wide === narrow
        ? mean(a.background, wide)
        : warpAffine(mean(a.background, wide), { matrix: [f, 0, 0, 0, f, 0], width: W, height: H, border: 'replicate' });
    return fuseUp(fused, areaScore([mean(a.sigma, narrow), background], { uniforms: { weight: a.weight } }), narrow);
  });
}

/** max(f, weight · |a − t|): `t` is one image (the template) for every image of the batch. */
const templateFuse = customKernel({
  name: 'fuse_template',
  inputs: ['f', 'a', 't'],
  uniforms: { weight: 'f32' },
  pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  return max(f_px(n, c, y, x), u.weight * abs(a_px(n, c, y, x) - t_px(0u, c, y, x)));
}`,
  cpu: ({ f, a, t }, u, n, c, y, x) => Math.max(f.px(n, c, y, x), u.weight * Math.abs(a.px(n, c, y, x) - t.px(0, c, y, x))),
});

/**
 * max(fused, weight · |blur(x) − blur(template)|), x the raw u8/u16 batch and `template` its raw
 * 1×1×H×W template, both normalised and blurred with the section's sigma (`smooth`, x denoised
 * with denoise.sigma, serves when the two are equal); disposes fused.
 */
export function fuseTemplate(fused: Tensor, smooth: Tensor, x: Tensor, template: Tensor, r: ClassicRecipe, t: TemplateSection): Tensor {
  using _fused = fused;
  const sigma = t.sigma ?? r.denoise.sigma;
  return tidy(() =>
    templateFuse([fused, sigma === r.denoise.sigma ? smooth : normalisedDenoise(x, sigma), normalisedDenoise(template, sigma)], {
      uniforms: { weight: t.weight },
    }),
  );
}

/**
 * The smallest spread a relative threshold divides by: a quarter of an 8-bit grey level. A
 * featureless frame's response is rounding noise (σ ~ 1e-6); standardised, that noise would pass
 * any threshold (and differ between GPUs), so such a frame finds nothing instead.
 */
const MIN_SPREAD = 1e-3;

/** (x − mean) / max(std, MIN_SPREAD) per image, `s` holding each image's imageStats (min, max, mean, std) as N×1×1×4. */
const standardise = customKernel({
  name: 'standardise',
  inputs: ['x', 's'],
  pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  return (x_px(n, c, y, x) - s_px(n, 0u, 0u, 2u)) / max(s_px(n, 0u, 0u, 3u), ${MIN_SPREAD});
}`,
  cpu: ({ x, s }, _u, n, c, y, xx) => (x.px(n, c, y, xx) - s.px(n, 0, 0, 2)) / Math.max(s.px(n, 0, 0, 3), MIN_SPREAD),
});

/**
 * The response map: every channel fused (gradient pyramid, local contrast, hats, area, template),
 * standardised per image under a relative threshold. The heavy part of a run; thresholds and
 * component filters read it, so one map serves many of them (tune's sweep). Its values do not
 * depend on threshold.value under a relative threshold or without the local contrast.
 * @param template the recipe's template (templateTensor), for a recipe with a template channel
 */
export function responseMap(batch: Tensor, r: ClassicRecipe, template: Tensor | null = null): Tensor {
  if (r.template && !template) throw invalidParameter('template', "the template's 1×1×H×W tensor for a recipe with a template channel", template);
  // each step in its own scope, so its input is freed as soon as the next step has used it
  const fused = tidy(() => {
    const smooth = normalisedDenoise(batch, r.denoise.sigma);
    const hats = fuseArea(fuseHats(fusedMap(smooth, r), smooth, r), smooth, r);
    return r.template && template ? fuseTemplate(hats, smooth, batch, template, r, r.template) : hats;
  });
  if (r.threshold.mode !== 'relative') return fused;
  using _fused = fused;
  return tidy(() => standardise([fused, imageStats(fused).reshape([fused.shape[0]!, 1, 1, 4])], {}));
}

/** The regions of a response map under the recipe's threshold, closing and hole filling. */
export async function responseRegions(response: Tensor, r: ClassicRecipe, wantMasks: boolean): Promise<RegionPayload[]> {
  using mask = filledMask(candidateMask(response, r), r);
  return await regionsOf(mask, response, r.components.connectivity, wantMasks);
}

/** Each image's histogram of the response map as i32 N×1×HISTOGRAM_BINS, over [0, HISTOGRAM_SPAN × threshold.value) (the background verdict rule's). */
export function responseHistogram(response: Tensor, r: ClassicRecipe): Tensor {
  return histogram(response, { bins: HISTOGRAM_BINS, range: [0, HISTOGRAM_SPAN * r.threshold.value] });
}

/** A payload's `hist` from image n's counts of a responseHistogram: the bins, then the pixels above them (of `pixels`). */
export function payloadHistogram(counts: Int32Array, n: number, pixels: number): Int32Array {
  const hist = new Int32Array(HISTOGRAM_BINS + 1);
  hist.set(counts.subarray(n * HISTOGRAM_BINS, (n + 1) * HISTOGRAM_BINS));
  let inRange = 0;
  for (let b = 0; b < HISTOGRAM_BINS; b++) inRange += hist[b]!;
  hist[HISTOGRAM_BINS] = pixels - inRange;
  return hist;
}

/** The device stage: everything up to the regions' statistics (and the masks, and the response histogram for a background verdict rule). */
async function device(batch: Tensor, r: ClassicRecipe, wantMasks: boolean): Promise<RegionPayload[]> {
  const template = await templateTensor(batch, r);
  using response = responseMap(batch, r, template);
  using hist = r.verdict.background ? responseHistogram(response, r) : null;
  const regions = await responseRegions(response, r, wantMasks);
  if (!hist) return regions;
  const counts = (await hist.toCpu()).data as Int32Array;
  const pixels = response.shape[2]! * response.shape[3]!;
  return regions.map((p, n) => ({ ...p, hist: payloadHistogram(counts, n, pixels) }));
}

/** The post stage: minimum-area filter, scores (mean gradient over the threshold), classes and the verdict. */
export function post(p: RegionPayload, r: ClassicRecipe): ImageDetection {
  return regionDetection(p, r.components.minArea, r.threshold.value, r.classify, r.verdict);
}

export const classicDetector: Detector<ClassicRecipe, RegionPayload> = {
  device,
  post,
  // f32 maps and i32 labels take 4, the labelling's per-block statistics more
  bytesPerPixel: (r) => Math.max(4, componentsBytesPerPixel(r.components.connectivity)),
  tiled: { geometry: classicTileGeometry, device: classicTiled },
  portable: true,
};

/**
 * Runs the classic recipe on a batch, both stages on this thread; returns one detection per image.
 * @param wantMasks read the masks back (for --masks and report overlays)
 */
export async function detectClassic(batch: Tensor, r: ClassicRecipe, wantMasks: boolean): Promise<ImageDetection[]> {
  return (await device(batch, r, wantMasks)).map((p) => post(p, r));
}
