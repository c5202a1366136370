/** Argument checks the network ops share: f32 tensors of a given rank, and per-axis (H, W) integer pairs. */
import { KensaError } from '../../errors.js';
import { checkDType } from '../../ops/image.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, is } from '../../validate.js';

/** A per-axis size: one integer for both axes or [height, width]. */
export type Pair = number | readonly [number, number];

export interface Nchw {
  n: number;
  c: number;
  h: number;
  w: number;
}

/** Checks an f32 N×C×H×W tensor. */
export function checkNchw(name: string, t: Tensor): Nchw {
  checkDType(name, t, ['f32']);
  if (t.shape.length !== 4) throw new KensaError('KENSA_ERR_SHAPE', `Expected ${name} of shape [N, C, H, W] but received [${t.shape.join(', ')}]`);
  const [n, c, h, w] = t.shape as [number, number, number, number];
  return { n, c, h, w };
}

/** Checks an f32 tensor of exactly `shape` (`what` names the dimensions, e.g. "[C]"). */
export function checkShapeIs(name: string, t: Tensor, shape: readonly number[], what: string): void {
  checkDType(name, t, ['f32']);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new KensaError('KENSA_ERR_SHAPE', `Expected ${name} of shape ${what} = [${shape.join(', ')}] but received [${t.shape.join(', ')}]`);
  }
}

/** Reads a Pair option as [h, w], each an integer in [lo, hi]; `fallback` when undefined (required without one). */
export function intPair(name: string, v: Pair | undefined, lo: number, hi: number, fallback?: Pair): [number, number] {
  const value = v ?? fallback;
  if (is.integer(value)) {
    integerInRange(name, value, lo, hi);
    return [value as number, value as number];
  }
  if (!Array.isArray(value) || value.length !== 2 || !value.every((d) => is.integer(d) && is.inRange(d, lo, hi))) {
    throw invalidParameter(name, `an integer between ${lo} and ${hi} or two of them as [height, width]`, value);
  }
  return [value[0], value[1]];
}
