/**
 * Padding, as cv.copyMakeBorder(src, dst, top, bottom, left, right, borderType, value): the
 * image is placed at (left, top) of an (H + top + bottom) × (W + left + right) output and the
 * margin is filled by the border mode:
 *   constant    (default here; cv.BORDER_CONSTANT) the value `value`, saturate_cast to the output dtype
 *   reflect101  gfedcb|abcdefgh|gfedcba (cv.BORDER_REFLECT_101), reflecting again for margins wider than the image
 *   replicate   aaaaaa|abcdefgh|hhhhhhh (cv.BORDER_REPLICATE)
 * Same output dtype: an exact copy of the elements' bits; another `dtype`: saturate_cast
 * (round half to even, clamp; f16 to ±65504). OpenCV takes one value per channel; here one
 * value serves every channel.
 */
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange, numberInRange, oneOf } from '../../validate.js';
import { BORDER_MODES, type BorderMode } from '../../kernels/border.js';
import { checkImage, outDType } from '../image.js';
import { gatherVariants, integerMap, integerMapProgram } from './gather.js';

export const MAX_PAD = 65535;

export interface PadOptions {
  /** Rows added above, 0 to 65535 (default 0). */
  top?: number;
  bottom?: number;
  /** Columns added on the left, 0 to 65535 (default 0). */
  left?: number;
  right?: number;
  /** Default 'constant' (as copyMakeBorder is most often called). */
  border?: BorderMode;
  /** Fill of the constant border, default 0. */
  value?: number;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

/**
 * Adds margins to every plane. Runs where `x` lives.
 * @example pad(img, { top: 2, bottom: 2, left: 3, right: 3, border: 'reflect101' })
 */
export function pad(x: Tensor, options: PadOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? {};
  const top = integerInRange('top', o.top ?? 0, 0, MAX_PAD);
  const bottom = integerInRange('bottom', o.bottom ?? 0, 0, MAX_PAD);
  const left = integerInRange('left', o.left ?? 0, 0, MAX_PAD);
  const right = integerInRange('right', o.right ?? 0, 0, MAX_PAD);
  const border = o.border === undefined ? 'constant' : oneOf('border', o.border, BORDER_MODES);
  const value = o.value === undefined ? 0 : numberInRange('value', o.value, -1e30, 1e30);
  const dtype = outDType(o.dtype, x.dtype);
  return integerMap('pad', x, [d.n, d.c, d.h + top + bottom, d.w + left + right], dtype, border, value, { mx: [0, 1, -left], my: [1, 0, -top] });
}

/** Every program variant of pad (dtype pairs × border modes), for compile-all tests. */
export function padPrograms(): ProgramInfo[] {
  return BORDER_MODES.flatMap((b) => gatherVariants((a, c) => integerMapProgram('pad', a, c, b)));
}
