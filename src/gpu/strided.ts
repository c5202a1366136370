/**
 * Materialises a strided view (a crop window, a channel slice, a transpose) as a contiguous tensor:
 * one thread per output storage word gathers its elements' bits from offset + Σ index·stride
 * (rank ≤ 4, shape and strides as uniforms, so one program per dtype). Bits are copied, not
 * converted, so every value (NaN payloads, ±∞, i32 beyond 2^24) survives.
 */
import { ELEMENTS_PER_WORD, type DType } from '../dtype.js';
import type { ProgramInfo } from './program.js';

const WG = 256;
const programs = new Map<DType, ProgramInfo>();

export function stridedCopyProgram(dtype: DType): ProgramInfo {
  let p = programs.get(dtype);
  if (p) return p;
  const k = ELEMENTS_PER_WORD[dtype];
  const bits = 32 / k;
  const mask = k === 1 ? '' : `0x${((1 << bits) - 1).toString(16)}u`;
  // 1-element words (i32, f32) move whole; packed ones move their bit field
  const gather =
    k === 1
      ? 'out[w] = src[src_index(w)];'
      : `var word = 0u;
  for (var k = 0u; k < ${k}u; k++) {
    let i = w * ${k}u + k;
    if (i < u.numel) {
      let j = src_index(i);
      word = word | (((src[j / ${k}u] >> ((j % ${k}u) * ${bits}u)) & ${mask}) << (k * ${bits}u));
    }
  }
  out[w] = word;`;
  p = {
    name: 'strided_copy',
    key: '',
    inputs: [{ name: 'src', dtype }],
    outputs: [{ name: 'out', dtype }],
    uniforms: [
      { name: 'shape', type: 'vec4u' },
      { name: 'strides', type: 'vec4u' },
      { name: 'offset', type: 'u32' },
      { name: 'numel', type: 'u32' },
      { name: 'words', type: 'u32' },
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
fn src_index(i: u32) -> u32 {
  let s = u.shape;
  let t = i / s.w;
  let t2 = t / s.z;
  return u.offset + (t2 / s.y) * u.strides.x + (t2 % s.y) * u.strides.y + (t % s.z) * u.strides.z + (i % s.w) * u.strides.w;
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let w = linear_workgroup(wid, nwg) * WG + li;
  if (w >= u.words) { return; }
  ${gather}
}`,
  };
  programs.set(dtype, p);
  return p;
}
