/**
 * Normalize (Albumentations' name and defaults): (x / maxPixelValue − mean[c]) / std[c] per
 * channel, into an f32 image (src/ops/color/normalize.ts). It changes the dtype, so it runs on every
 * sample (p 1 only) and usually ends a pipeline: colour transforms after it see f32 values outside [0, 1].
 */
import { z } from 'zod';
import { normalize } from '../../ops/color/normalize.js';
import { SIZE_SETTING_P } from '../geometric/common.js';
import { defineTransform } from '../registry.js';
import type { ImageTransform } from '../transform.js';

const channelValues = (positive: boolean, fallback: number[]) =>
  z
    .array(positive ? z.number().positive() : z.number())
    .min(1)
    .max(64)
    .default(fallback);

/**
 * Normalises every sample's channels into f32 (ImageNet's mean and std by default), p 1 only.
 * @example Normalize({ mean: [0.5], std: [0.5] })   // u8 → [-1, 1]
 */
export const Normalize = defineTransform(
  'Normalize',
  z.strictObject({
    p: SIZE_SETTING_P,
    mean: channelValues(false, [0.485, 0.456, 0.406]),
    std: channelValues(true, [0.229, 0.224, 0.225]),
    maxPixelValue: z.number().positive().default(255),
  }),
  (a): Omit<ImageTransform<true>, 'name' | 'args'> => ({
    kind: 'image',
    p: a.p,
    params: z.literal(true),
    sample: () => true,
    apply: (batch) => ({ ...batch, image: normalize(batch.image, { mean: a.mean, std: a.std, scale: 1 / a.maxPixelValue }) }),
  }),
);
