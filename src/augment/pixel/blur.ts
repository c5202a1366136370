/**
 * GaussianBlur and MotionBlur (Albumentations' names and defaults): a kernel per drawn sample, the
 * image only; samples that did not draw the blur are copied (drawn.ts).
 *  - GaussianBlur: ksize uniform among the odd sizes in blurLimit, sigma uniform in sigmaLimit
 *    (0: OpenCV's sigma from ksize); blurLimit [0, 0] takes ksize from sigma by OpenCV's rule
 *    (cvRound(sigma · (u8 ? 3 : 4) · 2 + 1) | 1). Border reflect101, as cv2.GaussianBlur.
 *  - MotionBlur: ksize uniform among the odd sizes in blurLimit, angle uniform in angleRange
 *    (degrees), direction uniform in directionRange; the line kernel of src/ops/filters/motion-blur.ts
 *    (Albumentations' create_motion_kernel: the direction lengthens the line, its sign does not matter).
 */
import { z } from 'zod';
import { gaussianKsizeForSigma } from '../../ops/filters/kernels.js';
import { gaussianBlur } from '../../ops/filters/gaussian.js';
import { motionBlur } from '../../ops/filters/motion-blur.js';
import { uniform } from '../geometric/common.js';
import { applyToDrawn } from './drawn.js';
import { defineTransform, probability, range } from '../registry.js';
import type { ImageTransform, Rng } from '../transform.js';

/** An odd kernel size in [3, max], or 0 where allowed. */
const kernelSide = (max: number) =>
  z
    .number()
    .int()
    .min(0)
    .max(max)
    .refine((k) => k === 0 || (k >= 3 && k % 2 === 1), { message: 'an odd integer at least 3 (or 0)' });

/** A [lo, hi] range of odd kernel sizes. */
const kernelRange = (max: number, fallback: readonly [number, number]) =>
  z
    .tuple([kernelSide(max), kernelSide(max)])
    .refine((r) => r[0] <= r[1], { message: 'a range [lo, hi] with lo ≤ hi' })
    .default(fallback as [number, number]);

/** An odd size uniform among those in [lo, hi] (lo 0 counts from 3). */
function oddIn(rng: Rng, [lo, hi]: readonly [number, number]): number {
  const first = Math.max(3, lo % 2 === 1 ? lo : lo + 1);
  const count = Math.floor((hi - first) / 2) + 1;
  return first + 2 * Math.floor(rng() * count);
}

/** One sample's draw of GaussianBlur: the kernel size and sigma (0: from the size). */
export type GaussianBlurParams = { ksize: number; sigma: number };

/**
 * Blurs each drawn sample with a Gaussian of a drawn size and sigma, with probability p (default 0.5).
 * @example GaussianBlur({ p: 0.1, blurLimit: [3, 7] })
 * @example GaussianBlur({ blurLimit: [0, 0], sigmaLimit: [0.5, 2] })   // sizes from sigma
 */
export const GaussianBlur = defineTransform(
  'GaussianBlur',
  z
    .strictObject({ p: probability(0.5), blurLimit: kernelRange(99, [3, 7]), sigmaLimit: range(0, 100).default([0, 0]) })
    .refine((a) => a.blurLimit[1] > 0 || a.sigmaLimit[0] > 0, { message: 'sigmaLimit above 0 when blurLimit is [0, 0]', path: ['sigmaLimit'] }),
  (a): Omit<ImageTransform<GaussianBlurParams>, 'name' | 'args'> => ({
    kind: 'image',
    p: a.p,
    params: z.strictObject({ ksize: z.number().int().min(1).max(255), sigma: z.number().min(0).max(100) }),
    sample: (rng, ctx) => {
      const sigma = uniform(rng, a.sigmaLimit);
      const ksize = a.blurLimit[1] === 0 ? gaussianKsizeForSigma(sigma, ctx.dtype === 'u8') : oddIn(rng, a.blurLimit);
      return { ksize, sigma };
    },
    apply: (batch, ps) => ({
      ...batch,
      // [k, k] pairs: a list of two sizes would read as one [width, height]
      image: applyToDrawn(batch.image, ps, { ksize: 1, sigma: 0 }, (x, drawn) =>
        gaussianBlur(x, { ksize: drawn.map((p) => [p.ksize, p.ksize] as const), sigma: drawn.map((p) => p.sigma) }),
      ),
    }),
  }),
);

/** One sample's draw of MotionBlur: the kernel size, the line's angle in degrees and its direction. */
export type MotionBlurParams = { ksize: number; angle: number; direction: number };

/**
 * Blurs each drawn sample along a line of a drawn length, angle and direction, with probability p (default 0.5).
 * @example MotionBlur({ p: 0.3, blurLimit: [3, 9], angleRange: [0, 360], directionRange: [-1, 1] })
 */
export const MotionBlur = defineTransform(
  'MotionBlur',
  z.strictObject({
    p: probability(0.5),
    blurLimit: kernelRange(255, [3, 7]).refine((r) => r[0] >= 3, { message: 'a range of odd sizes at least 3' }),
    angleRange: range(-360, 360).default([0, 360]),
    directionRange: range(-1, 1).default([-1, 1]),
  }),
  (a): Omit<ImageTransform<MotionBlurParams>, 'name' | 'args'> => ({
    kind: 'image',
    p: a.p,
    params: z.strictObject({ ksize: z.number().int().min(1).max(255), angle: z.number().min(-360).max(360), direction: z.number().min(-1).max(1) }),
    sample: (rng) => ({ ksize: oddIn(rng, a.blurLimit), angle: uniform(rng, a.angleRange), direction: uniform(rng, a.directionRange) }),
    apply: (batch, ps) => ({
      ...batch,
      image: applyToDrawn(batch.image, ps, { ksize: 1, angle: 0, direction: 0 }, (x, drawn) =>
        motionBlur(x, { ksize: drawn.map((p) => p.ksize), angle: drawn.map((p) => p.angle), direction: drawn.map((p) => p.direction) }),
      ),
    }),
  }),
);
