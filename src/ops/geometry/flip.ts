/**
 * Flip, as cv.flip: 'horizontal' mirrors columns (flipCode 1), 'vertical' mirrors rows
 * (flipCode 0), 'both' does both (flipCode −1). Same output dtype: an exact copy of the
 * elements' bits; another `dtype`: saturate_cast (round half to even, clamp; f16 to ±65504).
 * Per sample (augmentation): `horizontal` and `vertical` flags, each one boolean or one per
 * sample, choose each sample's flip; per-sample flags run the gather engine with one map per sample.
 *
 * Same dtype and rows on a storage word (W a multiple of 4 u8 / 2 u16·f16 pixels): a word kernel;
 * output word q of a row is input word W/k−1−q of the mirrored row with its elements reversed
 * (a byte swap for u8, a half swap for u16/f16). Rows on 4 words (W % 16 u8, % 8 u16, % 4 i32/f32)
 * move vec4<u32> (16 bytes) per thread. Other widths and converting flips use the gather engine.
 * The word kernels exist because the gather engine's per-pixel byte loads and coordinates were slow.
 */
import { onDevice } from '../../device.js';
import { BYTES_PER_ELEMENT, ELEMENTS_PER_WORD, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, oneOf } from '../../validate.js';
import { checkImage, outDType, perSample, sampleValue, type ImageDims, type PerSample, type PerSampleItem } from '../image.js';
import { runWordKernel, WORD_DIMS, WORD_MAIN, WORD_WG } from '../../kernels/word.js';
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

const wordPrograms = new Map<string, ProgramInfo>();

/** Elements of storage word `w` in reverse order, for `bytes`-wide elements. */
function reverseWord(bytes: number, w: string): string {
  if (bytes === 1) return `((${w} << 24u) | ((${w} << 8u) & 0xff0000u) | ((${w} >> 8u) & 0xff00u) | (${w} >> 24u))`;
  if (bytes === 2) return `((${w} << 16u) | (${w} >> 16u))`;
  return w;
}

/**
 * Word kernel of a same-dtype flip: each thread writes one storage word (`vec` false) or four
 * (`vec` true, rows of a multiple of 4 words). Needs W % elements-per-word == 0.
 */
export function flipWordProgram(bytes: number, fx: boolean, fy: boolean, vec: boolean): ProgramInfo {
  const id = `${bytes}|${fx}|${fy}|${vec}`;
  let p = wordPrograms.get(id);
  if (p) return p;
  const rev = (w: string) => (fx ? reverseWord(bytes, w) : w);
  const load = vec
    ? fx
      ? 'let a = src_v[j];\n  let v = vec4<u32>(REV(a.w), REV(a.z), REV(a.y), REV(a.x));'
      : 'let v = src_v[j];'
    : 'let a = src[j];\n  let v = REV(a);';
  const body = /* wgsl */ `
// units: storage words, or vec4s of words
${WORD_MAIN}
  ${fy ? 'let srow = rows + u.dims.y - 1u - 2u * y;' : 'let srow = rows;'}
  let j = srow * u.dims.x + ${fx ? 'u.dims.x - 1u - q' : 'q'};
  ${load.replaceAll(/REV\(([^)]*)\)/g, (_, w: string) => rev(w))}
  ${vec ? 'out_v[i] = v;' : 'out[i] = v;'}
}`;
  p = {
    name: 'flip_words',
    key: `bytes=${bytes};fx=${fx};fy=${fy};vec=${vec}`,
    // with `vec`, the bindings as vectors (only these are used): 16 bytes per load and store
    inputs: [{ name: 'src', dtype: 'u8', ...(vec ? { views: { src_v: 'vec4<u32>' } } : {}) }],
    outputs: [{ name: 'out', dtype: 'u8', ...(vec ? { views: { out_v: 'vec4<u32>' } } : {}) }],
    uniforms: [WORD_DIMS],
    workgroupSize: WORD_WG,
    body,
  };
  wordPrograms.set(id, p);
  return p;
}

/** Records a same-dtype flip with the word kernel; null when the width does not allow it. */
function flipWords(x: Tensor, fx: boolean, fy: boolean, vecAllowed = true): Tensor | null {
  const w = x.shape[3]!;
  const k = ELEMENTS_PER_WORD[x.dtype];
  if (w % k !== 0 || x.size === 0) return null;
  const rowWords = w / k;
  const vec = vecAllowed && rowWords % 4 === 0;
  return runWordKernel(flipWordProgram(BYTES_PER_ELEMENT[x.dtype], fx, fy, vec), x, vec ? rowWords / 4 : rowWords);
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
  if (h.perSample || v.perSample) {
    return integerMap(
      'flip',
      x,
      shape,
      dtype,
      'inside',
      0,
      Array.from({ length: d.n }, (_, n) => flipMap(sampleValue(h, n), sampleValue(v, n), d)),
    );
  }
  const fx = h.values[0]!;
  const fy = v.values[0]!;
  // neither flag: a copy (the gather engine), which the word kernel has no variant for
  if (!fx && !fy) return integerMap('flip', x, shape, dtype, 'inside', 0, flipMap(false, false, d));
  const map = () => integerMap('flip', x, shape, dtype, 'inside', 0, flipMap(fx, fy, d));
  return onDevice(x, { gpu: () => (dtype === x.dtype ? flipWords(x, fx, fy) : null) ?? map(), cpu: map });
}

/** Scalar-word variant of a same-dtype GPU flip (tests: exercises the one-word-per-thread kernel at any width). */
export function flipWordsScalar(x: Tensor, axis: FlipAxis): Tensor | null {
  return flipWords(x, axis !== 'vertical', axis !== 'horizontal', false);
}

/** Every program variant of flip, for compile-all tests. */
export function flipPrograms(): ProgramInfo[] {
  const words = [1, 2, 4].flatMap((b) => [true, false].flatMap((vec) => FLIP_AXES.map((a) => flipWordProgram(b, a !== 'vertical', a !== 'horizontal', vec))));
  return [...integerMapVariants('flip', 'inside'), ...words];
}
