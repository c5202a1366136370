/**
 * Sobel and Scharr derivatives, as OpenCV's cv::Sobel and cv::Scharr: separable correlation
 * (filter2dSeparable: a horizontal then a vertical 1-D pass, f32 intermediate) with the weights
 * of cv::getDerivKernels (normalize = false):
 *   Sobel ksize 3:  order 0 [1 2 1], order 1 [-1 0 1], order 2 [1 -2 1]; ksize 5 and 7 from
 *                   OpenCV's binomial recurrence (e.g. ksize 5, order 1: [-1 -2 0 2 1]).
 *   Sobel ksize 1:  the derivative axis uses the 3-tap kernel [-1 0 1] (or [1 -2 1] for order 2)
 *                   and the other axis [1], i.e. no smoothing (OpenCV's rule).
 *   Scharr:         order 0 [3 10 3], order 1 [-1 0 1]; exactly one of dx, dy is 1.
 * `scale` multiplies the smoothing kernel (the x kernel when dx = 0, else the y kernel) as
 * OpenCV does, and `delta` is added before the final conversion:
 *   out = saturate_cast<dtype>(Σ kx ⊗ ky · x + delta)
 * Border modes: reflect101 (default, OpenCV's BORDER_DEFAULT), replicate, constant (borderValue,
 * default 0; OpenCV's Sobel always uses 0). Integer outputs round half to even and saturate
 * (OpenCV's saturate_cast); f16 clamps to ±65504. The output dtype defaults to f32 (OpenCV's
 * CV_32F ddepth; ddepth = -1 would give u8 outputs whose negative derivatives clip to 0).
 * Differences from OpenCV: ksize is limited to 1, 3, 5, 7 (OpenCV: odd up to 31) and dx, dy to
 * 0..2; a non-zero delta costs one extra element-wise pass on the GPU (filter2dSeparable has no
 * offset), which gives the same value as OpenCV's fused addition up to f32 rounding.
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, numberInRange, oddInteger } from '../../validate.js';
import { BORDER_MODES, checkBorder, type BorderMode } from '../../kernels/border.js';
import { checkImage, outDType } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { filter2dSeparable, separablePrograms } from '../filters/separable.js';

export type DerivOrder = 0 | 1 | 2;
export type SobelKsize = 1 | 3 | 5 | 7;

export interface SobelOptions {
  /** Order of the x derivative, 0 to 2. */
  dx: DerivOrder;
  /** Order of the y derivative, 0 to 2; dx + dy ≥ 1. */
  dy: DerivOrder;
  /** Aperture: 1, 3 (default), 5 or 7. */
  ksize?: SobelKsize;
  /** Factor on the result (default 1). */
  scale?: number;
  /** Added to the scaled result before conversion (default 0). */
  delta?: number;
  border?: BorderMode;
  /** Value outside the image for border 'constant' (default 0). */
  borderValue?: number;
  /** Output dtype; default 'f32'. */
  dtype?: DType;
}

export interface ScharrOptions {
  /** 0 or 1; exactly one of dx, dy is 1. */
  dx: 0 | 1;
  dy: 0 | 1;
  scale?: number;
  delta?: number;
  border?: BorderMode;
  borderValue?: number;
  /** Output dtype; default 'f32'. */
  dtype?: DType;
}

/** One axis of cv::getSobelKernels (normalize = false): order `order`, `ksize` taps. */
export function sobelKernel1d(order: number, ksize: number): number[] {
  if (ksize === 1) return [1];
  if (ksize === 3) return order === 0 ? [1, 2, 1] : order === 1 ? [-1, 0, 1] : [1, -2, 1];
  // OpenCV's recurrence: smooth (ksize - order - 1) times with [1 1], then difference `order` times.
  const k = new Array<number>(ksize + 1).fill(0);
  k[0] = 1;
  for (let i = 0; i < ksize - order - 1; i++) {
    let old = k[0]!;
    for (let j = 1; j <= ksize; j++) {
      const next = k[j]! + k[j - 1]!;
      k[j - 1] = old;
      old = next;
    }
  }
  for (let i = 0; i < order; i++) {
    let old = -k[0]!;
    for (let j = 1; j <= ksize; j++) {
      const next = k[j - 1]! - k[j]!;
      k[j - 1] = old;
      old = next;
    }
  }
  return k.slice(0, ksize);
}

/** cv::getDerivKernels(dx, dy, ksize) for Sobel: kx (along x) and ky (along y). */
export function sobelKernels(dx: number, dy: number, ksize: number): { kx: number[]; ky: number[] } {
  const kxSize = ksize === 1 && dx > 0 ? 3 : ksize;
  const kySize = ksize === 1 && dy > 0 ? 3 : ksize;
  return { kx: sobelKernel1d(dx, kxSize), ky: sobelKernel1d(dy, kySize) };
}

/** cv::getScharrKernels: order 0 → [3 10 3], order 1 → [-1 0 1]. */
export function scharrKernels(dx: number, dy: number): { kx: number[]; ky: number[] } {
  const k = (order: number) => (order === 0 ? [3, 10, 3] : [-1, 0, 1]);
  return { kx: k(dx), ky: k(dy) };
}

interface ResolvedDeriv {
  kx: number[];
  ky: number[];
  delta: number;
  border: BorderMode;
  borderValue: number;
  dtype: DType;
}

function finite(name: string, v: unknown, fallback: number): number {
  return v === undefined ? fallback : numberInRange(name, v, -1e30, 1e30);
}

function resolveCommon(
  o: { scale?: number; delta?: number; border?: BorderMode; borderValue?: number; dtype?: DType },
  dx: number,
  k: { kx: number[]; ky: number[] },
): ResolvedDeriv {
  const scale = finite('scale', o.scale, 1);
  // OpenCV scales the smoothing part: kx when dx = 0, else ky.
  const kx = dx === 0 ? k.kx.map((v) => v * scale) : k.kx;
  const ky = dx === 0 ? k.ky : k.ky.map((v) => v * scale);
  return {
    kx,
    ky,
    delta: finite('delta', o.delta, 0),
    border: checkBorder('border', o.border),
    borderValue: finite('borderValue', o.borderValue, 0),
    dtype: outDType(o.dtype, 'f32'),
  };
}

function checkOptions(o: unknown): Record<string, unknown> {
  if (o === null || typeof o !== 'object') throw invalidParameter('options', 'an object with dx and dy', o);
  return o as Record<string, unknown>;
}

export function resolveSobel(x: Tensor, options: SobelOptions): ResolvedDeriv {
  checkImage('x', x);
  const o = checkOptions(options) as unknown as SobelOptions;
  const dx = integerInRange('dx', o.dx, 0, 2);
  const dy = integerInRange('dy', o.dy, 0, 2);
  if (dx + dy < 1) throw invalidParameter('dx + dy', 'an integer of at least 1', dx + dy);
  const ksize = o.ksize === undefined ? 3 : oddInteger('ksize', o.ksize, 1, 7);
  return resolveCommon(o, dx, sobelKernels(dx, dy, ksize));
}

export function resolveScharr(x: Tensor, options: ScharrOptions): ResolvedDeriv {
  checkImage('x', x);
  const o = checkOptions(options) as unknown as ScharrOptions;
  const dx = integerInRange('dx', o.dx, 0, 1);
  const dy = integerInRange('dy', o.dy, 0, 1);
  if (dx + dy !== 1) throw invalidParameter('dx + dy', 'exactly 1', dx + dy);
  return resolveCommon(o, dx, scharrKernels(dx, dy));
}

/** out = saturate_cast<dtype>(src + delta), src an f32 tensor of the same shape. */
function offsetProgram(outDtype: DType) {
  return pixelProgram({
    name: 'deriv_delta',
    key: '',
    inputs: [{ name: 'src', dtype: 'f32' }],
    output: outDtype,
    border: 'replicate',
    uniforms: [{ name: 'delta', type: 'f32' }],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 { return src_px(n, c, y, x) + u.delta; }`,
  });
}

function derivative(x: Tensor, r: ResolvedDeriv): Tensor {
  const args = { kx: r.kx, ky: r.ky, border: r.border, borderValue: r.borderValue };
  if (r.delta === 0) return filter2dSeparable(x, { ...args, dtype: r.dtype });
  const raw = filter2dSeparable(x, { ...args, dtype: 'f32' });
  const shape = raw.shape as Dims4;
  const out = onDevice(raw, {
    gpu: () => runPixelProgram(offsetProgram(r.dtype), [raw], shape, r.dtype, { delta: r.delta }),
    cpu: () => {
      const src = cpuAccessor(raw, 'replicate');
      const delta = Math.fround(r.delta);
      return cpuPixelKernel(shape, r.dtype, (n, c, y, xx) => src(n, c, y, xx) + delta);
    },
  });
  raw.dispose();
  return out;
}

/**
 * x- and/or y-derivative of each channel of an N×C×H×W batch (cv.Sobel). Runs where `x` lives.
 * @example sobel(img, { dx: 1, dy: 0 })                    // f32 ∂/∂x, 3×3
 * @example sobel(img, { dx: 0, dy: 2, ksize: 5, dtype: 'f16' })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for dx = dy = 0, even ksize, ksize > 7, unknown border.
 */
export function sobel(x: Tensor, options: SobelOptions): Tensor {
  return derivative(x, resolveSobel(x, options));
}

/**
 * First x- or y-derivative with the 3×3 Scharr kernel (cv.Scharr). Runs where `x` lives.
 * @example scharr(img, { dx: 0, dy: 1 })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT unless exactly one of dx, dy is 1.
 */
export function scharr(x: Tensor, options: ScharrOptions): Tensor {
  return derivative(x, resolveScharr(x, options));
}

/** Every program variant sobel/scharr record, for compile-all tests. */
export function sobelPrograms(dtypes: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16'], borders: readonly BorderMode[] = BORDER_MODES) {
  return [...separablePrograms(dtypes, borders), ...dtypes.map((dt) => offsetProgram(dt))];
}
