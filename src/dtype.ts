/**
 * Element types. On the GPU every tensor lives in a buffer of 32-bit words: u8 packs four
 * elements per word, u16 and f16 two, so uploads stay compact and kernels convert on the GPU.
 * f16 is a storage type only: it is converted to f32 for arithmetic, through f16 types where the
 * device has `shader-f16` and WGSL unpack2x16float elsewhere (src/gpu/wgsl/dtype.ts).
 */
export const DTYPES = ['u8', 'u16', 'i32', 'f32', 'f16'] as const;
export type DType = (typeof DTYPES)[number];

export type TypedArrayFor<D extends DType> = D extends 'u8' ? Uint8Array : D extends 'u16' | 'f16' ? Uint16Array : D extends 'i32' ? Int32Array : Float32Array;

export type AnyTypedArray = Uint8Array | Uint16Array | Int32Array | Float32Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = { u8: 1, u16: 2, i32: 4, f32: 4, f16: 2 };

/** Elements per 32-bit word in GPU storage. */
export const ELEMENTS_PER_WORD: Record<DType, number> = { u8: 4, u16: 2, i32: 1, f32: 1, f16: 2 };

/** Largest value representable; integer outputs saturate to [min, max] as OpenCV's saturate_cast does. */
export const DTYPE_RANGE: Record<DType, readonly [number, number]> = {
  u8: [0, 255],
  u16: [0, 65535],
  i32: [-2147483648, 2147483647],
  f32: [-Infinity, Infinity],
  f16: [-65504, 65504],
};

export function isIntegerDType(d: DType): boolean {
  return d === 'u8' || d === 'u16' || d === 'i32';
}

export function allocTyped(dtype: DType, n: number): AnyTypedArray {
  switch (dtype) {
    case 'u8':
      return new Uint8Array(n);
    case 'u16':
    case 'f16':
      return new Uint16Array(n);
    case 'i32':
      return new Int32Array(n);
    case 'f32':
      return new Float32Array(n);
  }
}

/** Wraps raw bytes (as read back from the GPU) in the typed array of a dtype. */
export function viewTyped(dtype: DType, buffer: ArrayBuffer, n: number): AnyTypedArray {
  switch (dtype) {
    case 'u8':
      return new Uint8Array(buffer, 0, n);
    case 'u16':
    case 'f16':
      return new Uint16Array(buffer, 0, n);
    case 'i32':
      return new Int32Array(buffer, 0, n);
    case 'f32':
      return new Float32Array(buffer, 0, n);
  }
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** f32 → IEEE half bits, round to nearest even, overflow to ±Inf, NaN kept. */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1) === 1)) m += 1;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1) === 1)) {
    m += 1;
    if (m === 0x400) {
      m = 0;
      e += 1;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** IEEE half bits → number. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * Converts a computed value to the storage of `dtype` with OpenCV's saturate_cast semantics:
 * round half to even (cvRound uses the FPU's rint), then clamp. Floats pass through (f32 rounds to single).
 */
export function saturate(dtype: DType, v: number): number {
  switch (dtype) {
    case 'u8':
      return Number.isNaN(v) ? 0 : Math.min(255, Math.max(0, roundHalfEven(v)));
    case 'u16':
      return Number.isNaN(v) ? 0 : Math.min(65535, Math.max(0, roundHalfEven(v)));
    case 'i32':
      return Number.isNaN(v) ? 0 : Math.min(2147483647, Math.max(-2147483648, roundHalfEven(v)));
    case 'f32':
      return Math.fround(v);
    case 'f16':
      // clamped like the GPU's pack (WGSL leaves out-of-range pack2x16float undefined)
      return f32ToF16Bits(Number.isNaN(v) ? v : Math.min(65504, Math.max(-65504, v)));
  }
}

export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  // Math.round rounds .5 up; move exact ties to the even neighbour
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Reads element i of a typed array of `dtype` as a number (decoding f16 bits). */
export function readElement(dtype: DType, data: AnyTypedArray, i: number): number {
  const v = data[i]!;
  return dtype === 'f16' ? f16BitsToF32(v) : v;
}
