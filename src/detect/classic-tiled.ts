/**
 * The classic recipe tile by tile (src/tiling), for an image too large for the device in one
 * piece; its payload is the untiled one's. Two passes over the tiles, one whole-image step between
 * them and one after:
 *   pass 1  per tile: the denoise, the gradient pyramid (levels planned from the whole image's size),
 *           the hats, the template's difference (the template cropped as the tile) and the contrast
 *           level's image; their interiors go into host planes: the fused gradient F (full size)
 *           and the level L (1/4^level of the pixels).
 *   whole   the local contrast on the whole of L: its noise term is the standard deviation of
 *           (image − background) over the image, a whole-image statistic. On the device when L fits
 *           one storage binding (then exactly the untiled computation), else on the CPU reference
 *           (equal to float rounding; only when the contrast level is 0 or 1 on a huge image).
 *   pass 2  per tile: max(F, contrast upsampled), threshold and closing; interiors into F and the mask.
 *   host    hole filling and the connected components of the whole mask (with the mean of F) on
 *           the CPU reference, so a component crossing tile borders is one component; with a
 *           background verdict rule, the histogram of F there too.
 * Tile interiors start at multiples of 2^depth of the pyramid, so a tile's pyramid samples the
 * image's pixels; the halo covers every stencil of a pass (denoise, gradients, pyrDown, bilinear
 * upsampling; the closing), so each interior pixel is the untiled one. The component means are
 * summed in double on the host where the GPU sums f32 (about 1e-6 relative apart).
 */
import type { Backend } from '../backend.js';
import { KensaError } from '../errors.js';
import { gaussianKsizeForSigma } from '../ops/filters/kernels.js';
import { Tensor } from '../tensor.js';
import { afterPyrDown, afterStencil, afterUpsample } from '../tiling/halo.js';
import { cropPlane, levelSide, pasteInterior, roundUp, scaleRect, tileGrid, type Plane, type Rect, type Tile } from '../tiling/grid.js';
import {
  candidateMask,
  contrastScores,
  filledMask,
  fuseHats,
  fuseTemplate,
  fuseUp,
  gradientPyramid,
  normalisedDenoise,
  payloadHistogram,
  pyramidPlan,
  responseHistogram,
} from './classic.js';
import type { Frame, TiledOptions, TileGeometry } from './detector.js';
import { hatSizes, type ClassicRecipe } from './recipe.js';
import { regionsOf, type RegionPayload } from './regions.js';
import { templateFor } from './template.js';

/** The halo of the recipe's stencils and the tile alignment of its deepest pyramid. */
export function classicTileGeometry(r: ClassicRecipe): TileGeometry {
  const plan = pyramidPlan(Infinity, Infinity, r);
  const denoised = r.denoise.sigma > 0 ? (gaussianKsizeForSigma(r.denoise.sigma, false) - 1) / 2 : 0;
  let wrong = denoised;
  let need = afterStencil(wrong, 1); // the 3×3 gradient on level 0
  // black-hat and top-hat: a closing or an opening of the level-0 image, ⌊size / 2⌋ each way twice
  for (const hat of [r.blackhat, r.tophat]) if (hat) need = Math.max(need, afterStencil(denoised, 2 * Math.floor(Math.max(...hatSizes(hat)) / 2)));
  // the template's difference: the image and the template blurred with its sigma
  const templateSigma = r.template ? (r.template.sigma ?? r.denoise.sigma) : 0;
  if (templateSigma > 0) need = Math.max(need, (gaussianKsizeForSigma(templateSigma, false) - 1) / 2);
  for (let s = 1; s <= plan.depth; s++) {
    wrong = afterPyrDown(wrong);
    if (s <= plan.gradientLevels) need = Math.max(need, afterUpsample(afterStencil(wrong, 1), 2 ** s));
    if (s === plan.contrastLevel) need = Math.max(need, 2 ** s * wrong);
  }
  // the closing: a dilation then an erosion, each reading ⌊close / 2⌋ pixels each side
  const closing = r.morphology.close > 1 ? 2 * Math.floor(r.morphology.close / 2) : 0;
  const align = 2 ** plan.depth;
  // a tile's widest buffer is an f32 map of its crop
  return { halo: roundUp(Math.max(need, closing), align), align, bytesPerPixel: 4 };
}

/** Reads `t` (a map of the pixels `at`) back and pastes its `interior` into `into`. */
async function interiorOf(t: Tensor, at: Rect, interior: Rect, into: Plane<Float32Array | Uint8Array>): Promise<void> {
  pasteInterior(into, (await t.toCpu()).data as Float32Array | Uint8Array, at, interior);
}

function upload(backend: Backend, data: Float32Array | Uint8Array | Uint16Array, rect: Rect, dtype: 'f32' | 'u8' | 'u16'): Promise<Tensor> {
  return backend.framesToDevice([data], [1, 1, rect.h, rect.w], dtype);
}

/** Pass 1 on one tile: its interior of the fused gradient into F, of the contrast level into L. */
async function gradientTile(
  frame: Frame,
  template: Frame | null,
  tile: Tile,
  r: ClassicRecipe,
  backend: Backend,
  F: Plane<Float32Array>,
  L: Plane<Float32Array> | null,
  s: number,
): Promise<void> {
  const { crop, interior } = tile;
  const dtype = frame.data instanceof Uint16Array ? 'u16' : 'u8';
  const x = await upload(backend, cropPlane(frame, crop), crop, dtype);
  const t = template ? await upload(backend, cropPlane(template, crop), crop, dtype) : null;
  const smooth = normalisedDenoise(x, r.denoise.sigma);
  const pyramid = gradientPyramid(smooth, r, pyramidPlan(frame.height, frame.width, r));
  const contrast = pyramid.contrast;
  const hats = fuseHats(pyramid.fused, smooth, r);
  const fused = t && r.template ? fuseTemplate(hats, smooth, x, t, r, r.template) : hats;
  x.dispose();
  t?.dispose();
  try {
    await interiorOf(fused, crop, interior, F);
    if (contrast && L) {
      const f = 2 ** s;
      const at = { x: crop.x / f, y: crop.y / f, w: contrast.shape[3]!, h: contrast.shape[2]! };
      await interiorOf(contrast, at, scaleRect(interior, f, frame.width, frame.height), L);
    }
  } finally {
    fused.dispose();
    if (contrast !== smooth) contrast?.dispose();
    smooth.dispose();
  }
}

/** The whole level's local contrast scores, on the device when the level fits one binding. */
async function contrastPlane(L: Plane<Float32Array>, s: number, r: ClassicRecipe, backend: Backend): Promise<Plane<Float32Array>> {
  const binding = backend.gpu?.info.limits.maxStorageBufferBindingSize ?? Infinity;
  const host = Tensor.fromArray(L.data, [1, 1, L.height, L.width], 'f32');
  const level = L.data.byteLength <= binding ? await backend.toDevice(host) : host;
  const c = contrastScores(level, s, r);
  if (level !== host) level.dispose();
  const data = (await c.toCpu()).data as Float32Array;
  c.dispose();
  return { data, width: L.width, height: L.height };
}

/** Pass 2 on one tile: max(F, contrast) into F, the closed candidate mask into M. */
async function maskTile(
  tile: Tile,
  r: ClassicRecipe,
  backend: Backend,
  F: Plane<Float32Array>,
  M: Plane<Uint8Array>,
  C: Plane<Float32Array> | null,
  s: number,
): Promise<void> {
  const { crop, interior } = tile;
  let fused = await upload(backend, cropPlane(F, crop), crop, 'f32');
  if (C) {
    // the contrast pixels the crop's bilinear samples read: from crop.x / f to one past its end
    const f = 2 ** s;
    const at = scaleRect(crop, f, F.width, F.height);
    const cover = { ...at, w: Math.min(at.w + 1, C.width - at.x), h: Math.min(at.h + 1, C.height - at.y) };
    fused = fuseUp(fused, await upload(backend, cropPlane(C, cover), cover, 'f32'), s);
  }
  const mask = candidateMask(fused, r);
  try {
    // F's halo pixels are read by later tiles: max(F, c) again gives the same value
    await interiorOf(fused, crop, interior, F);
    await interiorOf(mask, crop, interior, M);
  } finally {
    fused.dispose();
    mask.dispose();
  }
}

/** The classic device stage of one image (u8 or u16, one channel), tile by tile. */
export async function classicTiled(frame: Frame, r: ClassicRecipe, wantMasks: boolean, options: TiledOptions): Promise<RegionPayload> {
  const { width, height } = frame;
  if (r.threshold.mode === 'relative')
    throw new KensaError(
      'KENSA_ERR_RECIPE',
      `threshold.mode 'relative' standardises by whole-image statistics and is not tiled, but a ${width}×${height} image exceeds one storage binding; use threshold.mode 'absolute', a smaller input.scale or --device cpu`,
    );
  if ((r.threshold.hysteresis ?? 1) < 1)
    throw new KensaError(
      'KENSA_ERR_RECIPE',
      `threshold.hysteresis follows regions across the whole image and is not tiled, but a ${width}×${height} image exceeds one storage binding; leave threshold.hysteresis out, use a smaller input.scale or --device cpu`,
    );
  if (r.area)
    throw new KensaError(
      'KENSA_ERR_RECIPE',
      `the area channel's background mean reaches 4 × area.background px and is not tiled, but a ${width}×${height} image exceeds one storage binding; leave area out, use a smaller input.scale or --device cpu`,
    );
  const template = r.template ? templateFor(r.template, width, height, 1, frame.data instanceof Uint16Array ? 'u16' : 'u8') : null;
  const { halo, align } = classicTileGeometry(r);
  const tiles = tileGrid(width, height, { tile: options.tile, halo, align });
  const s = pyramidPlan(height, width, r).contrastLevel;
  const f = 2 ** Math.max(0, s);
  const F: Plane<Float32Array> = { data: new Float32Array(width * height), width, height };
  const L = s < 0 ? null : { data: new Float32Array(levelSide(width, f) * levelSide(height, f)), width: levelSide(width, f), height: levelSide(height, f) };
  for (const tile of tiles) await gradientTile(frame, template, tile, r, options.backend, F, L, s);
  const C = L ? await contrastPlane(L, s, r, options.backend) : null;
  const M: Plane<Uint8Array> = { data: new Uint8Array(width * height), width, height };
  for (const tile of tiles) await maskTile(tile, r, options.backend, F, M, C, s);
  const mask = filledMask(Tensor.fromArray(M.data, [1, 1, height, width], 'u8'), r);
  const values = Tensor.fromArray(F.data, [1, 1, height, width], 'f32');
  const regions = (await regionsOf(mask, values, r.components.connectivity, wantMasks))[0]!;
  if (!r.verdict.background) return regions;
  // the histogram of the whole response, on the host like the components (the tiles' would add up to it)
  using hist = responseHistogram(values, r);
  return { ...regions, hist: payloadHistogram(hist.data as Int32Array, 0, width * height) };
}
