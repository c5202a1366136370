/** The piscina worker of WorkerPool: one task = one batch's post stages, its whole recipe, one file read, hashed and decoded, or uploaded bytes decoded and hashed. */
import { threadId } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { Tensor } from '../tensor.js';
import { detect, detectorFor, transferables, type ImageDetection } from '../detect/detector.js';
import { decodeBuffer, decodeHashed, decodeRunsJavaScript, parseForDevice, PixelLimitError, readHashedImageFile } from './decode.js';
import { keepTemplateOpen } from './template.js';
import type { DecodeFailure, DecodeResult, ReadResult, WorkerResult, WorkerTask } from './workers.js';

async function judge(task: Exclude<WorkerTask, { stage: 'read and decode' | 'decode' }>): Promise<ImageDetection[]> {
  if (task.stage === 'post') {
    const detector = detectorFor(task.recipe);
    return task.payloads.map((p) => detector.post(p, task.recipe));
  }
  await keepTemplateOpen(task.recipe);
  const batch = Tensor.fromArray(task.frames, task.shape, task.frames instanceof Uint16Array ? 'u16' : 'u8');
  return detect(batch, task.recipe, task.wantMasks);
}

function failure(e: unknown): DecodeFailure {
  return { error: e instanceof Error ? e.message : String(e), pixelLimit: e instanceof PixelLimitError };
}

async function readAndDecode(task: Extract<WorkerTask, { stage: 'read and decode' }>): Promise<ReadResult | DecodeFailure> {
  try {
    const { bytes, hash } = await readHashedImageFile(task.path);
    const jpeg = task.options.jpegOnDevice ? parseForDevice(task.path, bytes, task.options) : null;
    if (jpeg) return { image: jpeg, hash };
    if (!(await decodeRunsJavaScript(task.path, bytes, task.options))) return { bytes, hash };
    return { image: await decodeBuffer(task.path, bytes, task.options), hash };
  } catch (e) {
    return failure(e);
  }
}

async function decode(task: Extract<WorkerTask, { stage: 'decode' }>): Promise<DecodeResult | DecodeFailure> {
  try {
    const { image, hash } = await decodeHashed(task.path, Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength), task.options);
    return { image, bytes: task.bytes, hash };
  } catch (e) {
    return failure(e);
  }
}

export default async function run(task: WorkerTask): Promise<ReturnType<typeof move>> {
  if (task.stage === 'read and decode' || task.stage === 'decode') {
    const r = task.stage === 'read and decode' ? await readAndDecode(task) : await decode(task);
    return move({ [transferableSymbol]: transferables(r), [valueSymbol]: r });
  }
  const result: WorkerResult = { detections: await judge(task), thread: threadId };
  // piscina clones a returned value unless it is wrapped: the masks go back by transfer
  return move({ [transferableSymbol]: transferables(result.detections), [valueSymbol]: result });
}
