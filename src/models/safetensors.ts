/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`
 * padded with spaces to 8 bytes, then the tensors' little-endian bytes, offsets counted from the
 * end of the header. kensa writes F32 (and I64 for integer counters) and reads F32, F16, BF16,
 * F64, I64 and I32 into f32 values.
 */
import { KensaError } from '../errors.js';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32';

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4 };

export interface NamedTensor {
  shape: number[];
  /** f32 values, or the integers of an I64 tensor when `dtype` is 'I64'. */
  data: Float32Array;
  /** The stored type; writing supports 'F32' and 'I64'. */
  dtype: SafetensorsDType;
}

export interface Safetensors {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

function weightsError(message: string): KensaError {
  return new KensaError('KENSA_ERR_WEIGHTS', message);
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** The bytes of a safetensors file holding `tensors` in insertion order. */
export function encodeSafetensors(file: Safetensors): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: file.metadata };
  let offset = 0;
  for (const [name, t] of file.tensors) {
    if (t.dtype !== 'F32' && t.dtype !== 'I64') throw weightsError(`Expected dtype F32 or I64 for tensor ${name} but received ${t.dtype}`);
    if (t.data.length !== elementCount(t.shape)) {
      throw weightsError(`Expected ${elementCount(t.shape)} values for tensor ${name} of shape [${t.shape.join(', ')}] but received ${t.data.length}`);
    }
    const bytes = t.data.length * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of file.tensors.values()) {
    for (const v of t.data) {
      if (t.dtype === 'F32') view.setFloat32(at, v, true);
      else view.setBigInt64(at, BigInt(Math.round(v)), true);
      at += BYTES[t.dtype];
    }
  }
  return out;
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function readValue(view: DataView, at: number, dtype: SafetensorsDType): number {
  switch (dtype) {
    case 'F32':
      return view.getFloat32(at, true);
    case 'F16':
      return f16ToF32(view.getUint16(at, true));
    case 'BF16':
      return new Float32Array(new Uint32Array([view.getUint16(at, true) << 16]).buffer)[0]!;
    case 'F64':
      return view.getFloat64(at, true);
    case 'I64':
      return Number(view.getBigInt64(at, true));
    case 'I32':
      return view.getInt32(at, true);
  }
}

/** Parses a safetensors file; `source` (a path or a label) names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, source: string): Safetensors {
  if (bytes.byteLength < 8) throw weightsError(`Expected at least 8 bytes in weights file ${source} but received ${bytes.byteLength}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.byteLength - 8) {
    throw weightsError(`Expected a header length of at most ${bytes.byteLength - 8} bytes in weights file ${source} but received ${headerLength}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw weightsError(`Expected a JSON header in weights file ${source} but received one that does not parse (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw weightsError(`Expected a JSON object as the header of weights file ${source} but received ${JSON.stringify(header)}`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw weightsError(`Expected __metadata__ of string values in weights file ${source} but received ${JSON.stringify(entry)}`);
      }
      metadata = { ...(entry as Record<string, string>) };
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in BYTES)) {
      throw weightsError(
        `Expected dtype one of ${Object.keys(BYTES).join(', ')} for tensor ${name} in weights file ${source} but received ${JSON.stringify(dtype)}`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw weightsError(`Expected a shape of non-negative integers for tensor ${name} in weights file ${source} but received ${JSON.stringify(shape)}`);
    }
    const size = BYTES[dtype as SafetensorsDType];
    const expected = elementCount(shape) * size;
    const [begin, end] = Array.isArray(offsets) ? offsets : [];
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end - begin !== expected || end > dataLength) {
      throw weightsError(
        `Expected data_offsets spanning ${expected} bytes within the ${dataLength} data bytes for tensor ${name} in weights file ${source} but received ${JSON.stringify(offsets)}`,
      );
    }
    const data = new Float32Array(expected / size);
    for (let i = 0; i < data.length; i++) data[i] = readValue(view, dataStart + begin + i * size, dtype as SafetensorsDType);
    tensors.set(name, { shape: [...shape], data, dtype: dtype as SafetensorsDType });
  }
  return { tensors, metadata };
}
