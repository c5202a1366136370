/**
 * Tiling an image plane too large for the device in one piece: a grid of tiles whose interiors
 * partition the plane, each read with a halo (the context its stencils need; a pixel of the
 * interior is then computed exactly as in the whole plane) and clamped to the plane, so a tile on
 * the plane's edge sees the plane's own border. Interior origins and the halo are multiples of
 * `align` (2^levels for a pyramid: a tile's pyramid then samples the same pixels as the plane's).
 * Planes are single-channel, row-major host arrays; a stage runs on each tile's crop and its
 * interior is pasted into a plane of the whole image (O(image) host memory, O(tile) device memory).
 */
import { integerInRange } from '../validate.js';

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Tile {
  /** The pixels this tile computes (the tiles' interiors partition the plane). */
  interior: Rect;
  /** The pixels it reads: the interior with the halo, clamped to the plane. */
  crop: Rect;
}

export interface TileGridOptions {
  /** Interior side in pixels (rounded down to a multiple of `align`). */
  tile: number;
  /** Context read around the interior in pixels (rounded up to a multiple of `align`). */
  halo: number;
  /** Power of two the interior origins and the halo are multiples of (default 1). */
  align?: number;
  /**
   * Every crop keeps the full window size, interior + 2 · halo, moved inside the plane at its
   * edges instead of clamped (a model of a fixed input size); a plane side smaller than the
   * window gives crops of that side. Default false.
   */
  window?: boolean;
}

/** A row-major single-channel plane. */
export interface Plane<T extends PlaneArray = PlaneArray> {
  data: T;
  width: number;
  height: number;
}

export type PlaneArray = Uint8Array | Uint16Array | Int32Array | Float32Array;

/** Largest tile or plane side (warpAffine's output limit, and far above any plane the decoder accepts). */
export const MAX_TILE = 65535;

export function roundUp(v: number, m: number): number {
  return Math.ceil(v / m) * m;
}

/** The tiles of a width × height plane, row by row. */
export function tileGrid(width: number, height: number, options: TileGridOptions): Tile[] {
  const align = integerInRange('align', options.align ?? 1, 1, 1 << 16);
  const tile = Math.max(align, Math.floor(integerInRange('tile', options.tile, 1, MAX_TILE) / align) * align);
  const halo = roundUp(integerInRange('halo', options.halo, 0, MAX_TILE), align);
  const tiles: Tile[] = [];
  for (let y = 0; y < height; y += tile) {
    for (let x = 0; x < width; x += tile) {
      const interior = { x, y, w: Math.min(tile, width - x), h: Math.min(tile, height - y) };
      tiles.push({ interior, crop: options.window ? windowCrop(interior, halo, width, height, tile + 2 * halo) : haloCrop(interior, halo, width, height) });
    }
  }
  return tiles;
}

/** The interior with the halo each side, clamped to the plane. */
function haloCrop(interior: Rect, halo: number, width: number, height: number): Rect {
  const x = Math.max(0, interior.x - halo);
  const y = Math.max(0, interior.y - halo);
  return { x, y, w: Math.min(width, interior.x + interior.w + halo) - x, h: Math.min(height, interior.y + interior.h + halo) - y };
}

/** The halo crop grown to (interior + 2 · halo)², moved inside the plane: it still contains the interior. */
function windowCrop(interior: Rect, halo: number, width: number, height: number, side: number): Rect {
  const w = Math.min(side, width);
  const h = Math.min(side, height);
  return { x: Math.min(Math.max(0, interior.x - halo), width - w), y: Math.min(Math.max(0, interior.y - halo), height - h), w, h };
}

/** A copy of `rect` of the plane. */
export function cropPlane<T extends PlaneArray>(plane: Plane<T>, rect: Rect): T {
  const Ctor = plane.data.constructor as new (n: number) => T;
  const out = new Ctor(rect.w * rect.h);
  for (let r = 0; r < rect.h; r++) {
    const from = (rect.y + r) * plane.width + rect.x;
    out.set(plane.data.subarray(from, from + rect.w), r * rect.w);
  }
  return out;
}

/** Writes the `interior` part of `crop` (a plane covering `at`, which contains interior) into `dst`. */
export function pasteInterior<T extends PlaneArray>(dst: Plane<T>, crop: T, at: Rect, interior: Rect): void {
  for (let r = 0; r < interior.h; r++) {
    const from = (interior.y - at.y + r) * at.w + (interior.x - at.x);
    dst.data.set(crop.subarray(from, from + interior.w), (interior.y + r) * dst.width + interior.x);
  }
}

/** `rect` at 1/f of the resolution (f a power of two; the plane's sides there are ⌈side / f⌉, as pyrDown's). */
export function scaleRect(rect: Rect, f: number, width: number, height: number): Rect {
  const x = rect.x / f;
  const y = rect.y / f;
  const w = Math.min(Math.ceil((rect.x + rect.w) / f), levelSide(width, f)) - Math.floor(x);
  const h = Math.min(Math.ceil((rect.y + rect.h) / f), levelSide(height, f)) - Math.floor(y);
  return { x: Math.floor(x), y: Math.floor(y), w, h };
}

/** A side at 1/f of the resolution through repeated halving (⌈n / 2⌉ each time). */
export function levelSide(n: number, f: number): number {
  let s = n;
  for (let k = f; k > 1; k /= 2) s = Math.ceil(s / 2);
  return s;
}

/**
 * The largest tile side (a multiple of `align`, at most `cap`, at least `align`) whose crop with
 * the halo on both sides fits `bindingBytes` at `bytesPerPixel`.
 */
export function tileSide(bindingBytes: number, bytesPerPixel: number, halo: number, align: number, cap: number): number {
  const side = Math.min(cap, Math.floor(Math.sqrt(bindingBytes / bytesPerPixel)) - 2 * roundUp(halo, align));
  return Math.max(align, Math.floor(side / align) * align);
}
