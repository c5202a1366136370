/**
 * Rotation by k × 90° counter-clockwise, as numpy.rot90(m, k) on the H×W axes of every plane:
 *   k ≡ 1 (mod 4): out[i][j] = in[j][W−1−i]          (shape W×H) = cv.rotate ROTATE_90_COUNTERCLOCKWISE
 *   k ≡ 2:         out[i][j] = in[H−1−i][W−1−j]      (shape H×W) = cv.rotate ROTATE_180
 *   k ≡ 3:         out[i][j] = in[H−1−j][i]          (shape W×H) = cv.rotate ROTATE_90_CLOCKWISE
 *   k ≡ 0:         a copy.
 * k may be any integer (negative k turns clockwise). Same output dtype: an exact copy of the
 * elements' bits; another `dtype`: saturate_cast (round half to even, clamp; f16 to ±65504).
 */
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange } from '../../validate.js';
import { checkImage, outDType } from '../image.js';
import { gatherVariants, integerMap, integerMapProgram, type IntegerMap } from './gather.js';

export interface Rot90Options {
  /** Quarter turns counter-clockwise (numpy.rot90's k), any integer; default 1. */
  k?: number;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

/**
 * Rotates every plane by k quarter turns counter-clockwise. Runs where `x` lives.
 * @example rot90(img, { k: 1 })    // cv.rotate(src, dst, cv.ROTATE_90_COUNTERCLOCKWISE)
 * @example rot90(img, { k: -1 })   // cv.ROTATE_90_CLOCKWISE
 */
export function rot90(x: Tensor, options: Rot90Options = {}): Tensor {
  const d = checkImage('x', x);
  const k = options?.k === undefined ? 1 : integerInRange('k', options.k, -1e9, 1e9);
  const dtype = outDType(options?.dtype, x.dtype);
  const q = ((k % 4) + 4) % 4;
  const { h, w } = d;
  const maps: readonly IntegerMap[] = [
    { mx: [0, 1, 0], my: [1, 0, 0] },
    { mx: [-1, 0, w - 1], my: [0, 1, 0] },
    { mx: [0, -1, w - 1], my: [-1, 0, h - 1] },
    { mx: [1, 0, 0], my: [0, -1, h - 1] },
  ];
  const shape: [number, number, number, number] = q % 2 === 0 ? [d.n, d.c, h, w] : [d.n, d.c, w, h];
  return integerMap('rot90', x, shape, dtype, 'inside', 0, maps[q]!);
}

/** Every program variant of rot90, for compile-all tests. */
export function rot90Programs(): ProgramInfo[] {
  return gatherVariants((a, b) => integerMapProgram('rot90', a, b, 'inside'));
}
