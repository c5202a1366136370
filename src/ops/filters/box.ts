/**
 * Box filter, as OpenCV's cv::boxFilter (normalize = true is cv::blur): each output pixel is the
 * sum of the ksize.w × ksize.h window, divided by the window area when `normalize` is set.
 * Border reflect101 by default (also replicate, constant with `borderValue`); integer outputs
 * round half to even and saturate (saturate_cast). Output dtype defaults to the input's (ddepth -1).
 *
 * Runs through the separable engine: a horizontal pass of ones (exact integer sums for u8/u16
 * inputs), then a vertical pass of 1/(w·h) (or ones). Even sizes are allowed, with OpenCV's default
 * anchor (ksize/2): the window covers offsets -ksize/2 .. ksize/2 - 1, done by padding the odd
 * kernel with one zero tap at the end.
 * Differences from OpenCV: sums are f32, rounded once at the end, half to even. OpenCV sums u8 in
 * integers and divides in fixed point, rounding .5 up, so a u8 mean can differ by 1 where it is an
 * exact .5 tie, which happens only for even window areas (odd areas match exactly); OpenCV sums
 * floats in double. An ±Inf pixel just outside an even window (the zero tap) yields NaN.
 */
import type { DType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, is, numberInRange } from '../../validate.js';
import { checkBorder, type BorderMode } from '../../kernels/border.js';
import { checkImage, outDType } from '../image.js';
import { MAX_TAPS } from './kernels.js';
import { filter2dSeparable, separablePrograms } from './separable.js';

export interface BoxBlurOptions {
  /** Window size 1 to 255 (even sizes up to 254), or [width, height]. */
  ksize: number | readonly [number, number];
  /** Divide by the window area (cv.blur); false gives plain window sums. Default true. */
  normalize?: boolean;
  border?: BorderMode;
  borderValue?: number;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

function boxSize(name: string, v: unknown): number {
  const k = integerInRange(name, v, 1, MAX_TAPS);
  if (k % 2 === 0 && k + 1 > MAX_TAPS) throw invalidParameter(name, `integer between 1 and ${MAX_TAPS - 1} when even`, v);
  return k;
}

/** `k` ones (times `scale`), padded with a trailing zero to an odd length when k is even. */
function boxTaps(k: number, scale: number): number[] {
  const taps = new Array<number>(k).fill(scale);
  if (k % 2 === 0) taps.push(0);
  return taps;
}

/**
 * Mean (or sum) of each ksize window, per channel of an N×C×H×W batch. Runs where `x` lives.
 * @example boxBlur(img, { ksize: 5 })                         // cv.blur(img, (5, 5))
 * @example boxBlur(img, { ksize: [3, 7], normalize: false, dtype: 'f32' })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for a ksize outside 1..255, unknown border.
 */
export function boxBlur(x: Tensor, options: BoxBlurOptions): Tensor {
  checkImage('x', x);
  if (!is.defined(options) || typeof options !== 'object') throw invalidParameter('options', 'an object with ksize', options);
  const o = options;
  let kw: number;
  let kh: number;
  if (is.number(o.ksize) || !Array.isArray(o.ksize)) {
    kw = kh = boxSize('ksize', o.ksize);
  } else {
    if (o.ksize.length !== 2) throw invalidParameter('ksize', 'a number or [width, height]', o.ksize);
    kw = boxSize('ksize[0]', o.ksize[0]);
    kh = boxSize('ksize[1]', o.ksize[1]);
  }
  if (o.normalize !== undefined && typeof o.normalize !== 'boolean') throw invalidParameter('normalize', 'a boolean', o.normalize);
  const normalize = o.normalize ?? true;
  return filter2dSeparable(x, {
    kx: boxTaps(kw, 1),
    ky: boxTaps(kh, normalize ? 1 / (kw * kh) : 1),
    border: checkBorder('border', o.border),
    borderValue: o.borderValue === undefined ? 0 : numberInRange('borderValue', o.borderValue, -1e30, 1e30),
    dtype: outDType(o.dtype, x.dtype),
  });
}

/** Every program variant boxBlur records (those of the separable engine). */
export function boxBlurPrograms(dtypes: readonly DType[], borders: readonly BorderMode[]) {
  return separablePrograms(dtypes, borders);
}
