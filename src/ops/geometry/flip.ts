/**
 * Flip, as cv.flip: 'horizontal' mirrors columns (flipCode 1), 'vertical' mirrors rows
 * (flipCode 0), 'both' does both (flipCode −1). Same output dtype: an exact copy of the
 * elements' bits; another `dtype`: saturate_cast (round half to even, clamp; f16 to ±65504).
 */
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { oneOf } from '../../validate.js';
import { checkImage, outDType } from '../image.js';
import { gatherVariants, integerMap, integerMapProgram } from './gather.js';

export const FLIP_AXES = ['horizontal', 'vertical', 'both'] as const;
export type FlipAxis = (typeof FLIP_AXES)[number];

export interface FlipOptions {
  /** 'horizontal' (cv flipCode 1), 'vertical' (0) or 'both' (−1). */
  axis: FlipAxis;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

/**
 * Mirrors every plane. Runs where `x` lives.
 * @example flip(img, { axis: 'horizontal' })
 */
export function flip(x: Tensor, options: FlipOptions): Tensor {
  const d = checkImage('x', x);
  const axis = oneOf('axis', options?.axis, FLIP_AXES);
  const dtype = outDType(options.dtype, x.dtype);
  const fx = axis !== 'vertical';
  const fy = axis !== 'horizontal';
  return integerMap('flip', x, [d.n, d.c, d.h, d.w], dtype, 'inside', 0, {
    mx: fx ? [0, -1, d.w - 1] : [0, 1, 0],
    my: fy ? [-1, 0, d.h - 1] : [1, 0, 0],
  });
}

/** Every program variant of flip, for compile-all tests. */
export function flipPrograms(): ProgramInfo[] {
  return gatherVariants((a, b) => integerMapProgram('flip', a, b, 'inside'));
}
