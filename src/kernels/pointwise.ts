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
 *    the vector program, a thread mapping 16 elements in one of two layouts (POINTWISE_LAYOUTS,
 *    the faster per output dtype by default), when planes hold a multiple of 16 elements (the
 *    whole batch when `planes` is false); other sizes take the scalar program, whose `value` is
 *    map4's first lane. Same arithmetic in all, so they agree bit for bit.
 * Pointwise programs exist because a pixelProgram's index divisions per word made u8 → u8 ops instruction-bound.
 * The CPU mirror is cpuPixelKernel (pixel-kernel.ts), as for pixel programs.
 */
import { BYTES_PER_ELEMENT, ELEMENTS_PER_WORD, type DType } from '../dtype.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';
import type { ProgramInfo } from '../gpu/program.js';
import type { UniformField, UniformValues } from '../gpu/uniforms.js';
import { KensaError } from '../errors.js';
import { sharedDevice } from '../device.js';
import { Tensor } from '../tensor.js';
import { invalidParameter } from '../validate.js';
import { packExpr, type Dims4 } from './pixel.js';

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

/**
 * The scalar program of a spec (any size); equal specs return the same program object. The view
 * variant reads a strided input (src_offset + Σ index·src_strides, the input's logical shape in
 * src_shape): `src_load(j)` keeps taking the logical index, so every spec body runs unchanged.
 */
export function pointwiseProgram(spec: PointwiseSpec, view = false): ProgramInfo {
  const id = `${specId(spec)}|${view}`;
  let program = scalarPrograms.get(id);
  if (!program) scalarPrograms.set(id, (program = view ? viewVariant(buildScalar(spec)) : buildScalar(spec)));
  return program;
}

function viewVariant(p: ProgramInfo): ProgramInfo {
  const input = p.inputs[0]!;
  return {
    ...p,
    key: `${p.key};view`,
    inputs: [{ name: 'src_raw', dtype: input.dtype }],
    uniforms: [...p.uniforms, { name: 'src_shape', type: 'vec4u' }, { name: 'src_strides', type: 'vec4u' }, { name: 'src_offset', type: 'u32' }],
    body: /* wgsl */ `
fn src_load(j: u32) -> f32 {
  let s = u.src_shape;
  let t = j / s.w;
  let t2 = t / s.z;
  return src_raw_load(u.src_offset + (t2 / s.y) * u.src_strides.x + (t2 % s.y) * u.src_strides.y + (t % s.z) * u.src_strides.z + (j % s.w) * u.src_strides.w);
}
${p.body}`,
  };
}

function buildScalar(spec: PointwiseSpec): ProgramInfo {
  const k = ELEMENTS_PER_WORD[spec.output];
  const { decl, store } = packExpr(spec.output);
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

/**
 * Layouts of the vector program (a workgroup maps 16·WG elements either way):
 *  - 'contiguous': a thread's 16 elements are adjacent: one 16-byte load of u8 input, one
 *    16-byte store of u8 output (two for u16/f16, four for f32/i32, 64 bytes per thread);
 *  - 'strided': a thread maps 4 quads of 4 elements WG quads apart, so every load and store
 *    instruction is contiguous over the workgroup (a u8 quad is a 4-byte access, f32 16 bytes).
 */
export const POINTWISE_LAYOUTS = ['contiguous', 'strided'] as const;
export type PointwiseLayout = (typeof POINTWISE_LAYOUTS)[number];

/** The layout a spec gets by default: contiguous for 1-byte outputs, else strided (the faster of the two for each). */
export function defaultLayout(spec: PointwiseSpec): PointwiseLayout {
  return BYTES_PER_ELEMENT[spec.output] === 1 ? 'contiguous' : 'strided';
}

/** WGSL vector type of `n` storage words of a dtype (n 2 or 4; i32/f32 words as their own type). */
function wordVec(dtype: DType, n: number): string {
  return dtype === 'f32' ? `vec${n}<f32>` : dtype === 'i32' ? `vec${n}<i32>` : `vec${n}<u32>`;
}

/** Storage words of a quad (4 elements) of a dtype. */
function quadWords(dtype: DType): number {
  return 4 / ELEMENTS_PER_WORD[dtype];
}

/** WGSL: the quad of input elements 4g … 4g+3 as vec4<f32> (reads src_q, the input as quads). */
function quadLoad(dtype: DType, g: string): string {
  switch (dtype) {
    case 'u8':
      return `u8x4_f32(src[${g}])`;
    case 'u16':
      return `u16_quad(src_q[${g}])`;
    case 'f16':
      return `vec4<f32>(unpack_f16x2(src_q[${g}].x), unpack_f16x2(src_q[${g}].y))`;
    default:
      return `vec4<f32>(src_q[${g}])`;
  }
}

/** WGSL: stores the vec4<f32> quad `r` as output elements 4g … 4g+3 (into `quads`, the output as quads; u8: `out`). */
function quadStore(dtype: DType, g: string, r: string, quads = 'out_q'): string {
  switch (dtype) {
    case 'u8':
      return `out[${g}] = out_pack(${r});`;
    case 'u16':
    case 'f16':
      return `${quads}[${g}] = vec2<u32>(out_pack(${r}.xy), out_pack(${r}.zw));`;
    case 'i32':
      return `${quads}[${g}] = vec4<i32>(out_pack(${r}.x), out_pack(${r}.y), out_pack(${r}.z), out_pack(${r}.w));`;
    case 'f32':
      return `${quads}[${g}] = ${r};`;
  }
}

/** WGSL loading the thread's 16 adjacent elements (unit t) into e0..e3 (vec4<f32>, element order). */
function contiguousLoad(dtype: DType): string {
  switch (dtype) {
    case 'u8':
      return `let a = src_v[t];
  let e0 = u8x4_f32(a.x);
  let e1 = u8x4_f32(a.y);
  let e2 = u8x4_f32(a.z);
  let e3 = u8x4_f32(a.w);`;
    case 'u16':
      return `let a = src_v[2u * t];
  let b = src_v[2u * t + 1u];
  let e0 = u16_quad(a.xy);
  let e1 = u16_quad(a.zw);
  let e2 = u16_quad(b.xy);
  let e3 = u16_quad(b.zw);`;
    case 'f16':
      return `let a = src_v[2u * t];
  let b = src_v[2u * t + 1u];
  let e0 = vec4<f32>(unpack_f16x2(a.x), unpack_f16x2(a.y));
  let e1 = vec4<f32>(unpack_f16x2(a.z), unpack_f16x2(a.w));
  let e2 = vec4<f32>(unpack_f16x2(b.x), unpack_f16x2(b.y));
  let e3 = vec4<f32>(unpack_f16x2(b.z), unpack_f16x2(b.w));`;
    default:
      return [0, 1, 2, 3].map((k) => `let e${k} = vec4<f32>(src_v[4u * t + ${k}u]);`).join('\n  ');
  }
}

/** Quads a thread maps in the contiguous layout: 4 (16 elements, the vector program) or 2 (8, the stencil strips). */
export type ContiguousQuads = 2 | 4;

/** Width of the vectors a thread's `quads` adjacent quads are accessed as: u8 one vector of `quads` words, wider dtypes vec4s of words. */
function contiguousVec(dtype: DType, quads: ContiguousQuads): number {
  return Math.min(4, quads * quadWords(dtype));
}

/** The view (TensorBinding.views) type a thread's `quads` adjacent quads of a dtype are accessed as. */
export function contiguousView(dtype: DType, quads: ContiguousQuads = 4): string {
  return wordVec(dtype, contiguousVec(dtype, quads));
}

/** WGSL storing quads r0 … r(quads − 1) (vec4<f32>) as the thread's span t of the output through its view `out_v` (contiguousView), saturated as out_pack. */
export function contiguousStore(dtype: DType, quads: ContiguousQuads = 4): string {
  const ks = Array.from({ length: quads }, (_, k) => k);
  switch (dtype) {
    case 'u8':
      return `out_v[t] = vec${quads}<u32>(${ks.map((k) => `out_pack(r${k})`).join(', ')});`;
    case 'u16':
    case 'f16':
      // two quads per vec4 of words
      return ks
        .filter((k) => k % 2 === 0)
        .map((k) => `out_v[${quads / 2}u * t + ${k / 2}u] = vec4<u32>(out_pack(r${k}.xy), out_pack(r${k}.zw), out_pack(r${k + 1}.xy), out_pack(r${k + 1}.zw));`)
        .join('\n  ');
    default:
      return ks.map((k) => quadStore(dtype, `${quads}u * t + ${k}u`, `r${k}`, 'out_v')).join('\n  ');
  }
}

/** The vector program of an elementwise spec: 16 elements per thread, planes a multiple of 16 elements. */
export function pointwiseVectorProgram(spec: PointwiseSpec, layout: PointwiseLayout = defaultLayout(spec)): ProgramInfo {
  if (!spec.elementwise) throw new KensaError('KENSA_ERR_INTERNAL', `pointwise ${spec.name}: the vector program needs an elementwise spec`);
  const id = `${specId(spec)}|${layout}`;
  let program = vectorPrograms.get(id);
  if (!program) vectorPrograms.set(id, (program = layout === 'contiguous' ? buildContiguous(spec) : buildStrided(spec)));
  return program;
}

const U16_QUAD = 'fn u16_quad(w: vec2<u32>) -> vec4<f32> { return small_f32x4(vec4<u32>(w.x, w.x >> 16u, w.y, w.y >> 16u) & vec4<u32>(0xffffu)); }';

type Views = Record<string, string>;

/** `views` are the bindings as vectors; `main` uses only them where a binding has one. */
function vectorInfo(spec: PointwiseSpec, layout: PointwiseLayout, views: { src: Views; out: Views }, main: string): ProgramInfo {
  return {
    name: `${spec.name}_${layout}`,
    key: `${spec.key};planes=${spec.planes}`,
    inputs: [{ name: 'src', dtype: spec.input, views: views.src }],
    outputs: [{ name: 'out', dtype: spec.output, views: views.out }],
    uniforms: [...UNIFORMS, ...spec.uniforms],
    workgroupSize: WORKGROUP,
    body: /* wgsl */ `
${spec.input === 'u16' ? U16_QUAD : ''}
${spec.body}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${main}
}`,
  };
}

function buildContiguous(spec: PointwiseSpec): ProgramInfo {
  const channel = spec.planes ? `let c = (t / (u.plane / ${VEC_ELEMENTS}u)) % u.channels;` : 'let c = 0u;';
  return vectorInfo(
    spec,
    'contiguous',
    { src: { src_v: contiguousView(spec.input) }, out: { out_v: contiguousView(spec.output) } },
    `let t = linear_workgroup(wid, nwg) * WG + li;
  if (t >= u.out_numel / ${VEC_ELEMENTS}u) { return; }
  ${channel}
  ${contiguousLoad(spec.input)}
  let r0 = map4(e0, c);
  let r1 = map4(e1, c);
  let r2 = map4(e2, c);
  let r3 = map4(e3, c);
  ${contiguousStore(spec.output)}`,
  );
}

function buildStrided(spec: PointwiseSpec): ProgramInfo {
  const channel = spec.planes ? '(g / (u.plane / 4u)) % u.channels' : '0u';
  // a quad is one u8 word (the binding itself), two u16/f16 words, four f32/i32 words
  const view = (name: string, dtype: DType): Views => (quadWords(dtype) === 1 ? {} : { [name]: wordVec(dtype, quadWords(dtype)) });
  return vectorInfo(
    spec,
    'strided',
    { src: view('src_q', spec.input), out: view('out_q', spec.output) },
    `let base = linear_workgroup(wid, nwg) * (4u * WG) + li;
  let quads = u.out_numel / 4u;
  for (var k = 0u; k < 4u; k++) {
    let g = base + k * WG;
    if (g >= quads) { return; }
    ${quadStore(spec.output, 'g', `map4(${quadLoad(spec.input, 'g')}, ${channel})`)}
  }`,
  );
}

/** Whether an elementwise spec runs the vector program on `outShape` (planes, or the batch, on 16 elements). */
export function takesVectorProgram(spec: PointwiseSpec, outShape: Dims4): boolean {
  const [n, c, h, w] = outShape;
  const span = spec.planes ? h * w : n * c * h * w;
  return spec.elementwise === true && span > 0 && span % VEC_ELEMENTS === 0;
}

/** Which program runPointwise records: 'scalar', or a vector layout. */
export type PointwiseProgramChoice = 'scalar' | PointwiseLayout;

/**
 * Runs a pointwise spec over a GPU input; `outShape` is N×C×H×W (plane = H·W, channels = C).
 * Elementwise specs take the vector program in its default layout where the shape allows it;
 * `choice` (tests, benchmarks) forces a program. With `into`, the program writes that existing
 * tensor (of outShape and the spec's output dtype, on x's GPU, apart from x) and returns it.
 */
export function runPointwise(spec: PointwiseSpec, x: Tensor, outShape: Dims4, uniforms: UniformValues, choice?: PointwiseProgramChoice, into?: Tensor): Tensor {
  const { gpu, ref } = x.storage as { gpu: Gpu; ref: BufferRef };
  const outDtype = spec.output;
  if (into) checkInto(into, ref, x, outShape, outDtype);
  const out = into ?? Tensor.empty(gpu, outShape, outDtype);
  const words = Math.ceil(out.size / ELEMENTS_PER_WORD[outDtype]);
  // a strided view (crop, channel slice) is read in place by the scalar program's view variant
  const view = !x.isContiguous;
  const program = view ? 'scalar' : (choice ?? (takesVectorProgram(spec, outShape) ? defaultLayout(spec) : 'scalar'));
  if (program !== 'scalar' && !takesVectorProgram(spec, outShape))
    throw new KensaError('KENSA_ERR_INTERNAL', `pointwise ${spec.name}: the vector program needs planes of a multiple of ${VEC_ELEMENTS} elements`);
  gpu.dispatch({
    program: program === 'scalar' ? pointwiseProgram(spec, view) : pointwiseVectorProgram(spec, program),
    inputs: [ref],
    outputs: [out.gpu.ref],
    uniforms: {
      ...uniforms,
      ...(view ? { src_shape: x.shape, src_strides: x.strides, src_offset: x.offset } : {}),
      out_words: words,
      out_numel: out.size,
      plane: outShape[2] * outShape[3],
      channels: outShape[1],
    },
    workgroups: program === 'scalar' ? Math.ceil(words / (WORKGROUP * ROWS)) : Math.ceil(out.size / VEC_ELEMENTS / WORKGROUP),
  });
  return out;
}

function checkInto(into: Tensor, xRef: BufferRef, x: Tensor, shape: Dims4, dtype: DType): void {
  if (into.dtype !== dtype) throw new KensaError('KENSA_ERR_DTYPE', `Expected out of dtype ${dtype} but received ${into.dtype}`);
  if (into.shape.length !== 4 || into.shape.some((d, i) => d !== shape[i])) {
    throw new KensaError('KENSA_ERR_SHAPE', `Expected out of shape [${shape.join(', ')}] but received [${into.shape.join(', ')}]`);
  }
  sharedDevice([x, into]);
  // a buffer bound both read-only and read-write in one dispatch is invalid in WebGPU
  if (into.gpu.ref.buffer === xRef.buffer) throw invalidParameter('out', 'a tensor apart from the input', 'a view of the input');
}

/** Every program of a spec (both vector layouts for elementwise specs), for compile-all tests. */
export function pointwisePrograms(spec: PointwiseSpec): ProgramInfo[] {
  return spec.elementwise ? [pointwiseProgram(spec), ...POINTWISE_LAYOUTS.map((l) => pointwiseVectorProgram(spec, l))] : [pointwiseProgram(spec)];
}
