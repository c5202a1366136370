/**
 * The CPU reference of kensa's JPEG decoder: a sequential Huffman decoder over parseJpeg's words
 * and tables, then idct.ts's integer IDCT, upsampling and colour conversion. The GPU decoder
 * (gpu.ts) computes the same integers in parallel; tests hold both to sharp's output exactly.
 */
import { type BlockSize, grayOf, idctBlockScaled, upsampleChroma, type Upsampling, upsamplingOf, yccToRgb } from './idct.js';
import { JpegError, NATURAL_ORDER, type ParsedJpeg, streamWord } from './parse.js';

/** Output channels: the file's own (`auto`), `gray` (kensa's gray of RGB for a colour file), `rgb` (gray repeated ×3 for a gray file). */
export type JpegChannels = 'auto' | 'gray' | 'rgb';

export function outputChannels(p: ParsedJpeg, channels: JpegChannels): 1 | 3 {
  return channels === 'gray' ? 1 : channels === 'rgb' ? 3 : p.components.length === 1 ? 1 : 3;
}

function peek32(words: Uint32Array, p: number): number {
  const i = p >>> 5;
  const s = p & 31;
  const hi = streamWord(words, i);
  return s === 0 ? hi : ((hi << s) | (streamWord(words, i + 1) >>> (32 - s))) >>> 0;
}

/** Decodes one Huffman symbol at bit `p` (returns (length << 8) | symbol; 0 for an invalid code). */
export function huffmanSymbol(t: Uint32Array, bits: number): number {
  const e = t[bits >>> 23]!;
  if (e !== 0) return e;
  for (let l = 10; l <= 16; l++) {
    const code = bits >>> (32 - l);
    if (code <= (t[511 + l]! | 0)) return (l << 8) | t[544 + code + (t[527 + l]! | 0)]!;
  }
  return 0;
}

/** A coefficient's value from its `s` magnitude bits (JPEG's EXTEND). */
function extend(v: number, s: number): number {
  return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
}

/** Quantised coefficients of every block in scan order (MCU by MCU), 64 each in natural order, DC undifferenced. */
export function decodeCoefficients(p: ParsedJpeg): Int32Array {
  const bpm = p.blocksPerMcu;
  const coef = new Int32Array(p.mcusx * p.mcusy * bpm * 64);
  const words = p.data;
  for (const seg of p.segments) {
    let pos = seg.startBit;
    const pred = [0, 0, 0];
    for (let m = seg.mcuStart; m < seg.mcuStart + seg.mcuCount; m++) {
      for (let b = 0; b < bpm; b++) {
        const ci = p.mcuLayout[b]!.c;
        const comp = p.components[ci]!;
        const at = (m * bpm + b) * 64;
        let e = huffmanSymbol(p.huffman[comp.dc]!, peek32(words, pos));
        if (e === 0) throw new JpegError(false, 'Corrupt JPEG: an invalid Huffman code in the scan data');
        let bits = peek32(words, pos + (e >> 8));
        pos += e >> 8;
        let s = e & 255;
        if (s > 0) {
          pred[ci]! += extend(bits >>> (32 - s), s);
          pos += s;
        }
        coef[at] = pred[ci]!;
        const ac = p.huffman[comp.ac]!;
        for (let k = 1; k < 64; k++) {
          bits = peek32(words, pos);
          e = huffmanSymbol(ac, bits);
          if (e === 0) throw new JpegError(false, 'Corrupt JPEG: an invalid Huffman code in the scan data');
          const len = e >> 8;
          const r = (e & 255) >> 4;
          s = e & 15;
          pos += len;
          if (s === 0) {
            if (r !== 15) break;
            k += 15;
            continue;
          }
          k += r;
          coef[at + NATURAL_ORDER[k]!] = extend(((bits << len) >>> 0) >>> (32 - s), s);
          pos += s;
        }
      }
    }
    if (pos > seg.endBit) throw new JpegError(false, 'Corrupt JPEG: the scan data ends before its last block');
  }
  return coef;
}

/** libjpeg's DCT scaling (scale_denom): 1, or decoding at ½ (4×4 IDCTs) or ¼ (2×2). */
export type DctDenom = 1 | 2 | 4;

/** A component decoded at a DCT scaling: its IDCT's block size, its samples' size and how it is upsampled to the output. */
export interface ScaledComponent {
  size: BlockSize;
  /** libjpeg's downsampled_width / _height at this scaling. */
  width: number;
  height: number;
  /** Samples a row of its plane (bw · size) and rows (bh · size). */
  stride: number;
  rows: number;
  upsampling: Upsampling;
}

/**
 * How libjpeg-turbo decodes `p` at scale 1 / `denom` (jdmaster.c jpeg_calc_output_dimensions,
 * jdsample.c): the output is ⌈W / denom⌉ × ⌈H / denom⌉; luma takes the 8 / denom IDCT, and a
 * subsampled chroma component the larger IDCT that makes its upsampling 1:1 where it can (4:2:0
 * at ½: chroma at 8×8, not upsampled), otherwise upsampled as at scale 1.
 */
export function scaledComponents(p: ParsedJpeg, denom: DctDenom): { width: number; height: number; components: ScaledComponent[] } {
  const min = 8 / denom;
  const components = p.components.map((c) => {
    let size = min;
    while (size < 8 && (p.hmax * min) % (c.h * size * 2) === 0 && (p.vmax * min) % (c.v * size * 2) === 0) size *= 2;
    const hIn = (c.h * size) / min;
    const vIn = (c.v * size) / min;
    return {
      size: size as BlockSize,
      width: Math.ceil((p.width * c.h * size) / (p.hmax * 8)),
      height: Math.ceil((p.height * c.v * size) / (p.vmax * 8)),
      stride: c.bw * size,
      rows: c.bh * size,
      upsampling: upsamplingOf(p.hmax / hIn, p.vmax / vIn),
    };
  });
  return { width: Math.ceil(p.width / denom), height: Math.ceil(p.height / denom), components };
}

/** Each component's samples at a DCT scaling (scaledComponents' planes), from the coefficients of decodeCoefficients. */
export function componentPlanes(p: ParsedJpeg, coef: Int32Array, denom: DctDenom = 1): Uint8Array[] {
  const scaled = scaledComponents(p, denom).components;
  const planes = scaled.map((s) => new Uint8Array(s.stride * s.rows));
  const bpm = p.blocksPerMcu;
  const blocks = p.mcusx * p.mcusy * bpm;
  const interleaved = p.components.length > 1;
  for (let k = 0; k < blocks; k++) {
    const m = Math.floor(k / bpm);
    const { c, bx, by } = p.mcuLayout[k % bpm]!;
    const comp = p.components[c]!;
    const { size, stride } = scaled[c]!;
    const x = interleaved ? (m % p.mcusx) * comp.h + bx : m % p.mcusx;
    const y = interleaved ? Math.floor(m / p.mcusx) * comp.v + by : Math.floor(m / p.mcusx);
    idctBlockScaled(coef, k * 64, p.quant[comp.tq]!, planes[c]!, stride, x * size, y * size, size);
  }
  return planes;
}

/** Decodes a parsed JPEG to planar C×H×W u8 pixels on the CPU (at scale 1 / `denom`: ⌈W / denom⌉ × ⌈H / denom⌉, libjpeg's scaled decode). */
export function decodeJpegCpu(p: ParsedJpeg, channels: JpegChannels = 'auto', denom: DctDenom = 1): Uint8Array {
  const planes = componentPlanes(p, decodeCoefficients(p), denom);
  const { width: w, height: h, components } = scaledComponents(p, denom);
  const n = w * h;
  const outC = outputChannels(p, channels);
  const out = new Uint8Array(n * outC);
  const ys = components[0]!.stride;
  if (p.components.length === 1) {
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = planes[0]![r * ys + c]!;
    for (let k = 1; k < outC; k++) out.copyWithin(k * n, 0, n);
    return out;
  }
  const [, cb, cr] = components as [ScaledComponent, ScaledComponent, ScaledComponent];
  const Y = planes[0]!;
  const [U, V] = [planes[1]!, planes[2]!];
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const yy = Y[r * ys + c]!;
      const u = upsampleChroma(U, cb.stride, cb.width, cb.height, c, r, cb.upsampling);
      const v = upsampleChroma(V, cr.stride, cr.width, cr.height, c, r, cr.upsampling);
      const i = r * w + c;
      const R = yccToRgb(yy, u, v, 0);
      const G = yccToRgb(yy, u, v, 1);
      const B = yccToRgb(yy, u, v, 2);
      if (outC === 1) out[i] = grayOf(R, G, B);
      else {
        out[i] = R;
        out[n + i] = G;
        out[2 * n + i] = B;
      }
    }
  }
  return out;
}
