/**
 * Flip, as cv.flip: 'horizontal' mirrors columns (flipCode 1), 'vertical' mirrors rows
 * (flipCode 0), 'both' does both (flipCode −1). Same output dtype: an exact copy of the
 * elements' bits; another `dtype`: saturate_cast (round half to even, clamp; f16 to ±65504).
 * Per sample (augmentation): `horizontal` and `vertical` flags, each one boolean or one per
 * sample, choose each sample's flip.
 *
 * A flip is an integer map of the gather engine (one per sample with per-sample flags), which runs
 * same-dtype flips of rows on whole storage words as the flip word kernels (flip-words.ts) and
 * other widths and converting flips as its gather.
 */
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, oneOf } from '../../validate.js';
import { checkImage, outDType, perSample, sampleValue, type ImageDims, type PerSample, type PerSampleItem } from '../image.js';
import { flipsByWords, flipWordPrograms, runFlipWords } from './flip-words.js';
import { integerMap, integerMapVariants, type IntegerMap } from './gather.js';

export const FLIP_AXES = ['horizontal', 'vertical', 'both'] as const;
export type FlipAxis = (typeof FLIP_AXES)[number];

export interface FlipOptions {
  /** 'horizontal' (cv flipCode 1), 'vertical' (0) or 'both' (−1); or give `horizontal` / `vertical` instead. */
  axis?: FlipAxis;
  /** Mirror columns: one boolean, or one per sample (an array, or a CPU tensor of 0/1). */
  horizontal?: PerSample<boolean>;
  /** Mirror rows: one boolean, or one per sample. */
  vertical?: PerSample<boolean>;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

/** A boolean as a per-sample item (a tensor's 0 and 1 read as false and true). */
export const BOOLEAN_ITEM: PerSampleItem<boolean> = {
  what: ['a boolean', 'booleans'],
  check: (name, v) => {
    if (v === true || v === 1) return true;
    if (v === false || v === 0) return false;
    throw invalidParameter(name, 'a boolean', v);
  },
};

function flipMap(fx: boolean, fy: boolean, d: ImageDims): IntegerMap {
  return { mx: fx ? [0, -1, d.w - 1] : [0, 1, 0], my: fy ? [-1, 0, d.h - 1] : [1, 0, 0] };
}

/**
 * Mirrors every plane. Runs where `x` lives.
 * @example flip(img, { axis: 'horizontal' })
 * @example flip(batch4, { horizontal: [true, false, false, true] })   // a choice per sample
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for an unknown axis, `axis` given with `horizontal`/`vertical`, or per-sample flags of another length than N.
 */
export function flip(x: Tensor, options: FlipOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? ({} as FlipOptions);
  let h = { values: [false], perSample: false } as { values: readonly boolean[]; perSample: boolean };
  let v = h;
  if (o.horizontal === undefined && o.vertical === undefined) {
    const axis = oneOf('axis', o.axis, FLIP_AXES);
    h = { values: [axis !== 'vertical'], perSample: false };
    v = { values: [axis !== 'horizontal'], perSample: false };
  } else {
    if (o.axis !== undefined) throw invalidParameter('axis', 'no axis when horizontal or vertical is given', o.axis);
    h = perSample('horizontal', o.horizontal ?? false, d.n, BOOLEAN_ITEM);
    v = perSample('vertical', o.vertical ?? false, d.n, BOOLEAN_ITEM);
  }
  const dtype = outDType(o.dtype, x.dtype);
  const shape: [number, number, number, number] = [d.n, d.c, d.h, d.w];
  const maps = Array.from({ length: h.perSample || v.perSample ? d.n : 1 }, (_, n) => flipMap(sampleValue(h, n), sampleValue(v, n), d));
  return integerMap('flip', x, shape, dtype, 'inside', 0, maps.length === 1 ? maps[0]! : maps);
}

/** Scalar-word variant of a same-dtype GPU flip (tests: exercises the one-word-per-thread kernel at any width); null where rows are not on words. */
export function flipWordsScalar(x: Tensor, axis: FlipAxis): Tensor | null {
  if (!flipsByWords(x)) return null;
  return runFlipWords(x, { horizontal: [axis !== 'vertical'], vertical: [axis !== 'horizontal'] }, false);
}

/** Every program variant of flip, for compile-all tests. */
export function flipPrograms(): ProgramInfo[] {
  return [...integerMapVariants('flip', 'inside'), ...flipWordPrograms()];
}
