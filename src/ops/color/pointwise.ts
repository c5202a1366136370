/**
 * Pointwise programs for this family: the output element i depends on input elements at a
 * fixed offset from i (same index, or the three planes of an RGB pixel), so threads need no
 * N/C/H/W decomposition. A pixelProgram spends three runtime integer divisions and moduli per
 * output word plus a 4-D index per pixel; on an H100 that made u8 → u8 ops instruction-bound
 * (about 1 TB/s on 16×2048×2048). Here a thread writes one output word (4 u8, 2 u16/f16, 1
 * f32/i32) with the same saturate_cast packing, 4 words per thread (coalesced), and computes
 * one division and one modulo per word, only when the op asks for plane or channel indices
 * (float-reciprocal division with exact correction measured slower on an H100).
 * WGSL the op writes:  fn value(i: u32, q: u32, p: u32, c: u32) -> f32
 *   i  linear output element index
 *   q  plane index i / u.plane (= n·C + c of the output), p = i − q·u.plane, c = q % u.channels
 *      (q, p, c are 0 unless `planes` is set)
 * and reads the input with `src_load(j)` (any dtype as f32).
 * The CPU mirror is cpuPixelKernel (pixel-kernel.ts), as for pixel programs.
 */
import { ELEMENTS_PER_WORD, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { UniformField, UniformValues } from '../../gpu/uniforms.js';
import { Tensor } from '../../tensor.js';
import type { Dims4 } from '../pixel-kernel.js';

const WORKGROUP = 256;
/** Output words per thread (a workgroup covers ROWS consecutive runs of WORKGROUP words, coalesced). */
const ROWS = 4;

export interface PointwiseSpec {
  name: string;
  /** Variant key beyond the dtypes and the planes flag; sizes never. */
  key: string;
  input: DType;
  output: DType;
  /** Whether `value` uses q, p, c (costs one division and one modulo per output word). */
  planes: boolean;
  uniforms: readonly UniformField[];
  /** WGSL defining `fn value(i: u32, q: u32, p: u32, c: u32) -> f32` and any helpers. */
  body: string;
}

export function pointwiseProgram(spec: PointwiseSpec): ProgramInfo {
  const k = ELEMENTS_PER_WORD[spec.output];
  const decl = k === 4 ? 'var v = vec4<f32>(0.0);' : k === 2 ? 'var v = vec2<f32>(0.0);' : 'var v = array<f32, 1>(0.0);';
  const store = k === 1 ? 'out[w] = out_pack(v[0]);' : 'out[w] = out_pack(v);';
  const start = spec.planes
    ? `var q = i / u.plane;
  var p = i - q * u.plane;
  var c = q % u.channels;`
    : 'let q = 0u; let p = 0u; let c = 0u;';
  const step = spec.planes ? 'p++; if (p == u.plane) { p = 0u; q++; c++; if (c == u.channels) { c = 0u; } }' : '';
  const body = /* wgsl */ `
${spec.body}
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
    key: `${spec.key};planes=${spec.planes}`,
    inputs: [{ name: 'src', dtype: spec.input }],
    outputs: [{ name: 'out', dtype: spec.output }],
    uniforms: [
      { name: 'out_words', type: 'u32' },
      { name: 'out_numel', type: 'u32' },
      { name: 'plane', type: 'u32' },
      { name: 'channels', type: 'u32' },
      ...spec.uniforms,
    ],
    workgroupSize: WORKGROUP,
    body,
  };
}

/** Runs a pointwise program over a GPU input; `outShape` is N×C×H×W (plane = H·W, channels = C). */
export function runPointwise(program: ProgramInfo, x: Tensor, outShape: Dims4, outDtype: DType, uniforms: UniformValues): Tensor {
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, outShape, outDtype);
  const words = Math.ceil(out.size / ELEMENTS_PER_WORD[outDtype]);
  gpu.dispatch({
    program,
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: {
      ...uniforms,
      out_words: words,
      out_numel: out.size,
      plane: outShape[2] * outShape[3],
      channels: outShape[1],
    },
    workgroups: Math.ceil(words / (WORKGROUP * ROWS)),
  });
  return out;
}
