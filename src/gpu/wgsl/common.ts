/** WGSL shared by every program. */
import { KensaError } from '../../errors.js';

export const WGSL_COMMON = /* wgsl */ `
// Dispatches wider than 65535 workgroups are folded into 2-D grids (see Gpu.dispatch);
// this recovers the linear workgroup index.
fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y * nwg.x + wid.x; }
// Integers <-> f32 by conversion instructions. A 2^23 bit-pattern trick (or k, subtract 2^23) once
// replaced them: NVIDIA's compiler reassociates such subtractions across a sum, which then ran at
// 2^23 and lost the low bits (a 12-pixel u8 mean came out a multiple of 8/12).
// k < 2^24 as f32 (exact).
fn small_f32(k: u32) -> f32 { return f32(k); }
fn small_f32x4(k: vec4<u32>) -> vec4<f32> { return vec4<f32>(k); }
// The 4 bytes of a u8 storage word as f32 (byte 0 in .x).
fn u8x4_f32(w: u32) -> vec4<f32> { return vec4<f32>(unpack4xU8(w)); }
// OpenCV saturate_cast: round half to even, clamp to the integer range (clamping first rounds the same).
fn sat_u8(v: f32) -> u32 { return u32(round(clamp(v, 0.0, 255.0))); }
fn sat_u8x4(v: vec4<f32>) -> u32 { return pack4xU8(vec4<u32>(round(clamp(v, vec4<f32>(0.0), vec4<f32>(255.0))))); }
fn sat_u16(v: f32) -> u32 { return u32(round(clamp(v, 0.0, 65535.0))); }
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
