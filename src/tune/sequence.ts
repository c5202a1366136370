/**
 * Quasi-random points for the search: the Halton sequence (radical inverses in the first primes)
 * with each dimension's digits permuted by a seeded random permutation (random digit scrambling).
 * Plain Halton's higher dimensions run in lockstep for the first points (i/31, i/37: the first 30
 * candidates would grow two parameters together); scrambling breaks that, and a seed picks one
 * of many equally even point sets.
 */
import { mulberry32 } from '../rng.js';

const PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71];

export const MAX_DIMENSIONS = PRIMES.length;

/** A seeded permutation of 0 … base−1 keeping 0 in place (the trailing zero digits stay zero). */
function permutation(base: number, rng: () => number): number[] {
  const p = Array.from({ length: base }, (_, i) => i);
  for (let i = base - 1; i > 1; i--) {
    const j = 1 + Math.floor(rng() * i);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** The scrambled radical inverse of i: its digits in `base`, each permuted, mirrored after the point. */
function radicalInverse(i: number, base: number, perm: readonly number[]): number {
  let f = 1;
  let r = 0;
  for (let n = i; n > 0; n = Math.floor(n / base)) {
    f /= base;
    r += f * perm[n % base]!;
  }
  return r;
}

/** Point `index` (≥ 0) of the seeded sequence in `dims` dimensions (at most MAX_DIMENSIONS), each coordinate in [0, 1). */
export function haltonPoint(index: number, dims: number, seed: number): number[] {
  const rng = mulberry32(seed ^ 0x5bd1e995);
  const out: number[] = [];
  for (let d = 0; d < dims; d++) out.push(radicalInverse(index + 1, PRIMES[d]!, permutation(PRIMES[d]!, rng)));
  return out;
}
