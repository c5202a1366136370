/**
 * The classical inspection recipe, on a batch tensor (N×1×H×W u8 or u16) on either device:
 *   normalise to [0, 1] → Gaussian denoise → gradient magnitude on pyramid levels 1, 1/2, 1/4
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
import { gaussianBlur } from '../ops/filters/gaussian.js';
import { resize } from '../ops/geometry/resize.js';
import { morphologyEx } from '../ops/morphology/morphology.js';
import { threshold } from '../ops/threshold/binary.js';
import type { Tensor } from '../tensor.js';
import type { Defect, DefectClass } from '../store/schema.js';
import type { ClassicRecipe, ClassifyRules } from './recipe.js';

/**
 * A defect as the store keeps it: bbox, area, `meanGradient` (mean fused gradient magnitude over
 * the defect, normalised units), `score` (mean gradient over the recipe threshold, so 1 = just
 * detected) and the class by shape.
 */
export type { Defect, DefectClass } from '../store/schema.js';

export interface ImageDetection {
  defects: Defect[];
  verdict: 'OK' | 'NG';
  /** The image's score: classic, its highest defect score (0 without defects); decoupled, its mean congestion. */
  score: number;
  /** H×W mask, 255 = defect pixel (before the minimum-area filter), when asked for. */
  mask?: Uint8Array;
}

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
 * Runs the classic recipe on a batch; returns one detection per image.
 * @param wantMasks read the masks back (for --masks and report overlays)
 */
export async function detectClassic(batch: Tensor, r: ClassicRecipe, wantMasks: boolean): Promise<ImageDetection[]> {
  const [N, , H, W] = batch.shape as [number, number, number, number];
  const max = batch.dtype === 'u16' ? 65535 : 255;
  const norm = convert(batch, { dtype: 'f32', scale: 1 / max });
  const smooth = r.denoise.sigma > 0 ? gaussianBlur(norm, { sigma: r.denoise.sigma }) : norm;
  if (smooth !== norm) norm.dispose();
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
  const out: ImageDetection[] = [];
  for (let n = 0; n < N; n++) {
    const s = cc.stats[n]!;
    const defects: Defect[] = [];
    for (let i = 0; i < cc.count[n]!; i++) {
      const area = s.area[i]!;
      if (area < r.components.minArea) continue;
      const meanGradient = s.mean?.[i] ?? 0;
      const d = { x: s.x[i]!, y: s.y[i]!, w: s.w[i]!, h: s.h[i]!, area, meanGradient, score: meanGradient / r.threshold.value };
      defects.push({ ...d, class: classify(d.w, d.h, area, r.classify) });
    }
    const scored = defects.filter((d) => d.score >= r.verdict.minScore);
    out.push({
      defects,
      verdict: scored.length > r.verdict.maxDefects ? 'NG' : 'OK',
      score: defects.reduce((m, d) => Math.max(m, d.score), 0),
      ...(maskHost ? { mask: maskHost.slice(n * H * W, (n + 1) * H * W) } : {}),
    });
  }
  return out;
}
