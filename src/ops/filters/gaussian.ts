/**
 * Gaussian blur, as OpenCV's cv::GaussianBlur: separable, weights from getGaussianKernel,
 * ksize from sigma when not given (cvRound(sigma·(u8 ? 3 : 4)·2 + 1) | 1), sigma from ksize
 * when not given, border reflect101 by default. Integer outputs round half to even and saturate.
 * OpenCV's u8 path uses 16-bit fixed point, so it can differ from this float path by 1.
 * sigma, sigmaY and ksize may each be one per sample (augmentation); the batch then runs the
 * separable per-sample passes, at most 3072 · 4 / N − 2 taps per kernel for a batch of N.
 */
import type { DType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, numberInRange, oddInteger } from '../../validate.js';
import { checkBorder, type BorderMode } from '../../kernels/border.js';
import { checkImage, numberItem, outDType, perSample, sampleValue, type PerSample, type PerSampleItem } from '../image.js';
import { gaussianKernel1d, gaussianKsizeForSigma, MAX_TAPS } from './kernels.js';
import { filter2dSeparable, filter2dSeparablePerSample, PER_SAMPLE_TAP_VECS, perSampleTapVecs } from './separable.js';

export interface GaussianBlurOptions {
  /** Standard deviation along x, 0 to 1000; 0 derives it from ksize. One per sample allowed. */
  sigma?: PerSample<number>;
  /** Standard deviation along y; defaults to sigma. One per sample allowed. */
  sigmaY?: PerSample<number>;
  /**
   * Odd kernel size 1 to 255, or [width, height]; derived from sigma when omitted. One per sample
   * allowed (a list of sizes or of [width, height] pairs; a list of two numbers is one [width, height]).
   */
  ksize?: PerSample<number | readonly [number, number]>;
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

const KSIZE_ITEM: PerSampleItem<number | readonly [number, number]> = {
  what: ['an odd integer or [width, height]', 'odd integers or [width, height] pairs'],
  isItem: (v) => Array.isArray(v) && v.length === 2 && v.every((e) => typeof e === 'number'),
  check: (name, v) => {
    if (Array.isArray(v)) return [oddInteger(`${name}[0]`, v[0], 1, MAX_TAPS), oddInteger(`${name}[1]`, v[1], 1, MAX_TAPS)] as const;
    return oddInteger(name, v, 1, MAX_TAPS);
  },
};

/** Sample n's kernels from its sigma, sigmaY and ksize (OpenCV's rules); `at` names the sample, `given` is the sigma option. */
function kernelsOf(
  x: Tensor,
  given: unknown,
  sigma: number,
  sigmaY: number,
  ksize: number | readonly [number, number] | undefined,
  at: string,
): [number[], number[]] {
  let kw: number;
  let kh: number;
  if (ksize === undefined) {
    if (sigma <= 0) throw invalidParameter(`sigma${at}`, 'a number above 0 when ksize is not given', given === undefined ? undefined : sigma);
    kw = gaussianKsizeForSigma(sigma, x.dtype === 'u8');
    kh = gaussianKsizeForSigma(sigmaY > 0 ? sigmaY : sigma, x.dtype === 'u8');
  } else [kw, kh] = typeof ksize === 'number' ? [ksize, ksize] : ksize;
  if (kw > MAX_TAPS || kh > MAX_TAPS) throw invalidParameter(`sigma${at}`, `a number giving a kernel of at most ${MAX_TAPS} taps`, sigma);
  return [gaussianKernel1d(kw, sigma), gaussianKernel1d(kh, sigmaY)];
}

interface ResolvedGaussianBatch {
  /** One kernel pair for the batch, or one per sample. */
  kx: number[][];
  ky: number[][];
  perSample: boolean;
  border: BorderMode;
  borderValue: number;
  dtype: DType;
}

function resolveBatch(x: Tensor, o: GaussianBlurOptions): ResolvedGaussianBatch {
  const d = checkImage('x', x);
  const sigma = o.sigma === undefined ? { values: [0], perSample: false } : perSample('sigma', o.sigma, d.n, numberItem(0, 1000));
  const sigmaY = o.sigmaY === undefined ? sigma : perSample('sigmaY', o.sigmaY, d.n, numberItem(0, 1000));
  const ksize = o.ksize === undefined ? { values: [undefined], perSample: false } : perSample('ksize', o.ksize, d.n, KSIZE_ITEM);
  const each = sigma.perSample || sigmaY.perSample || ksize.perSample;
  const kx: number[][] = [];
  const ky: number[][] = [];
  for (let n = 0; n < (each ? d.n : 1); n++) {
    const [a, b] = kernelsOf(x, o.sigma, sampleValue(sigma, n), sampleValue(sigmaY, n), sampleValue(ksize, n), sigma.perSample ? `[${n}]` : '');
    kx.push(a);
    ky.push(b);
  }
  if (each) {
    const longest = Math.max(...kx.map((k) => k.length), ...ky.map((k) => k.length));
    if (d.n * perSampleTapVecs(longest) > PER_SAMPLE_TAP_VECS)
      throw invalidParameter(
        'ksize',
        `per-sample kernels of at most ${4 * Math.floor(PER_SAMPLE_TAP_VECS / d.n) - 2} taps for a batch of ${d.n}`,
        `${longest} taps`,
      );
  }
  return {
    kx,
    ky,
    perSample: each,
    border: checkBorder('border', o.border),
    borderValue: o.borderValue === undefined ? 0 : numberInRange('borderValue', o.borderValue, -1e30, 1e30),
    dtype: outDType(o.dtype, x.dtype),
  };
}

/** The batch's one kernel pair and options (the scalar form of the options). */
export function resolveGaussian(x: Tensor, o: GaussianBlurOptions): ResolvedGaussian {
  const r = resolveBatch(x, o);
  return { ...r, kx: r.kx[0]!, ky: r.ky[0]! };
}

/**
 * Blurs each channel of an N×C×H×W batch with a Gaussian kernel. Runs where `x` lives.
 * @example gaussianBlur(img, { sigma: 1.5 })            // ksize 9 for u8 (OpenCV's rule)
 * @example gaussianBlur(img, { ksize: 5, dtype: 'f16' })
 * @example gaussianBlur(batch3, { ksize: [3, 5, 7], sigma: 0 })   // a kernel per sample (Albumentations' blur_limit draw)
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for negative sigma, even ksize, unknown border.
 */
export function gaussianBlur(x: Tensor, options: GaussianBlurOptions): Tensor {
  const r = resolveBatch(x, options ?? {});
  return r.perSample ? filter2dSeparablePerSample(x, r) : filter2dSeparable(x, { ...r, kx: r.kx[0]!, ky: r.ky[0]! });
}
