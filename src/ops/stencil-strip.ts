/**
 * Stencil strips: the tiled stencil's specs (./stencil-tile.ts) run without workgroup memory, for
 * u8 inputs with rows on whole words (W % 4 == 0) and radii ≤ 4. A thread streams QUADS output
 * quads (4 pixels each, 64 threads apart: each load and store of a warp is contiguous) down ROWS
 * output rows. Per input row it loads each quad's word and, for rx > 0, both neighbour words (L1
 * serves them: they are the neighbour threads' own words), computes the spec's row arrays once and
 * keeps the last 2·ry + 1 rows of them in registers, from which the combine forms each output quad.
 * So every row pass is computed once per input row (the word path tried in stencil-tile.ts
 * recomputed it for every output row) and the input is read (ROWS + 2·ry) / ROWS times.
 * Only quads at a row's ends build a neighbour word pixel by pixel with the border mode; rows
 * outside the image resolve once per row.
 */
import type { ProgramInfo } from '../gpu/program.js';
import type { UniformValues } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';
import { wgslBorder } from './border.js';
import type { Dims4 } from './pixel-kernel.js';
import { OUT_VEC4_ALIAS, quadStore, rowQuadWgsl, stencilRows, type StencilTileSpec } from './stencil-tile.js';

const SX = 64;
const WG_ROWS = 4;
/** Largest radius a strip takes on either axis (one neighbour word each side). */
export const STRIP_MAX_RADIUS = 4;
/** Benchmark switches: output rows and quads per thread. */
export const stripTuning = { rows: 16, quads: 4 };

/** Whether the strip path takes this input: u8 rows on whole words, radii ≤ 4, planes in one dispatch. */
export function stencilStripFits(spec: Pick<StencilTileSpec, 'rx' | 'ry' | 'inDtype'>, shape: Dims4): boolean {
  const [n, c, , w] = shape;
  return spec.inDtype === 'u8' && spec.rx <= STRIP_MAX_RADIUS && spec.ry <= STRIP_MAX_RADIUS && w % 4 === 0 && n * c <= 65535;
}

const programs = new Map<string, ProgramInfo>();

/** The strip program of a spec (u8 input); equal specs and tunings return the same object. */
export function stencilStripProgram(spec: StencilTileSpec, rowsPerThread = stripTuning.rows, quads = stripTuning.quads): ProgramInfo {
  if (spec.inDtype !== 'u8') throw new Error(`stencil strip ${spec.name}: u8 input only, got ${spec.inDtype}`);
  const vecStore = spec.outDtype === 'f32';
  const id = `${spec.name}|${spec.key}|${spec.outDtype}|${spec.border}|${spec.rx}|${spec.ry}|${rowsPerThread}|${quads}`;
  let p = programs.get(id);
  if (p) return p;
  const { rx, ry } = spec;
  const rows = stencilRows(spec);
  const names = Object.keys(rows);
  const words = rx > 0 ? 3 : 1;
  const hx = rx > 0 ? 4 : 0;
  const ks = Array.from({ length: quads }, (_, k) => k);
  const fields = ks.flatMap((k) => names.map((n) => `  ${n}${k}: vec4<f32>,`));
  const rowPass = ks.map((k) => {
    const loads = Array.from({ length: words }, (_, a) => `  let a${k}_${a} = strip_word(by, rb, i32(q + ${k * SX}u) + ${a - (words - 1) / 2});`);
    return [...loads, ...names.map((n) => `  o.${n}${k} = ${rowQuadWgsl(rows[n]!, hx, `a${k}_`)};`)].join('\n');
  });
  const ring = Array.from({ length: 2 * ry + 1 }, (_, d) => `w${d}`);
  const roll = ring
    .slice(0, -1)
    .map((w, d) => `${w} = w${d + 1};`)
    .join(' ');
  const stores = ks.map((k) => {
    const combine = spec.combine(
      (name, dy) => `w${ry + dy}.${name}${k}`,
      (dy) => `w${ry + dy}.in${k}`,
    );
    return `if (q + ${k * SX}u < ww) {
        ${combine}
        let e = (g.z * s.z + y) * s.w + 4u * (q + ${k * SX}u);
        ${quadStore(spec.outDtype, vecStore, 'e', () => 'true')}
      }`;
  });
  p = {
    name: `${spec.name}_strip`,
    key: `${spec.key};r=${rx},${ry};border=${spec.border};rows=${rowsPerThread};quads=${quads}`,
    inputs: [{ name: 'src', dtype: 'u8' }],
    outputs: [{ name: 'out', dtype: spec.outDtype }],
    uniforms: [{ name: 'shape', type: 'vec4u' }, { name: 'border_value', type: 'f32' }, ...spec.uniforms],
    workgroupSize: SX * WG_ROWS,
    body: /* wgsl */ `
${wgslBorder(spec.border)}
${vecStore ? OUT_VEC4_ALIAS : ''}
// Word wq of row by (its first word at rb) as f32 pixels: outside the row pixel by pixel through
// the border mode; by < 0 is the constant border's row outside the image.
fn strip_word(by: i32, rb: u32, wq: i32) -> vec4<f32> {
  if (by < 0) { return vec4<f32>(u.border_value); }
  if (wq >= 0 && wq < i32(u.shape.w / 4u)) { return u8x4_f32(src[rb + u32(wq)]); }
  var v = vec4<f32>(u.border_value);
  for (var j = 0; j < 4; j++) {
    let x = border(wq * 4 + j, i32(u.shape.w));
    if (x >= 0) { v[j] = small_f32((src[rb + u32(x) / 4u] >> (8u * (u32(x) % 4u))) & 0xffu); }
  }
  return v;
}
struct Rows {
${fields.join('\n')}
};
// The row arrays of plane row yy (resolved with the border mode) for the thread's quads q + ${SX}k.
fn strip_rows(yy: i32, q: u32, plane: u32) -> Rows {
  let by = border(yy, i32(u.shape.z));
  let rb = plane + u32(max(by, 0)) * (u.shape.w / 4u);
  var o: Rows;
${rowPass.join('\n')}
  return o;
}
@compute @workgroup_size(${SX}, ${WG_ROWS}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let g = wid;
  let s = u.shape;
  let ww = s.w / 4u;
  let q = wid.x * ${SX * quads}u + lid.x;
  let y0 = (wid.y * ${WG_ROWS}u + lid.y) * ${rowsPerThread}u;
  if (q >= ww || y0 >= s.z) { return; }
  let plane = g.z * s.z * ww;
  ${ring.map((w) => `var ${w}: Rows;`).join(' ')}
  // the first 2·ry rows only fill the ring (one call site: strip_rows is inlined once)
  for (var i = 0u; i < ${rowsPerThread + 2 * ry}u; i++) {
    ${roll}
    w${2 * ry} = strip_rows(i32(y0 + i) - ${ry}, q, plane);
    let y = y0 + i - ${2 * ry}u;
    if (i >= ${2 * ry}u && y < s.z) {
      ${stores.join('\n      ')}
    }
  }
}`,
  };
  programs.set(id, p);
  return p;
}

/** Runs a stencil strip over a u8 GPU tensor (same shape out); check `stencilStripFits` first. */
export function runStencilStrip(spec: StencilTileSpec, x: Tensor, uniforms: UniformValues, borderValue = 0): Tensor {
  const [n, c, h, w] = x.shape as Dims4;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, x.shape, spec.outDtype);
  const { rows, quads } = stripTuning;
  gpu.dispatch({
    program: stencilStripProgram(spec, rows, quads),
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { ...uniforms, shape: x.shape, border_value: borderValue },
    workgroups: [Math.ceil(w / 4 / (SX * quads)), Math.ceil(h / (rows * WG_ROWS)), n * c],
  });
  return out;
}
