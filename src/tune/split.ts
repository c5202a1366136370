/**
 * The held-out split, fixed by the file names alone: an image is held out when the first 32 bits
 * of sha256(name), as a fraction of 2³², fall below the held-out share. Adding or removing other
 * images never moves an image between the sides, and no seed can leak the held-out set into tuning.
 */
import { createHash } from 'node:crypto';
import { KensaError } from '../errors.js';

/** sha256(name)'s first 32 bits as a fraction in [0, 1). */
export function nameFraction(name: string): number {
  return createHash('sha256').update(name).digest().readUInt32BE(0) / 2 ** 32;
}

/** Splits named items into the tuning side and the held-out side (each non-empty). */
export function holdoutSplit<T extends { name: string }>(items: readonly T[], fraction: number, what: string): { train: T[]; heldOut: T[] } {
  const train: T[] = [];
  const heldOut: T[] = [];
  for (const it of items) (nameFraction(it.name) < fraction ? heldOut : train).push(it);
  if (!train.length || !heldOut.length) {
    throw new KensaError(
      'KENSA_ERR_TUNE_DATA',
      `A held-out share of ${fraction} leaves ${train.length} of the ${items.length} ${what} to tune on and ${heldOut.length} held out; both sides need an image (add images or change --holdout)`,
    );
  }
  return { train, heldOut };
}
