/**
 * Transpose, as cv.transpose: swaps H and W of every plane (out[x][y] = in[y][x]); an N×C×H×W
 * batch becomes N×C×W×H. Same output dtype: an exact copy of the elements' bits; another
 * `dtype`: saturate_cast (round half to even, clamp; f16 to ±65504).
 */
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { checkImage, outDType } from '../image.js';
import { gatherVariants, integerMap, integerMapProgram } from './gather.js';

export interface TransposeOptions {
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

/**
 * Swaps rows and columns of every plane. Runs where `x` lives.
 * @example transpose(img)   // [1, 3, 480, 640] → [1, 3, 640, 480]
 */
export function transpose(x: Tensor, options: TransposeOptions = {}): Tensor {
  const d = checkImage('x', x);
  const dtype = outDType(options?.dtype, x.dtype);
  return integerMap('transpose', x, [d.n, d.c, d.w, d.h], dtype, 'inside', 0, { mx: [1, 0, 0], my: [0, 1, 0] });
}

/** Every program variant of transpose, for compile-all tests. */
export function transposePrograms(): ProgramInfo[] {
  return gatherVariants((a, b) => integerMapProgram('transpose', a, b, 'inside'));
}
