/**
 * Brightness and contrast: out = saturate_cast<dtype>(alpha · x + beta).
 * Semantics are OpenCV's `src.convertTo(dst, ddepth, alpha, beta)` (cv::convertScaleAbs without
 * the absolute value): beta is in pixel units of the input (e.g. +20 grey levels on u8), not
 * albumentations' fraction of the dtype's maximum (its `brightness_by_max`: beta · 255 on u8),
 * and the contrast is applied around 0, not around the image mean. Pointwise (no border); f32
 * arithmetic; integer outputs round half to even and saturate, f16 outputs clamp to ±65504.
 * Same program as `convert` (see convert.ts for the i32 caveats). Per sample (augmentation):
 * alpha and beta may each be one value per sample (an array or a CPU tensor of N).
 */
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { checkImage, numberItem, outDType, perSample, scalarOrList, type PerSample } from '../image.js';
import { affine, convertPrograms } from './convert.js';

export interface BrightnessContrastOptions {
  /** Contrast gain, 0 to 1000, or one per sample. Default 1. */
  alpha?: PerSample<number>;
  /** Brightness offset in pixel units, -1e9 to 1e9, or one per sample. Default 0. */
  beta?: PerSample<number>;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

/**
 * Scales and shifts every pixel of an N×C×H×W batch: saturate(alpha · x + beta). Runs where `x` lives.
 * @example brightnessContrast(img, { alpha: 1.2, beta: -10 })
 * @example brightnessContrast(batch4, { alpha: [0.8, 1, 1.2, 1.5], beta: 5 })   // a contrast per sample
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for alpha outside [0, 1000], beta outside [-1e9, 1e9], or per-sample values of another length than N.
 */
export function brightnessContrast(x: Tensor, options: BrightnessContrastOptions = {}): Tensor {
  const d = checkImage('x', x);
  const alpha = options.alpha === undefined ? 1 : scalarOrList(perSample('alpha', options.alpha, d.n, numberItem(0, 1000)));
  const beta = options.beta === undefined ? 0 : scalarOrList(perSample('beta', options.beta, d.n, numberItem(-1e9, 1e9)));
  return affine(x, alpha, beta, outDType(options.dtype, x.dtype));
}

/** Every program variant of brightnessContrast (shared with convert), for compile-all tests. */
export function brightnessContrastPrograms(): ProgramInfo[] {
  return convertPrograms();
}
