/**
 * A batch of frames of one geometry onto the GPU, for `inspect`'s device stage and the service's
 * engine alike: frames decoded on the CPU are uploaded, each from its own array (no host copy
 * assembles the batch), and JPEGs left for the GPU (`jpegOnDevice`) are decoded there in one set
 * of dispatches (src/ops/jpeg). A JPEG whose scan data the GPU finds corrupt is decoded again by
 * `redecode` (sharp, which also takes what libjpeg only warns about) and uploaded with the
 * frames; where that fails too, the item fails alone.
 */
import type { Backend } from '../backend.js';
import { decodeJpegsGpu } from '../ops/jpeg/gpu.js';
import type { Tensor } from '../tensor.js';
import type { DecodedImage, DeviceJpeg, Frame } from './decode.js';

/** Samples of a batch on the device, with the frame index of each (-1: a sample to ignore). */
export interface DevicePart {
  x: Tensor;
  at: number[];
}

/** An item of a batch that failed alone (its JPEG could be decoded neither on the GPU nor by sharp). */
export interface ItemFailure {
  failed: unknown;
}

/** `frames` (one geometry) on the GPU in parts, and the items that failed alone, by frame index. */
export async function framesOnDevice(
  backend: Backend,
  frames: readonly Frame[],
  redecode: (index: number) => Promise<DecodedImage>,
): Promise<{ parts: DevicePart[]; failures: Map<number, unknown> }> {
  const g = frames[0]!;
  const pixels = new Map<number, DecodedImage>();
  const jpegs: number[] = [];
  for (const [i, f] of frames.entries()) {
    if ('jpeg' in f) jpegs.push(i);
    else pixels.set(i, f);
  }
  const parts: DevicePart[] = [];
  const failures = new Map<number, unknown>();
  // JPEG frames come only with the GPU backend (jpegOnDevice)
  const binding = jpegs.length > 0 ? backend.gpu!.info.limits.maxStorageBufferBindingSize! : 0;
  const { chunks, alone } = coefficientChunks(jpegs, frames, binding);
  // a file whose coefficients alone pass the binding goes to sharp, as one the GPU finds corrupt
  const failed = [...alone];
  try {
    for (const chunk of chunks) {
      const batch = await decodeJpegsGpu(
        backend.gpu!,
        chunk.map((i) => (frames[i] as DeviceJpeg).jpeg),
        { channels: g.channels === 1 ? 'gray' : 'rgb', scale: (frames[chunk[0]!] as DeviceJpeg).scale },
      );
      // one geometry, but below scale 1 files of two sizes (2w and 2w − 1 at ½) come in tensors of their own
      const ats = batch.tensors.map((x) => new Array<number>(x.shape[0]!).fill(-1));
      for (const [k, w] of batch.where.entries()) if (!('error' in w)) ats[w.tensor]![w.index] = chunk[k]!;
      for (const [t, x] of batch.tensors.entries()) {
        if (ats[t]!.some((i) => i >= 0)) parts.push({ x, at: ats[t]! });
        else x.dispose();
      }
      failed.push(...chunk.filter((_, k) => 'error' in batch.where[k]!));
    }
    for (const i of failed) {
      try {
        pixels.set(i, await redecode(i));
      } catch (e) {
        failures.set(i, e);
      }
    }
    if (pixels.size > 0) {
      const at = [...pixels.keys()];
      const shape: [number, number, number, number] = [at.length, g.channels, g.height, g.width];
      parts.push({
        x: await backend.framesToDevice(
          at.map((i) => pixels.get(i)!.data),
          shape,
          g.dtype === 'u16' ? 'u16' : 'u8',
        ),
        at,
      });
    }
  } catch (e) {
    for (const { x } of parts) x.dispose();
    throw e;
  }
  return { parts, failures };
}

/**
 * The JPEG frames in runs whose coefficients (one i32 each: 256 bytes a block, the decoder's
 * largest buffer) fit one storage binding, and those that pass it alone.
 */
function coefficientChunks(jpegs: readonly number[], frames: readonly Frame[], binding: number): { chunks: number[][]; alone: number[] } {
  const chunks: number[][] = [];
  const alone: number[] = [];
  let bytes = binding;
  for (const i of jpegs) {
    const { mcusx, mcusy, blocksPerMcu } = (frames[i] as DeviceJpeg).jpeg;
    const need = mcusx * mcusy * blocksPerMcu * 256;
    if (need > binding) alone.push(i);
    else {
      if (bytes + need > binding) {
        chunks.push([]);
        bytes = 0;
      }
      chunks.at(-1)!.push(i);
      bytes += need;
    }
  }
  return { chunks, alone };
}

/** Each frame's result in frame order, from the parts' results (a failed item's failure in its place). */
export function inFrameOrder<T>(
  count: number,
  parts: readonly { at: readonly number[]; found: readonly T[] }[],
  failures: ReadonlyMap<number, unknown>,
): (T | ItemFailure)[] {
  const out: (T | ItemFailure)[] = Array.from({ length: count }, (_, i) => ({ failed: failures.get(i) }));
  for (const { at, found } of parts) {
    for (const [j, i] of at.entries()) if (i >= 0) out[i] = found[j]!;
  }
  return out;
}
