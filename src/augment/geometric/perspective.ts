/**
 * Perspective (Albumentations' Perspective with keep_size): each corner of the source moves inward
 * by a fraction of the size drawn uniform in `scale`, and that quadrilateral is mapped onto the
 * whole output. Runs as warpPerspective; fuses with neighbours of the same constant border.
 */
import { z } from 'zod';
import { IDENTITY, perspectiveFromPoints } from '../matrix.js';
import { defineTransform, probability, range } from '../registry.js';
import type { GeometricTransform } from '../transform.js';
import { resampleArgs, resampleOf, uniform } from './common.js';

/** One sample's draw: the inward offsets of the corners (top-left, top-right, bottom-right, bottom-left), x then y, as fractions of the size. */
export type PerspectiveParams = number[];

/** Moves the corners inward by fractions in `scale` (default [0.05, 0.1]) and stretches the quadrilateral to the image, with probability p (default 0.5). */
export const Perspective = defineTransform(
  'Perspective',
  z.strictObject({ p: probability(0.5), scale: range(0, 0.45).default([0.05, 0.1]), ...resampleArgs }),
  (a): Omit<GeometricTransform<PerspectiveParams>, 'name' | 'args'> => ({
    kind: 'geometric',
    p: a.p,
    params: z.array(z.number().min(0).max(0.45)).length(8),
    resample: resampleOf(a),
    sample: (rng) => Array.from({ length: 8 }, () => uniform(rng, a.scale)),
    outputSize: (size) => size,
    matrix: (q, { width: w, height: h }) => {
      if (q === null) return IDENTITY;
      const quad: [number, number][] = [
        [q[0]! * w, q[1]! * h],
        [w - q[2]! * w, q[3]! * h],
        [w - q[4]! * w, h - q[5]! * h],
        [q[6]! * w, h - q[7]! * h],
      ];
      return perspectiveFromPoints(quad, [
        [0, 0],
        [w, 0],
        [w, h],
        [0, h],
      ]);
    },
  }),
);
