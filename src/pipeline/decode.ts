/**
 * Decoding to compact planar pixels: JPEG, PNG, TIFF, WebP through sharp (libvips, on libuv's
 * thread pool: set UV_THREADPOOL_SIZE to the core count), BMP and .npy by small readers here
 * (libvips has no BMP loader), header-less raw frames from a given width, height and dtype.
 * 8-bit stays u8 and 16-bit stays u16. Hostile input is policy: a pixel limit (decompression
 * bombs), truncated or corrupt data fail with a KensaError naming the file, never a crash.
 *
 * `scale` < 1 decodes at a fraction of the file's size: JPEGs shrink while decoding (libjpeg scales
 * in the DCT domain by 2 at ¼ and by 4 at ⅛; at ½ sharp 0.35 decodes fully, its guard against
 * libjpeg's rounding), and every format is reduced by the same libvips resize.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp from 'sharp';
import { KensaError } from '../errors.js';
import { JpegError, parseJpeg, type ParsedJpeg } from '../ops/jpeg/index.js';
import { jpegShrinkPlan } from '../ops/jpeg/reduce.js';
import { invalidParameter, is } from '../validate.js';

export type Channels = 'gray' | 'rgb';

import { DECODE_SCALES, type DecodeScale } from '../detect/scales.js';

export { DECODE_SCALES, type DecodeScale } from '../detect/scales.js';

export interface DecodeOptions {
  channels: Channels;
  /** Largest width × height accepted (default 0x3FFF², sharp's own default); the file's size counts, not the decoded one. */
  maxPixels: number;
  /** Decode at this fraction of the file's width and height (default 1); the size rule is `scaledSize`. */
  scale?: DecodeScale;
  /** Header-less raw frames (`.raw`): their geometry. */
  raw?: { width: number; height: number; dtype: 'u8' | 'u16' };
  /** Leave baseline JPEGs at scale 1 parsed for the GPU to decode (`parseForDevice`) instead of decoding them here. */
  jpegOnDevice?: boolean;
}

export interface DecodedImage {
  /** Planar C×H×W pixels. */
  data: Uint8Array | Uint16Array;
  dtype: 'u8' | 'u16';
  width: number;
  height: number;
  channels: 1 | 3;
  bytes: number;
  /** The file's own size; `width` × `height` is this × scale, rounded up (`scaledSize`). */
  original: { width: number; height: number };
}

/** A baseline JPEG parsed for the GPU to decode (src/ops/jpeg): a decoded image but for its pixels. */
export interface DeviceJpeg extends Omit<DecodedImage, 'data'> {
  jpeg: ParsedJpeg;
  /** The scale it decodes at (`width` × `height` is its size there). */
  scale: DecodeScale;
}

/** An image as the device stage takes it: pixels, or a JPEG it decodes there. */
export type Frame = DecodedImage | DeviceJpeg;

/** Interleaved H×W×C pixels as a reader produces them, before scaling and the planar layout. */
interface Interleaved {
  data: Uint8Array | Uint16Array;
  dtype: 'u8' | 'u16';
  width: number;
  height: number;
  channels: number;
}

export const DEFAULT_MAX_PIXELS = 0x3fff * 0x3fff;

export class DecodeError extends KensaError {
  constructor(path: string, reason: string, cause?: unknown) {
    super('KENSA_ERR_DECODE', `Cannot decode ${path}: ${reason}`, { cause });
  }
}

/** An image over the pixel limit (a decompression bomb, or just too large): a DecodeError a server answers with 422. */
export class PixelLimitError extends DecodeError {}

/** A DecodeError (or PixelLimitError) rebuilt from its message: one that crossed from a worker thread. */
export function decodeErrorOf(message: string, pixelLimit: boolean): DecodeError {
  const e = pixelLimit ? new PixelLimitError('', '') : new DecodeError('', '');
  e.message = message;
  return e;
}

/**
 * The decoded size at `scale`: each side × scale, rounded up. Rounding up is libjpeg's rule for its
 * scaled decode, keeps every pixel of the file (a partial block at the right or bottom edge is one
 * more decoded pixel) and never gives an empty side.
 */
export function scaledSize(width: number, height: number, scale: DecodeScale): { width: number; height: number } {
  return { width: Math.ceil(width * scale), height: Math.ceil(height * scale) };
}

/**
 * How every format is reduced: libvips resize, which averages boxes (its integer shrink) for all
 * but the last factor of two and reduces that one with the kernel (a JPEG's DCT-domain shrink
 * stands in for the box part). `cubic` (Catmull-Rom) because, of sharp's kernels, it came closest
 * to the exact box average and detected best at 0.5 and 0.25 on kensa samples; `lanczos3` (sharp's
 * default) rings, which the gradient stage took for defects at 0.25; `nearest` aliases away thin lines.
 */
const REDUCE = { fit: 'fill', kernel: 'cubic' } as const;

function checkPixels(path: string, w: number, h: number, max: number): void {
  if (!(w >= 1 && h >= 1)) throw new DecodeError(path, `invalid size ${w}×${h}`);
  if (w * h > max) throw new PixelLimitError(path, `${w}×${h} = ${w * h} pixels exceeds the limit of ${max} (maxPixels)`);
}

/** Interleaved H×W×C → planar C×H×W, and RGB → gray (OpenCV's weights, rounded half up) or gray → RGB as asked. */
function toPlanar<T extends Uint8Array | Uint16Array>(src: T, w: number, h: number, c: number, want: Channels): T {
  const n = w * h;
  if (want === 'gray' && c === 1) return src;
  const outC = want === 'gray' ? 1 : 3;
  const out = new (src.constructor as { new (n: number): T })(n * outC);
  if (want === 'gray') {
    // the weights 0.299, 0.587, 0.114 in thousandths: an exact integer sum, rounded half up by the +500
    // (Math.round of the float sum cost the loop four times as much on decoded photographs)
    for (let i = 0, j = 0; i < n; i++, j += c) out[i] = ((299 * src[j]! + 587 * src[j + 1]! + 114 * src[j + 2]! + 500) / 1000) | 0;
    return out;
  }
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) out[k * n + i] = src[i * c + (c >= 3 ? k : 0)]!;
  return out;
}

function decodeBmp(path: string, buf: Buffer, o: DecodeOptions): Interleaved {
  if (buf.length < 54 || buf.toString('latin1', 0, 2) !== 'BM') throw new DecodeError(path, 'not a BMP file');
  const offset = buf.readUInt32LE(10);
  const width = buf.readInt32LE(18);
  const rawHeight = buf.readInt32LE(22);
  const bpp = buf.readUInt16LE(28);
  const compression = buf.readUInt32LE(30);
  const height = Math.abs(rawHeight);
  checkPixels(path, width, height, o.maxPixels);
  if (compression !== 0 && compression !== 3) throw new DecodeError(path, `BMP compression ${compression} is not supported (uncompressed only)`);
  if (bpp !== 8 && bpp !== 24 && bpp !== 32) throw new DecodeError(path, `BMP with ${bpp} bits per pixel is not supported (8, 24, 32)`);
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (offset + stride * height > buf.length) throw new DecodeError(path, 'truncated BMP data');
  const palette = bpp === 8 ? 14 + buf.readUInt32LE(14) : 0;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = offset + (rawHeight > 0 ? height - 1 - y : y) * stride;
    for (let x = 0; x < width; x++) {
      const o3 = (y * width + x) * 3;
      if (bpp === 8) {
        const p = palette + buf[row + x]! * 4;
        rgb[o3] = buf[p + 2]!;
        rgb[o3 + 1] = buf[p + 1]!;
        rgb[o3 + 2] = buf[p]!;
      } else {
        const p = row + x * (bpp / 8);
        rgb[o3] = buf[p + 2]!;
        rgb[o3 + 1] = buf[p + 1]!;
        rgb[o3 + 2] = buf[p]!;
      }
    }
  }
  return { data: rgb, dtype: 'u8', width, height, channels: 3 };
}

function decodeNpy(path: string, buf: Buffer, o: DecodeOptions): Interleaved {
  if (buf.length < 10 || buf.toString('latin1', 1, 6) !== 'NUMPY') throw new DecodeError(path, 'not a .npy file');
  const major = buf[6]!;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = /'shape':\s*\(([^)]*)\)/
    .exec(header)?.[1]
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (!descr || !shape) throw new DecodeError(path, 'malformed .npy header');
  if (fortran) throw new DecodeError(path, 'Fortran-ordered .npy arrays are not supported');
  const dtype = descr === '|u1' || descr === 'u1' ? 'u8' : descr === '<u2' ? 'u16' : null;
  if (!dtype) throw new DecodeError(path, `.npy dtype ${descr} is not supported (|u1, <u2)`);
  if (shape.length !== 2) throw new DecodeError(path, `.npy shape (${shape.join(', ')}) is not a single-channel H×W frame`);
  const [height, width] = shape as [number, number];
  checkPixels(path, width, height, o.maxPixels);
  const bpe = dtype === 'u8' ? 1 : 2;
  if (start + width * height * bpe > buf.length) throw new DecodeError(path, 'truncated .npy data');
  const bytes = buf.subarray(start, start + width * height * bpe);
  const data = dtype === 'u8' ? new Uint8Array(bytes) : new Uint16Array(new Uint8Array(bytes).buffer);
  return { data, dtype, width, height, channels: 1 };
}

function decodeRaw(path: string, buf: Buffer, o: DecodeOptions): Interleaved {
  if (!o.raw) throw new DecodeError(path, 'a .raw frame needs --raw-width, --raw-height and --raw-dtype');
  const { width, height, dtype } = o.raw;
  checkPixels(path, width, height, o.maxPixels);
  const need = width * height * (dtype === 'u8' ? 1 : 2);
  if (buf.length !== need) throw new DecodeError(path, `expected ${need} bytes for a ${width}×${height} ${dtype} frame but the file has ${buf.length}`);
  const data = dtype === 'u8' ? new Uint8Array(buf) : new Uint16Array(new Uint8Array(buf).buffer);
  return { data, dtype, width, height, channels: 1 };
}

/** sharp's raw output as typed pixels, without a copy. */
function typedView(data: Buffer, sixteen: boolean): Uint8Array | Uint16Array {
  return sixteen ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A reader's pixels reduced to `scale` by the same libvips resize as the formats sharp decodes; 16-bit stays 16-bit. */
async function reduce(path: string, px: Interleaved, scale: DecodeScale, maxPixels: number): Promise<Interleaved> {
  if (scale === 1) return px;
  const sixteen = px.dtype === 'u16';
  const channels = px.channels === 1 ? 1 : 3;
  try {
    const { data, info } = await sharp(px.data, { raw: { width: px.width, height: px.height, channels }, limitInputPixels: maxPixels })
      .resize({ ...scaledSize(px.width, px.height, scale), ...REDUCE })
      .toColourspace(channels === 1 ? (sixteen ? 'grey16' : 'b-w') : sixteen ? 'rgb16' : 'srgb')
      .raw({ depth: sixteen ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    // a copy: the pixels outlive sharp's Buffer, which may be a view of a larger allocation
    return { data: typedView(data, sixteen).slice(), dtype: px.dtype, width: info.width, height: info.height, channels: info.channels };
  } catch (e) {
    throw new DecodeError(path, (e as Error).message, e);
  }
}

async function decodeWithSharp(path: string, buf: Buffer, o: DecodeOptions, scale: DecodeScale): Promise<DecodedImage> {
  try {
    // the header alone gives the size: check it first, so the error states the limit
    const meta = await sharp(buf, { limitInputPixels: false }).metadata();
    if (meta.width === undefined || meta.height === undefined) throw new DecodeError(path, 'no image size in the header');
    checkPixels(path, meta.width, meta.height, o.maxPixels);
    const img = sharp(buf, { limitInputPixels: o.maxPixels, failOn: 'error', sequentialRead: true });
    // shrink-on-load for JPEG only: WebP's would scale with libwebp's own filter, unlike the other formats
    const sized = scale === 1 ? img : img.resize({ ...scaledSize(meta.width, meta.height, scale), ...REDUCE, fastShrinkOnLoad: meta.format === 'jpeg' });
    const sixteen = meta.depth === 'ushort';
    // colour to gray in toPlanar (JavaScript, the decoding thread): libvips' recomb works in floats
    // and took twice the decode's own time per 1080p frame
    const colour = (meta.channels ?? 1) >= 3;
    const pipeline =
      o.channels === 'gray' && !colour ? sized.toColourspace(sixteen ? 'grey16' : 'b-w') : sized.removeAlpha().toColourspace(sixteen ? 'rgb16' : 'srgb');
    const { data, info } = await pipeline.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    const typed = typedView(data, sixteen);
    // sharp's output buffer is the frame's own (no copy: at 2048² a copy cost the main thread a fifth of its time)
    return {
      data: toPlanar(typed, info.width, info.height, info.channels, o.channels),
      dtype: sixteen ? 'u16' : 'u8',
      width: info.width,
      height: info.height,
      channels: o.channels === 'gray' ? 1 : 3,
      bytes: buf.length,
      original: { width: meta.width, height: meta.height },
    };
  } catch (e) {
    if (e instanceof KensaError) throw e;
    throw new DecodeError(path, sharpReason((e as Error).message), e);
  }
}

/**
 * sharp's words and libvips' first error line after them. libvips keeps one error buffer for all
 * threads: what follows sharp's words may repeat earlier failures, hold the warnings of files
 * decoded beside this one (libjpeg's "Corrupt JPEG data: …", which fail nothing at failOn 'error'),
 * or be empty where another thread cleared it; the warnings are dropped, an empty detail left out,
 * and sharp's "Unknown error" (nothing in the buffer at all) says what it most likely means.
 */
export function sharpReason(message: string): string {
  // sharp's words when the buffer held nothing at all (cleared by another thread before sharp read it)
  if (message.trim() === 'Unknown error') return 'the decoder failed without a reason (most likely corrupt or truncated data)';
  const [head = '', ...rest] = message.replace(/^Input (buffer|file) /, '').split('\n');
  const at = head.startsWith('Vips') ? 0 : head.indexOf(': Vips');
  const words = at < 0 ? head.replace(/:\s*$/, '') : head.slice(0, at);
  const detail = [at < 0 ? '' : head.slice(at === 0 ? 0 : at + 2), ...rest].find((l) => l.startsWith('Vips') && !l.includes(': Corrupt JPEG data:'));
  return [words, detail].filter(Boolean).join(': ') || head;
}

/** kensa's own readers, by extension; sharp decodes the other formats. */
const READERS = new Map([
  ['.bmp', decodeBmp],
  ['.npy', decodeNpy],
  ['.raw', decodeRaw],
]);

/** Reads one file; a missing or unreadable file is a DecodeError. */
export async function readImageFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new DecodeError(path, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message, e);
  }
}

/** A file's bytes and their sha256 (hex): what a result records of its source. */
export interface ReadFile {
  bytes: Buffer;
  hash: string;
}

/** Decoded file bytes (or, with `jpegOnDevice`, a JPEG parsed for the GPU) with the bytes' sha256 (hex): what a server records of an upload. */
export interface HashedDecode extends ReadFile {
  image: Frame;
}

/**
 * Whether decoding `buf` runs JavaScript (colour conversion, planar RGB, the BMP / npy / raw
 * readers), so that a worker thread should decode it; false where libvips does all of it (gray to
 * gray), whose pixel buffer is sharp's own and would be copied, not transferred, on the way back
 * from a worker. An unreadable header: true (decodeBuffer reports it wherever it runs).
 */
export async function decodeRunsJavaScript(path: string, buf: Buffer, o: DecodeOptions): Promise<boolean> {
  if (READERS.has(extname(path).toLowerCase()) || o.channels !== 'gray') return true;
  const meta = await sharp(buf, { limitInputPixels: false })
    .metadata()
    .catch(() => null);
  return meta === null || (meta.channels ?? 1) >= 3;
}

/**
 * `buf` parsed for the GPU decoder where it decodes exactly what decodeBuffer would (a baseline
 * 8-bit JPEG, at any scale; src/ops/jpeg lists what it refuses); null for every other file, which
 * decodeBuffer then decodes, its errors (the pixel limit, a corrupt file) included.
 */
export function parseForDevice(path: string, buf: Uint8Array, o: DecodeOptions): DeviceJpeg | null {
  // kensa's own readers first: a header-less raw frame may begin with a JPEG's marker bytes
  const scale = o.scale ?? 1;
  if (READERS.has(extname(path).toLowerCase()) || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  try {
    const jpeg = parseJpeg(buf, { maxPixels: o.maxPixels });
    // below scale 1, a file a few pixels thin that libvips box-shrinks stays with sharp
    if (scale !== 1 && !jpegShrinkPlan(jpeg.width, jpeg.height, scale)) return null;
    const original = { width: jpeg.width, height: jpeg.height };
    return { jpeg, scale, dtype: 'u8', ...scaledSize(jpeg.width, jpeg.height, scale), channels: o.channels === 'gray' ? 1 : 3, bytes: buf.length, original };
  } catch (e) {
    if (e instanceof JpegError) return null;
    throw e;
  }
}

/** Decodes file bytes (or parses a JPEG for the GPU: `jpegOnDevice`) and hashes them (decodeBuffer's errors). */
export async function decodeHashed(path: string, bytes: Buffer, o: DecodeOptions): Promise<HashedDecode> {
  const image = (o.jpegOnDevice ? parseForDevice(path, bytes, o) : null) ?? (await decodeBuffer(path, bytes, o));
  return { image, bytes, hash: createHash('sha256').update(bytes).digest('hex') };
}

/** Reads one file and hashes it (a DecodeError when it cannot be read). */
export async function readHashedImageFile(path: string): Promise<ReadFile> {
  const bytes = await readImageFile(path);
  return { bytes, hash: createHash('sha256').update(bytes).digest('hex') };
}

/** Reads and decodes one file. Every failure is a DecodeError (code KENSA_ERR_DECODE). */
export async function decodeFile(path: string, o: DecodeOptions): Promise<DecodedImage> {
  return decodeBuffer(path, await readImageFile(path), o);
}

/** Decodes file bytes; `path` names the file in errors and picks the reader by extension. */
export async function decodeBuffer(path: string, buf: Buffer, o: DecodeOptions): Promise<DecodedImage> {
  const scale = o.scale ?? 1;
  if (!is.inArray(scale, DECODE_SCALES)) throw invalidParameter('scale', `one of ${DECODE_SCALES.join(', ')}`, scale);
  if (buf.length === 0) throw new DecodeError(path, 'empty file');
  const read = READERS.get(extname(path).toLowerCase());
  if (!read) return decodeWithSharp(path, buf, o, scale);
  const full = read(path, buf, o);
  const px = await reduce(path, full, scale, o.maxPixels);
  const data = toPlanar(px.data, px.width, px.height, px.channels, o.channels);
  return {
    data,
    dtype: px.dtype,
    width: px.width,
    height: px.height,
    channels: o.channels === 'gray' ? 1 : 3,
    bytes: buf.length,
    original: { width: full.width, height: full.height },
  };
}
