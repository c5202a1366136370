/**
 * HorizontalFlip and VerticalFlip (Albumentations' names): mirror columns or rows of every target.
 * Exact integer maps: they fuse with any geometric neighbour and run alone as the flip op.
 */
import { z } from 'zod';
import { flip } from '../../ops/geometry/flip.js';
import { IDENTITY } from '../matrix.js';
import { defineTransform, probability } from '../registry.js';
import type { GeometricTransform } from '../transform.js';

const args = z.strictObject({ p: probability(0.5) });
/** A flip's drawn parameter: it happened (samples that did not draw it have null). */
const params = z.literal(true);

/** Mirrors columns (x → W − x) of the image, mask, boxes and keypoints, with probability p (default 0.5). */
export const HorizontalFlip = defineTransform(
  'HorizontalFlip',
  args,
  (a): Omit<GeometricTransform<true>, 'name' | 'args'> => ({
    kind: 'geometric',
    p: a.p,
    params,
    resample: null,
    sample: () => true,
    outputSize: (size) => size,
    matrix: (p, size) => (p === null ? IDENTITY : [-1, 0, size.width, 0, 1, 0, 0, 0, 1]),
    warp: (x, ps) => flip(x, { horizontal: ps.map((p) => p !== null) }),
  }),
);

/** Mirrors rows (y → H − y) of the image, mask, boxes and keypoints, with probability p (default 0.5). */
export const VerticalFlip = defineTransform(
  'VerticalFlip',
  args,
  (a): Omit<GeometricTransform<true>, 'name' | 'args'> => ({
    kind: 'geometric',
    p: a.p,
    params,
    resample: null,
    sample: () => true,
    outputSize: (size) => size,
    matrix: (p, size) => (p === null ? IDENTITY : [1, 0, 0, 0, -1, size.height, 0, 0, 1]),
    warp: (x, ps) => flip(x, { vertical: ps.map((p) => p !== null) }),
  }),
);
