/**
 * Pointwise programs: the output element i depends on input elements at a fixed offset from i
 * (same index, or the three planes of an RGB pixel), so threads need no N/C/H/W decomposition.
 * Two kinds of spec:
 *  - any pointwise op writes  fn value(i: u32, q: u32, p: u32, c: u32) -> f32
 *      i  linear output element index
 *      q  plane index i / u.plane (= n·C + c of the output), p = i − q·u.plane, c = q % u.channels
 *         (q, p, c are 0 unless `planes` is set)
 *    and reads the input with `src_load(j)` (any dtype as f32). Scalar program: a thread writes
 *    one output word (4 u8, 2 u16/f16, 1 f32/i32) with saturate_cast packing, 4 words per thread
 *    (coalesced), one division and one modulo per word only when the op asks for plane indices.
 *  - an elementwise op (output element i a function of input element i and its channel alone)
 *    writes  fn map4(v: vec4<f32>, c: u32) -> vec4<f32>  over 4 elements of one plane. It also gets
 *    the vector program: a thread maps 16 elements, with 16-byte loads and stores (one vec4<u32>
 *    of u8, two of u16/f16, four vec4 of f32/i32), when planes hold a multiple of 16 elements (the
 *    whole batch when `planes` is false); other sizes take the scalar program, whose `value` is
 *    map4's first lane. Same arithmetic in both, so they agree bit for bit.
 * Notes (H100, 16×2048×2048): a pixelProgram's three divisions and moduli per word made u8 → u8
 * ops instruction-bound (about 1 TB/s); float-reciprocal division with exact correction was slower.
 * The CPU mirror is cpuPixelKernel (pixel-kernel.ts), as for pixel programs.
 */
import { ELEMENTS_PER_WORD, type DType } from '../dtype.js';
import type { ProgramInfo } from '../gpu/program.js';
import type { UniformField, UniformValues } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';
import type { Dims4 } from './pixel-kernel.js';

const WORKGROUP = 256;
/** Output words per thread of the scalar program (a workgroup covers ROWS consecutive runs of WORKGROUP words, coalesced). */
const ROWS = 4;
/** Elements per thread of the vector program. */
export const VEC_ELEMENTS = 16;

export interface PointwiseSpec {
  name: string;
  /** Variant key beyond the dtypes and the planes flag; sizes never. */
  key: string;
  input: DType;
  output: DType;
  /** Whether the op uses plane or channel indices (costs one division and one modulo per output word). */
  planes: boolean;
  uniforms: readonly UniformField[];
  /**
   * Whether `body` defines `fn map4(v: vec4<f32>, c: u32) -> vec4<f32>` (elementwise) rather than
   * `fn value(i: u32, q: u32, p: u32, c: u32) -> f32`; either with any helpers.
   */
  elementwise?: boolean;
  body: string;
}

const UNIFORMS: readonly UniformField[] = [
  { name: 'out_words', type: 'u32' },
  { name: 'out_numel', type: 'u32' },
  { name: 'plane', type: 'u32' },
  { name: 'channels', type: 'u32' },
];

const scalarPrograms = new Map<string, ProgramInfo>();
const vectorPrograms = new Map<string, ProgramInfo>();

function specId(spec: PointwiseSpec): string {
  return `${spec.name}|${spec.key}|${spec.input}|${spec.output}|${spec.planes}|${spec.elementwise === true}|${spec.uniforms.map((f) => f.name).join(',')}|${spec.body}`;
}

/** `value` of an elementwise spec: map4's first lane. */
const VALUE_OF_MAP4 = 'fn value(i: u32, q: u32, p: u32, c: u32) -> f32 { return map4(vec4<f32>(src_load(i)), c).x; }';

/** The scalar program of a spec (any size); equal specs return the same program object. */
export function pointwiseProgram(spec: PointwiseSpec): ProgramInfo {
  const id = specId(spec);
  let program = scalarPrograms.get(id);
  if (!program) scalarPrograms.set(id, (program = buildScalar(spec)));
  return program;
}

function buildScalar(spec: PointwiseSpec): ProgramInfo {
  const k = ELEMENTS_PER_WORD[spec.output];
  const decl = k === 4 ? 'var v = vec4<f32>(0.0);' : k === 2 ? 'var v = vec2<f32>(0.0);' : 'var v = array<f32, 1>(0.0);';
  const store = k === 1 ? 'out[w] = out_pack(v[0]);' : 'out[w] = out_pack(v);';
  const planes = spec.planes;
  const start = planes
    ? `var q = i / u.plane;
  var p = i - q * u.plane;
  var c = q % u.channels;`
    : 'let q = 0u; let p = 0u; let c = 0u;';
  const step = planes ? 'p++; if (p == u.plane) { p = 0u; q++; c++; if (c == u.channels) { c = 0u; } }' : '';
  const body = /* wgsl */ `
${spec.body}
${spec.elementwise ? VALUE_OF_MAP4 : ''}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let base = linear_workgroup(wid, nwg) * (WG * ${ROWS}u) + li;
  for (var r = 0u; r < ${ROWS}u; r++) {
  let w = base + r * WG;
  if (w >= u.out_words) { return; }
  var i = w * ${k}u;
  ${start}
  ${decl}
  for (var k = 0u; k < ${k}u; k++) {
    if (i < u.out_numel) { v[k] = value(i, q, p, c); }
    i++;
    ${step}
  }
  ${store}
  }
}`;
  return {
    name: spec.name,
    key: `${spec.key};planes=${planes}`,
    inputs: [{ name: 'src', dtype: spec.input }],
    outputs: [{ name: 'out', dtype: spec.output }],
    uniforms: [...UNIFORMS, ...spec.uniforms],
    workgroupSize: WORKGROUP,
    body,
  };
}

/** WGSL vec4 element type of a dtype's storage words. */
function wordVec(dtype: DType): string {
  return dtype === 'f32' ? 'vec4<f32>' : dtype === 'i32' ? 'vec4<i32>' : 'vec4<u32>';
}

/** WGSL loading the thread's 16 elements (unit t) into e0..e3 (vec4<f32>, element order). */
function vectorLoad(dtype: DType): string {
  switch (dtype) {
    case 'u8':
      return `let a = src_v[t];
  let sh = vec4<u32>(0u, 8u, 16u, 24u);
  let e0 = vec4<f32>((vec4<u32>(a.x) >> sh) & vec4<u32>(0xffu));
  let e1 = vec4<f32>((vec4<u32>(a.y) >> sh) & vec4<u32>(0xffu));
  let e2 = vec4<f32>((vec4<u32>(a.z) >> sh) & vec4<u32>(0xffu));
  let e3 = vec4<f32>((vec4<u32>(a.w) >> sh) & vec4<u32>(0xffu));`;
    case 'u16':
      return `let a = src_v[2u * t];
  let b = src_v[2u * t + 1u];
  let lo = vec4<u32>(0xffffu);
  let e0 = vec4<f32>(vec4<u32>(a.x, a.x >> 16u, a.y, a.y >> 16u) & lo);
  let e1 = vec4<f32>(vec4<u32>(a.z, a.z >> 16u, a.w, a.w >> 16u) & lo);
  let e2 = vec4<f32>(vec4<u32>(b.x, b.x >> 16u, b.y, b.y >> 16u) & lo);
  let e3 = vec4<f32>(vec4<u32>(b.z, b.z >> 16u, b.w, b.w >> 16u) & lo);`;
    case 'f16':
      return `let a = src_v[2u * t];
  let b = src_v[2u * t + 1u];
  let e0 = vec4<f32>(unpack2x16float(a.x), unpack2x16float(a.y));
  let e1 = vec4<f32>(unpack2x16float(a.z), unpack2x16float(a.w));
  let e2 = vec4<f32>(unpack2x16float(b.x), unpack2x16float(b.y));
  let e3 = vec4<f32>(unpack2x16float(b.z), unpack2x16float(b.w));`;
    default:
      return [0, 1, 2, 3].map((k) => `let e${k} = vec4<f32>(src_v[4u * t + ${k}u]);`).join('\n  ');
  }
}

/** WGSL storing r0..r3 (vec4<f32>, element order) as the thread's 16 output elements, saturated as out_pack. */
function vectorStore(dtype: DType): string {
  switch (dtype) {
    case 'u8':
      return 'out_v[t] = vec4<u32>(out_pack(r0), out_pack(r1), out_pack(r2), out_pack(r3));';
    case 'u16':
    case 'f16':
      return `out_v[2u * t] = vec4<u32>(out_pack(r0.xy), out_pack(r0.zw), out_pack(r1.xy), out_pack(r1.zw));
  out_v[2u * t + 1u] = vec4<u32>(out_pack(r2.xy), out_pack(r2.zw), out_pack(r3.xy), out_pack(r3.zw));`;
    case 'i32':
      return [0, 1, 2, 3].map((k) => `out_v[4u * t + ${k}u] = vec4<i32>(out_pack(r${k}.x), out_pack(r${k}.y), out_pack(r${k}.z), out_pack(r${k}.w));`).join('\n  ');
    case 'f32':
      return [0, 1, 2, 3].map((k) => `out_v[4u * t + ${k}u] = r${k};`).join('\n  ');
  }
}

/** The vector program of an elementwise spec: 16 elements per thread, planes a multiple of 16 elements. */
export function pointwiseVectorProgram(spec: PointwiseSpec): ProgramInfo {
  if (!spec.elementwise) throw new Error(`pointwise ${spec.name}: the vector program needs an elementwise spec`);
  const id = specId(spec);
  let program = vectorPrograms.get(id);
  if (!program) vectorPrograms.set(id, (program = buildVector(spec)));
  return program;
}

function buildVector(spec: PointwiseSpec): ProgramInfo {
  const channel = spec.planes ? `let c = (t / (u.plane / ${VEC_ELEMENTS}u)) % u.channels;` : 'let c = 0u;';
  const body = /* wgsl */ `
// Both bindings again, as vectors of storage words (only these are used): 16-byte loads and stores.
@group(0) @binding(1) var<storage, read> src_v: array<${wordVec(spec.input)}>;
@group(0) @binding(2) var<storage, read_write> out_v: array<${wordVec(spec.output)}>;
${spec.body}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = linear_workgroup(wid, nwg) * WG + li;
  if (t >= u.out_numel / ${VEC_ELEMENTS}u) { return; }
  ${channel}
  ${vectorLoad(spec.input)}
  let r0 = map4(e0, c);
  let r1 = map4(e1, c);
  let r2 = map4(e2, c);
  let r3 = map4(e3, c);
  ${vectorStore(spec.output)}
}`;
  return {
    name: `${spec.name}_vec`,
    key: `${spec.key};planes=${spec.planes}`,
    inputs: [{ name: 'src', dtype: spec.input }],
    outputs: [{ name: 'out', dtype: spec.output }],
    uniforms: [...UNIFORMS, ...spec.uniforms],
    workgroupSize: WORKGROUP,
    body,
  };
}

/** Whether an elementwise spec runs the vector program on `outShape` (planes, or the batch, on 16 elements). */
export function takesVectorProgram(spec: PointwiseSpec, outShape: Dims4): boolean {
  const [n, c, h, w] = outShape;
  const span = spec.planes ? h * w : n * c * h * w;
  return spec.elementwise === true && span > 0 && span % VEC_ELEMENTS === 0;
}

/**
 * Runs a pointwise spec over a GPU input; `outShape` is N×C×H×W (plane = H·W, channels = C).
 * Elementwise specs take the vector program where the shape allows it (`scalar` forces the other).
 */
export function runPointwise(spec: PointwiseSpec, x: Tensor, outShape: Dims4, uniforms: UniformValues, scalar = false): Tensor {
  const gpu = x.gpu.gpu;
  const outDtype = spec.output;
  const out = Tensor.empty(gpu, outShape, outDtype);
  const words = Math.ceil(out.size / ELEMENTS_PER_WORD[outDtype]);
  const vector = !scalar && takesVectorProgram(spec, outShape);
  gpu.dispatch({
    program: vector ? pointwiseVectorProgram(spec) : pointwiseProgram(spec),
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: {
      ...uniforms,
      out_words: words,
      out_numel: out.size,
      plane: outShape[2] * outShape[3],
      channels: outShape[1],
    },
    workgroups: vector ? Math.ceil(out.size / VEC_ELEMENTS / WORKGROUP) : Math.ceil(words / (WORKGROUP * ROWS)),
  });
  return out;
}

/** Both programs of a spec (the vector one for elementwise specs), for compile-all tests. */
export function pointwisePrograms(spec: PointwiseSpec): ProgramInfo[] {
  return spec.elementwise ? [pointwiseProgram(spec), pointwiseVectorProgram(spec)] : [pointwiseProgram(spec)];
}
