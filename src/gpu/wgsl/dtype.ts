/**
 * Per-dtype WGSL storage and helpers. Storage is always 32-bit words; for a binding `x`:
 *   read:  x_load(i) -> f32            element i, converted to f32 (f16 via unpack2x16float)
 *   write: x_pack4/x_pack2/x_pack1     values -> one storage word with saturate_cast semantics
 *          x_store(i, v)               only for 1-element-per-word dtypes (i32, f32)
 * Packed dtypes are written a whole word per thread, so no two threads share a word.
 * f16 words go through unpack_f16x2 / pack_f16x2 (f16Helpers): f16 types where the device has
 * `shader-f16`, the packed-half builtins elsewhere.
 */
import type { DType } from '../../dtype.js';

export function storageArrayType(dtype: DType, atomic: boolean): string {
  if (atomic) return dtype === 'i32' ? 'array<atomic<i32>>' : 'array<atomic<u32>>';
  switch (dtype) {
    case 'i32':
      return 'array<i32>';
    case 'f32':
      return 'array<f32>';
    default:
      return 'array<u32>';
  }
}

export function dtypeHelpers(name: string, dtype: DType, access: 'read' | 'write'): string {
  if (access === 'read') {
    switch (dtype) {
      case 'u8':
        return `fn ${name}_load(i: u32) -> f32 { return small_f32((${name}[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu); }`;
      case 'u16':
        return `fn ${name}_load(i: u32) -> f32 { return small_f32((${name}[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu); }`;
      case 'f16':
        return `fn ${name}_load(i: u32) -> f32 { let h = unpack_f16x2(${name}[i >> 1u]); return select(h.x, h.y, (i & 1u) == 1u); }`;
      case 'i32':
        return `fn ${name}_load(i: u32) -> f32 { return f32(${name}[i]); }`;
      case 'f32':
        return `fn ${name}_load(i: u32) -> f32 { return ${name}[i]; }`;
    }
  }
  switch (dtype) {
    case 'u8':
      return `fn ${name}_pack(v: vec4<f32>) -> u32 { return sat_u8x4(v); }`;
    case 'u16':
      return `fn ${name}_pack(v: vec2<f32>) -> u32 { return sat_u16(v.x) | (sat_u16(v.y) << 16u); }`;
    case 'f16':
      return `fn ${name}_pack(v: vec2<f32>) -> u32 { return pack_f16x2(clamp(v, vec2<f32>(-65504.0), vec2<f32>(65504.0))); }`;
    case 'i32':
      return `fn ${name}_pack(v: f32) -> i32 { return sat_i32(v); }\nfn ${name}_store(i: u32, v: f32) { ${name}[i] = sat_i32(v); }`;
    case 'f32':
      return `fn ${name}_pack(v: f32) -> f32 { return v; }\nfn ${name}_store(i: u32, v: f32) { ${name}[i] = v; }`;
  }
}

/** The two f16 word conversions every program gets; `native` needs `enable f16;`. */
export function f16Helpers(native: boolean): string {
  if (native) {
    return `fn unpack_f16x2(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<vec2<f16>>(w)); }
fn pack_f16x2(v: vec2<f32>) -> u32 { return bitcast<u32>(vec2<f16>(v)); }`;
  }
  return `fn unpack_f16x2(w: u32) -> vec2<f32> { return unpack2x16float(w); }
fn pack_f16x2(v: vec2<f32>) -> u32 { return pack2x16float(v); }`;
}
