/**
 * Tiled stencils: the GPU shape of separable filters and fused derivative kernels. A workgroup
 * of 256 threads computes a 64×16 output tile:
 *  1. row pass: each named row array holds, for every tile row plus the ±ry halo rows, one f32 per
 *     output pixel computed from the pixels of its row within ±rx (an op's lane expression over
 *     `p(dx)`), read straight from the input as vec4 quads of adjacent pixels (the tile starts
 *     HX = 4·⌈rx/4⌉ pixels left of the output tile, so inside the image a quad is whole storage
 *     words; only rim tiles resolve indices with the border mode, and only for quads outside);
 *     neighbouring threads read the same words, which L1 serves;
 *  2. column pass: a thread forms one output quad from the row arrays at row offsets ±ry and the
 *     input quads (the op's combine; the input quads it reads are kept as one more row array),
 *     and writes it as whole output words.
 * Every workgroup-memory access is a 16-byte access by consecutive threads (no bank conflicts).
 * The tile shape (64×16, one quad per thread) and the quad layout were the fastest measured.
 * Radii are compile-time constants (they size the tile); weights and sizes are uniforms.
 * The row pass reads its quads from global memory (L1 serves the overlap): an input tile in
 * workgroup memory, taller tiles and a word path without workgroup memory were slower.
 */
import { ELEMENTS_PER_WORD, type DType } from '../dtype.js';
import type { ProgramInfo } from '../gpu/program.js';
import type { UniformField, UniformValues } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';
import { wgslBorder, type BorderMode } from './border.js';
import type { Dims4 } from './pixel.js';
import { KensaError } from '../errors.js';
import { OUT_VEC4_VIEW, quadLoad, quadStore } from '../gpu/wgsl/quad.js';

const TILE_W = 64;
const TILE_H = 16;
/** Largest radius a tiled stencil takes on either axis. */
export const STENCIL_MAX_RADIUS = 8;
/**
 * Largest radius of the wide variant: specs of one row array and cheap taps (min/max windows)
 * whose ops pass it to stencilTileFits; 16 + 2·24 rows of 64 f32 fill 16 KiB of workgroup memory.
 */
export const STENCIL_WIDE_RADIUS = 24;

export interface StencilTileSpec {
  /** Program name; `key` holds everything else that changes the WGSL (never sizes). */
  name: string;
  key: string;
  inDtype: DType;
  outDtype: DType;
  border: BorderMode;
  rx: number;
  ry: number;
  uniforms: readonly UniformField[];
  /** Row arrays: name → WGSL f32 of one output pixel from `p(dx)`, its row's input at column offset dx (|dx| ≤ rx). */
  rows: Readonly<Record<string, (p: (dx: number) => string) => string>>;
  /**
   * WGSL statements ending with `let v: vec4<f32>` (the output quad), from `r(name, dy)` (a row
   * array's quad at row offset dy, |dy| ≤ ry) and `t(dy)` (the input quad at row offset dy).
   */
  combine: (r: (name: string, dy: number) => string, t: (dy: number) => string) => string;
}

type RowExpr = (p: (dx: number) => string) => string;

/**
 * The row arrays of a spec: its own, and the input quads themselves (`in`) when its combine reads
 * them through `t(dy)`.
 */
export function stencilRows(spec: StencilTileSpec): Record<string, RowExpr> {
  let readsInput = false;
  spec.combine(
    () => '0.0',
    () => {
      readsInput = true;
      return '0.0';
    },
  );
  if (readsInput && 'in' in spec.rows) throw new KensaError('KENSA_ERR_INTERNAL', `stencil ${spec.name}: the row array name "in" is the engine's`);
  return { ...spec.rows, ...(readsInput ? { in: (p: (dx: number) => string) => p(0) } : {}) };
}

/**
 * WGSL vec4<f32> of a row expression for 4 adjacent output pixels: lane j's pixel at column
 * offset dx is pixel hx + j + dx of the quads word(0), word(1), … (the first starting hx pixels left).
 */
export function rowQuadWgsl(f: RowExpr, hx: number, word: (i: number) => string): string {
  return `vec4<f32>(${[0, 1, 2, 3]
    .map((j) =>
      f((dx) => {
        const m = hx + j + dx;
        return `${word(m >> 2)}[${m & 3}]`;
      }),
    )
    .join(',\n      ')})`;
}

const programs = new Map<string, ProgramInfo>();

/**
 * The program of a spec; `vecOut` stores f32 quads as one 16-byte write (rows on 16 bytes).
 * Equal specs (by name, key, dtypes, border, radii) return the same object.
 */
export function stencilTileProgram(spec: StencilTileSpec, vecOut: boolean): ProgramInfo {
  const vecStore = vecOut && spec.outDtype === 'f32';
  const id = `${spec.name}|${spec.key}|${spec.inDtype}|${spec.outDtype}|${spec.border}|${spec.rx}|${spec.ry}|${vecStore}`;
  let p = programs.get(id);
  if (p) return p;
  const { rx, ry } = spec;
  const hx = 4 * Math.ceil(rx / 4);
  const iw4 = (TILE_W + 2 * hx) / 4;
  const ih = TILE_H + 2 * ry;
  const oq = TILE_W / 4;
  const rows = stencilRows(spec);
  const names = Object.keys(rows);
  const rowQuad = (f: RowExpr) => rowQuadWgsl(f, hx, (i) => `a${i}`);
  // the row pass over the tile's rows, its quads a0 … a(2·hx/4) of row-pass item i given by `quad(a)`
  const rowPass = (quad: (a: number) => string) => `  for (var i = li; i < OQ * IH; i += WG) {
${Array.from({ length: (2 * hx) / 4 + 1 }, (_, a) => `    let a${a} = ${quad(a)};`).join('\n')}
${names.map((n) => `    trow_${n}[i] = ${rowQuad(rows[n]!)};`).join('\n')}
  }`;
  const row = (dy: number) => `(ty + ${ry + dy}u)`;
  const combine = spec.combine(
    (name, dy) => `trow_${name}[${row(dy)} * OQ + q]`,
    (dy) => `trow_in[${row(dy)} * OQ + q]`,
  );
  p = {
    name: spec.name,
    key: `${spec.key};r=${rx},${ry};border=${spec.border};vec=${vecStore}`,
    inputs: [{ name: 'src', dtype: spec.inDtype }],
    // with the view, the program uses only it, so the two declarations never meet in one entry point
    outputs: [{ name: 'out', dtype: spec.outDtype, ...(vecStore ? { views: OUT_VEC4_VIEW } : {}) }],
    uniforms: [{ name: 'shape', type: 'vec4u' }, { name: 'border_value', type: 'f32' }, ...spec.uniforms],
    workgroupSize: 256,
    body: /* wgsl */ `
${wgslBorder(spec.border)}
const RY: u32 = ${ry}u;
const HX: u32 = ${hx}u;
const TW: u32 = ${TILE_W}u;
const TH: u32 = ${TILE_H}u;
const IW4: u32 = ${iw4}u;
const IH: u32 = ${ih}u;
const OQ: u32 = ${oq}u;
${names.map((n) => `var<workgroup> trow_${n}: array<vec4<f32>, ${oq * ih}>;`).join('\n')}
fn load4(e: u32) -> vec4<f32> { ${quadLoad(spec.inDtype)} }
// Quad i of a rim tile's input (row i / IW4, quad i % IW4, starting HX pixels left and RY rows
// above the output tile): quads inside the image load whole words, the others resolve each pixel.
fn rim_quad(i: u32, x0: u32, y0: u32, plane: u32) -> vec4<f32> {
  let s = u.shape;
  let gy = border(i32(y0 + i / IW4) - i32(RY), i32(s.z));
  let gx0 = i32(x0 + (i % IW4) * 4u) - i32(HX);
  var v = vec4<f32>(u.border_value);
  if (gy >= 0) {
    let row = plane + u32(gy) * s.w;
    if ((s.w & 3u) == 0u && gx0 >= 0 && gx0 + 3 < i32(s.w)) { return load4(row + u32(gx0)); }
    for (var j = 0; j < 4; j++) {
      let gx = border(gx0 + j, i32(s.w));
      if (gx >= 0) { v[j] = src_load(row + u32(gx)); }
    }
  }
  return v;
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let s = u.shape;
  let x0 = wid.x * TW;
  let y0 = wid.y * TH;
  let plane = wid.z * s.z * s.w;
  // Tiles whose halo lies inside the image (all but the rim) load whole words, no border
  // arithmetic; the loops are written out for each case (one branch per workgroup, none per quad).
  let interior = (s.w & 3u) == 0u && x0 >= HX && x0 + TW + HX <= s.w && y0 >= RY && y0 + TH + RY <= s.z;
  let origin = plane + (y0 - RY) * s.w + x0 - HX; // interior tiles only (it may wrap on the rim)
  if (interior) {
${rowPass((a) => `load4(origin + (i / OQ) * s.w + (i % OQ + ${a}u) * 4u)`)}
  } else {
${rowPass((a) => `rim_quad((i / OQ) * IW4 + i % OQ + ${a}u, x0, y0, plane)`)}
  }
  workgroupBarrier();
  let ty = li / OQ;
  let q = li % OQ;
  let oy = y0 + ty;
  if (oy >= s.z) { return; }
  ${combine}
  let base = plane + oy * s.w;
  let ox = x0 + 4u * q;
  ${quadStore(spec.outDtype, vecStore, 'base + ox', (k) => (k ? `ox + ${k}u < s.w` : 'ox < s.w'))}
}`,
  };
  programs.set(id, p);
  return p;
}

/**
 * Whether the tiled path takes this input: radii up to maxRadius (STENCIL_MAX_RADIUS, or
 * STENCIL_WIDE_RADIUS for the wide variant), rows on whole output words, planes in one dispatch.
 */
export function stencilTileFits(spec: Pick<StencilTileSpec, 'rx' | 'ry' | 'outDtype'>, shape: Dims4, maxRadius: number = STENCIL_MAX_RADIUS): boolean {
  const [n, c, , w] = shape;
  return spec.rx <= maxRadius && spec.ry <= maxRadius && w % ELEMENTS_PER_WORD[spec.outDtype] === 0 && n * c <= 65535;
}

/** Runs a tiled stencil over a GPU tensor (same shape out); check `stencilTileFits` first. */
export function runStencilTile(spec: StencilTileSpec, x: Tensor, uniforms: UniformValues, borderValue = 0): Tensor {
  const [n, c, h, w] = x.shape as Dims4;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, x.shape, spec.outDtype);
  gpu.dispatch({
    program: stencilTileProgram(spec, w % 4 === 0),
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { ...uniforms, shape: x.shape, border_value: borderValue },
    workgroups: [Math.ceil(w / TILE_W), Math.ceil(h / TILE_H), n * c],
  });
  return out;
}
