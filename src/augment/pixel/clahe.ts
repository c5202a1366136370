/**
 * CLAHE (Albumentations' name and defaults): OpenCV's contrast-limited adaptive histogram
 * equalisation of u8 images (src/ops/color/clahe.ts), the clip limit drawn per sample. Each channel
 * is equalised on its own: Albumentations equalises an RGB image's LAB lightness instead, which
 * keeps the hues; grey images are the same in both.
 */
import { z } from 'zod';
import { clahe } from '../../ops/color/clahe.js';
import { uniform } from '../geometric/common.js';
import { defineTransform, probability, range } from '../registry.js';
import type { ImageTransform } from '../transform.js';

/** One sample's draw: the clip limit. */
export type ClaheParams = { clipLimit: number };

/**
 * Equalises each drawn sample by tiles with a clip limit uniform in clipLimit, with probability p (default 0.5). u8 images only.
 * @example CLAHE({ p: 0.5, clipLimit: [1, 4], tileGrid: [8, 8] })
 */
export const CLAHE = defineTransform(
  'CLAHE',
  z.strictObject({
    p: probability(0.5),
    clipLimit: range(0, 1000).default([1, 4]),
    tileGrid: z.tuple([z.number().int().min(1).max(64), z.number().int().min(1).max(64)]).default([8, 8]),
  }),
  (a): Omit<ImageTransform<ClaheParams>, 'name' | 'args'> => ({
    kind: 'image',
    p: a.p,
    params: z.strictObject({ clipLimit: z.number().min(0).max(1000) }),
    sample: (rng) => ({ clipLimit: uniform(rng, a.clipLimit) }),
    apply: (batch, ps) => ({ ...batch, image: clahe(batch.image, { clipLimit: ps.map((p) => p?.clipLimit ?? null), tileGrid: a.tileGrid }) }),
  }),
);
