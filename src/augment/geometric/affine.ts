/**
 * Affine (Albumentations' Affine) and ShiftScaleRotate: rotation, scale, shear and translation
 * about the image centre, drawn per sample; the image resampled with its interpolation, the mask
 * nearest, outside pixels by `border` (constant `fill` / `maskFill`). Runs as warpAffine; fuses
 * with neighbours of the same constant border.
 */
import { z } from 'zod';
import { affineAboutCentre, IDENTITY } from '../matrix.js';
import { defineTransform, probability, range } from '../registry.js';
import type { GeometricTransform } from '../transform.js';
import { resampleArgs, resampleOf, uniform } from './common.js';

/** One sample's draw: degrees, scale, shears in degrees, translation as fractions of the width and height. */
export type AffineParams = { angle: number; scale: number; shearX: number; shearY: number; tx: number; ty: number };

const params = z.strictObject({
  angle: z.number(),
  scale: z.number().positive(),
  shearX: z.number().min(-89).max(89),
  shearY: z.number().min(-89).max(89),
  tx: z.number(),
  ty: z.number(),
});

interface Ranges {
  rotate: readonly [number, number];
  scale: readonly [number, number];
  shear: readonly [number, number];
  translate: readonly [number, number];
}

function affineTransform(p: number, r: Ranges, resample: ReturnType<typeof resampleOf>): Omit<GeometricTransform<AffineParams>, 'name' | 'args'> {
  return {
    kind: 'geometric',
    p,
    params,
    resample,
    sample: (rng) => ({
      angle: uniform(rng, r.rotate),
      scale: uniform(rng, r.scale),
      shearX: uniform(rng, r.shear),
      shearY: uniform(rng, r.shear),
      tx: uniform(rng, r.translate),
      ty: uniform(rng, r.translate),
    }),
    outputSize: (size) => size,
    matrix: (q, size) => (q === null ? IDENTITY : affineAboutCentre(size, q.angle, q.scale, q.shearX, q.shearY, q.tx * size.width, q.ty * size.height)),
  };
}

/**
 * Rotates by `rotate` degrees (counter-clockwise on screen), scales by `scale`, shears by `shear`
 * degrees (x and y drawn apart) and shifts by `translate` (fractions of the size), each uniform in
 * its [lo, hi] range, with probability p (default 0.5).
 * @example Affine({ p: 0.5, rotate: [-15, 15], scale: [0.9, 1.1], border: 'reflect101' })
 */
export const Affine = defineTransform(
  'Affine',
  z.strictObject({
    p: probability(0.5),
    rotate: range(-360, 360).default([0, 0]),
    scale: range(0.01, 100).default([1, 1]),
    shear: range(-80, 80).default([0, 0]),
    translate: range(-1, 1).default([0, 0]),
    ...resampleArgs,
  }),
  (a) => affineTransform(a.p, a, resampleOf(a)),
);

/**
 * Albumentations' ShiftScaleRotate: shift uniform in ±shiftLimit (fractions of the size), scale in
 * 1 ± scaleLimit, rotation in ±rotateLimit degrees, with probability p (default 0.5).
 */
export const ShiftScaleRotate = defineTransform(
  'ShiftScaleRotate',
  z.strictObject({
    p: probability(0.5),
    shiftLimit: z.number().min(0).max(1).default(0.0625),
    scaleLimit: z.number().min(0).max(0.99).default(0.1),
    rotateLimit: z.number().min(0).max(360).default(45),
    ...resampleArgs,
  }),
  (a) =>
    affineTransform(
      a.p,
      { rotate: [-a.rotateLimit, a.rotateLimit], scale: [1 - a.scaleLimit, 1 + a.scaleLimit], shear: [0, 0], translate: [-a.shiftLimit, a.shiftLimit] },
      resampleOf(a),
    ),
);
