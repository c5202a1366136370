/*
 * Integer factors take resize_linear_int (a 2-D grid, constant taps and weights, the same f32
 * expression as the generic kernel, bit-identical), and u8 halving a kernel of its own (an output
 * quad per thread from one 8-byte load per source row): the generic kernel's per-word division
 * chain and per-tap floor/clamp bound it.
 */
/**
 * Resize, as cv.resize(src, dst, dsize = (width, height), 0, 0, interpolation) on every plane.
 * With sw, dw the source and destination widths (heights alike), scale = 1 / (dw / sw) in double:
 *
 * 'nearest' (INTER_NEAREST): sx = min(floor(dx · scale), sw − 1). OpenCV evaluates the product in
 *   double, and where dx · sw / dw is an exact integer k that double can land just below k (about
 *   5 % of size pairs have such columns, e.g. 2 → 98 at dx = 49). The index here is computed
 *   exactly in integers and then corrected to the double result by a per-axis threshold derived
 *   on the host from the rounding error of 1 / (dw / sw) (see `nearestThreshold`), so the
 *   source pixel matches OpenCV's for every size pair, on the GPU too (no double there). The
 *   pixel is copied bit-exactly (or converted with saturate_cast when `dtype` differs).
 *
 * 'bilinear' (INTER_LINEAR): half-pixel centres, fx = (dx + 0.5) · scale − 0.5, sx = floor(fx);
 *   taps at sx and sx + 1 with weights 1 − f and f; at the edges (sx < 0 or sx ≥ sw − 1) the
 *   edge pixel alone (OpenCV's resize replicates borders). Weights are f32 and the horizontal
 *   then vertical sums are f32, as OpenCV's float path. OpenCV's u8 path quantises the weights
 *   to 1/2048 and rounds half up (fixed point), so u8 results may differ from it by 1; the
 *   GPU computes fx in f32 rather than double (|Δ| < 1e-4 px for sizes up to 2048).
 *
 * 'area' (INTER_AREA):
 *   - downscale on both axes (sw ≥ dw and sh ≥ dh): each destination pixel is the average of the
 *     source area it covers, fractional pixels weighted by their covered fraction, exactly as
 *     OpenCV's computeResizeAreaTab/resizeArea_ (partial overlaps under 1e-3 px are dropped, as
 *     there). OpenCV takes a shortcut for integer factors (resizeAreaFast; u8 2×2 rounds half
 *     up) that equals this average up to the last rounding (u8 ±1).
 *   - otherwise (any axis upscaled) OpenCV runs its bilinear machinery with "area" weights:
 *     sx = floor(dx · scale), f = (dx + 1) − (sx + 1) · dw / sw, f = f ≤ 0 ? 0 : f − floor(f), taps sx
 *     and sx + 1 with weights 1 − f and f (edge clamped as for bilinear). For an upscaled axis this
 *     is again the exact area average (a destination pixel straddling two source pixels mixes
 *     them by the fraction it covers; one inside a source pixel copies it). Implemented the same way.
 *
 * Integer outputs round half to even and saturate (saturate_cast), f16 clamps to ±65504.
 * Sizes (input and output) are limited to 65535 per axis (index products in u32).
 *
 * Crop-and-resize (torchvision's resized_crop, the core of RandomResizedCrop): with `boxes`, one
 * integer box [x, y, width, height] inside the image for the batch or one per sample, sample n of
 * the output is exactly resize(crop(x[n], box[n]), width, height): taps are clamped to the box,
 * not the image ('nearest' and 'bilinear'; one kernel for every box, each sample's box and scales
 * read from a uniform array).
 */
import { onDevice } from '../../device.js';
import { ELEMENTS_PER_WORD, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, is, oneOf } from '../../validate.js';
import { checkImage, outDType, packPerSample, perSample, perSampleField, sampleValue, type ImageDims, type PerSample, type PerSampleItem } from '../image.js';
import { OUT_VEC4_VIEW, quadStore } from '../../gpu/wgsl/quad.js';
import { cpuAccessor, cpuPixelKernel, packExpr, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { ALL_DTYPES, cpuGather, gatherProgram, gatherVariants, runGather, type GatherSpec } from './gather.js';

export const INTERPOLATIONS = ['nearest', 'bilinear', 'area'] as const;
export type ResizeInterpolation = (typeof INTERPOLATIONS)[number];
export const MAX_SIZE = 65535;

/** [x, y, width, height] of a box in pixels (integers, inside the image). */
export type ResizeBox = readonly [number, number, number, number];

export interface ResizeOptions {
  /** Output width, 1 to 65535. */
  width: number;
  /** Output height, 1 to 65535. */
  height: number;
  /** Default 'bilinear'. */
  interpolation?: ResizeInterpolation;
  /**
   * Crop-and-resize: the box [x, y, width, height] each sample is cropped to before resizing, one
   * for the batch or one per sample (an array of N boxes or a CPU tensor of shape [N, 4]); 'nearest' or 'bilinear'.
   */
  boxes?: PerSample<ResizeBox | readonly number[]>;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

// ---------------------------------------------------------------------------------------------
// Nearest index: floor(d · (1 / (dsz / ssz))) in double, computed in integers.

const f32Box = new Float32Array(1);
const u32Box = new Uint32Array(f32Box.buffer);
const f64Box = new Float64Array(1);
const u64Box = new BigUint64Array(f64Box.buffer);

/** Largest f32 ≤ v (v > 0). */
function f32Below(v: number): number {
  if (v > 3.4e38) return 3.4e38;
  f32Box[0] = v;
  if (f32Box[0]! > v) u32Box[0] = u32Box[0]! - 1;
  return f32Box[0]!;
}

/**
 * Threshold T of an axis: where d·ssz/dsz is an exact integer k ≥ 1, OpenCV's double
 * floor(d · ifx) (ifx = 1 / (dsz / ssz), rounded below ssz/dsz by a relative ε) gives k − 1
 * exactly when k − d·ifx exceeds half an ulp below k, i.e. when r(k) = k / 2^e(k) > 1/(ε·2^53),
 * with 2^e(k) the binade just below k (r ∈ (1, 2]). Returns that bound rounded down to f32
 * (r is an f32 with few bits, so `r > T` keeps its meaning); 3.4e38 when ifx is not below ssz/dsz.
 */
export function nearestThreshold(ssz: number, dsz: number): number {
  const ifx = 1 / (dsz / ssz);
  f64Box[0] = ifx;
  const bits = u64Box[0]!;
  const expBits = Number((bits >> 52n) & 0x7ffn);
  const mant = (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  const p = expBits - 1075; // ifx = mant · 2^p (normal numbers)
  // ε·2^53 = (ssz·2^-p − mant·dsz) · 2^(p+53) / ssz, with p < 0 for these sizes
  if (p >= 0) return 3.4e38;
  const num = BigInt(ssz) * (1n << BigInt(-p)) - mant * BigInt(dsz);
  if (num <= 0n) return 3.4e38;
  return f32Below(ssz / (Number(num) * 2 ** (p + 53)));
}

/** CPU mirror of WGSL `nn_index`. */
export function nearestIndex(d: number, dsz: number, ssz: number, t: number): number {
  const p = d * ssz;
  let q = Math.floor(p / dsz);
  if (q > 0 && q * dsz === p) {
    const r = q === 1 ? 2 : q / 2 ** (31 - Math.clz32(q - 1));
    if (r > t) q -= 1;
  }
  return Math.min(q, ssz - 1);
}

const WGSL_NN_INDEX = /* wgsl */ `
// floor(d · (1 / (dsz / ssz))) as OpenCV evaluates it in double (see nearestThreshold).
fn nn_index(d: u32, dsz: u32, ssz: u32, t: f32) -> u32 {
  let p = d * ssz;
  var q = p / dsz;
  if (q > 0u && q * dsz == p) {
    var r = 2.0;
    if (q > 1u) { r = ldexp(f32(q), -i32(firstLeadingBit(q - 1u))); }
    if (r > t) { q = q - 1u; }
  }
  return min(q, ssz - 1u);
}`;

// ---------------------------------------------------------------------------------------------
// Programs

type Kernel = 'linear' | 'area' | 'area_up';

const RS_UNIFORMS = [{ name: 'rs', type: 'vec4f' as const }];

function nearestSpec(inDtype: DType, outDtype: DType): GatherSpec {
  return {
    name: 'resize_nearest',
    key: '',
    inDtype,
    outDtype,
    border: 'inside',
    uniforms: RS_UNIFORMS,
    coord: /* wgsl */ `
${WGSL_NN_INDEX}
fn src_coord(y: u32, x: u32) -> vec2<i32> {
  return vec2<i32>(i32(nn_index(x, u.out_shape.w, u.src_shape.w, u.rs.z)), i32(nn_index(y, u.out_shape.z, u.src_shape.z, u.rs.w)));
}`,
  };
}

const WGSL_TAPS = /* wgsl */ `
struct Tap { s0: u32, s1: u32, f: f32 }
fn clamp_tap(s: i32, f: f32, n: u32) -> Tap {
  if (s < 0) { return Tap(0u, 0u, 0.0); }
  if (s >= i32(n) - 1) { return Tap(n - 1u, n - 1u, 0.0); }
  return Tap(u32(s), u32(s) + 1u, f);
}
// INTER_LINEAR: half-pixel centres
fn linear_tap(d: u32, scale: f32, n: u32) -> Tap {
  let fx = (f32(d) + 0.5) * scale - 0.5;
  let s = floor(fx);
  return clamp_tap(i32(s), fx - s, n);
}
// INTER_AREA when upscaling: sx = floor(d·scale), f = (d+1) − (sx+1)·dsz/n, f = f <= 0 ? 0 : frac(f)
fn area_up_tap(d: u32, dsz: u32, n: u32, t: f32) -> Tap {
  let s = nn_index(d, dsz, n, t);
  var f = f32(i32((d + 1u) * n) - i32((s + 1u) * dsz)) / f32(n);
  f = select(f - floor(f), 0.0, f <= 0.0);
  return clamp_tap(i32(s), f, n);
}
fn bilinear(n: u32, c: u32, ty: Tap, tx: Tap) -> f32 {
  let r0 = src_px(n, c, ty.s0, tx.s0) * (1.0 - tx.f) + src_px(n, c, ty.s0, tx.s1) * tx.f;
  let r1 = src_px(n, c, ty.s1, tx.s0) * (1.0 - tx.f) + src_px(n, c, ty.s1, tx.s1) * tx.f;
  return r0 * (1.0 - ty.f) + r1 * ty.f;
}`;

const WGSL_AREA = /* wgsl */ `
// computeResizeAreaTab for one destination index: source range [lo, hi] and weights
struct Area { fs1: f32, fs2: f32, cell: f32, s1: i32, s2: i32, lo: i32, hi: i32 }
fn area_axis(d: u32, dsz: u32, n: u32) -> Area {
  let fs1 = f32(d * n) / f32(dsz);
  let fs2 = f32((d + 1u) * n) / f32(dsz);
  let cell = min(f32(n) / f32(dsz), f32(n) - fs1);
  let s2 = min(i32(floor(fs2)), i32(n) - 1);
  let s1 = min(i32(ceil(fs1)), s2);
  let lo = select(s1, s1 - 1, f32(s1) - fs1 > 1e-3);
  let hi = select(s2 - 1, s2, fs2 - f32(s2) > 1e-3);
  return Area(fs1, fs2, cell, s1, s2, lo, hi);
}
fn area_w(a: Area, s: i32) -> f32 {
  if (s < a.s1) { return (f32(a.s1) - a.fs1) / a.cell; }
  if (s < a.s2) { return 1.0 / a.cell; }
  return min(min(a.fs2 - f32(a.s2), 1.0), a.cell) / a.cell;
}`;

function pixelFor(kernel: Kernel): string {
  switch (kernel) {
    case 'linear':
      return `${WGSL_TAPS}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  return bilinear(n, c, linear_tap(y, u.rs.y, s.z), linear_tap(x, u.rs.x, s.w));
}`;
    case 'area_up':
      return `${WGSL_TAPS}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let o = u.out_shape;
  return bilinear(n, c, area_up_tap(y, o.z, s.z, u.rs.w), area_up_tap(x, o.w, s.w, u.rs.z));
}`;
    case 'area':
      return `${WGSL_AREA}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let o = u.out_shape;
  let ay = area_axis(y, o.z, s.z);
  let ax = area_axis(x, o.w, s.w);
  var acc = 0.0;
  for (var sy = ay.lo; sy <= ay.hi; sy++) {
    var row = 0.0;
    for (var sx = ax.lo; sx <= ax.hi; sx++) { row += area_w(ax, sx) * src_px(n, c, u32(sy), u32(sx)); }
    acc += area_w(ay, sy) * row;
  }
  return acc;
}`;
  }
}

function resizeProgram(kernel: Kernel, inDtype: DType, outDtype: DType): ProgramInfo {
  return pixelProgram({
    name: `resize_${kernel}`,
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border: 'replicate',
    uniforms: RS_UNIFORMS,
    pixel: `${WGSL_NN_INDEX}\n${pixelFor(kernel)}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Crop-and-resize: sample n's box (x, y, width, height) and its rs (scales, thresholds) are
// u.bs[2n] and u.bs[2n + 1] (box as f32, exact for sizes up to 65535).

const BOX_UNIFORMS = [perSampleField('bs', 'vec4f', 2)];

function boxNearestSpec(inDtype: DType, outDtype: DType): GatherSpec {
  return {
    name: 'resize_box_nearest',
    key: 'per_sample',
    inDtype,
    outDtype,
    border: 'inside',
    uniforms: BOX_UNIFORMS,
    perSample: true,
    coord: /* wgsl */ `
${WGSL_NN_INDEX}
fn src_coord(n: u32, y: u32, x: u32) -> vec2<i32> {
  let b = vec4<u32>(u.bs[2u * n]);
  let rs = u.bs[2u * n + 1u];
  return vec2<i32>(i32(b.x + nn_index(x, u.out_shape.w, b.z, rs.z)), i32(b.y + nn_index(y, u.out_shape.z, b.w, rs.w)));
}`,
  };
}

function boxLinearProgram(inDtype: DType, outDtype: DType): ProgramInfo {
  return pixelProgram({
    name: 'resize_box_linear',
    key: 'per_sample',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border: 'replicate',
    uniforms: BOX_UNIFORMS,
    pixel: /* wgsl */ `${WGSL_NN_INDEX}
${WGSL_TAPS}
fn shift(t: Tap, o: u32) -> Tap { return Tap(t.s0 + o, t.s1 + o, t.f); }
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let b = vec4<u32>(u.bs[2u * n]);
  let rs = u.bs[2u * n + 1u];
  return bilinear(n, c, shift(linear_tap(y, rs.y, b.w), b.y), shift(linear_tap(x, rs.x, b.z), b.x));
}`,
  });
}

function boxItem(d: ImageDims): PerSampleItem<ResizeBox> {
  return {
    what: ['a box [x, y, width, height]', 'boxes'],
    isItem: (v) => Array.isArray(v) && !Array.isArray(v[0]),
    size: 4,
    check: (name, v) => {
      const [bx, by, bw, bh] = (Array.isArray(v) && v.length === 4 && v.every((e) => is.integer(e)) ? v : [-1, -1, 0, 0]) as number[] as [
        number,
        number,
        number,
        number,
      ];
      if (bx < 0 || by < 0 || bw < 1 || bh < 1 || bx + bw > d.w || by + bh > d.h) {
        throw invalidParameter(name, `a box [x, y, width, height] of integers inside the ${d.w}×${d.h} image`, v);
      }
      return [bx, by, bw, bh];
    },
  };
}

/** Sample n of the output = resize(crop(x[n], boxes[n]), width, height); arguments validated. */
function resizeBoxes(x: Tensor, shape: Dims4, boxes: readonly ResizeBox[], interpolation: 'nearest' | 'bilinear', dtype: DType): Tensor {
  const [, , height, width] = shape;
  const rs = boxes.map((b) => [1 / (width / b[2]), 1 / (height / b[3]), nearestThreshold(b[2], width), nearestThreshold(b[3], height)]);
  const uniforms = {
    bs: packPerSample(
      boxes.map((b, n) => [...b, ...rs[n]!]),
      2,
    ),
  };
  return onDevice(x, {
    gpu: () => {
      if (interpolation === 'nearest') return runGather(x, boxNearestSpec(x.dtype, dtype), shape, uniforms, 0);
      return runPixelProgram(boxLinearProgram(x.dtype, dtype), [x], shape, dtype, uniforms);
    },
    cpu: () => {
      if (interpolation === 'nearest') {
        const ix = boxes.map((b, n) => Int32Array.from({ length: width }, (_, i) => b[0] + nearestIndex(i, width, b[2], rs[n]![2]!)));
        const iy = boxes.map((b, n) => Int32Array.from({ length: height }, (_, i) => b[1] + nearestIndex(i, height, b[3], rs[n]![3]!)));
        return cpuGather(
          x,
          dtype,
          'inside',
          0,
          shape,
          (y, xx, p, n) => {
            p[0] = ix[n]![xx]!;
            p[1] = iy[n]![y]!;
          },
          true,
        );
      }
      const shift = (t: CpuTaps, o: number): CpuTaps => ({ s0: t.s0.map((s) => s + o), s1: t.s1.map((s) => s + o), f: t.f });
      const tx = boxes.map((b) => shift(cpuTaps('linear', b[2], width), b[0]));
      const ty = boxes.map((b) => shift(cpuTaps('linear', b[3], height), b[1]));
      return cpuBilinear(
        x,
        shape,
        dtype,
        (n) => tx[n]!,
        (n) => ty[n]!,
      );
    },
  });
}

/** Every program variant of the crop-and-resize, for compile-all tests. */
function resizeBoxPrograms(): ProgramInfo[] {
  return [...gatherVariants((a, b) => gatherProgram(boxNearestSpec(a, b))), ...ALL_DTYPES.flatMap((a) => ALL_DTYPES.map((b) => boxLinearProgram(a, b)))];
}

// ---------------------------------------------------------------------------------------------
// Bilinear with integer factors (sw = kx·dw, sh = ky·dh; ½ downscale is kx = ky = 2): the taps
// are s = k·d + ⌊(k − 1)/2⌋ and s + 1 (clamped to the edge, which only k = 1 reaches) with the
// constant weight f = 0.5 (k even) or 0 (k odd), exactly what linear_tap computes there
// ((d + 0.5)·k − 0.5 is exact in f32), so the result is the same expression on the same values.
// A thread writes one output word of a row (dw a multiple of the output's elements per word):
// no division chain, no per-tap floor and clamp.

const INT_WG_X = 64;
const INT_WG_Y = 4;

/** [kx, ky] when both axes downscale (or keep) by an integer factor, else null. */
export function integerFactors(sw: number, sh: number, dw: number, dh: number): [number, number] | null {
  if (sw % dw !== 0 || sh % dh !== 0) return null;
  const kx = sw / dw;
  const ky = sh / dh;
  // the general path's f32 scale must be exactly k for the taps to agree
  if (Math.fround(1 / (dw / sw)) !== kx || Math.fround(1 / (dh / sh)) !== ky) return null;
  return [kx, ky];
}

function linearIntProgram(inDtype: DType, outDtype: DType): ProgramInfo {
  const k = ELEMENTS_PER_WORD[outDtype];
  const { decl, store } = packExpr(outDtype);
  return {
    name: 'resize_linear_int',
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    outputs: [{ name: 'out', dtype: outDtype }],
    uniforms: [
      // source W, H; output words per row, output H
      { name: 'shape', type: 'vec4u' },
      // kx, ky, first tap offsets ⌊(kx − 1)/2⌋, ⌊(ky − 1)/2⌋
      { name: 'fac', type: 'vec4u' },
      // weights fx, fy
      { name: 'wt', type: 'vec4f' },
    ],
    workgroupSize: INT_WG_X * INT_WG_Y,
    body: /* wgsl */ `
@compute @workgroup_size(${INT_WG_X}, ${INT_WG_Y}, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let wx = g.x;
  let y = g.y;
  let s = u.shape;
  if (wx >= s.z || y >= s.w) { return; }
  let plane = g.z;
  let fx = u.wt.x;
  let fy = u.wt.y;
  let sy0 = u.fac.y * y + u.fac.w;
  let sy1 = min(sy0 + 1u, s.y - 1u);
  let b0 = (plane * s.y + sy0) * s.x;
  let b1 = (plane * s.y + sy1) * s.x;
  ${decl}
  for (var e = 0u; e < ${k}u; e++) {
    let sx0 = u.fac.x * (wx * ${k}u + e) + u.fac.z;
    let sx1 = min(sx0 + 1u, s.x - 1u);
    let r0 = src_load(b0 + sx0) * (1.0 - fx) + src_load(b0 + sx1) * fx;
    let r1 = src_load(b1 + sx0) * (1.0 - fx) + src_load(b1 + sx1) * fx;
    v[e] = r0 * (1.0 - fy) + r1 * fy;
  }
  let w = (plane * s.w + y) * s.z + wx;
  ${store}
}`,
  };
}

/**
 * u8 halving (bilinear ½ on both axes, output width a multiple of 4): a thread writes an output
 * quad from one 8-byte load per source row (the 2×2 taps of 4 output pixels), with the expression
 * of resize_linear_int at fx = fy = ½, so the results are bit-identical to it.
 */
function linearHalfU8Program(outDtype: DType): ProgramInfo {
  return {
    name: 'resize_linear_half_u8',
    key: '',
    // the bindings as vectors (only these are used): 8-byte loads, f32 quads as one 16-byte store
    inputs: [{ name: 'src', dtype: 'u8', views: { src_v: 'vec2<u32>' } }],
    outputs: [{ name: 'out', dtype: outDtype, ...(outDtype === 'f32' ? { views: OUT_VEC4_VIEW } : {}) }],
    // source W, H; output quads per row, output H
    uniforms: [{ name: 'shape', type: 'vec4u' }],
    workgroupSize: INT_WG_X * INT_WG_Y,
    body: /* wgsl */ `
// source pixels 0, 2, 4, 6 (even) and 1, 3, 5, 7 (odd) of two words
fn even(w: vec2<u32>) -> vec4<f32> { return small_f32x4(vec4<u32>(w.x, w.x >> 16u, w.y, w.y >> 16u) & vec4<u32>(0xffu)); }
fn odd(w: vec2<u32>) -> vec4<f32> { return small_f32x4(vec4<u32>(w.x >> 8u, w.x >> 24u, w.y >> 8u, w.y >> 24u) & vec4<u32>(0xffu)); }
@compute @workgroup_size(${INT_WG_X}, ${INT_WG_Y}, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let q = g.x;
  let y = g.y;
  let s = u.shape;
  if (q >= s.z || y >= s.w) { return; }
  // 8 source pixels per output quad: row pairs start on a vec2 of words (W = 8 · quads)
  let b0 = ((g.z * s.y + 2u * y) * s.x) / 8u + q;
  let a = src_v[b0];
  let b = src_v[b0 + s.x / 8u];
  let fx = 0.5;
  let fy = 0.5;
  let r0 = even(a) * (1.0 - fx) + odd(a) * fx;
  let r1 = even(b) * (1.0 - fx) + odd(b) * fx;
  let v = r0 * (1.0 - fy) + r1 * fy;
  let e = ((g.z * s.w + y) * s.z + q) * 4u;
  ${quadStore(outDtype, outDtype === 'f32', 'e', () => 'true')}
}`,
  };
}

function runLinearHalfU8(x: Tensor, shape: Dims4, dtype: DType): Tensor {
  const [, , sh, sw] = x.shape as Dims4;
  const [n, c, dh, dw] = shape;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, shape, dtype);
  gpu.dispatch({
    program: linearHalfU8Program(dtype),
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { shape: [sw, sh, dw / 4, dh] },
    workgroups: [Math.ceil(dw / 4 / INT_WG_X), Math.ceil(dh / INT_WG_Y), n * c],
  });
  return out;
}

function runLinearInt(x: Tensor, shape: Dims4, dtype: DType, kx: number, ky: number): Tensor {
  const [, , sh, sw] = x.shape as Dims4;
  const [n, c, dh, dw] = shape;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, shape, dtype);
  const words = dw / ELEMENTS_PER_WORD[dtype];
  gpu.dispatch({
    program: linearIntProgram(x.dtype, dtype),
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: {
      shape: [sw, sh, words, dh],
      fac: [kx, ky, (kx - 1) >> 1, (ky - 1) >> 1],
      wt: [kx % 2 === 0 ? 0.5 : 0, ky % 2 === 0 ? 0.5 : 0, 0, 0],
    },
    workgroups: [Math.ceil(words / INT_WG_X), Math.ceil(dh / INT_WG_Y), n * c],
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// CPU reference (OpenCV's formulas, in double where OpenCV uses double)

interface CpuTaps {
  s0: Int32Array;
  s1: Int32Array;
  f: Float32Array;
}

function cpuTaps(kernel: 'linear' | 'area_up', ssz: number, dsz: number): CpuTaps {
  const scale = 1 / (dsz / ssz);
  const inv = dsz / ssz;
  const t = nearestThreshold(ssz, dsz);
  const out: CpuTaps = { s0: new Int32Array(dsz), s1: new Int32Array(dsz), f: new Float32Array(dsz) };
  for (let d = 0; d < dsz; d++) {
    let s: number;
    let f: number;
    if (kernel === 'linear') {
      const fx = Math.fround((d + 0.5) * scale - 0.5);
      s = Math.floor(fx);
      f = Math.fround(fx - s);
    } else {
      s = nearestIndex(d, dsz, ssz, t);
      f = Math.fround(d + 1 - (s + 1) * inv);
      f = f <= 0 ? 0 : Math.fround(f - Math.floor(f));
    }
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= ssz - 1) {
      s = ssz - 1;
      f = 0;
    }
    out.s0[d] = s;
    out.s1[d] = Math.min(s + 1, ssz - 1);
    out.f[d] = f;
  }
  return out;
}

/** computeResizeAreaTab of one axis: per destination index, source indices and weights. */
function cpuAreaTab(ssz: number, dsz: number): { idx: number[]; w: number[] }[] {
  const scale = 1 / (dsz / ssz);
  const tab: { idx: number[]; w: number[] }[] = [];
  for (let d = 0; d < dsz; d++) {
    const fs1 = d * scale;
    const fs2 = fs1 + scale;
    const cell = Math.min(scale, ssz - fs1);
    let s2 = Math.floor(fs2);
    let s1 = Math.ceil(fs1);
    s2 = Math.min(s2, ssz - 1);
    s1 = Math.min(s1, s2);
    const e = { idx: [] as number[], w: [] as number[] };
    if (s1 - fs1 > 1e-3) {
      e.idx.push(s1 - 1);
      e.w.push(Math.fround((s1 - fs1) / cell));
    }
    for (let s = s1; s < s2; s++) {
      e.idx.push(s);
      e.w.push(Math.fround(1 / cell));
    }
    if (fs2 - s2 > 1e-3) {
      e.idx.push(s2);
      e.w.push(Math.fround(Math.min(Math.min(fs2 - s2, 1), cell) / cell));
    }
    tab.push(e);
  }
  return tab;
}

function cpuResize(x: Tensor, shape: Dims4, kernel: Kernel, dtype: DType): Tensor {
  const [, , sh, sw] = x.shape as Dims4;
  const [, , dh, dw] = shape;
  const src = cpuAccessor(x, 'replicate');
  const f = Math.fround;
  if (kernel === 'area') {
    const ty = cpuAreaTab(sh, dh);
    const tx = cpuAreaTab(sw, dw);
    return cpuPixelKernel(shape, dtype, (n, c, y, xx) => {
      const ay = ty[y]!;
      const ax = tx[xx]!;
      let acc = 0;
      for (let i = 0; i < ay.idx.length; i++) {
        let row = 0;
        for (let j = 0; j < ax.idx.length; j++) row = f(row + f(ax.w[j]! * src(n, c, ay.idx[i]!, ax.idx[j]!)));
        acc = f(acc + f(ay.w[i]! * row));
      }
      return acc;
    });
  }
  const ty = cpuTaps(kernel, sh, dh);
  const tx = cpuTaps(kernel, sw, dw);
  return cpuBilinear(
    x,
    shape,
    dtype,
    () => tx,
    () => ty,
  );
}

/** Two-tap interpolation with sample n's taps (`tx(n)`, `ty(n)`), as WGSL `bilinear`. */
function cpuBilinear(x: Tensor, shape: Dims4, dtype: DType, txOf: (n: number) => CpuTaps, tyOf: (n: number) => CpuTaps): Tensor {
  const src = cpuAccessor(x, 'replicate');
  const f = Math.fround;
  return cpuPixelKernel(shape, dtype, (n, c, y, xx) => {
    const tx = txOf(n);
    const ty = tyOf(n);
    const y0 = ty.s0[y]!;
    const y1 = ty.s1[y]!;
    const fy = ty.f[y]!;
    const x0 = tx.s0[xx]!;
    const x1 = tx.s1[xx]!;
    const fx = tx.f[xx]!;
    const r0 = f(f(src(n, c, y0, x0) * f(1 - fx)) + f(src(n, c, y0, x1) * fx));
    const r1 = f(f(src(n, c, y1, x0) * f(1 - fx)) + f(src(n, c, y1, x1) * fx));
    return f(f(r0 * f(1 - fy)) + f(r1 * fy));
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * Resizes every plane to width × height. Runs where `x` lives.
 * @example resize(img, { width: 320, height: 240 })                            // bilinear
 * @example resize(img, { width: 64, height: 64, interpolation: 'area', dtype: 'f16' })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for sizes outside 1..65535 or an unknown interpolation.
 */
export function resize(x: Tensor, options: ResizeOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? ({} as ResizeOptions);
  if (d.h > MAX_SIZE || d.w > MAX_SIZE) throw invalidParameter('x', `an image of at most ${MAX_SIZE}×${MAX_SIZE} pixels`, `${d.w}×${d.h}`);
  const width = integerInRange('width', o.width, 1, MAX_SIZE);
  const height = integerInRange('height', o.height, 1, MAX_SIZE);
  const interpolation = o.interpolation === undefined ? 'bilinear' : oneOf('interpolation', o.interpolation, INTERPOLATIONS);
  const dtype = outDType(o.dtype, x.dtype);
  const shape: Dims4 = [d.n, d.c, height, width];
  if (o.boxes !== undefined) {
    if (interpolation === 'area') throw invalidParameter('interpolation', 'one of "nearest", "bilinear" with boxes', interpolation);
    const boxes = perSample('boxes', o.boxes, d.n, boxItem(d));
    return resizeBoxes(
      x,
      shape,
      Array.from({ length: d.n }, (_, n) => sampleValue(boxes, n)),
      interpolation,
      dtype,
    );
  }
  const rs = [1 / (width / d.w), 1 / (height / d.h), nearestThreshold(d.w, width), nearestThreshold(d.h, height)];
  if (interpolation === 'nearest') {
    const spec = nearestSpec(x.dtype, dtype);
    return onDevice(x, {
      gpu: () => runGather(x, spec, shape, { rs }, 0),
      cpu: () => {
        const ix = Int32Array.from({ length: width }, (_, i) => nearestIndex(i, width, d.w, rs[2]!));
        const iy = Int32Array.from({ length: height }, (_, i) => nearestIndex(i, height, d.h, rs[3]!));
        return cpuGather(x, dtype, 'inside', 0, shape, (y, xx, p) => {
          p[0] = ix[xx]!;
          p[1] = iy[y]!;
        });
      },
    });
  }
  const kernel: Kernel = interpolation === 'bilinear' ? 'linear' : d.w >= width && d.h >= height ? 'area' : 'area_up';
  return onDevice(x, {
    gpu: () => {
      const k = kernel === 'linear' ? integerFactors(d.w, d.h, width, height) : null;
      if (k && k[0] === 2 && k[1] === 2 && x.dtype === 'u8' && width % 4 === 0 && d.n * d.c <= 65535) return runLinearHalfU8(x, shape, dtype);
      if (k && width % ELEMENTS_PER_WORD[dtype] === 0 && d.n * d.c <= 65535) return runLinearInt(x, shape, dtype, k[0], k[1]);
      return runPixelProgram(resizeProgram(kernel, x.dtype, dtype), [x], shape, dtype, { rs });
    },
    cpu: () => cpuResize(x, shape, kernel, dtype),
  });
}

/** Every program variant of resize (kernels × dtype pairs), for compile-all tests. */
export function resizePrograms(): ProgramInfo[] {
  const kernels: Kernel[] = ['linear', 'area', 'area_up'];
  return [
    ...gatherVariants((a, b) => gatherProgram(nearestSpec(a, b))),
    ...kernels.flatMap((k) => ALL_DTYPES.flatMap((a) => ALL_DTYPES.map((b) => resizeProgram(k, a, b)))),
    ...ALL_DTYPES.flatMap((a) => ALL_DTYPES.map((b) => linearIntProgram(a, b))),
    ...ALL_DTYPES.map((b) => linearHalfU8Program(b)),
    ...resizeBoxPrograms(),
  ];
}
