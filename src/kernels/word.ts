/**
 * Word kernels: one thread per storage word (4 u8 pixels) or vec4 of words of an N×C×H×W batch
 * whose rows start on a word, for ops that gain from moving whole words (flip, the u8 median on
 * rows the strip kernel does not take). They share the opening of `main` and the dispatch, with
 * u.dims = (units per row, rows per plane, total units, channels). Stencils use the strips (stencil-strip.ts) instead.
 */
import type { ProgramInfo } from '../gpu/program.js';
import type { UniformValues } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';

export const WORD_WG = 256;

/** Per-sample flip flags (the flip word kernels, and word passes that read through flips): which samples mirror their columns, which their rows. */
export interface FlipFlags {
  readonly horizontal: readonly boolean[];
  readonly vertical: readonly boolean[];
}

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

/** Records `program` over `x` (rows of `unitsPerRow` units) into a new tensor of x's shape and `dtype`. */
export function runWordKernel(program: ProgramInfo, x: Tensor, unitsPerRow: number, uniforms: UniformValues = {}, dtype = x.dtype): Tensor {
  const [n, c, h] = x.shape as [number, number, number, number];
  const units = unitsPerRow * n * c * h;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, x.shape, dtype);
  gpu.dispatch({
    program,
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { dims: [unitsPerRow, h, units, c], ...uniforms },
    workgroups: Math.ceil(units / WORD_WG),
  });
  return out;
}
