/**
 * Stencil strips: the tiled stencil's specs (./stencil-tile.ts) run without workgroup memory, for
 * u8 inputs with rows of a multiple of 16 pixels and radii ≤ 4. A thread streams 8 (or 16)
 * adjacent output pixels down 8 or 16 output rows (stripRows). Per input row it loads its 8 bytes
 * as one vector and, for rx > 0, the edge words of the neighbour vectors (L1 serves them: they are
 * the neighbour threads' own), computes the spec's row arrays once and keeps the last 2·ry + 1
 * rows of them in registers, from which the combine forms the output; the output is written as
 * whole vectors. Every row pass is computed once per input row (the word path tried in
 * stencil-tile.ts recomputed it per output row) and the next row's words are loaded before the
 * current row is computed. At a row's ends the pixels beyond it resolve through the border mode
 * from the thread's own pixels (radius ≤ 4 < 8); rows outside the image resolve once per row.
 * It wins over the tile at radius 1 and for min/max rectangles (runStencil picks it there).
 */
import type { ProgramInfo } from '../gpu/program.js';
import type { UniformValues } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';
import { wgslBorder } from './border.js';
import type { Dims4 } from './pixel.js';
import { contiguousStore, contiguousView, type ContiguousQuads } from './pointwise.js';
import { rowQuadWgsl, runStencilTile, stencilRows, type StencilTileSpec } from './stencil-tile.js';
import { KensaError } from '../errors.js';

const WG: [number, number] = [64, 4];
/** Largest radius a strip takes on either axis (one neighbour word each side). */
export const STRIP_MAX_RADIUS = 4;
/** A strip's shape: output rows per thread (default stripRows' choice) and its width in quads (2: 8 pixels, the default; 4: 16). */
export interface StripShape {
  readonly rows?: number;
  readonly quads?: ContiguousQuads;
}

/** Output rows a thread streams: 8 for f32 outputs of radius ≤ 1, else 16 (the faster on the GPU machine). */
export function stripRows(spec: Pick<StencilTileSpec, 'outDtype' | 'ry'>): number {
  return spec.outDtype === 'f32' && spec.ry <= 1 ? 8 : 16;
}

/** Whether the strip path takes this input: u8 rows of a multiple of 16 pixels (so of 8 too), radii ≤ 4, not i32 out, planes in one dispatch. */
export function stencilStripFits(spec: Pick<StencilTileSpec, 'rx' | 'ry' | 'inDtype' | 'outDtype'>, shape: Dims4): boolean {
  const [n, c, , w] = shape;
  return spec.inDtype === 'u8' && spec.outDtype !== 'i32' && spec.rx <= STRIP_MAX_RADIUS && spec.ry <= STRIP_MAX_RADIUS && w % 16 === 0 && n * c <= 65535;
}

const programs = new Map<string, ProgramInfo>();

/** The strip program of a spec (u8 input); equal specs and tunings return the same object. */
export function stencilStripProgram(spec: StencilTileSpec, rowsPerThread = stripRows(spec), quads: ContiguousQuads = 2): ProgramInfo {
  if (spec.inDtype !== 'u8' || spec.outDtype === 'i32')
    throw new KensaError('KENSA_ERR_INTERNAL', `stencil strip ${spec.name}: u8 input and no i32 output, got ${spec.inDtype} → ${spec.outDtype}`);
  const id = `${spec.name}|${spec.key}|${spec.outDtype}|${spec.border}|${spec.rx}|${spec.ry}|${rowsPerThread}|${quads}`;
  let p = programs.get(id);
  if (p) return p;
  const { rx, ry } = spec;
  const ks = Array.from({ length: quads }, (_, k) => k);
  const px = 4 * quads;
  const lanes = ['x', 'y', 'z', 'w'].slice(0, quads);
  const hx = rx > 0 ? 4 : 0;
  // the spec's row arrays and, when its combine reads them, the input quads (`in`)
  const rows = stencilRows(spec);
  const names = Object.keys(rows);
  // row words e0 … e(quads + 1) of Words `wd` as f32 quads: the left neighbour word, the thread's, the right neighbour word
  const word = (wd: string, k: number) => (i: number) => (rx > 0 ? `${wd}.e${k + i}` : `${wd}.e${k + 1}`);
  const slots = Array.from({ length: 2 * ry + 1 }, (_, d) => d);
  const roll = slots
    .slice(0, -1)
    .map((d) => `w${d} = w${d + 1};`)
    .join(' ');
  // output quads r0 … from the ring w0 … w(2·ry) (input rows y − ry … y + ry)
  const combines = ks.map((k) => {
    const combine = spec.combine(
      (name, dy) => `w${ry + dy}.${name}${k}`,
      (dy) => `w${ry + dy}.in${k}`,
    );
    return `var r${k}: vec4<f32>;
      {
        ${combine}
        r${k} = v;
      }`;
  });
  const loop = `${slots.map((d) => `var w${d}: Rows;`).join(' ')}
  var next = load_row(i32(y0) - ${ry}, k, plane);
  // the first 2·ry rows only fill the ring; the next row's words are loaded before this row is computed
  for (var i = 0u; i < ${rowsPerThread + 2 * ry}u; i++) {
    let raw = next;
    next = load_row(i32(y0 + i) ${ry > 1 ? `- ${ry - 1}` : `+ ${1 - ry}`}, k, plane);
    ${roll}
    w${2 * ry} = row_arrays(row_words(raw, k));
    let y = y0 + i - ${2 * ry}u;
    if (i >= ${2 * ry}u && y < s.z) {
      ${combines.join('\n      ')}
      let t = plane + y * units + k;
      ${contiguousStore(spec.outDtype, quads)}
    }
  }`;
  p = {
    name: `${spec.name}_strip`,
    key: `${spec.key};r=${rx},${ry};border=${spec.border};rows=${rowsPerThread};quads=${quads}`,
    // the bindings as vectors (only these are used): a thread's pixels in one access
    inputs: [{ name: 'src', dtype: 'u8', views: { src_v: contiguousView('u8', quads) } }],
    outputs: [{ name: 'out', dtype: spec.outDtype, views: { out_v: contiguousView(spec.outDtype, quads) } }],
    // shape N, C, H, W (W % 16 == 0)
    uniforms: [{ name: 'shape', type: 'vec4u' }, { name: 'border_value', type: 'f32' }, ...spec.uniforms],
    workgroupSize: WG[0] * WG[1],
    body: /* wgsl */ `
${wgslBorder(spec.border)}
// A row's words as loaded: the thread's vector m, the last word left of it and the first right of
// it (l, r: only meaningful inside the row); by < 0 is the constant border's row outside the image.
struct RawRow { m: vec${quads}<u32>, l: u32, r: u32, by: i32 };
fn load_row(yy: i32, k: u32, plane: u32) -> RawRow {
  let units = u.shape.w / ${px}u;
  let by = border(yy, i32(u.shape.z));
  let row = plane + u32(max(by, 0)) * units;
  var o = RawRow(src_v[row + k], 0u, 0u, by);
${rx > 0 ? `  if (k > 0u) { o.l = src_v[row + k - 1u].${lanes[quads - 1]}; }\n  if (k + 1u < units) { o.r = src_v[row + k + 1u].x; }` : ''}
  return o;
}
// Pixels x0 + i … x0 + i + 3 (i = -4 or ${px}, beyond the thread's ${px} at x0) at a row's end, through the border mode.
fn edge_word(m: vec${quads}<u32>, x0: i32, i: i32) -> vec4<f32> {
  var v = vec4<f32>(u.border_value);
  for (var j = 0; j < 4; j++) {
    let b = border(x0 + i + j, i32(u.shape.w)) - x0;
    if (b >= -x0) { v[j] = small_f32((m[u32(b) >> 2u] >> (8u * (u32(b) & 3u))) & 0xffu); }
  }
  return v;
}
// A row's pixels as f32 quads: e0 left of the thread's, e1 … e${quads} its own, e${quads + 1} right of them.
struct Words {
${Array.from({ length: quads + 2 }, (_, i) => `  e${i}: vec4<f32>,`).join('\n')}
};
fn row_words(raw: RawRow, k: u32) -> Words {
  var o: Words;
  let bv = vec4<f32>(u.border_value);
${Array.from({ length: quads + 2 }, (_, i) => `  o.e${i} = bv;`).join('\n')}
  if (raw.by >= 0) {
    let x0 = i32(k * ${px}u);
${lanes.map((l, i) => `    o.e${i + 1} = u8x4_f32(raw.m.${l});`).join('\n')}
${
  rx > 0
    ? `    if (k > 0u) { o.e0 = u8x4_f32(raw.l); } else { o.e0 = edge_word(raw.m, x0, -4); }
    if (k + 1u < u.shape.w / ${px}u) { o.e${quads + 1} = u8x4_f32(raw.r); } else { o.e${quads + 1} = edge_word(raw.m, x0, ${px}); }`
    : ''
}
  }
  return o;
}
struct Rows {
${ks.flatMap((k) => names.map((n) => `  ${n}${k}: vec4<f32>,`)).join('\n')}
};
fn row_arrays(wd: Words) -> Rows {
  var o: Rows;
${ks.flatMap((k) => names.map((n) => `  o.${n}${k} = ${rowQuadWgsl(rows[n]!, hx, word('wd', k))};`)).join('\n')}
  return o;
}
@compute @workgroup_size(${WG[0]}, ${WG[1]}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let s = u.shape;
  let units = s.w / ${px}u;
  let k = wid.x * ${WG[0]}u + lid.x;
  let y0 = (wid.y * ${WG[1]}u + lid.y) * ${rowsPerThread}u;
  if (k >= units || y0 >= s.z) { return; }
  let plane = wid.z * s.z * units;
  ${loop}
}`,
  };
  programs.set(id, p);
  return p;
}

/** Runs a stencil strip over a u8 GPU tensor (same shape out); check `stencilStripFits` first. */
export function runStencilStrip(spec: StencilTileSpec, x: Tensor, uniforms: UniformValues, borderValue = 0, shape: StripShape = {}): Tensor {
  const [n, c, h, w] = x.shape as Dims4;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, x.shape, spec.outDtype);
  const rows = shape.rows ?? stripRows(spec);
  const quads = shape.quads ?? 2;
  gpu.dispatch({
    program: stencilStripProgram(spec, rows, quads),
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { ...uniforms, shape: x.shape, border_value: borderValue },
    workgroups: [Math.ceil(w / (4 * quads) / WG[0]), Math.ceil(h / (rows * WG[1])), n * c],
  });
  return out;
}

/**
 * Runs a spec through the faster engine for it (check stencilTileFits first): the strip for u8
 * stencils of radius 1 where it fits, else the tile.
 */
export function runStencil(spec: StencilTileSpec, x: Tensor, uniforms: UniformValues, borderValue = 0): Tensor {
  if (spec.rx <= 1 && spec.ry <= 1 && stencilStripFits(spec, x.shape as Dims4)) return runStencilStrip(spec, x, uniforms, borderValue);
  return runStencilTile(spec, x, uniforms, borderValue);
}
