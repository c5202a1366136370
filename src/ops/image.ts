/** Shape and dtype checks shared by image ops (kornia's KORNIA_CHECK_SHAPE, one sentence each), and per-sample parameters. */
import { DTYPES, type DType } from '../dtype.js';
import { KensaError } from '../errors.js';
import type { UniformField } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';
import { describe, numberInRange, oneOf } from '../validate.js';

export interface ImageDims {
  n: number;
  c: number;
  h: number;
  w: number;
}

/** Checks an N×C×H×W image batch; `channels` restricts C. */
export function checkImage(name: string, t: Tensor, channels?: readonly number[]): ImageDims {
  if (t.shape.length !== 4) {
    throw new KensaError('KENSA_ERR_SHAPE', `Expected ${name} of shape [N, C, H, W] but received [${t.shape.join(', ')}]`);
  }
  const [n, c, h, w] = t.shape as [number, number, number, number];
  if (channels && !channels.includes(c)) {
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected ${name} with ${channels.join(' or ')} channel${channels.length > 1 || channels[0] !== 1 ? 's' : ''} but received ${c} (shape [${t.shape.join(', ')}])`,
    );
  }
  return { n, c, h, w };
}

export function checkDType(name: string, t: Tensor, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new KensaError('KENSA_ERR_DTYPE', `Expected ${name} of dtype ${allowed.join(', ')} but received ${t.dtype}`);
  }
}

/** An output dtype option; defaults to the input's dtype, as OpenCV's ddepth = -1. */
export function outDType(v: unknown, fallback: DType): DType {
  return v === undefined ? fallback : oneOf('dtype', v, DTYPES);
}

/** Checks that tensors agree on device (and GPU) and batch shape. */
export function checkSameShape(nameA: string, a: Tensor, nameB: string, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new KensaError('KENSA_ERR_SHAPE', `Expected ${nameB} of the shape of ${nameA} [${a.shape.join(', ')}] but received [${b.shape.join(', ')}]`);
  }
}

/**
 * Most samples a per-sample parameter may describe: the values travel as a sized uniform array of
 * up to this many vec4s per parameter group (16 KiB, within WebGPU's 64 KiB uniform binding).
 */
export const MAX_PER_SAMPLE = 1024;

/** A parameter given once for the batch or once per sample (an array, a typed array, or a CPU tensor whose first dimension is N). */
export type PerSample<T> = T | readonly T[] | ArrayLike<number> | Tensor;

/** What `perSample` reads: `values` has one item (a scalar parameter) or N (one per sample). */
export interface PerSampleValues<T> {
  readonly values: readonly T[];
  readonly perSample: boolean;
}

export interface PerSampleItem<T> {
  /** The item in the sentence's singular and plural forms, e.g. ['a number', 'numbers']. */
  readonly what: readonly [string, string];
  /** Whether an array `v` is one item (an affine matrix, a box) rather than a list of them; default never. */
  readonly isItem?: (v: unknown) => boolean;
  /** Validates one item; `name` is `alpha` for a scalar, `alpha[2]` for a sample's value. */
  readonly check: (name: string, v: unknown) => T;
  /** Numbers per item when read from a tensor or typed array (6 for an affine matrix). Default 1. */
  readonly size?: number;
}

function received(v: unknown): string {
  if (v instanceof Tensor) return `a ${v.device.toUpperCase()} tensor of shape [${v.shape.join(', ')}]`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${(v as unknown as ArrayLike<number>).length}`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return `${describe(v)} of type ${typeof v}`;
}

/**
 * Reads a parameter that is one value for the whole batch of `n` samples or one per sample;
 * per sample: an array of n items, a typed array of n·size numbers, or a CPU tensor of n·size
 * elements whose first dimension is n. Each item is checked with `item.check`.
 * Anything but an array, tensor or typed array is read as the scalar form (so its error is the item's).
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT "Expected a number or one per sample (4 numbers as an array or a CPU tensor) for alpha but received an array of 3".
 */
export function perSample<T>(name: string, value: unknown, n: number, item: PerSampleItem<T>): PerSampleValues<T> {
  const listLike = Array.isArray(value) || value instanceof Tensor || ArrayBuffer.isView(value);
  if (!listLike || item.isItem?.(value) === true) return { values: [item.check(name, value)], perSample: false };
  const size = item.size ?? 1;
  let list: readonly unknown[] | null = null;
  if (Array.isArray(value)) list = value;
  else if (value instanceof Tensor && value.device === 'cpu' && value.shape[0] === n && value.size === n * size) list = numbersOf(value.data, n, size);
  else if (ArrayBuffer.isView(value) && !(value instanceof DataView) && (value as unknown as ArrayLike<number>).length === n * size)
    list = numbersOf(value as unknown as ArrayLike<number>, n, size);
  if (list === null || list.length !== n) {
    throw new KensaError(
      'KENSA_ERR_INVALID_ARGUMENT',
      `Expected ${item.what[0]} or one per sample (${n} ${item.what[1]} as an array or a CPU tensor) for ${name} but received ${received(value)}`,
    );
  }
  if (n > MAX_PER_SAMPLE)
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected a batch of at most ${MAX_PER_SAMPLE} samples for per-sample ${name} but received ${n}`);
  return { values: list.map((v, i) => item.check(`${name}[${i}]`, v)), perSample: true };
}

function numbersOf(data: ArrayLike<number>, n: number, size: number): unknown[] {
  return Array.from({ length: n }, (_, i) => (size === 1 ? data[i] : Array.from({ length: size }, (_, j) => data[i * size + j])));
}

/** Sample `i`'s value of a parameter read by `perSample`. */
export function sampleValue<T>(p: PerSampleValues<T>, i: number): T {
  return p.perSample ? p.values[i]! : p.values[0]!;
}

/** The scalar of a scalar parameter, else the per-sample list. */
export function scalarOrList<T>(p: PerSampleValues<T>): T | readonly T[] {
  return p.perSample ? p.values : p.values[0]!;
}

/** A number in [lo, hi], as a per-sample item. */
export function numberItem(lo: number, hi: number): PerSampleItem<number> {
  return { what: ['a number', 'numbers'], check: (name, v) => numberInRange(name, v, lo, hi) };
}

/**
 * Packs per-sample rows (each up to 4·vecs numbers) into the values of a uniform field of
 * `vecs` vec4s per sample (`perSampleField`); scalar parameters fill sample 0 only.
 */
export function packPerSample(rows: readonly (readonly number[])[], vecs: number): number[] {
  const out = new Array<number>(rows.length * 4 * vecs).fill(0);
  for (const [i, r] of rows.entries()) {
    for (const [j, v] of r.entries()) out[i * 4 * vecs + j] = v;
  }
  return out;
}

/**
 * The uniform array holding `vecs` vec4s per sample (WGSL reads sample n's at u.<name>[vecs·n + k]);
 * sized: a dispatch holds the size class of its batch, not MAX_PER_SAMPLE samples.
 */
export function perSampleField(name: string, type: 'vec4f' | 'vec4i', vecs: number): UniformField {
  return { name, type: { array: type, length: MAX_PER_SAMPLE * vecs, sized: true } };
}
