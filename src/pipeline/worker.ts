/** The piscina worker of WorkerPool: one task = one batch's post stages, its whole recipe, or one file read and hashed, or uploaded bytes decoded and hashed. */
import { threadId } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { Tensor } from '../tensor.js';
import { detect, detectorFor, transferables, type ImageDetection } from '../detect/detector.js';
import { decodeHashed, PixelLimitError, readHashedImageFile } from './decode.js';
import { keepTemplateOpen } from './template.js';
import type { DecodeResult, ReadResult, WorkerResult, WorkerTask } from './workers.js';

async function judge(task: Exclude<WorkerTask, { stage: 'read' | 'decode' }>): Promise<ImageDetection[]> {
  if (task.stage === 'post') {
    const detector = detectorFor(task.recipe);
    return task.payloads.map((p) => detector.post(p, task.recipe));
  }
  await keepTemplateOpen(task.recipe);
  const batch = Tensor.fromArray(task.frames, task.shape, task.frames instanceof Uint16Array ? 'u16' : 'u8');
  return detect(batch, task.recipe, task.wantMasks);
}

async function read(path: string): Promise<ReadResult> {
  try {
    const { bytes, hash } = await readHashedImageFile(path);
    return { bytes, hash };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

async function decode(task: Extract<WorkerTask, { stage: 'decode' }>): Promise<DecodeResult> {
  try {
    const { image, hash } = await decodeHashed(task.path, Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength), task.options);
    return { image, bytes: task.bytes, hash };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e), pixelLimit: e instanceof PixelLimitError };
  }
}

export default async function run(task: WorkerTask): Promise<ReturnType<typeof move>> {
  if (task.stage === 'read' || task.stage === 'decode') {
    const r = task.stage === 'read' ? await read(task.path) : await decode(task);
    return move({ [transferableSymbol]: transferables(r), [valueSymbol]: r });
  }
  const result: WorkerResult = { detections: await judge(task), thread: threadId };
  // piscina clones a returned value unless it is wrapped: the masks go back by transfer
  return move({ [transferableSymbol]: transferables(result.detections), [valueSymbol]: result });
}
