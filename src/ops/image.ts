/** Shape and dtype checks shared by image ops (kornia's KORNIA_CHECK_SHAPE, one sentence each). */
import { sharedDevice } from '../gpu/device.js';
import { DTYPES, type DType } from '../dtype.js';
import { KensaError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { oneOf } from '../validate.js';

export interface ImageDims {
  n: number;
  c: number;
  h: number;
  w: number;
}

/** Checks an N×C×H×W image batch; `channels` restricts C. */
export function checkImage(name: string, t: Tensor, channels?: readonly number[]): ImageDims {
  if (t.shape.length !== 4) {
    throw new KensaError('KENSA_ERR_SHAPE', `Expected ${name} of shape [N, C, H, W] but received [${t.shape.join(', ')}]`);
  }
  const [n, c, h, w] = t.shape as [number, number, number, number];
  if (channels && !channels.includes(c)) {
    throw new KensaError('KENSA_ERR_SHAPE', `Expected ${name} with ${channels.join(' or ')} channel${channels.length > 1 || channels[0] !== 1 ? 's' : ''} but received ${c} (shape [${t.shape.join(', ')}])`);
  }
  return { n, c, h, w };
}

export function checkDType(name: string, t: Tensor, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new KensaError('KENSA_ERR_DTYPE', `Expected ${name} of dtype ${allowed.join(', ')} but received ${t.dtype}`);
  }
}

/** An output dtype option; defaults to the input's dtype, as OpenCV's ddepth = -1. */
export function outDType(v: unknown, fallback: DType): DType {
  return v === undefined ? fallback : oneOf('dtype', v, DTYPES);
}

/** Checks that tensors agree on device (and GPU) and batch shape. */
export function checkSameDevice(tensors: readonly Tensor[]): void {
  sharedDevice(tensors);
}

export function checkSameShape(nameA: string, a: Tensor, nameB: string, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new KensaError('KENSA_ERR_SHAPE', `Expected ${nameB} of the shape of ${nameA} [${a.shape.join(', ')}] but received [${b.shape.join(', ')}]`);
  }
}
