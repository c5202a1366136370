/**
 * The pixel arithmetic of libjpeg-turbo's default decode, integer for integer, shared by the CPU
 * reference (functions here) and the WGSL kernels (the same constants, gpu.ts):
 * - dequantisation and the inverse DCT of jidctint.c (JDCT_ISLOW: CONST_BITS 13, PASS1_BITS 2),
 *   its output clamped to 0–255 as libjpeg-turbo's SIMD IDCTs do (saturating packs; the C
 *   version's range-limit table wraps instead, which differs only for coefficients no encoder
 *   writes);
 * - "fancy" (triangle-filter) upsampling of 4:2:0, 4:2:2 and 4:4:0 chroma, jdsample.c
 *   h2v2_fancy_upsample, h2v1_fancy_upsample, h1v2_fancy_upsample, with edge rows and columns
 *   repeated; a chroma plane 2 or fewer samples wide is replicated where it is halved across
 *   (libjpeg uses fancy h2 upsampling only above 2);
 * - YCbCr → RGB of jdcolor.c (16-bit fixed point, ONE_HALF rounding, arithmetic shifts);
 * - kensa's gray from RGB, src/pipeline/decode.ts's toPlanar: (299 R + 587 G + 114 B + 500) / 1000.
 */

export const FIX_0_298631336 = 2446;
export const FIX_0_390180644 = 3196;
export const FIX_0_541196100 = 4433;
export const FIX_0_765366865 = 6270;
export const FIX_0_899976223 = 7373;
export const FIX_1_175875602 = 9633;
export const FIX_1_501321110 = 12299;
export const FIX_1_847759065 = 15137;
export const FIX_1_961570560 = 16069;
export const FIX_2_053119869 = 16819;
export const FIX_2_562915447 = 20995;
export const FIX_3_072711026 = 25172;

/** One 1-D pass of jidctint.c on v[0..7]: the even and odd parts; `shift` is the descale, `round` its half. */
function idct1d(v: ArrayLike<number>, o: number, s: number, out: Int32Array, oo: number, os: number, shift: number): void {
  const round = 1 << (shift - 1);
  let z2 = v[o + 2 * s]!;
  let z3 = v[o + 6 * s]!;
  let z1 = (z2 + z3) * FIX_0_541196100;
  let tmp2 = z1 + z3 * -FIX_1_847759065;
  let tmp3 = z1 + z2 * FIX_0_765366865;
  z2 = v[o]!;
  z3 = v[o + 4 * s]!;
  let tmp0 = (z2 + z3) * 8192;
  let tmp1 = (z2 - z3) * 8192;
  const tmp10 = tmp0 + tmp3;
  const tmp13 = tmp0 - tmp3;
  const tmp11 = tmp1 + tmp2;
  const tmp12 = tmp1 - tmp2;
  tmp3 = v[o + s]!;
  tmp2 = v[o + 3 * s]!;
  tmp1 = v[o + 5 * s]!;
  tmp0 = v[o + 7 * s]!;
  let z4 = tmp1 + tmp3;
  z3 = tmp0 + tmp2;
  z2 = tmp1 + tmp2;
  z1 = tmp0 + tmp3;
  const z5 = (z3 + z4) * FIX_1_175875602;
  tmp3 *= FIX_1_501321110;
  tmp2 *= FIX_3_072711026;
  tmp1 *= FIX_2_053119869;
  tmp0 *= FIX_0_298631336;
  z4 = z4 * -FIX_0_390180644 + z5;
  z3 = z3 * -FIX_1_961570560 + z5;
  z1 *= -FIX_0_899976223;
  z2 *= -FIX_2_562915447;
  tmp3 += z1 + z4;
  tmp2 += z2 + z3;
  tmp1 += z2 + z4;
  tmp0 += z1 + z3;
  out[oo] = (tmp10 + tmp3 + round) >> shift;
  out[oo + 7 * os] = (tmp10 - tmp3 + round) >> shift;
  out[oo + os] = (tmp11 + tmp2 + round) >> shift;
  out[oo + 6 * os] = (tmp11 - tmp2 + round) >> shift;
  out[oo + 2 * os] = (tmp12 + tmp1 + round) >> shift;
  out[oo + 5 * os] = (tmp12 - tmp1 + round) >> shift;
  out[oo + 3 * os] = (tmp13 + tmp0 + round) >> shift;
  out[oo + 4 * os] = (tmp13 - tmp0 + round) >> shift;
}

const dequantised = new Int32Array(64);
const workspace = new Int32Array(64);
const samples = new Int32Array(64);

/**
 * Dequantises and inverse-transforms one block (64 coefficients in natural order at `coef[at]`)
 * into the 8×8 samples at plane[(y0 + r) · stride + x0 + c].
 */
export function idctBlock(coef: Int32Array, at: number, q: Uint16Array, plane: Uint8Array, stride: number, x0: number, y0: number): void {
  for (let k = 0; k < 64; k++) dequantised[k] = coef[at + k]! * q[k]!;
  // columns (pass 1: descale by CONST_BITS − PASS1_BITS), then rows (CONST_BITS + PASS1_BITS + 3)
  for (let c = 0; c < 8; c++) idct1d(dequantised, c, 8, workspace, c, 8, 11);
  for (let r = 0; r < 8; r++) idct1d(workspace, r * 8, 1, samples, r * 8, 1, 18);
  for (let r = 0; r < 8; r++) {
    const row = (y0 + r) * stride + x0;
    for (let c = 0; c < 8; c++) plane[row + c] = Math.min(255, Math.max(0, samples[r * 8 + c]! + 128));
  }
}

/** jdcolor.c build_ycc_rgb_table's entries for a chroma sample (SCALEBITS 16). */
const ONE_HALF = 1 << 15;
export const FIX_1_40200 = 91881;
export const FIX_1_77200 = 116130;
export const FIX_0_71414 = 46802;
export const FIX_0_34414 = 22554;

/** YCbCr → RGB of one pixel (jdcolor.c ycc_rgb_convert): channel k (0 R, 1 G, 2 B). */
export function yccToRgb(y: number, cb: number, cr: number, k: number): number {
  const v =
    k === 0
      ? y + ((FIX_1_40200 * (cr - 128) + ONE_HALF) >> 16)
      : k === 1
        ? y + ((-FIX_0_34414 * (cb - 128) + ONE_HALF - FIX_0_71414 * (cr - 128)) >> 16)
        : y + ((FIX_1_77200 * (cb - 128) + ONE_HALF) >> 16);
  return Math.min(255, Math.max(0, v));
}

/** kensa's gray of an RGB pixel (src/pipeline/decode.ts toPlanar). */
export function grayOf(r: number, g: number, b: number): number {
  return ((299 * r + 587 * g + 114 * b + 500) / 1000) | 0;
}

/** How a chroma plane is upsampled: 0 not (4:4:4), 1 h2v2 (4:2:0), 2 h2v1 (4:2:2), 3 h1v2 (4:4:0). */
export type Upsampling = 0 | 1 | 2 | 3;

/** The upsampling of chroma for luma sampled h × v (chroma 1 × 1). */
export function upsamplingOf(h: number, v: number): Upsampling {
  return h === 2 ? (v === 2 ? 1 : 2) : v === 2 ? 3 : 0;
}

/**
 * The chroma sample at full-resolution (x, y) from a plane of `w` × `h` samples (libjpeg's
 * downsampled size) stored with `stride`, as jdsample.c: h2v2_fancy_upsample and
 * h2v1_fancy_upsample (replication when the plane is 2 or fewer samples wide), h1v2_fancy_upsample;
 * edge rows and columns repeated.
 */
export function upsampleChroma(plane: Uint8Array, stride: number, w: number, h: number, x: number, y: number, mode: Upsampling): number {
  if (mode === 0) return plane[y * stride + x]!;
  const i = mode === 3 ? x : x >> 1;
  const j = mode === 2 ? y : y >> 1;
  const row = j * stride;
  if (mode !== 3 && w <= 2) return plane[row + i]!;
  const xo = x & 1;
  const inb = xo ? (i + 1 < w ? i + 1 : w - 1) : i > 0 ? i - 1 : 0;
  if (mode === 2) return (3 * plane[row + i]! + plane[row + inb]! + 1 + xo) >> 2;
  const yo = y & 1;
  const rown = (yo ? (j + 1 < h ? j + 1 : h - 1) : j > 0 ? j - 1 : 0) * stride;
  if (mode === 3) return (3 * plane[row + i]! + plane[rown + i]! + 1 + yo) >> 2;
  const c0 = 3 * plane[row + i]! + plane[rown + i]!;
  const c1 = 3 * plane[row + inb]! + plane[rown + inb]!;
  return (3 * c0 + c1 + 8 - xo) >> 4;
}

/** jidctred.c's constants (CONST_BITS 13). */
export const FIX_0_211164243 = 1730;
export const FIX_0_509795579 = 4176;
export const FIX_0_601344887 = 4926;
export const FIX_0_720959822 = 5906;
export const FIX_0_850430095 = 6967;
export const FIX_1_061594337 = 8697;
export const FIX_1_272758580 = 10426;
export const FIX_1_451774981 = 11893;
export const FIX_2_172734803 = 17799;
export const FIX_3_624509785 = 29692;

/** Output samples per block side of each reduced IDCT libjpeg picks by a component's DCT scaled size: 8 (jidctint islow), 4 and 2 (jidctred). */
export type BlockSize = 8 | 4 | 2;

/** One 1-D pass of jidctred.c's 4-point IDCT on v[0..7] (term 4 unused): 4 outputs, descaled by `shift`. */
function idct4(v: ArrayLike<number>, o: number, s: number, out: Int32Array, oo: number, os: number, shift: number): void {
  const round = 1 << (shift - 1);
  const t0 = v[o]! * 16384;
  const t2 = v[o + 2 * s]! * FIX_1_847759065 + v[o + 6 * s]! * -FIX_0_765366865;
  const tmp10 = t0 + t2;
  const tmp12 = t0 - t2;
  const z1 = v[o + 7 * s]!;
  const z2 = v[o + 5 * s]!;
  const z3 = v[o + 3 * s]!;
  const z4 = v[o + s]!;
  const odd0 = z1 * -FIX_0_211164243 + z2 * FIX_1_451774981 + z3 * -FIX_2_172734803 + z4 * FIX_1_061594337;
  const odd2 = z1 * -FIX_0_509795579 + z2 * -FIX_0_601344887 + z3 * FIX_0_899976223 + z4 * FIX_2_562915447;
  out[oo] = (tmp10 + odd2 + round) >> shift;
  out[oo + 3 * os] = (tmp10 - odd2 + round) >> shift;
  out[oo + os] = (tmp12 + odd0 + round) >> shift;
  out[oo + 2 * os] = (tmp12 - odd0 + round) >> shift;
}

/** One 1-D pass of jidctred.c's 2-point IDCT on v[0..7] (terms 2, 4, 6 unused). */
function idct2(v: ArrayLike<number>, o: number, s: number, out: Int32Array, oo: number, os: number, shift: number): void {
  const round = 1 << (shift - 1);
  const tmp10 = v[o]! * 32768;
  const odd = v[o + 7 * s]! * -FIX_0_720959822 + v[o + 5 * s]! * FIX_0_850430095 + v[o + 3 * s]! * -FIX_1_272758580 + v[o + s]! * FIX_3_624509785;
  out[oo] = (tmp10 + odd + round) >> shift;
  out[oo + os] = (tmp10 - odd + round) >> shift;
}

/**
 * Dequantises one block and runs libjpeg's IDCT for `size` samples a side (8: jidctint islow,
 * 4 / 2: jidctred's reduced IDCTs, whose zero-AC shortcuts give what their general paths give),
 * into plane[(y0 + r) · stride + x0 + c], clamped to 0–255 as the SIMD versions' saturating packs.
 */
export function idctBlockScaled(
  coef: Int32Array,
  at: number,
  q: Uint16Array,
  plane: Uint8Array,
  stride: number,
  x0: number,
  y0: number,
  size: BlockSize,
): void {
  if (size === 8) {
    idctBlock(coef, at, q, plane, stride, x0, y0);
    return;
  }
  for (let k = 0; k < 64; k++) dequantised[k] = coef[at + k]! * q[k]!;
  // columns into rows of 8 (workspace[r · 8 + c]), then each of `size` rows
  const pass = size === 4 ? idct4 : idct2;
  const extra = size === 4 ? 1 : 2;
  for (let c = 0; c < 8; c++) pass(dequantised, c, 8, workspace, c, 8, 11 + extra);
  for (let r = 0; r < size; r++) pass(workspace, r * 8, 1, samples, r * 8, 1, 18 + extra);
  for (let r = 0; r < size; r++) {
    const row = (y0 + r) * stride + x0;
    for (let c = 0; c < size; c++) plane[row + c] = Math.min(255, Math.max(0, samples[r * 8 + c]! + 128));
  }
}
