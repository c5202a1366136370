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
      const cx = Math.max(0, x - halo);
      const cy = Math.max(0, y - halo);
      const crop = { x: cx, y: cy, w: Math.min(width, x + interior.w + halo) - cx, h: Math.min(height, y + interior.h + halo) - cy };
      tiles.push({ interior, crop });
    }
  }
  return tiles;
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
