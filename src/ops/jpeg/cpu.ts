/**
 * The CPU reference of kensa's JPEG decoder: a sequential Huffman decoder over parseJpeg's words
 * and tables, then idct.ts's integer IDCT, upsampling and colour conversion. The GPU decoder
 * (gpu.ts) computes the same integers in parallel; tests hold both to sharp's output exactly.
 */
import { grayOf, idctBlock, upsampleChroma, upsamplingOf, yccToRgb } from './idct.js';
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

/** Each component's samples: planes of bw·8 × bh·8, from the coefficients of decodeCoefficients. */
export function componentPlanes(p: ParsedJpeg, coef: Int32Array): Uint8Array[] {
  const planes = p.components.map((c) => new Uint8Array(c.bw * 8 * c.bh * 8));
  const bpm = p.blocksPerMcu;
  const blocks = p.mcusx * p.mcusy * bpm;
  const interleaved = p.components.length > 1;
  for (let k = 0; k < blocks; k++) {
    const m = Math.floor(k / bpm);
    const { c, bx, by } = p.mcuLayout[k % bpm]!;
    const comp = p.components[c]!;
    const x = interleaved ? (m % p.mcusx) * comp.h + bx : m % p.mcusx;
    const y = interleaved ? Math.floor(m / p.mcusx) * comp.v + by : Math.floor(m / p.mcusx);
    idctBlock(coef, k * 64, p.quant[comp.tq]!, planes[c]!, comp.bw * 8, x * 8, y * 8);
  }
  return planes;
}

/** Decodes a parsed JPEG to planar C×H×W u8 pixels on the CPU. */
export function decodeJpegCpu(p: ParsedJpeg, channels: JpegChannels = 'auto'): Uint8Array {
  const planes = componentPlanes(p, decodeCoefficients(p));
  const { width: w, height: h } = p;
  const n = w * h;
  const outC = outputChannels(p, channels);
  const out = new Uint8Array(n * outC);
  const y = p.components[0]!;
  const ys = y.bw * 8;
  if (p.components.length === 1) {
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = planes[0]![r * ys + c]!;
    for (let k = 1; k < outC; k++) out.copyWithin(k * n, 0, n);
    return out;
  }
  const [, cb, cr] = p.components as [unknown, (typeof p.components)[0], (typeof p.components)[0]];
  const mode = upsamplingOf(y.h, y.v);
  const Y = planes[0]!;
  const [U, V] = [planes[1]!, planes[2]!];
  const us = cb.bw * 8;
  const vs = cr.bw * 8;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const yy = Y[r * ys + c]!;
      const u = upsampleChroma(U, us, cb.width, cb.height, c, r, mode);
      const v = upsampleChroma(V, vs, cr.width, cr.height, c, r, mode);
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
