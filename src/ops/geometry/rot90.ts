/**
 * Rotation by k × 90° counter-clockwise, as numpy.rot90(m, k) on the H×W axes of every plane:
 *   k ≡ 1 (mod 4): out[i][j] = in[j][W−1−i]          (shape W×H) = cv.rotate ROTATE_90_COUNTERCLOCKWISE
 *   k ≡ 2:         out[i][j] = in[H−1−i][W−1−j]      (shape H×W) = cv.rotate ROTATE_180
 *   k ≡ 3:         out[i][j] = in[H−1−j][i]          (shape W×H) = cv.rotate ROTATE_90_CLOCKWISE
 *   k ≡ 0:         a copy.
 * k may be any integer (negative k turns clockwise). Same output dtype: an exact copy of the
 * elements' bits; another `dtype`: saturate_cast (round half to even, clamp; f16 to ±65504).
 * Per sample (augmentation): `k` may be one integer per sample. Every sample of the output has
 * one shape, so on non-square images (H ≠ W) the k must share one parity (all even: H×W, all
 * odd: W×H); square images take any mix.
 */
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter } from '../../validate.js';
import { checkImage, outDType, perSample, type PerSample, type PerSampleItem } from '../image.js';
import { integerMap, integerMapVariants, type IntegerMap } from './gather.js';

export interface Rot90Options {
  /** Quarter turns counter-clockwise (numpy.rot90's k), any integer, or one per sample; default 1. */
  k?: PerSample<number>;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

const K_ITEM: PerSampleItem<number> = {
  what: ['an integer', 'integers'],

  check: (name, v) => integerInRange(name, v, -1e9, 1e9),
};

/**
 * Rotates every plane by k quarter turns counter-clockwise. Runs where `x` lives.
 * @example rot90(img, { k: 1 })    // cv.rotate(src, dst, cv.ROTATE_90_COUNTERCLOCKWISE)
 * @example rot90(img, { k: -1 })   // cv.ROTATE_90_CLOCKWISE
 * @example rot90(square4, { k: [0, 1, 2, 3] })   // a turn per sample
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for a non-integer k, or per-sample k of mixed parity on non-square images.
 */
export function rot90(x: Tensor, options: Rot90Options = {}): Tensor {
  const d = checkImage('x', x);
  const ks = options?.k === undefined ? { values: [1], perSample: false } : perSample('k', options.k, d.n, K_ITEM);
  const dtype = outDType(options?.dtype, x.dtype);
  const qs = ks.values.map((k) => ((k % 4) + 4) % 4);
  const { h, w } = d;
  if (h !== w && qs.some((q) => q % 2 !== qs[0]! % 2)) {
    throw invalidParameter('k', `quarter turns of one parity (all even or all odd) on non-square images (${w}×${h})`, ks.values);
  }
  const maps: readonly IntegerMap[] = [
    { mx: [0, 1, 0], my: [1, 0, 0] },
    { mx: [-1, 0, w - 1], my: [0, 1, 0] },
    { mx: [0, -1, w - 1], my: [-1, 0, h - 1] },
    { mx: [1, 0, 0], my: [0, -1, h - 1] },
  ];
  const shape: [number, number, number, number] = qs[0]! % 2 === 0 ? [d.n, d.c, h, w] : [d.n, d.c, w, h];
  return integerMap('rot90', x, shape, dtype, 'inside', 0, ks.perSample ? qs.map((q) => maps[q]!) : maps[qs[0]!]!);
}

/** Every program variant of rot90 (one turn for the batch and one per sample), for compile-all tests. */
export function rot90Programs(): ProgramInfo[] {
  return integerMapVariants('rot90', 'inside');
}
