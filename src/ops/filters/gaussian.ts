/**
 * Gaussian blur, as OpenCV's cv::GaussianBlur: separable, weights from getGaussianKernel,
 * ksize from sigma when not given (cvRound(sigma·(u8 ? 3 : 4)·2 + 1) | 1), sigma from ksize
 * when not given, border reflect101 by default. Integer outputs round half to even and saturate.
 * OpenCV's u8 path uses 16-bit fixed point, so it can differ from this float path by 1.
 */
import type { DType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, is, numberInRange, oddInteger } from '../../validate.js';
import { checkBorder, type BorderMode } from '../../kernels/border.js';
import { checkImage, outDType } from '../image.js';
import { gaussianKernel1d, gaussianKsizeForSigma, MAX_TAPS } from './kernels.js';
import { filter2dSeparable } from './separable.js';

export interface GaussianBlurOptions {
  /** Standard deviation along x, 0 to 1000; 0 derives it from ksize. */
  sigma?: number;
  /** Standard deviation along y; defaults to sigma. */
  sigmaY?: number;
  /** Odd kernel size 1 to 255, or [width, height]; derived from sigma when omitted. */
  ksize?: number | readonly [number, number];
  border?: BorderMode;
  borderValue?: number;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

export interface ResolvedGaussian {
  kx: number[];
  ky: number[];
  border: BorderMode;
  borderValue: number;
  dtype: DType;
}

export function resolveGaussian(x: Tensor, o: GaussianBlurOptions): ResolvedGaussian {
  checkImage('x', x);
  const sigma = o.sigma === undefined ? 0 : numberInRange('sigma', o.sigma, 0, 1000);
  const sigmaY = o.sigmaY === undefined ? sigma : numberInRange('sigmaY', o.sigmaY, 0, 1000);
  let kw: number;
  let kh: number;
  if (o.ksize === undefined) {
    if (sigma <= 0) throw invalidParameter('sigma', 'a number above 0 when ksize is not given', o.sigma);
    kw = gaussianKsizeForSigma(sigma, x.dtype === 'u8');
    kh = gaussianKsizeForSigma(sigmaY > 0 ? sigmaY : sigma, x.dtype === 'u8');
  } else if (is.number(o.ksize)) {
    kw = kh = oddInteger('ksize', o.ksize, 1, MAX_TAPS);
  } else {
    kw = oddInteger('ksize[0]', o.ksize[0], 1, MAX_TAPS);
    kh = oddInteger('ksize[1]', o.ksize[1], 1, MAX_TAPS);
  }
  if (kw > MAX_TAPS || kh > MAX_TAPS) throw invalidParameter('sigma', `a number giving a kernel of at most ${MAX_TAPS} taps`, o.sigma);
  return {
    kx: gaussianKernel1d(kw, sigma),
    ky: gaussianKernel1d(kh, sigmaY),
    border: checkBorder('border', o.border),
    borderValue: o.borderValue === undefined ? 0 : numberInRange('borderValue', o.borderValue, -1e30, 1e30),
    dtype: outDType(o.dtype, x.dtype),
  };
}

/**
 * Blurs each channel of an N×C×H×W batch with a Gaussian kernel. Runs where `x` lives.
 * @example gaussianBlur(img, { sigma: 1.5 })            // ksize 9 for u8 (OpenCV's rule)
 * @example gaussianBlur(img, { ksize: 5, dtype: 'f16' })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for negative sigma, even ksize, unknown border.
 */
export function gaussianBlur(x: Tensor, options: GaussianBlurOptions): Tensor {
  return filter2dSeparable(x, resolveGaussian(x, options));
}
