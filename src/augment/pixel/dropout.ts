/**
 * CoarseDropout (Albumentations' 2.x arguments): holes filled with `fill` in the image and, where
 * `maskFill` is given, with that label in the mask (src/ops/color/fill-rects.ts). Per drawn sample:
 * a number of holes uniform in numHolesRange; each hole's height and width ⌊f · H⌋ and ⌊f · W⌋
 * (at least 1) for f uniform in holeHeightRange and holeWidthRange, its corner uniform among the
 * positions that keep it inside the image. Boxes and keypoints are unchanged.
 */
import { z } from 'zod';
import { fillRects, type Rect } from '../../ops/color/fill-rects.js';
import { uniform } from '../geometric/common.js';
import { defineTransform, probability, range } from '../registry.js';
import type { ImageTransform } from '../transform.js';

/** One sample's draw: its holes as [x, y, width, height] in pixels. */
export type CoarseDropoutParams = { holes: [number, number, number, number][] };

const count = z.number().int().min(0).max(1000);

/**
 * Fills random rectangles of each drawn sample, with probability p (default 0.5).
 * @example CoarseDropout({ p: 0.5, numHolesRange: [1, 8], holeHeightRange: [0.05, 0.1], holeWidthRange: [0.05, 0.1], fill: 0, maskFill: 0 })
 */
export const CoarseDropout = defineTransform(
  'CoarseDropout',
  z.strictObject({
    p: probability(0.5),
    numHolesRange: z
      .tuple([count, count])
      .refine((r) => r[0] <= r[1], { message: 'a range [lo, hi] with lo ≤ hi' })
      .default([1, 2]),
    holeHeightRange: range(0, 1).default([0.1, 0.2]),
    holeWidthRange: range(0, 1).default([0.1, 0.2]),
    fill: z.number().default(0),
    maskFill: z.number().nullable().default(null),
  }),
  (a): Omit<ImageTransform<CoarseDropoutParams>, 'name' | 'args'> => ({
    kind: 'image',
    p: a.p,
    params: z.strictObject({ holes: z.array(z.tuple([count.max(1 << 24), count.max(1 << 24), count.max(1 << 24), count.max(1 << 24)])) }),
    sample: (rng, ctx) => {
      const n = a.numHolesRange[0] + Math.floor(rng() * (a.numHolesRange[1] - a.numHolesRange[0] + 1));
      const holes: [number, number, number, number][] = [];
      for (let i = 0; i < n; i++) {
        const h = Math.max(1, Math.floor(uniform(rng, a.holeHeightRange) * ctx.height));
        const w = Math.max(1, Math.floor(uniform(rng, a.holeWidthRange) * ctx.width));
        const y = Math.floor(rng() * (ctx.height - h + 1));
        const x = Math.floor(rng() * (ctx.width - w + 1));
        holes.push([x, y, w, h]);
      }
      return { holes };
    },
    apply: (batch, ps) => {
      const rects: Rect[][] = ps.map((p) => p?.holes ?? []);
      return {
        ...batch,
        image: fillRects(batch.image, { rects, value: a.fill }),
        ...(batch.mask !== undefined && a.maskFill !== null && { mask: fillRects(batch.mask, { rects, value: a.maskFill }) }),
      };
    },
  }),
);
