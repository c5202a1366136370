/**
 * kensa's own baseline-JPEG decoder, bit-exact with sharp (libjpeg-turbo's default decode:
 * JDCT_ISLOW, fancy upsampling, jdcolor YCbCr): `decodeJpeg` on the CPU (the reference), and
 * `decodeJpegBatch` on the GPU with the Huffman decoding there too (programs.ts). Files it does not
 * support, or finds corrupt, come back as JpegError (codes KENSA_ERR_JPEG_UNSUPPORTED,
 * KENSA_ERR_DECODE): decode those with sharp (src/pipeline/decode.ts).
 */
import type { Gpu } from '../../gpu/gpu.js';
import { decodeJpegCpu, type JpegChannels, outputChannels } from './cpu.js';
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
}

export interface JpegBatchOptions extends JpegDecodeOptions {
  /** Bits of a subsequence, one GPU thread's share of the Huffman decoding (default 2048; gpu.ts SUBSEQ_BITS). */
  subseqBits?: number;
  /** Time each GPU stage (the result's `stageMs`); the stages then run in compute passes of their own. */
  profile?: boolean;
  /** Decode at this fraction of each side, rounded up (default 1; ½: the same bytes as src/pipeline/decode.ts at scale ½). */
  scale?: 1 | 0.5;
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
  return { data: decodeJpegCpu(p, channels), width: p.width, height: p.height, channels: outputChannels(p, channels) };
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
