/**
 * JPEG fixtures for the decoder tests: files made by sharp (libvips + mozjpeg's libjpeg-turbo,
 * baseline, Huffman-optimised), sharp's own decode of them as planar C×H×W, and a transcoder that
 * adds restart intervals (sharp cannot write them), and a small encoder for the chroma samplings
 * sharp does not write (4:2:2, 4:4:0). Both write Huffman tables of their own with every DC and AC
 * symbol (codes of 3 to 12 bits, so the decoders' lookups past 9 bits run too).
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

/** A canonical Huffman table of `symbols`: `short` codes of `shortLen` bits, the rest of `longLen`; its codes and DHT bytes. */
function huffmanTable(symbols: number[], short: number, shortLen: number, longLen: number): { codes: Codes; bytes: number[] } {
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
}

// every DC size 0–11 (6 codes of 3 bits, 6 of 10) and AC symbol (EOB, ZRL, run/size: 80 codes of 7 bits, 82 of 12)
const DC_TABLE = huffmanTable(
  Array.from({ length: 12 }, (_, i) => i),
  6,
  3,
  10,
);
const AC_TABLE = huffmanTable([0x00, 0xf0, ...Array.from({ length: 160 }, (_, i) => ((i % 16) << 4) | (1 + Math.floor(i / 16)))], 80, 7, 12);

/** The DHT segment of DC_TABLE (class 0, id 0) and AC_TABLE (class 1, id 0). */
function dhtSegment(): number[] {
  const len = 2 + 2 + DC_TABLE.bytes.length + AC_TABLE.bytes.length;
  return [0xff, 0xc4, len >> 8, len & 255, 0x00, ...DC_TABLE.bytes, 0x10, ...AC_TABLE.bytes];
}

/**
 * Entropy-coded bytes of blocks in scan order (64 coefficients each, natural order, DC undifferenced)
 * with DC_TABLE and AC_TABLE; `blockComps` gives each block of an MCU its component; a restart
 * marker every `interval` MCUs (0: none).
 */
function encodeBlocks(coef: ArrayLike<number>, mcus: number, blockComps: readonly number[], interval: number): number[] {
  const w = new BitWriter();
  const emit = (codes: Codes, symbol: number) => {
    const c = codes.get(symbol)!;
    w.put(c[0], c[1]);
  };
  const magnitude = (v: number) => {
    const s = v === 0 ? 0 : 32 - Math.clz32(Math.abs(v));
    return [s, v < 0 ? v + (1 << s) - 1 : v] as const;
  };
  const bpm = blockComps.length;
  let pred = [0, 0, 0];
  for (let m = 0; m < mcus; m++) {
    if (interval > 0 && m > 0 && m % interval === 0) {
      w.align();
      w.bytes.push(0xff, 0xd0 + ((m / interval - 1) % 8));
      pred = [0, 0, 0];
    }
    for (let b = 0; b < bpm; b++) {
      const c = blockComps[b]!;
      const at = (m * bpm + b) * 64;
      const [s, bits] = magnitude(coef[at]! - pred[c]!);
      pred[c] = coef[at]!;
      emit(DC_TABLE.codes, s);
      w.put(bits, s);
      let run = 0;
      for (let z = 1; z < 64; z++) {
        const v = coef[at + NATURAL_ORDER[z]!]!;
        if (v === 0) {
          run++;
          continue;
        }
        for (; run >= 16; run -= 16) emit(AC_TABLE.codes, 0xf0);
        const [as, abits] = magnitude(v);
        emit(AC_TABLE.codes, (run << 4) | as);
        w.put(abits, as);
        run = 0;
      }
      if (run > 0) emit(AC_TABLE.codes, 0);
    }
  }
  w.align();
  return w.bytes;
}

/**
 * `jpg` re-encoded with a restart interval of `interval` MCUs: the same coefficients, DC_TABLE and
 * AC_TABLE for every component (the file's optimised tables lack the DC sizes that predictor
 * resets need), a DRI marker and RSTn markers.
 */
export function withRestarts(jpg: Uint8Array, interval: number): Uint8Array {
  const p = parseJpeg(jpg);
  const coef = decodeCoefficients(p);
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
  header.push(...dhtSegment(), 0xff, 0xdd, 0, 4, interval >> 8, interval & 255);
  const sosLen = (jpg[sos + 2]! << 8) | jpg[sos + 3]!;
  const sosBytes = Array.from(jpg.subarray(sos, sos + 2 + sosLen));
  for (let i = 0; i < jpg[sos + 4]!; i++) sosBytes[6 + 2 * i] = 0x00;
  const scan = encodeBlocks(
    coef,
    p.mcusx * p.mcusy,
    p.mcuLayout.map((l) => l.c),
    interval,
  );
  return Uint8Array.from([...header, ...sosBytes, ...scan, 0xff, 0xd9]);
}

/**
 * A baseline YCbCr JPEG written here (sharp writes only 4:4:4 and 4:2:0): luma sampled `h` × `v`,
 * chroma 1 × 1, smooth planes with noise, a float forward DCT, one flat-ish quantisation table,
 * the complete Huffman tables of withRestarts. Only its decode matters: sharp's is the reference.
 */
export function encodeJpeg(w: number, h: number, sampling: readonly [number, number], seed = 1): Uint8Array {
  const [hy, vy] = sampling;
  const mcusx = Math.ceil(w / (8 * hy));
  const mcusy = Math.ceil(h / (8 * vy));
  const comps = [
    { id: 1, h: hy, v: vy },
    { id: 2, h: 1, v: 1 },
    { id: 3, h: 1, v: 1 },
  ];
  const quant = Uint8Array.from({ length: 64 }, (_, k) => 2 + (k >> 3));
  let s = seed >>> 0;
  // each component's samples at its own resolution, edge-replicated over whole MCUs
  const planes = comps.map((c, ci) => {
    const cw = Math.ceil((w * c.h) / hy);
    const ch = Math.ceil((h * c.v) / vy);
    const pw = mcusx * c.h * 8;
    const ph = mcusy * c.v * 8;
    const plane = new Float64Array(pw * ph);
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const sx = Math.min(x, cw - 1);
        const sy = Math.min(y, ch - 1);
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        plane[y * pw + x] = 128 + (ci === 0 ? 100 : 60) * Math.sin(sx / (3 + ci) + seed) * Math.cos(sy / (4 + ci)) + ((s >>> 24) - 128) / 10;
      }
    }
    return { plane, pw };
  });
  const fdct = (plane: Float64Array, pw: number, bx: number, by: number, out: number[]) => {
    for (let u = 0; u < 8; u++) {
      for (let v = 0; v < 8; v++) {
        let sum = 0;
        for (let y = 0; y < 8; y++) {
          for (let x = 0; x < 8; x++) {
            sum += (plane[(by * 8 + y) * pw + bx * 8 + x]! - 128) * Math.cos(((2 * x + 1) * v * Math.PI) / 16) * Math.cos(((2 * y + 1) * u * Math.PI) / 16);
          }
        }
        const cu = u === 0 ? Math.SQRT1_2 : 1;
        const cv = v === 0 ? Math.SQRT1_2 : 1;
        out[u * 8 + v] = Math.round((0.25 * cu * cv * sum) / quant[u * 8 + v]!);
      }
    }
  };
  const blocks: number[] = [];
  const block: number[] = new Array(64).fill(0);
  for (let my = 0; my < mcusy; my++) {
    for (let mx = 0; mx < mcusx; mx++) {
      comps.forEach((c, ci) => {
        for (let by = 0; by < c.v; by++) {
          for (let bx = 0; bx < c.h; bx++) {
            fdct(planes[ci]!.plane, planes[ci]!.pw, mx * c.h + bx, my * c.v + by, block);
            blocks.push(...block);
          }
        }
      });
    }
  }
  const header = [0xff, 0xd8, 0xff, 0xdb, 0, 67, 0, ...Array.from({ length: 64 }, (_, k) => quant[NATURAL_ORDER[k]!]!)];
  header.push(0xff, 0xc0, 0, 17, 8, h >> 8, h & 255, w >> 8, w & 255, 3, ...comps.flatMap((c) => [c.id, (c.h << 4) | c.v, 0]));
  header.push(...dhtSegment(), 0xff, 0xda, 0, 12, 3, 1, 0, 2, 0, 3, 0, 0, 63, 0);
  const blockComps = comps.flatMap((c, ci) => new Array<number>(c.h * c.v).fill(ci));
  return Uint8Array.from([...header, ...encodeBlocks(blocks, mcusx * mcusy, blockComps, 0), 0xff, 0xd9]);
}
