/**
 * Pixel kernels: the shape most image ops share. An op gives one function per backend
 * computing output pixel (n, c, y, x) as a number; this module does the rest:
 *  - GPU: a program whose threads each write one 32-bit output word (4 u8, 2 u16/f16, 1 f32/i32
 *    pixels), with OpenCV saturate_cast on packing; input accessors with border handling.
 *  - CPU: the same loop in TypeScript with the same saturation (dtype.ts `saturate`).
 * WGSL the op writes:  fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32
 * and may call, per input binding `x`:
 *   x_at(n, c, yy: i32, xx: i32) -> f32   with the program's border mode (constant → u.border_value)
 *   x_px(n, c, y, x) -> f32                 in-bounds read
 * Sizes come from uniforms `u.out_shape`, `u.<input>_shape` (vec4u N, C, H, W).
 */
import { allocTyped, ELEMENTS_PER_WORD, readElement, saturate, type AnyTypedArray, type DType } from '../dtype.js';
import type { Gpu } from '../gpu/gpu.js';
import type { ProgramInfo } from '../gpu/program.js';
import type { UniformField, UniformValues } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';
import { sharedDevice } from '../device.js';
import { borderIndex, wgslBorder, type BorderMode } from './border.js';
import type { FlipFlags } from './word.js';

export type Dims4 = readonly [number, number, number, number];

export interface PixelKernelSpec {
  name: string;
  /** Variant key beyond dtypes and border (e.g. "k=5"); sizes never. */
  key: string;
  inputs: readonly { name: string; dtype: DType }[];
  output: DType;
  border: BorderMode;
  uniforms: readonly UniformField[];
  /** WGSL defining `fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32` and any helpers. */
  pixel: string;
}

/**
 * An input of a pixel program read through a nearest coordinate map instead of in place (augment
 * folds an exact warp into the colour pass after it): output pixel (n, c, y, x) reads input pixel
 * (n, c) at `map_coord(n, y, x)`, `border` outside it.
 */
export interface MappedInput {
  /** Variant key of `wgsl` (part of the reading program's). */
  readonly key: string;
  /** WGSL of `fn map_coord(n: u32, y: u32, x: u32) -> vec2<i32>` (the input's column and row); may read `u.src_shape` and `uniforms`. */
  readonly wgsl: string;
  readonly uniforms: readonly UniformField[];
  readonly values: UniformValues;
  readonly border: BorderMode;
  /** The value outside the input under a constant border, as the mapped image holds it. */
  readonly borderValue: number;
  /** Shape of the mapped image. */
  readonly shape: Dims4;
  /** Set when the map only mirrors each sample's rows or columns (its image's shape kept): a reader may go by words. */
  readonly flips?: FlipFlags;
  /** The mapped image itself, by the map's own op where the input lives: for a pass that does not read through the map. */
  mapped(): Tensor;
}

const WORKGROUP = 256;

function accessors(name: string): string {
  return `fn ${name}_px(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.${name}_shape;
  return ${name}_load(((n * s.y + c) * s.z + y) * s.w + x);
}
fn ${name}_at(n: u32, c: u32, yy: i32, xx: i32) -> f32 {
  let s = u.${name}_shape;
  let iy = border(yy, i32(s.z));
  let ix = border(xx, i32(s.w));
  if (iy < 0 || ix < 0) { return u.border_value; }
  return ${name}_load(((n * s.y + c) * s.z + u32(iy)) * s.w + u32(ix));
}`;
}

/**
 * WGSL of a thread's output word `w` of `dtype`: `decl` declares its values `v` (vec4, vec2 or a
 * 1-array of f32), `store` packs them into out[w] (saturate_cast). Shared by every word-per-thread program.
 */
export function packExpr(dtype: DType): { decl: string; store: string } {
  const k = ELEMENTS_PER_WORD[dtype];
  if (k === 4) return { decl: 'var v = vec4<f32>(0.0);', store: 'out[w] = out_pack(v);' };
  if (k === 2) return { decl: 'var v = vec2<f32>(0.0);', store: 'out[w] = out_pack(v);' };
  return { decl: 'var v = array<f32, 1>(0.0);', store: 'out[w] = out_pack(v[0]);' };
}

/**
 * WGSL visiting the `k` elements of output word `w` (u.out_shape, u.out_numel): decodes the first
 * element's (n, c, y, x) once, then steps x with carries; `element` runs for each element in range
 * with the loop index `k`. Shared by every word-per-thread program.
 */
export function wgslWordElements(k: number, element: string): string {
  return `let s = u.out_shape;
  var i = w * ${k}u;
  var x = i % s.w;
  var t = i / s.w;
  var y = t % s.z;
  t = t / s.z;
  var c = t % s.y;
  var n = t / s.y;
  for (var k = 0u; k < ${k}u; k++) {
    if (i < u.out_numel) { ${element} }
    i++;
    x++;
    if (x == s.w) { x = 0u; y++; if (y == s.z) { y = 0u; c++; if (c == s.y) { c = 0u; n++; } } }
  }`;
}

const programs = new Map<string, ProgramInfo>();

/** The program of a spec; equal specs return the same object (the GPU caches pipelines per object). */
export function pixelProgram(spec: PixelKernelSpec): ProgramInfo {
  const id = `${spec.name}|${spec.key}|${spec.border}|${spec.output}|${spec.inputs.map((i) => `${i.name}:${i.dtype}`).join(',')}|${spec.uniforms.map((f) => f.name).join(',')}|${spec.pixel}`;
  let program = programs.get(id);
  if (!program) programs.set(id, (program = buildPixelProgram(spec)));
  return program;
}

function buildPixelProgram(spec: PixelKernelSpec): ProgramInfo {
  const k = ELEMENTS_PER_WORD[spec.output];
  const { decl, store } = packExpr(spec.output);
  const main = /* wgsl */ `
${wgslBorder(spec.border)}
${spec.inputs.map((i) => accessors(i.name)).join('\n')}
${spec.pixel}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let w = linear_workgroup(wid, nwg) * WG + li;
  if (w >= u.out_words) { return; }
  ${decl}
  ${wgslWordElements(k, 'v[k] = pixel(n, c, y, x);')}
  ${store}
}`;
  return {
    name: spec.name,
    key: `${spec.key};border=${spec.border}`,
    inputs: spec.inputs,
    outputs: [{ name: 'out', dtype: spec.output }],
    uniforms: [
      { name: 'out_shape', type: 'vec4u' },
      { name: 'out_words', type: 'u32' },
      { name: 'out_numel', type: 'u32' },
      { name: 'border_value', type: 'f32' },
      ...spec.inputs.map((i) => ({ name: `${i.name}_shape`, type: 'vec4u' as const })),
      ...spec.uniforms,
    ],
    workgroupSize: WORKGROUP,
    body: main,
  };
}

/** Runs a pixel program over GPU inputs; returns the (pending) output tensor. */
export function runPixelProgram(
  program: ProgramInfo,
  inputs: readonly Tensor[],
  outShape: Dims4,
  outDtype: DType,
  uniforms: UniformValues,
  borderValue = 0,
): Tensor {
  sharedDevice(inputs);
  const gpu: Gpu = inputs[0]!.gpu.gpu;
  const out = Tensor.empty(gpu, outShape, outDtype);
  const numel = out.size;
  const words = Math.ceil(numel / ELEMENTS_PER_WORD[outDtype]);
  const values: Record<string, number | readonly number[]> = {
    ...uniforms,
    out_shape: outShape,
    out_words: words,
    out_numel: numel,
    border_value: borderValue,
  };
  program.inputs.forEach((b, i) => {
    values[`${b.name}_shape`] = inputs[i]!.shape;
  });
  gpu.dispatch({ program, inputs: inputs.map((t) => t.gpu.ref), outputs: [out.gpu.ref], uniforms: values, workgroups: Math.ceil(words / WORKGROUP) });
  return out;
}

/** CPU mirror of a pixel kernel: `pixel` returns the unsaturated value; saturation as on the GPU. */
export function cpuPixelKernel(outShape: Dims4, outDtype: DType, pixel: (n: number, c: number, y: number, x: number) => number): Tensor {
  const [N, C, H, W] = outShape;
  const data = allocTyped(outDtype, N * C * H * W);
  let i = 0;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[i++] = saturate(outDtype, Math.fround(pixel(n, c, y, x)));
  return Tensor.fromArray(data, outShape, outDtype);
}

/**
 * Element i (row-major over its shape) of a CPU tensor or 4-D strided view as the GPU's `_load`
 * sees it (f32; f16 decoded).
 */
export function cpuLoader(x: Tensor): (i: number) => number {
  const data = (x.storage as { data: AnyTypedArray }).data;
  const dtype = x.dtype;
  const read = dtype === 'f16' ? (j: number) => readElement(dtype, data, j) : dtype === 'i32' ? (j: number) => Math.fround(data[j]!) : (j: number) => data[j]!;
  if (x.isContiguous) return read;
  const [, C, H, W] = x.shape as Dims4;
  const [sn, sc, sy, sx] = x.strides as Dims4;
  return (i) => {
    const xx = i % W;
    const t = (i - xx) / W;
    const y = t % H;
    const t2 = (t - y) / H;
    const c = t2 % C;
    return read(x.offset + ((t2 - c) / C) * sn + c * sc + y * sy + xx * sx);
  };
}

/** CPU mirror of the WGSL `x_at` accessor. */
export function cpuAccessor(t: Tensor, border: BorderMode, borderValue = 0): (n: number, c: number, y: number, x: number) => number {
  const [, C, H, W] = t.shape as Dims4;
  const data = t.data;
  const dtype = t.dtype;
  const direct = dtype !== 'f16';
  return (n, c, y, x) => {
    const iy = borderIndex(y, H, border);
    const ix = borderIndex(x, W, border);
    if (iy < 0 || ix < 0) return borderValue;
    const i = ((n * C + c) * H + iy) * W + ix;
    return direct ? data[i]! : readElement(dtype, data, i);
  };
}
