/**
 * Baseline JPEG marker parser for kensa's own decoder (CPU reference and GPU): SOI, APPn / COM
 * (skipped), DQT (8- and 16-bit), SOF0 / SOF1 (8-bit, Huffman, sequential), DHT, DRI, one SOS over
 * all components, EOI. Everything else (progressive, arithmetic, lossless, 12-bit, several scans,
 * CMYK or 2/4 components, sampling other than gray, 4:4:4, 4:2:2, 4:4:0 and 4:2:0) is a JpegError with code
 * KENSA_ERR_JPEG_UNSUPPORTED; a broken file (truncated, a bad length, missing tables) one with
 * KENSA_ERR_DECODE. Callers fall back to sharp on either.
 *
 * The entropy-coded data comes out with byte stuffing (FF00 → FF) and restart markers removed,
 * in file order in u32 words (readers swap each word's bytes: bit 0 of the stream is the top bit
 * of byte 0; streamWord), with one segment
 * per restart interval (its start is byte-aligned and resets the DC predictors). Huffman tables
 * come in a lookup form the GPU reads as is (`HUFFMAN_WORDS` u32 per table):
 *   [0, 512)    fast table on the next 9 bits: (length << 8) | symbol, 0 where the code is longer
 *   [512, 528)  maxcode of lengths 1..16 (i32; −1 where no code has that length)
 *   [528, 544)  valoff of lengths 1..16 (i32): symbol = values[code + valoff[length − 1]]
 *   [544, 800)  the symbol values
 */
import { KensaError } from '../../errors.js';

export const HUFFMAN_WORDS = 800;
const FAST_BITS = 9;

/** Zig-zag position → natural (row-major) index, with libjpeg's 16 extra entries for corrupt runs past 63. */
export const NATURAL_ORDER = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22,
  15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
]);

/** Why kensa's decoder refused a JPEG: corrupt data (KENSA_ERR_DECODE) or a feature it lacks (KENSA_ERR_JPEG_UNSUPPORTED); decode it with sharp then. */
export class JpegError extends KensaError {
  constructor(unsupported: boolean, message: string) {
    super(unsupported ? 'KENSA_ERR_JPEG_UNSUPPORTED' : 'KENSA_ERR_DECODE', message);
    this.name = 'JpegError';
  }
}

const corrupt = (message: string) => new JpegError(false, message);
const unsupported = (message: string) => new JpegError(true, message);

export interface JpegComponent {
  readonly id: number;
  /** Sampling factors. */
  readonly h: number;
  readonly v: number;
  /** Quantisation table slot (0–3). */
  readonly tq: number;
  /** Index into ParsedJpeg.huffman of its DC and AC tables. */
  readonly dc: number;
  readonly ac: number;
  /** libjpeg's downsampled_width / _height: the component's own size, ceil(W · h / hmax). */
  readonly width: number;
  readonly height: number;
  /** Blocks of its plane (whole MCUs for interleaved scans). */
  readonly bw: number;
  readonly bh: number;
}

export interface JpegSegment {
  /** Bit range of the restart interval in `data`. */
  readonly startBit: number;
  readonly endBit: number;
  readonly mcuStart: number;
  readonly mcuCount: number;
}

export interface ParsedJpeg {
  readonly width: number;
  readonly height: number;
  readonly components: readonly JpegComponent[];
  readonly hmax: number;
  readonly vmax: number;
  /** MCUs across and down; an MCU is one block for a one-component scan. */
  readonly mcusx: number;
  readonly mcusy: number;
  readonly blocksPerMcu: number;
  /** Per block of an MCU: its component and position (bx, by) inside the MCU. */
  readonly mcuLayout: readonly { c: number; bx: number; by: number }[];
  /** Quantisation tables in natural order (64 each), by slot. */
  readonly quant: readonly (Uint16Array | undefined)[];
  /** The Huffman tables the scan uses, HUFFMAN_WORDS each. */
  readonly huffman: readonly Uint32Array[];
  /** Destuffed entropy-coded data in file order, 4 bytes a word (streamWord reads it big-endian); two zero words of padding at the end. */
  readonly data: Uint32Array;
  /** MCUs per restart interval (0: none). */
  readonly restartInterval: number;
  readonly segments: readonly JpegSegment[];
}

export interface ParseOptions {
  /** Largest width × height accepted (default 0x3FFF², as decode.ts). */
  maxPixels?: number;
  /**
   * Decode files with an embedded ICC profile as if they had none (default false: refused with
   * KENSA_ERR_JPEG_UNSUPPORTED, since sharp converts such files to sRGB through the profile and
   * the pixels would differ from decode.ts's).
   */
  ignoreIcc?: boolean;
}

const SOF_NAMES: Record<number, string> = {
  194: 'progressive',
  195: 'lossless',
  197: 'differential sequential',
  198: 'differential progressive',
  199: 'differential lossless',
  201: 'arithmetic-coded sequential',
  202: 'arithmetic-coded progressive',
  203: 'arithmetic-coded lossless',
  205: 'differential arithmetic-coded sequential',
  206: 'differential arithmetic-coded progressive',
  207: 'differential arithmetic-coded lossless',
};

/** The GPU lookup form of a Huffman table from its 16 counts and values (throws on an over-full code). */
export function huffmanLookup(counts: readonly number[], values: Uint8Array, what: string): Uint32Array {
  const t = new Uint32Array(HUFFMAN_WORDS);
  const maxcode = new Int32Array(t.buffer, 512 * 4, 16);
  const valoff = new Int32Array(t.buffer, 528 * 4, 16);
  t.set(values, 544);
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    const n = counts[l - 1]!;
    valoff[l - 1] = k - code;
    for (let i = 0; i < n; i++, k++, code++) {
      if (l <= FAST_BITS) {
        const shift = FAST_BITS - l;
        const entry = (l << 8) | values[k]!;
        for (let j = 0; j < 1 << shift; j++) t[(code << shift) | j] = entry;
      }
    }
    maxcode[l - 1] = n > 0 ? code - 1 : -1;
    // as libjpeg (jdhuff.c): the codes of each length fit in it, and none is all ones
    if (code >= 1 << l) throw corrupt(`Corrupt JPEG: Huffman table ${what} has more codes than its lengths allow`);
    code <<= 1;
  }
  return t;
}

function sofName(m: number): string {
  return SOF_NAMES[m] ?? `SOF${m - 0xc0}`;
}

/**
 * Parses a baseline JPEG for kensa's decoder.
 * @throws JpegError KENSA_ERR_JPEG_UNSUPPORTED for a JPEG kensa does not decode, KENSA_ERR_DECODE for a broken one.
 */
export function parseJpeg(bytes: Uint8Array, options: ParseOptions = {}): ParsedJpeg {
  const maxPixels = options.maxPixels ?? 0x3fff * 0x3fff;
  const n = bytes.length;
  if (n < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw corrupt('Not a JPEG file: it does not start with an SOI marker');
  const quant: (Uint16Array | undefined)[] = [undefined, undefined, undefined, undefined];
  const dcTables: (Uint32Array | undefined)[] = [undefined, undefined, undefined, undefined];
  const acTables: (Uint32Array | undefined)[] = [undefined, undefined, undefined, undefined];
  let frame: { width: number; height: number; comps: { id: number; h: number; v: number; tq: number }[] } | null = null;
  let restartInterval = 0;
  let adobeTransform = -1;
  let jfif = false;
  let pos = 2;
  const u16 = (at: number) => (bytes[at]! << 8) | bytes[at + 1]!;
  for (;;) {
    if (pos >= n) throw corrupt('Truncated JPEG: the file ends before the scan');
    if (bytes[pos] !== 0xff) throw corrupt(`Corrupt JPEG: expected a marker at byte ${pos} but found 0x${bytes[pos]!.toString(16)}`);
    while (pos < n && bytes[pos] === 0xff) pos++;
    if (pos >= n) throw corrupt('Truncated JPEG: the file ends inside a marker');
    const m = bytes[pos++]!;
    if (m === 0xd8 || m === 0xd9 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) {
      throw corrupt(`Corrupt JPEG: unexpected marker 0xFF${m.toString(16).toUpperCase()} before the scan`);
    }
    if (pos + 2 > n) throw corrupt('Truncated JPEG: the file ends inside a marker length');
    const len = u16(pos);
    if (len < 2 || pos + len > n) throw corrupt(`Corrupt JPEG: marker 0xFF${m.toString(16).toUpperCase()} has length ${len} past the end of the file`);
    const seg = pos + 2;
    const end = pos + len;
    pos = end;
    if ((m >= 0xe0 && m <= 0xef) || m === 0xfe) {
      // Adobe APP14: its transform flag says whether 3 components are YCbCr (1) or RGB (0)
      if (m === 0xe0 && len >= 7 && String.fromCharCode(...bytes.subarray(seg, seg + 5)) === 'JFIF\0') jfif = true;
      if (m === 0xee && len >= 14 && String.fromCharCode(...bytes.subarray(seg, seg + 5)) === 'Adobe') adobeTransform = bytes[seg + 11]!;
      // APP2 ICC_PROFILE: sharp transforms through it
      if (m === 0xe2 && !options.ignoreIcc && len >= 16 && String.fromCharCode(...bytes.subarray(seg, seg + 12)) === 'ICC_PROFILE\0') {
        throw unsupported('JPEG with an embedded ICC profile is not supported (sharp converts it to sRGB through the profile; ignoreIcc decodes it without)');
      }
      continue;
    }
    switch (m) {
      case 0xdb: {
        let p = seg;
        while (p < end) {
          const pq = bytes[p]! >> 4;
          const tq = bytes[p]! & 15;
          p++;
          if (pq > 1 || tq > 3) throw corrupt(`Corrupt JPEG: DQT table ${tq} of precision ${pq}`);
          if (p + 64 * (pq + 1) > end) throw corrupt('Corrupt JPEG: a DQT table runs past its marker segment');
          const q = new Uint16Array(64);
          for (let k = 0; k < 64; k++) q[NATURAL_ORDER[k]!] = pq === 0 ? bytes[p + k]! : u16(p + 2 * k);
          p += 64 * (pq + 1);
          quant[tq] = q;
        }
        break;
      }
      case 0xc4: {
        let p = seg;
        while (p < end) {
          if (p + 17 > end) throw corrupt('Corrupt JPEG: a DHT table runs past its marker segment');
          const tc = bytes[p]! >> 4;
          const th = bytes[p]! & 15;
          if (tc > 1 || th > 3) throw corrupt(`Corrupt JPEG: DHT class ${tc} table ${th}`);
          const counts = Array.from(bytes.subarray(p + 1, p + 17));
          const total = counts.reduce((a, b) => a + b, 0);
          p += 17;
          if (total > 256 || p + total > end) throw corrupt('Corrupt JPEG: a DHT table runs past its marker segment');
          const values = bytes.slice(p, p + total);
          p += total;
          if (tc === 0 && values.some((s) => s > 15)) throw corrupt(`Corrupt JPEG: DC Huffman table ${th} has a symbol over 15`);
          (tc === 0 ? dcTables : acTables)[th] = huffmanLookup(counts, values, `${tc === 0 ? 'DC' : 'AC'} ${th}`);
        }
        break;
      }
      case 0xdd:
        if (len !== 4) throw corrupt('Corrupt JPEG: DRI marker of the wrong length');
        restartInterval = u16(seg);
        break;
      case 0xc0:
      case 0xc1: {
        if (frame) throw corrupt('Corrupt JPEG: two frame headers');
        if (len < 8) throw corrupt('Corrupt JPEG: short SOF marker');
        const precision = bytes[seg]!;
        if (precision !== 8) throw unsupported(`JPEG with ${precision}-bit samples is not supported (8-bit only)`);
        const height = u16(seg + 1);
        const width = u16(seg + 3);
        const nc = bytes[seg + 5]!;
        if (height === 0) throw unsupported('JPEG whose height comes in a DNL marker is not supported');
        if (width === 0) throw corrupt('Corrupt JPEG: width 0');
        if (width * height > maxPixels) throw corrupt(`JPEG of ${width}×${height} = ${width * height} pixels exceeds the limit of ${maxPixels} (maxPixels)`);
        if (nc !== 1 && nc !== 3) throw unsupported(`JPEG with ${nc} components is not supported (1 gray or 3 YCbCr)`);
        if (len !== 8 + 3 * nc) throw corrupt('Corrupt JPEG: SOF marker length does not match its components');
        const comps = [];
        for (let c = 0; c < nc; c++) {
          const p = seg + 6 + 3 * c;
          const h = bytes[p + 1]! >> 4;
          const v = bytes[p + 1]! & 15;
          const tq = bytes[p + 2]!;
          if (h < 1 || h > 4 || v < 1 || v > 4 || tq > 3) throw corrupt(`Corrupt JPEG: component ${c} has sampling ${h}×${v} or table ${tq}`);
          comps.push({ id: bytes[p]!, h, v, tq });
        }
        frame = { width, height, comps };
        break;
      }
      case 0xda:
        return parseScan(bytes, seg, end, frame, quant, dcTables, acTables, restartInterval, jfif ? 1 : adobeTransform);
      case 0xcc:
        throw unsupported('Arithmetic-coded JPEG is not supported (Huffman only)');
      case 0xdc:
        throw unsupported('JPEG with a DNL marker is not supported');
      default:
        if (m >= 0xc2 && m <= 0xcf) throw unsupported(`${sofName(m)[0]!.toUpperCase()}${sofName(m).slice(1)} JPEG is not supported (baseline only)`);
        if (m >= 0xc0) throw unsupported(`JPEG marker 0xFF${m.toString(16).toUpperCase()} is not supported`);
        throw corrupt(`Corrupt JPEG: reserved marker 0xFF${m.toString(16).toUpperCase()}`);
    }
  }
}

function parseScan(
  bytes: Uint8Array,
  seg: number,
  end: number,
  frame: { width: number; height: number; comps: { id: number; h: number; v: number; tq: number }[] } | null,
  quant: (Uint16Array | undefined)[],
  dcTables: (Uint32Array | undefined)[],
  acTables: (Uint32Array | undefined)[],
  restartInterval: number,
  /** 1: YCbCr (JFIF, or Adobe transform 1), 0: RGB (Adobe transform 0), −1: neither marker. */
  transform: number,
): ParsedJpeg {
  if (!frame) throw corrupt('Corrupt JPEG: a scan before the frame header');
  const { width, height } = frame;
  const ns = bytes[seg]!;
  if (end - seg !== 4 + 2 * ns) throw corrupt('Corrupt JPEG: SOS marker length does not match its components');
  if (ns !== frame.comps.length) throw unsupported(`JPEG with several scans (a scan of ${ns} of ${frame.comps.length} components) is not supported`);
  const ss = bytes[seg + 1 + 2 * ns]!;
  const se = bytes[seg + 2 + 2 * ns]!;
  const a = bytes[seg + 3 + 2 * ns]!;
  if (ss !== 0 || se !== 63 || a !== 0) throw unsupported(`JPEG scan of spectral range ${ss}–${se} is not supported (sequential only)`);
  // libjpeg's colour space rule (jdapimin.c): JFIF or Adobe transform 1 is YCbCr, Adobe 0 RGB; without
  // either, component ids R, G, B mean RGB
  const ids = frame.comps.map((c) => c.id).join();
  if (ns === 3 && (transform === 0 || (transform < 0 && ids === '82,71,66'))) throw unsupported('RGB JPEG (not YCbCr) is not supported');
  const hmax = Math.max(...frame.comps.map((c) => c.h));
  const vmax = Math.max(...frame.comps.map((c) => c.v));
  if (ns === 3) {
    const [y, cb, cr] = frame.comps as unknown as [{ h: number; v: number }, { h: number; v: number }, { h: number; v: number }];
    const sub = cb.h === 1 && cb.v === 1 && cr.h === 1 && cr.v === 1 && y.h <= 2 && y.v <= 2;
    if (!sub) {
      throw unsupported(`JPEG chroma sampling ${frame.comps.map((c) => `${c.h}x${c.v}`).join(',')} is not supported (4:4:4, 4:2:2, 4:4:0 or 4:2:0)`);
    }
  }
  const huffman: Uint32Array[] = [];
  const tableIndex = new Map<Uint32Array, number>();
  const indexOf = (t: Uint32Array) => {
    let i = tableIndex.get(t);
    if (i === undefined) tableIndex.set(t, (i = huffman.push(t) - 1));
    return i;
  };
  const components: JpegComponent[] = [];
  const interleaved = ns > 1;
  const mcusx = interleaved ? Math.ceil(width / (8 * hmax)) : Math.ceil(Math.ceil((width * frame.comps[0]!.h) / hmax) / 8);
  const mcusy = interleaved ? Math.ceil(height / (8 * vmax)) : Math.ceil(Math.ceil((height * frame.comps[0]!.v) / vmax) / 8);
  for (let i = 0; i < ns; i++) {
    const id = bytes[seg + 1 + 2 * i]!;
    const td = bytes[seg + 2 + 2 * i]! >> 4;
    const ta = bytes[seg + 2 + 2 * i]! & 15;
    const c = frame.comps[i]!;
    if (c.id !== id) throw unsupported('JPEG whose scan lists its components in another order than the frame is not supported');
    const dc = td < 4 ? dcTables[td] : undefined;
    const ac = ta < 4 ? acTables[ta] : undefined;
    if (!dc || !ac) throw corrupt(`Corrupt JPEG: component ${i} uses a Huffman table that was not defined`);
    if (!quant[c.tq]) throw corrupt(`Corrupt JPEG: component ${i} uses quantisation table ${c.tq}, which was not defined`);
    components.push({
      id,
      h: c.h,
      v: c.v,
      tq: c.tq,
      dc: indexOf(dc),
      ac: indexOf(ac),
      width: Math.ceil((width * c.h) / hmax),
      height: Math.ceil((height * c.v) / vmax),
      bw: interleaved ? mcusx * c.h : mcusx,
      bh: interleaved ? mcusy * c.v : mcusy,
    });
  }
  const mcuLayout = interleaved
    ? components.flatMap((c, ci) => Array.from({ length: c.h * c.v }, (_, k) => ({ c: ci, bx: k % c.h, by: Math.floor(k / c.h) })))
    : [{ c: 0, bx: 0, by: 0 }];
  if (mcuLayout.length > 10) throw corrupt(`Corrupt JPEG: ${mcuLayout.length} blocks per MCU (at most 10)`);
  const { data, segments } = entropyData(bytes, end, mcusx * mcusy, restartInterval);
  // every block takes at least 2 bits (a DC code and an end of block): a header claiming more
  // blocks than that is refused before anything is allocated for them
  const blocks = mcusx * mcusy * mcuLayout.length;
  if (blocks * 2 > data.length * 32)
    throw corrupt(`Corrupt JPEG: ${data.length * 4} bytes of scan data cannot hold the ${blocks} blocks of ${width}×${height}`);
  return {
    width,
    height,
    components,
    hmax,
    vmax,
    mcusx,
    mcusy,
    blocksPerMcu: mcuLayout.length,
    mcuLayout,
    quant,
    huffman,
    data,
    restartInterval,
    segments,
  };
}

/**
 * The scan's entropy-coded bytes without stuffing and restart markers, in file order in u32 words
 * (so word i read as little-endian holds bytes 4i…4i+3; streamWord swaps them), split into restart
 * intervals. Runs between 0xFF bytes are copied whole (indexOf is a memchr).
 */
function entropyData(bytes: Uint8Array, start: number, mcus: number, interval: number): { data: Uint32Array; segments: JpegSegment[] } {
  const expected = interval > 0 ? Math.ceil(mcus / interval) : 1;
  const n = bytes.length;
  const data = new Uint32Array(Math.ceil((n - start) / 4) + 2);
  const out = new Uint8Array(data.buffer);
  const segments: JpegSegment[] = [];
  let o = 0;
  let segStart = 0;
  let p = start;
  const close = () => {
    const k = segments.length;
    const mcuStart = interval > 0 ? k * interval : 0;
    segments.push({ startBit: segStart * 8, endBit: o * 8, mcuStart, mcuCount: interval > 0 ? Math.min(interval, mcus - mcuStart) : mcus });
    segStart = o;
  };
  for (;;) {
    const ff = bytes.indexOf(0xff, p);
    const q = ff < 0 ? n : ff;
    out.set(bytes.subarray(p, q), o);
    o += q - p;
    p = q + 1;
    if (ff < 0 || p >= n) throw corrupt('Truncated JPEG: the file ends inside the scan data');
    while (p < n && bytes[p] === 0xff) p++;
    if (p >= n) throw corrupt('Truncated JPEG: the file ends inside the scan data');
    const m = bytes[p++]!;
    if (m === 0) {
      out[o++] = 0xff;
    } else if (m >= 0xd0 && m <= 0xd7) {
      if (interval === 0) throw corrupt('Corrupt JPEG: a restart marker in a scan without a restart interval');
      if (m - 0xd0 !== segments.length % 8) throw corrupt(`Corrupt JPEG: restart marker RST${m - 0xd0} out of sequence`);
      close();
      if (segments.length >= expected) throw corrupt('Corrupt JPEG: more restart intervals than MCUs');
    } else if (m === 0xd9) {
      close();
      if (segments.length !== expected) throw corrupt(`Corrupt JPEG: ${segments.length} restart intervals where the image needs ${expected}`);
      break;
    } else if (m === 0xda || (m >= 0xc0 && m <= 0xcf && m !== 0xc8) || m === 0xdb || m === 0xdd) {
      throw unsupported('JPEG with several scans is not supported (one baseline scan only)');
    } else {
      throw corrupt(`Corrupt JPEG: marker 0xFF${m.toString(16).toUpperCase()} inside the scan data`);
    }
  }
  // two zero words after the data: a reader may look 64 bits past its position
  return { data: data.subarray(0, Math.ceil(o / 4) + 2), segments };
}

/** Word i of the stream big-endian (bit 0 of the stream is bit 31 of word 0): the bytes of data[i] swapped. */
export function streamWord(data: Uint32Array, i: number): number {
  const w = data[i]!;
  return ((w << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)) >>> 0;
}
