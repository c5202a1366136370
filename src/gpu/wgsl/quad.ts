/**
 * WGSL moving a quad (4 adjacent elements, rows starting on a storage word) of any dtype between
 * storage and vec4<f32>: the tiled stencils' loads and stores, and resize's halving kernel.
 */
import { ELEMENTS_PER_WORD, type DType } from '../../dtype.js';

/** WGSL of `fn load4(e: u32) -> vec4<f32>`: elements e … e+3 of `src`, e a multiple of 4 (whole words). */
export function quadLoad(dtype: DType): string {
  switch (dtype) {
    case 'u8':
      return 'return u8x4_f32(src[e >> 2u]);';
    case 'u16':
      return 'let a = src[e >> 1u]; let b = src[(e >> 1u) + 1u]; return small_f32x4(vec4<u32>(a & 0xffffu, a >> 16u, b & 0xffffu, b >> 16u));';
    case 'f16':
      return 'return vec4<f32>(unpack_f16x2(src[e >> 1u]), unpack_f16x2(src[(e >> 1u) + 1u]));';
    case 'i32':
      return 'return vec4<f32>(f32(src[e]), f32(src[e + 1u]), f32(src[e + 2u]), f32(src[e + 3u]));';
    case 'f32':
      return 'return vec4<f32>(src[e], src[e + 1u], src[e + 2u], src[e + 3u]);';
  }
}

/**
 * WGSL storing the output quad `v` at element `e` as whole words (rows start on a word: W %
 * elements-per-word == 0); `inRow(k)` is the condition that element k of the quad lies in its row.
 * `vecOut` (f32) writes one vec4 through the output's view `out_v` (OUT_VEC4_VIEW).
 */
export function quadStore(dtype: DType, vecOut: boolean, e: string, inRow: (k: number) => string): string {
  if (vecOut) return `if (${inRow(0)}) { out_v[(${e}) / 4u] = v; }`;
  switch (ELEMENTS_PER_WORD[dtype]) {
    case 4:
      return `if (${inRow(0)}) { out[(${e}) / 4u] = out_pack(v); }`;
    case 2:
      return `if (${inRow(0)}) { out[(${e}) / 2u] = out_pack(v.xy); }
  if (${inRow(2)}) { out[(${e} + 2u) / 2u] = out_pack(v.zw); }`;
    default:
      return [0, 1, 2, 3].map((k) => `if (${inRow(k)}) { out_store(${e} + ${k}u, v[${k}]); }`).join('\n  ');
  }
}

/** The f32 output as vec4<f32> (TensorBinding.views): a quad in one 16-byte store; a program that uses it must not use `out`. */
export const OUT_VEC4_VIEW = { out_v: 'vec4<f32>' } as const;
