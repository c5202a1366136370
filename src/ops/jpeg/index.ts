/**
 * kensa's own baseline-JPEG decoder, bit-exact with sharp (libjpeg-turbo's default decode:
 * JDCT_ISLOW, fancy upsampling, jdcolor YCbCr): `decodeJpeg` on the CPU (the reference), and
 * `decodeJpegBatch` on the GPU with the Huffman decoding there too (programs.ts). Files it does not
 * support, or finds corrupt, come back as JpegError (codes KENSA_ERR_JPEG_UNSUPPORTED,
 * KENSA_ERR_DECODE): decode those with sharp (src/pipeline/decode.ts).
 */
import type { Gpu } from '../../gpu/gpu.js';
import { decodeJpegCpu, type JpegChannels, outputChannels } from './cpu.js';
import { grayOf } from './idct.js';
import { invalidParameter, is } from '../../validate.js';
import { boxShrunk, DECODE_SCALES, type DecodeScale, jpegShrinkPlan, reduceCubic } from './reduce.js';
import { decodeJpegsGpu, type JpegBatch } from './gpu.js';
import { JpegError, parseJpeg, type ParsedJpeg } from './parse.js';

export { JpegError, parseJpeg, type ParsedJpeg } from './parse.js';
export type { JpegChannels } from './cpu.js';
export type { JpegBatch, JpegStageMs } from './gpu.js';

export interface JpegDecodeOptions {
  /** 'auto' (default): the file's own, 1 or 3; 'gray': kensa's gray of RGB for colour files (decode.ts's formula); 'rgb': gray files repeated ×3. */
  channels?: JpegChannels;
  /** Largest width × height accepted (default 0x3FFF², decode.ts's). */
  maxPixels?: number;
  /** Decode files with an embedded ICC profile as if they had none (default false: such files are refused, since sharp transforms them to sRGB). */
  ignoreIcc?: boolean;
  /**
   * Decode at this fraction of each side, rounded up (default 1), with the bytes sharp gives there
   * (src/pipeline/decode.ts): libjpeg's DCT scaling where sharp shrinks on load, then libvips'
   * cubic reduce (reduce.ts). Files a few pixels thin, which libvips box-shrinks first, are refused.
   */
  scale?: DecodeScale;
}

export interface JpegBatchOptions extends JpegDecodeOptions {
  /** Bits of a subsequence, one GPU thread's share of the Huffman decoding (default 2048; gpu.ts SUBSEQ_BITS). */
  subseqBits?: number;
  /** Time each GPU stage (the result's `stageMs`); the stages then run in compute passes of their own. */
  profile?: boolean;
}

export interface DecodedJpeg {
  /** Planar C×H×W u8. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/**
 * Decodes one baseline JPEG on the CPU.
 * @throws JpegError KENSA_ERR_JPEG_UNSUPPORTED or KENSA_ERR_DECODE (decode it with sharp then).
 */
export function decodeJpeg(bytes: Uint8Array, options: JpegDecodeOptions = {}): DecodedJpeg {
  const p = parseJpeg(bytes, options);
  const channels = options.channels ?? 'auto';
  const scale = options.scale ?? 1;
  if (!is.inArray(scale, DECODE_SCALES)) throw invalidParameter('scale', `one of ${DECODE_SCALES.join(', ')}`, scale);
  if (scale === 1) return { data: decodeJpegCpu(p, channels), width: p.width, height: p.height, channels: outputChannels(p, channels) };
  const plan = jpegShrinkPlan(p.width, p.height, scale);
  if (!plan) throw boxShrunk(scale);
  // colour files decode to RGB and become gray after the reduce, as decode.ts does
  const decodeChannels = channels === 'gray' ? 'auto' : channels;
  const c = outputChannels(p, decodeChannels);
  const full = decodeJpegCpu(p, decodeChannels, plan.denom);
  const decoded = cropPlanes(full, c, Math.ceil(p.width / plan.denom), Math.ceil(p.height / plan.denom), plan.decoded);
  const { width, height } = plan.out;
  const reduced = reduceCubic(decoded, c, plan.decoded.height, plan.decoded.width, height, width);
  if (channels !== 'gray' || c === 1) return { data: reduced, width, height, channels: c };
  const n = width * height;
  const gray = new Uint8Array(n);
  for (let i = 0; i < n; i++) gray[i] = grayOf(reduced[i]!, reduced[n + i]!, reduced[2 * n + i]!);
  return { data: gray, width, height, channels: 1 };
}

/** The top-left `to` of each of `c` planes of sw × sh (libvips' crop of libjpeg's partial last column and row). */
function cropPlanes(src: Uint8Array, c: number, sw: number, sh: number, to: { width: number; height: number }): Uint8Array {
  const { width: w, height: h } = to;
  if (w === sw && h === sh) return src;
  const out = new Uint8Array(c * w * h);
  for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) out.set(src.subarray((k * sh + y) * sw, (k * sh + y) * sw + w), (k * h + y) * w);
  return out;
}

/**
 * Decodes a batch of JPEG files on the GPU: parsing here, everything else (Huffman decoding
 * included) in one set of dispatches for the whole batch. Files of equal size and output channels
 * share one N×C×H×W u8 tensor; a file that cannot be parsed or whose scan data is corrupt has its JpegError
 * in `where` instead (the rest of the batch decodes).
 */
export async function decodeJpegBatch(gpu: Gpu, files: readonly Uint8Array[], options: JpegBatchOptions = {}): Promise<JpegBatch> {
  const parsed: ParsedJpeg[] = [];
  const slot: (number | JpegError)[] = files.map((f) => {
    try {
      return parsed.push(parseJpeg(f, options)) - 1;
    } catch (e) {
      if (e instanceof JpegError) return e;
      throw e;
    }
  });
  const batch = await decodeJpegsGpu(gpu, parsed, {
    channels: options.channels ?? 'auto',
    subseqBits: options.subseqBits,
    profile: options.profile,
    scale: options.scale,
  });
  return { ...batch, where: slot.map((s) => (typeof s === 'number' ? batch.where[s]! : { error: s })) };
}
