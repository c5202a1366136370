/** WGSL shared by every program. */
import { KensaError } from '../../errors.js';

export const WGSL_COMMON = /* wgsl */ `
// Dispatches wider than 65535 workgroups are folded into 2-D grids (see Gpu.dispatch);
// this recovers the linear workgroup index.
fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y * nwg.x + wid.x; }
// Integer <-> f32 without conversion instructions (NVIDIA GPUs issue those at a quarter of the
// rate of adds): 2^23 + k for an integer 0 <= k < 2^23 is exact in f32 and its low mantissa bits
// are k, so a bitwise or plus one subtraction converts k, and adding 2^23 to a value in [0, 2^23)
// rounds it half to even (the FPU's rounding) into those bits.
const MAGIC_2_23: f32 = 8388608.0;
// k < 2^23 as f32.
fn small_f32(k: u32) -> f32 { return bitcast<f32>(k | 0x4B000000u) - MAGIC_2_23; }
fn small_f32x4(k: vec4<u32>) -> vec4<f32> { return bitcast<vec4<f32>>(k | vec4<u32>(0x4B000000u)) - vec4<f32>(MAGIC_2_23); }
// The 4 bytes of a u8 storage word as f32 (byte 0 in .x).
fn u8x4_f32(w: u32) -> vec4<f32> { return small_f32x4(unpack4xU8(w)); }
// OpenCV saturate_cast: round half to even, clamp to the integer range (clamping first rounds the same).
fn sat_u8(v: f32) -> u32 { return bitcast<u32>(clamp(v, 0.0, 255.0) + MAGIC_2_23) & 0xffu; }
fn sat_u8x4(v: vec4<f32>) -> u32 { return pack4xU8(bitcast<vec4<u32>>(clamp(v, vec4<f32>(0.0), vec4<f32>(255.0)) + vec4<f32>(MAGIC_2_23))); }
fn sat_u16(v: f32) -> u32 { return bitcast<u32>(clamp(v, 0.0, 65535.0) + MAGIC_2_23) & 0xffffu; }
fn sat_i32(v: f32) -> i32 {
  if (v != v) { return 0; }
  return i32(clamp(round(v), -2147483648.0, 2147483520.0));
}
`;

/**
 * WGSL: a thread's `loads` (a multiple of 4) vector loads `array[first + k·stride]`, k = 0 … loads − 1,
 * issued 4 at a time before `use(q)` consumes each, so more bytes are in flight than with one load
 * per use.
 */
export function wgslBatchedLoads(array: string, first: string, stride: string, loads: number, use: (q: string) => string): string {
  if (loads % 4 !== 0) throw new KensaError('KENSA_ERR_INTERNAL', `wgslBatchedLoads: loads must be a multiple of 4, got ${loads}`);
  return `for (var k = 0u; k < ${loads}u; k += 4u) {
      var q: array<vec4<u32>, 4>;
      for (var i = 0u; i < 4u; i++) { q[i] = ${array}[${first} + (k + i) * ${stride}]; }
      for (var i = 0u; i < 4u; i++) { ${use('q[i]')} }
    }`;
}
