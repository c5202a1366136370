/**
 * Transpose: swaps rows and columns (x' = y, y' = x) of every target. Non-square images need p = 1
 * (a batch keeps one size). Exact: alone it runs as the transpose op (or, with some samples not
 * drawn, as a nearest warp); fuses with any geometric neighbour.
 */
import { z } from 'zod';
import { KensaError } from '../../errors.js';
import { transpose } from '../../ops/geometry/transpose.js';
import { warpBatch } from '../fuse.js';
import { IDENTITY } from '../matrix.js';
import { defineTransform, probability } from '../registry.js';
import type { GeometricTransform, Matrix3 } from '../transform.js';

const SWAP: Matrix3 = [0, 1, 0, 1, 0, 0, 0, 0, 1];

/** Transposes every target with probability p (default 0.5). */
export const Transpose = defineTransform(
  'Transpose',
  z.strictObject({ p: probability(0.5) }),
  (a): Omit<GeometricTransform<true>, 'name' | 'args'> => ({
    kind: 'geometric',
    p: a.p,
    params: z.literal(true),
    resample: null,
    sample: (_rng, ctx) => {
      if (ctx.width !== ctx.height && a.p < 1) {
        throw new KensaError('KENSA_ERR_AUGMENT', `Expected p 1 for Transpose of non-square images (${ctx.width}×${ctx.height}) but received ${a.p}`);
      }
      return true;
    },
    outputSize: (size, p) => (p === null ? size : { width: size.height, height: size.width }),
    matrix: (p) => (p === null ? IDENTITY : SWAP),
    warp: (x, ps, target) => {
      if (ps.every((p) => p !== null)) return transpose(x);
      const [, , h, w] = x.shape as [number, number, number, number];
      return warpBatch(
        x,
        ps.map((p) => (p === null ? IDENTITY : SWAP)),
        { width: h, height: w },
        null,
        target,
      );
    },
  }),
);
