/**
 * Word kernels: one thread per storage word (4 u8 pixels) or vec4 of words of an N×C×H×W batch
 * whose rows start on a word, for ops that gain from moving whole words (flip, the u8 median, and
 * the u8 crack kernel and central-difference gradient magnitude, which read their neighbours
 * through WGSL_U8_ROWS). They share the opening of `main` and the dispatch, with u.dims = (units
 * per row, rows per plane, total units). Measured on an H200 against the tiled stencil for the
 * same op: bench/results/2026-12-01-h200-e and -g, 2026-12-02-h200-f (where the Sobel magnitude
 * went back to the tile); a generic word path for every u8 stencil lost at 5 taps (stencil-tile.ts).
 */
import type { ProgramInfo } from '../gpu/program.js';
import type { UniformValues } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';

export const WORD_WG = 256;

/** The `dims` uniform every word kernel declares first. */
export const WORD_DIMS = { name: 'dims', type: 'vec4u' } as const;

/**
 * WGSL: `main`'s opening. Defines i (the thread's unit), rows (its row over all planes), q (its
 * unit in the row) and y (its row in the plane); returns for threads past the end.
 */
export const WORD_MAIN = /* wgsl */ `@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.dims.z) { return; }
  let rows = i / u.dims.x;
  let q = i - rows * u.dims.x;
  let y = rows % u.dims.y;`;

/**
 * WGSL helpers of u8 word stencils (after wgslBorder(): they call `border()`; they read `src` as
 * words and need the uniforms WORD_DIMS and `border_value`). Rows are given by `first`, the first
 * row of the plane over all planes, and y, the row in the plane (resolved with the border mode;
 * a constant border row reads border_value).
 */
export const WGSL_U8_ROWS = /* wgsl */ `
// The 4 pixels of word q of plane row y.
fn row_lanes(first: u32, y: i32, q: u32) -> vec4<f32> {
  let by = border(y, i32(u.dims.y));
  if (by < 0) { return vec4<f32>(u.border_value); }
  return u8x4_f32(src[(first + u32(by)) * u.dims.x + q]);
}
// Pixel x of the row whose first word is at index row; x beyond the row resolved by the border mode.
fn row_pixel(row: u32, x: i32) -> f32 {
  let bx = border(x, i32(u.dims.x * 4u));
  if (bx < 0) { return u.border_value; }
  return small_f32((src[row + u32(bx) / 4u] >> (8u * (u32(bx) % 4u))) & 0xffu);
}
// The pixels at x − 1, x and x + 1 of the 4 pixels x of word q of a row inside the image, given
// by the index of its first word (the thread's own row: rows · dims.x): the word and one byte of
// each neighbour word (or the border pixel at the row's ends).
struct RowQuads { l: vec4<f32>, m: vec4<f32>, r: vec4<f32> };
fn row_quads_at(row: u32, q: u32) -> RowQuads {
  let m = u8x4_f32(src[row + q]);
  let x0 = i32(q * 4u);
  var left: f32;
  var right: f32;
  if (q > 0u) { left = small_f32(src[row + q - 1u] >> 24u); } else { left = row_pixel(row, x0 - 1); }
  if (q + 1u < u.dims.x) { right = small_f32(src[row + q + 1u] & 0xffu); } else { right = row_pixel(row, x0 + 4); }
  return RowQuads(vec4<f32>(left, m.x, m.y, m.z), m, vec4<f32>(m.y, m.z, m.w, right));
}`;

/** Records `program` over `x` (rows of `unitsPerRow` units) into a new tensor of x's shape and `dtype`. */
export function runWordKernel(program: ProgramInfo, x: Tensor, unitsPerRow: number, uniforms: UniformValues = {}, dtype = x.dtype): Tensor {
  const [n, c, h] = x.shape as [number, number, number, number];
  const units = unitsPerRow * n * c * h;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, x.shape, dtype);
  gpu.dispatch({ program, inputs: [x.gpu.ref], outputs: [out.gpu.ref], uniforms: { dims: [unitsPerRow, h, units, 0], ...uniforms }, workgroups: Math.ceil(units / WORD_WG) });
  return out;
}
