/** Arguments and draws shared by the colour transforms. */
import { z } from 'zod';
import { range } from '../registry.js';

/**
 * A limit given as one number l (the range [−l, l], Albumentations' shorthand) or a [lo, hi]
 * range, each within [−max, max]; serialization writes it as given.
 */
export function limit(max: number, fallback: number) {
  return z.union([z.number().min(0).max(max), range(-max, max)]).default(fallback);
}

/** The [lo, hi] range of a `limit` argument. */
export function rangeOf(v: number | readonly [number, number]): readonly [number, number] {
  return typeof v === 'number' ? [-v, v] : v;
}
