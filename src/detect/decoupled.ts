/**
 * The decoupled recipe: the CPU/GPU decoupling seed's scoring, on a batch tensor (N×1×H×W u8 or
 * u16) on either device:
 *   k-means on the intensities → label map (class index · 255 / (k − 1), u8) → Canny on the label
 *   map → edge map (1 on edges, else 0) → large Gaussian: the congestion map (the Gaussian-weighted
 *   share of edge pixels around each pixel, 0..1) → image score = mean congestion; defects = the
 *   connected regions where congestion exceeds a level.
 * The label map scales the class index, not the class centre, so every class boundary is an edge of
 * the same strength however close the centres are: the score counts boundaries, not contrast.
 * k-means runs on the raw intensities: its classes do not change when intensities are scaled, so no
 * normalisation is needed, and u8 frames keep the exact histogram path of the op.
 * On the GPU every step is one command stream; the readbacks are the component statistics, the
 * per-image statistics (and the masks, when asked for).
 */
import { canny } from '../ops/analysis/canny.js';
import { componentsBytesPerPixel } from '../ops/analysis/components.js';
import { kmeans } from '../ops/analysis/kmeans.js';
import { imageStats } from '../ops/analysis/stats.js';
import { convert } from '../ops/color/convert.js';
import { gaussianBlur } from '../ops/filters/gaussian.js';
import { threshold } from '../ops/threshold/binary.js';
import { tidy, type Tensor } from '../tensor.js';
import type { Detector, ImageDetection } from './detector.js';
import type { DecoupledRecipe } from './recipe.js';
import { regionDefects, regionsOf, type RegionPayload } from './regions.js';

/**
 * f32 N×1×H×W congestion map of a batch. Each step runs in its own scope, so its input is freed
 * as soon as it has been used.
 */
function congestionMap(batch: Tensor, r: DecoupledRecipe): Tensor {
  const { k, iterations, seed } = r.kmeans;
  const labelMap = () => convert(kmeans(batch, { k, iterations, ...(seed === null ? {} : { seed }) }).labels, { dtype: 'u8', scale: 255 / (k - 1) });
  const edges = () => canny(tidy(labelMap), { low: r.canny.low, high: r.canny.high });
  const edgeMap = () => convert(tidy(edges), { dtype: 'f32', scale: 1 / 255 });
  return tidy(() => gaussianBlur(tidy(edgeMap), { sigma: r.congestion.sigma }));
}

/** One image's regions (where congestion exceeds the level) and its score, the mean congestion. */
export type DecoupledPayload = RegionPayload & { score: number };

/** The device stage: congestion map, its mean per image, the regions' statistics (and the masks). */
async function device(batch: Tensor, r: DecoupledRecipe, wantMasks: boolean): Promise<DecoupledPayload[]> {
  using congestion = congestionMap(batch, r);
  using stats = imageStats(congestion);
  using mask = threshold(congestion, { thresh: r.congestion.level, maxval: 255, dtype: 'u8' });
  const regions = await regionsOf(mask, congestion, r.components.connectivity, wantMasks);
  const means = (await stats.toCpu()).data;
  return regions.map((p, n) => ({ ...p, score: means[n * 4 + 2]! })); // stats rows are (min, max, mean, std)
}

/**
 * The post stage: minimum-area filter, classes, the verdict from the image score. A defect's
 * `meanGradient` holds its mean congestion, its `score` that over `congestion.level` (1 = just
 * detected); the mask is congestion > level.
 */
function post(p: DecoupledPayload, r: DecoupledRecipe): ImageDetection {
  const defects = regionDefects(p, r.components.minArea, r.congestion.level, r.classify);
  return { defects, verdict: p.score >= r.verdict.minScore ? 'NG' : 'OK', score: p.score, ...(p.mask ? { mask: p.mask } : {}) };
}

export const decoupledDetector: Detector<DecoupledRecipe, DecoupledPayload> = {
  device,
  post,
  // i32 labels and f32 maps take 4, the labelling's per-block statistics more
  bytesPerPixel: (r) => Math.max(4, componentsBytesPerPixel(r.components.connectivity)),
  // k-means and Canny's hysteresis need the whole image
  tiled: null,
  portable: true,
};
