/**
 * Detection at a reduced scale (recipe `input.scale`), results in the original image's
 * coordinates. A decoded pixel stands for the original pixels whose centres map into it:
 * original x ↦ decoded ⌊(x + ½)·w/W⌋ (w the decoded width, W the original's; rows alike). When
 * the factor k = W/w is an integer that is x ↦ ⌊x/k⌋, the k×k block a shrink averages; an odd
 * side (w = ⌈W/k⌉) only moves the mapping by a fraction of a decoded pixel. Boxes map by this
 * rule, so a defect's box is the box of its mask upscaled by the same rule (nearest).
 */
import type { ImageDetection } from './classic.js';

export interface Size {
  width: number;
  height: number;
}

/** The first original pixel whose centre maps at or after decoded edge `a` (of `n` decoded, `N` original): ⌈a·N/n − ½⌉. */
function edge(a: number, n: number, N: number): number {
  return Math.max(0, Math.ceil((2 * a * N - n) / (2 * n))); // max: ⌈−½⌉ is −0
}

/** For each original index, the decoded one its centre maps into. */
function sourceIndex(n: number, N: number): Int32Array {
  const map = new Int32Array(N);
  for (let i = 0; i < N; i++) map[i] = Math.floor(((2 * i + 1) * n) / (2 * N));
  return map;
}

/** A decoded-size mask (255 = defect) upscaled to the original size, nearest. */
export function upscaleMask(mask: Uint8Array, from: Size, to: Size): Uint8Array {
  const out = new Uint8Array(to.width * to.height);
  const xs = sourceIndex(from.width, to.width);
  const ys = sourceIndex(from.height, to.height);
  for (let y = 0; y < to.height; y++) {
    const src = ys[y]! * from.width;
    const row = y * to.width;
    for (let x = 0; x < to.width; x++) out[row + x] = mask[src + xs[x]!]!;
  }
  return out;
}

/**
 * One image's detection, made at the decoded size `detected`, in the coordinates of the
 * `original` image: boxes by the pixel-centre rule, areas × (W/w)·(H/h) rounded, the mask (if
 * any) upscaled. Scores and mean gradients are the detection's own. The same detection when
 * the sizes are equal (scale 1).
 */
export function toOriginal(found: ImageDetection, detected: Size, original: Size): ImageDetection {
  if (detected.width === original.width && detected.height === original.height) return found;
  const areaScale = (original.width / detected.width) * (original.height / detected.height);
  const defects = found.defects.map((d) => {
    const x = edge(d.x, detected.width, original.width);
    const y = edge(d.y, detected.height, original.height);
    const w = edge(d.x + d.w, detected.width, original.width) - x;
    const h = edge(d.y + d.h, detected.height, original.height) - y;
    return { ...d, x, y, w, h, area: Math.round(d.area * areaScale) };
  });
  return { ...found, defects, ...(found.mask ? { mask: upscaleMask(found.mask, detected, original) } : {}) };
}
