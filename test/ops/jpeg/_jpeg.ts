/**
 * JPEG fixtures for the decoder tests: files made by sharp (libvips + mozjpeg's libjpeg-turbo,
 * baseline, Huffman-optimised), sharp's own decode of them as planar C×H×W, and a transcoder that
 * adds restart intervals (sharp cannot write them): it re-encodes the file's own coefficients with
 * a DRI marker, RSTn markers and Huffman tables of its own (every DC and AC symbol, codes of 3 to
 * 12 bits: the file's optimised tables lack the DC sizes that predictor resets need), so libjpeg
 * decodes it to the same pixels.
 */
import sharp from 'sharp';
import { decodeCoefficients } from '../../../src/ops/jpeg/cpu.js';
import { NATURAL_ORDER, parseJpeg } from '../../../src/ops/jpeg/parse.js';

/** A smooth picture with some noise (JPEG-typical content), H×W×C interleaved. */
export function picture(w: number, h: number, c: number, seed: number): Uint8Array {
  const a = new Uint8Array(w * h * c);
  let s = seed >>> 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const v = 128 + 100 * Math.sin(x / 7 + k + seed) * Math.cos(y / 5 - k) + ((s >>> 24) - 128) / 6;
        a[(y * w + x) * c + k] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return a;
}

export interface JpegCase {
  w: number;
  h: number;
  /** 1: a gray (one-component) file; 3: YCbCr. */
  c: 1 | 3;
  quality: number;
  subsampling?: '4:2:0' | '4:4:4';
}

export function caseName(k: JpegCase): string {
  return `${k.w}×${k.h} ${k.c === 1 ? 'gray' : k.subsampling} q${k.quality}`;
}

/** A JPEG made by sharp from `picture`. */
export async function makeJpeg(k: JpegCase, extra: { progressive?: boolean; seed?: number } = {}): Promise<Uint8Array> {
  let s = sharp(picture(k.w, k.h, k.c, extra.seed ?? k.w + k.h), { raw: { width: k.w, height: k.h, channels: k.c } });
  if (k.c === 1) s = s.toColourspace('b-w');
  return new Uint8Array(await s.jpeg({ quality: k.quality, chromaSubsampling: k.subsampling ?? '4:2:0', progressive: extra.progressive ?? false }).toBuffer());
}

/** sharp's decode (gray files as gray, colour as RGB), planar C×H×W. */
export async function sharpPlanar(jpg: Uint8Array): Promise<{ data: Uint8Array; channels: number }> {
  const meta = await sharp(jpg).metadata();
  const img = (meta.channels ?? 3) === 1 ? sharp(jpg).toColourspace('b-w') : sharp(jpg);
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  const c = info.channels;
  const out = new Uint8Array(n * c);
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) out[k * n + i] = data[i * c + k]!;
  return { data: out, channels: c };
}

/** Positions where two pixel arrays differ (for messages): count and the first index. */
export function mismatch(a: Uint8Array, b: Uint8Array): string | null {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  let bad = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      bad++;
      if (first < 0) first = i;
    }
  }
  return bad === 0 ? null : `${bad} of ${a.length} differ, first at ${first}: ${a[first]} vs ${b[first]}`;
}

class BitWriter {
  readonly bytes: number[] = [];
  #acc = 0;
  #n = 0;
  put(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.#acc = (this.#acc << 1) | ((value >>> i) & 1);
      if (++this.#n === 8) this.#byte();
    }
  }
  #byte(): void {
    this.bytes.push(this.#acc);
    if (this.#acc === 0xff) this.bytes.push(0);
    this.#acc = 0;
    this.#n = 0;
  }
  /** Pads the last byte with 1 bits. */
  align(): void {
    while (this.#n !== 0) this.put(1, 1);
  }
}

type Codes = Map<number, [code: number, length: number]>;

/** `jpg` re-encoded with a restart interval of `interval` MCUs (same coefficients, same tables). */
export function withRestarts(jpg: Uint8Array, interval: number): Uint8Array {
  const p = parseJpeg(jpg);
  const coef = decodeCoefficients(p);
  // every DC size 0–11 (6 codes of 3 bits, 6 of 10) and AC symbol (EOB, ZRL, run/size: 80 codes of 7 bits, 82 of 12)
  const dcSymbols = Array.from({ length: 12 }, (_, i) => i);
  const acSymbols = [0x00, 0xf0, ...Array.from({ length: 160 }, (_, i) => ((i % 16) << 4) | (1 + Math.floor(i / 16)))];
  const table = (symbols: number[], short: number, shortLen: number, longLen: number) => {
    const counts = new Array<number>(16).fill(0);
    counts[shortLen - 1] = short;
    counts[longLen - 1] = symbols.length - short;
    const codes: Codes = new Map();
    let code = 0;
    let k = 0;
    for (let l = 1; l <= 16; l++) {
      for (let i = 0; i < counts[l - 1]!; i++) codes.set(symbols[k++]!, [code++, l]);
      code <<= 1;
    }
    return { codes, bytes: [...counts, ...symbols] };
  };
  const dcTable = table(dcSymbols, 6, 3, 10);
  const acTable = table(acSymbols, 80, 7, 12);
  const header: number[] = [0xff, 0xd8];
  let pos = 2;
  let sos = -1;
  while (sos < 0) {
    const m = jpg[pos + 1]!;
    const len = (jpg[pos + 2]! << 8) | jpg[pos + 3]!;
    if (m === 0xda) sos = pos;
    else if (m !== 0xc4) header.push(...jpg.subarray(pos, pos + 2 + len));
    pos += 2 + len;
  }
  const dhtLen = 2 + 2 * 17 + dcSymbols.length + acSymbols.length;
  header.push(0xff, 0xc4, dhtLen >> 8, dhtLen & 255, 0x00, ...dcTable.bytes, 0x10, ...acTable.bytes);
  header.push(0xff, 0xdd, 0, 4, interval >> 8, interval & 255);
  const sosLen = (jpg[sos + 2]! << 8) | jpg[sos + 3]!;
  const sosBytes = Array.from(jpg.subarray(sos, sos + 2 + sosLen));
  const ns = jpg[sos + 4]!;
  for (let i = 0; i < ns; i++) sosBytes[6 + 2 * i] = 0x00;
  header.push(...sosBytes);
  const dc = Array.from({ length: ns }, () => dcTable.codes);
  const ac = Array.from({ length: ns }, () => acTable.codes);
  const w = new BitWriter();
  const emit = (codes: Codes, symbol: number) => {
    const c = codes.get(symbol);
    if (!c) throw new Error(`symbol ${symbol} not in the table`);
    w.put(c[0], c[1]);
  };
  const magnitude = (v: number) => {
    const s = v === 0 ? 0 : 32 - Math.clz32(Math.abs(v));
    return [s, v < 0 ? v + (1 << s) - 1 : v] as const;
  };
  const mcus = p.mcusx * p.mcusy;
  let pred = [0, 0, 0];
  for (let m = 0; m < mcus; m++) {
    if (m > 0 && m % interval === 0) {
      w.align();
      w.bytes.push(0xff, 0xd0 + ((m / interval - 1) % 8));
      pred = [0, 0, 0];
    }
    for (let b = 0; b < p.blocksPerMcu; b++) {
      const c = p.mcuLayout[b]!.c;
      const at = (m * p.blocksPerMcu + b) * 64;
      const [s, bits] = magnitude(coef[at]! - pred[c]!);
      pred[c] = coef[at]!;
      emit(dc[c]!, s);
      w.put(bits, s);
      let run = 0;
      for (let z = 1; z < 64; z++) {
        const v = coef[at + NATURAL_ORDER[z]!]!;
        if (v === 0) {
          run++;
          continue;
        }
        for (; run >= 16; run -= 16) emit(ac[c]!, 0xf0);
        const [as, abits] = magnitude(v);
        emit(ac[c]!, (run << 4) | as);
        w.put(abits, as);
        run = 0;
      }
      if (run > 0) emit(ac[c]!, 0);
    }
  }
  w.align();
  return Uint8Array.from([...header, ...w.bytes, 0xff, 0xd9]);
}
