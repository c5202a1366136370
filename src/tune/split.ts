/**
 * The held-out split, fixed by the file names alone: the images are ranked by the first 32 bits of
 * sha256(name), and the lowest-ranked are held out: those whose hash, as a fraction of 2³², falls
 * below the held-out share, but at least one, and never so many that fewer than three (or, with
 * fewer than four images, one) are left to tune on. On sets large enough for the bounds not to
 * bite, adding or removing other images never moves an image between the sides; no seed can leak
 * the held-out set into tuning.
 */
import { createHash } from 'node:crypto';
import { KensaError } from '../errors.js';

/** The fewest tuning images the split leaves when there are enough images. */
const MIN_TUNING = 3;

/** sha256(name)'s first 32 bits as a fraction in [0, 1). */
export function nameFraction(name: string): number {
  return createHash('sha256').update(name).digest().readUInt32BE(0) / 2 ** 32;
}

/** The items ranked by sha256(name), the names breaking ties, each with its fraction. */
function byNameHash<T extends { name: string }>(items: readonly T[]): { it: T; f: number }[] {
  return items.map((it) => ({ it, f: nameFraction(it.name) })).sort((a, b) => a.f - b.f || (a.it.name < b.it.name ? -1 : a.it.name > b.it.name ? 1 : 0));
}

/** Splits named items into the tuning side and the held-out side (each non-empty). */
export function holdoutSplit<T extends { name: string }>(items: readonly T[], fraction: number, what: string): { train: T[]; heldOut: T[] } {
  if (items.length < 2) {
    throw new KensaError(
      'KENSA_ERR_TUNE_DATA',
      `A held-out share of ${fraction} leaves 0 of the ${items.length} ${what} to tune on and ${items.length} held out; both sides need an image, so at least 2 ${what} are needed (${MIN_TUNING + 1} or more to tune on ${MIN_TUNING})`,
    );
  }
  const ranked = byNameHash(items);
  const below = ranked.filter((r) => r.f < fraction).length;
  const held = Math.min(Math.max(below, 1), items.length - Math.min(MIN_TUNING, items.length - 1));
  const heldOut = new Set(ranked.slice(0, held).map((r) => r.it));
  // both sides keep the callers' order
  return { train: items.filter((it) => !heldOut.has(it)), heldOut: items.filter((it) => heldOut.has(it)) };
}

/**
 * K folds, fixed by the file names alone as the held-out split is: the images ranked by sha256(name)
 * as there, the image of rank r in fold r mod k, so the folds differ in size by one at most. Each
 * fold keeps the callers' order.
 */
export function foldSplit<T extends { name: string }>(items: readonly T[], k: number, what: string): T[][] {
  if (items.length < k)
    throw new KensaError('KENSA_ERR_TUNE_DATA', `${k}-fold cross-validation needs at least ${k} ${what} (one in each fold) but received ${items.length}`);
  const fold = new Map(byNameHash(items).map((r, rank) => [r.it, rank % k]));
  return Array.from({ length: k }, (_, f) => items.filter((it) => fold.get(it) === f));
}
