/** The piscina worker of DetectionPool: one task = one batch's post stages, or its whole recipe. */
import { threadId } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { Tensor } from '../tensor.js';
import { detect, detectorFor, transferables, type ImageDetection } from './detector.js';
import type { WorkerResult, WorkerTask } from './workers.js';

async function judge(task: WorkerTask): Promise<ImageDetection[]> {
  if (task.stage === 'post') {
    const detector = detectorFor(task.recipe);
    return task.payloads.map((p) => detector.post(p, task.recipe));
  }
  const batch = Tensor.fromArray(task.frames, task.shape, task.frames instanceof Uint16Array ? 'u16' : 'u8');
  return detect(batch, task.recipe, task.wantMasks);
}

export default async function run(task: WorkerTask): Promise<ReturnType<typeof move>> {
  const result: WorkerResult = { detections: await judge(task), thread: threadId };
  // piscina clones a returned value unless it is wrapped: the masks go back by transfer
  return move({ [transferableSymbol]: transferables(result.detections), [valueSymbol]: result });
}
