/**
 * RandomRotate90: k ∈ {0, 1, 2, 3} counter-clockwise quarter turns (numpy.rot90), drawn uniformly.
 * On non-square images only k ∈ {0, 2} are drawn, so the batch keeps one size. Exact: runs alone
 * as the rot90 op, fuses with any geometric neighbour.
 */
import { z } from 'zod';
import { rot90 } from '../../ops/geometry/rot90.js';
import type { Matrix3, Size } from '../transform.js';
import { IDENTITY } from '../matrix.js';
import { defineTransform, probability } from '../registry.js';
import type { GeometricTransform } from '../transform.js';

/** Quarter turns in pixel-edge coordinates of a W×H source (x' = y, y' = W − x for k = 1). */
export function quarterTurn(k: number, { width: w, height: h }: Size): Matrix3 {
  switch (((k % 4) + 4) % 4) {
    case 1:
      return [0, 1, 0, -1, 0, w, 0, 0, 1];
    case 2:
      return [-1, 0, w, 0, -1, h, 0, 0, 1];
    case 3:
      return [0, -1, h, 1, 0, 0, 0, 0, 1];
    default:
      return IDENTITY;
  }
}

/** Turns every target by k quarter turns with probability p (default 0.5); k uniform in 0..3 (0 or 2 on non-square images). */
export const RandomRotate90 = defineTransform(
  'RandomRotate90',
  z.strictObject({ p: probability(0.5) }),
  (a): Omit<GeometricTransform<number>, 'name' | 'args'> => ({
    kind: 'geometric',
    p: a.p,
    params: z.number().int().min(0).max(3),
    resample: null,
    sample: (rng, ctx) => (ctx.width === ctx.height ? Math.floor(rng() * 4) : 2 * Math.floor(rng() * 2)),
    outputSize: (size, k) => ((k ?? 0) % 2 === 1 ? { width: size.height, height: size.width } : size),
    matrix: (k, size) => quarterTurn(k ?? 0, size),
    warp: (x, ks) => rot90(x, { k: ks.map((k) => k ?? 0) }),
  }),
);
