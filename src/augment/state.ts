/**
 * A batch as the executor carries it through a pipeline: boxes keep their place (a dropped box is
 * marked, removed only when the pipeline ends) so containers can compare a box with itself.
 */
import { KensaError } from '../errors.js';
import { checkImage } from '../ops/image.js';
import { is } from '../validate.js';
import type { AugmentBatch, Box, Keypoint, Size } from './transform.js';

export interface RunState {
  readonly batch: AugmentBatch;
  /** The samples' common size. */
  readonly size: Size;
  /** Per sample, per box: the fraction of the box still visible (1 at the start). */
  readonly visible: readonly (readonly number[])[];
  /** Per sample, per box: dropped by a Compose. */
  readonly droppedBoxes: readonly (readonly boolean[])[];
  /** Per sample, per keypoint: dropped by a Compose. */
  readonly droppedKeypoints: readonly (readonly boolean[])[];
}

function checkTargets<T>(name: string, list: readonly (readonly T[])[] | undefined, n: number): void {
  if (list !== undefined && (!Array.isArray(list) || list.length !== n || !list.every((l) => Array.isArray(l)))) {
    throw new KensaError(
      'KENSA_ERR_INVALID_ARGUMENT',
      `Expected one list of ${name} per sample (${n} lists) for batch.${name} but received ${Array.isArray(list) ? `an array of ${list.length}` : typeof list}`,
    );
  }
}

function badTarget(name: string, expected: string, v: unknown): KensaError {
  return new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected ${expected} for ${name} but received ${JSON.stringify(v)}`);
}

/** The state at the start of a pipeline; checks the batch's targets against its image. */
export function startState(batch: AugmentBatch): RunState {
  const d = checkImage('batch.image', batch.image);
  if (batch.mask !== undefined) {
    const m = checkImage('batch.mask', batch.mask, [1]);
    if (m.n !== d.n || m.h !== d.h || m.w !== d.w) {
      throw new KensaError('KENSA_ERR_SHAPE', `Expected batch.mask of shape [${d.n}, 1, ${d.h}, ${d.w}] but received [${batch.mask.shape.join(', ')}]`);
    }
  }
  checkTargets<Box>('boxes', batch.boxes, d.n);
  checkTargets<Keypoint>('keypoints', batch.keypoints, d.n);
  for (const [i, list] of (batch.boxes ?? []).entries()) {
    for (const [k, b] of list.entries()) {
      if (!(is.number(b?.x0) && is.number(b.y0) && is.number(b.x1) && is.number(b.y1) && b.x0 < b.x1 && b.y0 < b.y1)) {
        throw badTarget(`batch.boxes[${i}][${k}]`, 'a box { x0, y0, x1, y1, label } of finite numbers with x0 < x1 and y0 < y1', b);
      }
    }
  }
  for (const [i, list] of (batch.keypoints ?? []).entries()) {
    for (const [k, p] of list.entries()) {
      if (!(is.number(p?.x) && is.number(p.y))) throw badTarget(`batch.keypoints[${i}][${k}]`, 'a keypoint { x, y } of finite numbers', p);
    }
  }
  const boxes = batch.boxes ?? [];
  return {
    batch,
    size: { width: d.w, height: d.h },
    visible: boxes.map((l) => l.map(() => 1)),
    droppedBoxes: boxes.map((l) => l.map(() => false)),
    droppedKeypoints: (batch.keypoints ?? []).map((l) => l.map(() => false)),
  };
}

/** The batch at the end of a pipeline: dropped boxes and keypoints removed. */
export function finishState(s: RunState): AugmentBatch {
  const b = s.batch;
  return {
    image: b.image,
    ...(b.mask !== undefined && { mask: b.mask }),
    ...(b.boxes !== undefined && { boxes: b.boxes.map((l, i) => l.filter((_, k) => !s.droppedBoxes[i]![k])) }),
    ...(b.keypoints !== undefined && { keypoints: b.keypoints.map((l, i) => l.filter((_, k) => !s.droppedKeypoints[i]![k])) }),
  };
}

/** The state after an image transform returned `batch` (boxes it appended start visible). */
export function withBatch(s: RunState, batch: AugmentBatch): RunState {
  const grow = <T>(old: readonly (readonly T[])[], lists: readonly (readonly unknown[])[] | undefined, fill: T) =>
    (lists ?? []).map((l, i) => [...(old[i] ?? []), ...new Array<T>(l.length - (old[i]?.length ?? 0)).fill(fill)]);
  return {
    batch,
    size: s.size,
    visible: grow(s.visible, batch.boxes, 1),
    droppedBoxes: grow(s.droppedBoxes, batch.boxes, false),
    droppedKeypoints: grow(s.droppedKeypoints, batch.keypoints, false),
  };
}
