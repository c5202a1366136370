/**
 * Crop, as OpenCV's ROI copy `src(cv::Rect(x, y, width, height)).clone()`: the rectangle must lie
 * inside the image (no border), every plane of the batch is cropped alike. Same output dtype:
 * an exact copy of the elements' bits; another `dtype`: saturate_cast (round half to even, clamp;
 * f16 clamps to ±65504).
 */
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange } from '../../validate.js';
import { checkImage, outDType } from '../image.js';
import { gatherVariants, integerMap, integerMapProgram } from './gather.js';

export interface CropOptions {
  /** Left column of the rectangle, 0 to W − 1. */
  x: number;
  /** Top row, 0 to H − 1. */
  y: number;
  /** 1 to W − x. */
  width: number;
  /** 1 to H − y. */
  height: number;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

/**
 * Copies the rectangle (x, y, width, height) of every plane. Runs where `x` lives.
 * @example crop(img, { x: 8, y: 4, width: 32, height: 16 })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT when the rectangle leaves the image.
 */
export function crop(x: Tensor, options: CropOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? ({} as CropOptions);
  const x0 = integerInRange('x', o.x, 0, d.w - 1);
  const y0 = integerInRange('y', o.y, 0, d.h - 1);
  const width = integerInRange('width', o.width, 1, d.w - x0);
  const height = integerInRange('height', o.height, 1, d.h - y0);
  const dtype = outDType(o.dtype, x.dtype);
  return integerMap('crop', x, [d.n, d.c, height, width], dtype, 'inside', 0, { mx: [0, 1, x0], my: [1, 0, y0] });
}

/** Every program variant of crop, for compile-all tests. */
export function cropPrograms(): ProgramInfo[] {
  return gatherVariants((a, b) => integerMapProgram('crop', a, b, 'inside'));
}
