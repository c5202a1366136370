/**
 * Gradient magnitude in one fused pass: out = sqrt(gx² + gy²) per channel, with
 *   'sobel'   gx, gy = cv.Sobel(x, CV_32F, 1, 0, ksize), cv.Sobel(x, CV_32F, 0, 1, ksize)
 *             (weights of sobel.ts; ksize 1, 3, 5 or 7; ksize 1 is [-1 0 1] without smoothing)
 *   'scharr'  gx, gy = cv.Scharr(x, CV_32F, 1, 0), cv.Scharr(x, CV_32F, 0, 1)   (ksize 3 only)
 *   'central' gx = (x[y, x+1] − x[y, x−1]) / 2, gy = (x[y+1, x] − x[y−1, x]) / 2  (ksize 3 only)
 * i.e. cv.magnitude of the two derivatives, unnormalised (Sobel 3×3 of a unit step is 4).
 * On the GPU each thread reads the pixel's neighbourhood once (3×3: the four border-resolved
 * neighbour rows/columns are computed once and nine, or four for 'central', loads made), forms
 * both derivatives and the magnitude in registers and writes the output: no gx/gy tensors. ksize 3
 * has a specialised, unrolled kernel per operator; Sobel ksize 1, 5, 7 share one kernel with the
 * 1-D weights as uniforms (it still reads each of the K×K taps once).
 * Arithmetic is f32 in the order of the separable filter (row pass, then column pass). Border
 * modes reflect101 (default) / replicate / constant (borderValue, default 0). Integer outputs
 * round half to even and saturate (saturate_cast); f16 clamps to ±65504. Output dtype default f32.
 */
import type { DType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, numberInRange, oddInteger, oneOf } from '../../validate.js';
import { BORDER_MODES, checkBorder, type BorderMode } from '../border.js';
import { checkImage, outDType } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../pixel-kernel.js';
import { sobelKernels, type SobelKsize } from './sobel.js';

export const GRADIENT_OPERATORS = ['sobel', 'scharr', 'central'] as const;
export type GradientOperator = (typeof GRADIENT_OPERATORS)[number];

export interface GradientMagnitudeOptions {
  /** Aperture: 3 (default) for every operator; 1, 5, 7 also for 'sobel'. */
  ksize?: SobelKsize;
  /** Derivative kernel (default 'sobel'). */
  operator?: GradientOperator;
  border?: BorderMode;
  /** Value outside the image for border 'constant' (default 0). */
  borderValue?: number;
  /** Output dtype; default 'f32'. */
  dtype?: DType;
}

export interface ResolvedGradient {
  operator: GradientOperator;
  ksize: number;
  border: BorderMode;
  borderValue: number;
  dtype: DType;
}

export function resolveGradient(x: Tensor, o: GradientMagnitudeOptions): ResolvedGradient {
  checkImage('x', x);
  const operator = o.operator === undefined ? 'sobel' : oneOf('operator', o.operator, GRADIENT_OPERATORS);
  let ksize = 3;
  if (o.ksize !== undefined) {
    if (operator === 'sobel') ksize = oddInteger('ksize', o.ksize, 1, 7);
    else if (o.ksize !== 3) throw invalidParameter('ksize', `3 with operator "${operator}"`, o.ksize);
  }
  return {
    operator,
    ksize,
    border: checkBorder('border', o.border),
    borderValue: o.borderValue === undefined ? 0 : numberInRange('borderValue', o.borderValue, -1e30, 1e30),
    dtype: outDType(o.dtype, 'f32'),
  };
}

const TAP_VECS = 2; // up to 8 taps per 1-D kernel

/** Shared WGSL: a border-resolved load of plane `plane` (n·C + c) at row index yy, column xx. */
const TAP_WGSL = /* wgsl */ `
fn tap(plane: u32, yy: i32, xx: i32) -> f32 {
  if (yy < 0 || xx < 0) { return u.border_value; }
  let s = u.src_shape;
  return src_load((plane * s.z + u32(yy)) * s.w + u32(xx));
}`;

function pixel3(operator: GradientOperator): string {
  const head = /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let plane = n * s.y + c;
  let H = i32(s.z);
  let W = i32(s.w);
  let yi = i32(y);
  let xi = i32(x);
  let y0 = border(yi - 1, H);
  let y2 = border(yi + 1, H);
  let x0 = border(xi - 1, W);
  let x2 = border(xi + 1, W);`;
  if (operator === 'central') {
    return `${TAP_WGSL}${head}
  let gx = (tap(plane, yi, x2) - tap(plane, yi, x0)) * 0.5;
  let gy = (tap(plane, y2, xi) - tap(plane, y0, xi)) * 0.5;
  return sqrt(gx * gx + gy * gy);
}`;
  }
  const [a, b] = operator === 'sobel' ? ['1.0', '2.0'] : ['3.0', '10.0'];
  return `${TAP_WGSL}${head}
  let p00 = tap(plane, y0, x0); let p01 = tap(plane, y0, xi); let p02 = tap(plane, y0, x2);
  let p10 = tap(plane, yi, x0); let p12 = tap(plane, yi, x2);
  let p20 = tap(plane, y2, x0); let p21 = tap(plane, y2, xi); let p22 = tap(plane, y2, x2);
  // row pass: derivative d_r and smoothing s_r of each row; column pass: the other kernel
  let d0 = p02 - p00; let d1 = p12 - p10; let d2 = p22 - p20;
  let s0 = ${a} * p00 + ${b} * p01 + ${a} * p02;
  let s2 = ${a} * p20 + ${b} * p21 + ${a} * p22;
  let gx = ${a} * d0 + ${b} * d1 + ${a} * d2;
  let gy = s2 - s0;
  return sqrt(gx * gx + gy * gy);
}`;
}

const PIXEL_GENERIC = /* wgsl */ `${TAP_WGSL}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let plane = n * s.y + c;
  let H = i32(s.z);
  let W = i32(s.w);
  let r = i32(u.radius);
  let k = 2u * u.radius + 1u;
  var gx = 0.0;
  var gy = 0.0;
  for (var i = 0u; i < k; i++) {
    let yy = border(i32(y) + i32(i) - r, H);
    var rd = 0.0;
    var rs = 0.0;
    for (var j = 0u; j < k; j++) {
      let v = tap(plane, yy, border(i32(x) + i32(j) - r, W));
      rd += u.kd[j / 4u][j % 4u] * v;
      rs += u.ks[j / 4u][j % 4u] * v;
    }
    gx += u.ks[i / 4u][i % 4u] * rd;
    gy += u.kd[i / 4u][i % 4u] * rs;
  }
  return sqrt(gx * gx + gy * gy);
}`;

type Variant = GradientOperator | 'sobel_k';

function variantOf(r: ResolvedGradient): Variant {
  return r.operator === 'sobel' && r.ksize !== 3 ? 'sobel_k' : r.operator;
}

export function gradientProgram(variant: Variant, inDtype: DType, outDtype: DType, border: BorderMode) {
  const generic = variant === 'sobel_k';
  return pixelProgram({
    name: 'gradient_magnitude',
    key: variant,
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border,
    uniforms: generic
      ? [
          { name: 'radius', type: 'u32' },
          { name: 'kd', type: { array: 'vec4f', length: TAP_VECS } },
          { name: 'ks', type: { array: 'vec4f', length: TAP_VECS } },
        ]
      : [],
    pixel: generic ? PIXEL_GENERIC : pixel3(variant),
  });
}

/** Derivative and smoothing 1-D kernels of equal odd length K (ksize 1: [-1 0 1] and [0 1 0]). */
function genericWeights(ksize: number): { kd: number[]; ks: number[] } {
  const { kx } = sobelKernels(1, 0, ksize);
  const { kx: ks } = sobelKernels(0, 1, ksize);
  const pad = (kx.length - ks.length) / 2;
  const smooth = [...new Array<number>(pad).fill(0), ...ks, ...new Array<number>(pad).fill(0)];
  return { kd: kx, ks: smooth };
}

function packTaps(w: readonly number[]): number[] {
  const out = new Array<number>(TAP_VECS * 4).fill(0);
  w.forEach((v, i) => (out[i] = v));
  return out;
}

const f = Math.fround;

function cpuGradient(x: Tensor, r: ResolvedGradient, variant: Variant): Tensor {
  const [N, C, H, W] = x.shape as Dims4;
  const src = cpuAccessor(x, r.border, r.borderValue);
  const mag = (gx: number, gy: number) => Math.sqrt(f(f(gx * gx) + f(gy * gy)));
  if (variant === 'central') {
    return cpuPixelKernel([N, C, H, W], r.dtype, (n, c, y, xx) => {
      const gx = f(f(src(n, c, y, xx + 1) - src(n, c, y, xx - 1)) * 0.5);
      const gy = f(f(src(n, c, y + 1, xx) - src(n, c, y - 1, xx)) * 0.5);
      return mag(gx, gy);
    });
  }
  if (variant === 'sobel_k') {
    const { kd, ks } = genericWeights(r.ksize);
    const rad = (kd.length - 1) / 2;
    return cpuPixelKernel([N, C, H, W], r.dtype, (n, c, y, xx) => {
      let gx = 0;
      let gy = 0;
      for (let i = 0; i < kd.length; i++) {
        let rd = 0;
        let rs = 0;
        for (let j = 0; j < kd.length; j++) {
          const v = src(n, c, y + i - rad, xx + j - rad);
          rd = f(rd + f(kd[j]! * v));
          rs = f(rs + f(ks[j]! * v));
        }
        gx = f(gx + f(ks[i]! * rd));
        gy = f(gy + f(kd[i]! * rs));
      }
      return mag(gx, gy);
    });
  }
  const [a, b] = variant === 'sobel' ? [1, 2] : [3, 10];
  return cpuPixelKernel([N, C, H, W], r.dtype, (n, c, y, xx) => {
    const p = (dy: number, dx: number) => src(n, c, y + dy, xx + dx);
    const p00 = p(-1, -1), p01 = p(-1, 0), p02 = p(-1, 1);
    const p10 = p(0, -1), p12 = p(0, 1);
    const p20 = p(1, -1), p21 = p(1, 0), p22 = p(1, 1);
    const d0 = f(p02 - p00), d1 = f(p12 - p10), d2 = f(p22 - p20);
    const s0 = f(f(f(a * p00) + f(b * p01)) + f(a * p02));
    const s2 = f(f(f(a * p20) + f(b * p21)) + f(a * p22));
    const gx = f(f(f(a * d0) + f(b * d1)) + f(a * d2));
    const gy = f(s2 - s0);
    return mag(gx, gy);
  });
}

/** Runs a resolved gradient magnitude where `x` lives (used by multiScaleFeatures). */
export function gradientMagnitudeResolved(x: Tensor, r: ResolvedGradient): Tensor {
  const variant = variantOf(r);
  if (x.device === 'gpu') {
    const uniforms: Record<string, number | number[]> = {};
    if (variant === 'sobel_k') {
      const { kd, ks } = genericWeights(r.ksize);
      uniforms.radius = (kd.length - 1) / 2;
      uniforms.kd = packTaps(kd);
      uniforms.ks = packTaps(ks);
    }
    return runPixelProgram(gradientProgram(variant, x.dtype, r.dtype, r.border), [x], x.shape as Dims4, r.dtype, uniforms, r.borderValue);
  }
  return cpuGradient(x, r, variant);
}

/**
 * Per-channel gradient magnitude sqrt(gx² + gy²) of an N×C×H×W batch, one fused pass.
 * @example gradientMagnitude(img)                                   // Sobel 3×3, f32
 * @example gradientMagnitude(img, { operator: 'central', dtype: 'f16' })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for even ksize, ksize ≠ 3 with scharr/central, unknown operator.
 */
export function gradientMagnitude(x: Tensor, options: GradientMagnitudeOptions = {}): Tensor {
  return gradientMagnitudeResolved(x, resolveGradient(x, options));
}

/** Every program variant, for compile-all tests. */
export function gradientPrograms(inDtypes: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16'], outDtypes: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16'], borders: readonly BorderMode[] = BORDER_MODES) {
  const variants: Variant[] = ['sobel', 'scharr', 'central', 'sobel_k'];
  return variants.flatMap((v) => inDtypes.flatMap((i) => outDtypes.flatMap((o) => borders.map((b) => gradientProgram(v, i, o, b)))));
}
