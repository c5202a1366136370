/**
 * GaussNoise (Albumentations' 2.x arguments): additive Gaussian noise, sigma and mean drawn per
 * sample as fractions of the full scale (255 u8, 65535 u16, 1 floats), with a drawn 32-bit seed
 * of the counter-based generator of src/ops/color/noise.ts, so the noise is the same bytes on the
 * GPU and the CPU and on replay. Samples that did not draw it take sigma 0 (unchanged).
 */
import { z } from 'zod';
import { colorFullScale } from '../../ops/color/chain.js';
import { gaussNoise } from '../../ops/color/noise.js';
import { uniform } from '../geometric/common.js';
import { defineTransform, probability, range } from '../registry.js';
import type { ImageTransform } from '../transform.js';

/** One sample's draw: sigma and mean as fractions of the full scale, and the generator's seed. */
export type GaussNoiseParams = { sigma: number; mean: number; seed: number };

/**
 * Adds Gaussian noise to each drawn sample, with probability p (default 0.5).
 * @example GaussNoise({ p: 0.3, stdRange: [0.02, 0.1], perChannel: true })
 */
export const GaussNoise = defineTransform(
  'GaussNoise',
  z.strictObject({
    p: probability(0.5),
    stdRange: range(0, 1).default([0.2, 0.44]),
    meanRange: range(-1, 1).default([0, 0]),
    perChannel: z.boolean().default(true),
  }),
  (a): Omit<ImageTransform<GaussNoiseParams>, 'name' | 'args'> => ({
    kind: 'image',
    p: a.p,
    params: z.strictObject({ sigma: z.number().min(0).max(1), mean: z.number().min(-1).max(1), seed: z.number().int().min(0).max(0xffffffff) }),
    sample: (rng) => ({ sigma: uniform(rng, a.stdRange), mean: uniform(rng, a.meanRange), seed: Math.floor(rng() * 2 ** 32) }),
    apply: (batch, ps) => {
      const m = colorFullScale(batch.image.dtype);
      return {
        ...batch,
        image: gaussNoise(batch.image, {
          sigma: ps.map((p) => (p?.sigma ?? 0) * m),
          mean: ps.map((p) => (p?.mean ?? 0) * m),
          seed: ps.map((p) => p?.seed ?? 0),
          perChannel: a.perChannel,
        }),
      };
    },
  }),
);
