/**
 * RandomBrightnessContrast and RandomGamma (Albumentations' names and defaults), colour steps of
 * the image only, fused with their colour neighbours into one pass (../pointwise.ts).
 *  - RandomBrightnessContrast: y = α·x + β·M, α = 1 + c and β = b drawn uniformly from
 *    contrastLimit and brightnessLimit, M the dtype's full scale (255 u8, 65535 u16, 1 floats):
 *    Albumentations' brightness_by_max = True (its other mode, β times the image mean, is not offered).
 *  - RandomGamma: y = M·(x / M)^γ, γ = g / 100 with g uniform in gammaLimit.
 * Results are clamped to [0, M]; integer images round half to even.
 */
import { z } from 'zod';
import { colorFullScale } from '../../ops/color/chain.js';
import { uniform } from '../geometric/common.js';
import { applyStages } from '../pointwise.js';
import { defineTransform, probability, range } from '../registry.js';
import type { ColorStage, PointwiseTransform, SampleContext } from '../transform.js';
import { limit, rangeOf } from './common.js';

/** One sample's draw of RandomBrightnessContrast: the gain α and the offset β as a fraction of the full scale. */
export type BrightnessContrastParams = { alpha: number; beta: number };

const bcParams = z.strictObject({ alpha: z.number().min(0).max(1000), beta: z.number().min(-1000).max(1000) });

/** The stage of one sample's brightness and contrast. */
function bcStage(p: BrightnessContrastParams | null, ctx: SampleContext): readonly ColorStage[] {
  return p === null ? [] : [{ kind: 'affine', alpha: p.alpha, beta: p.beta * colorFullScale(ctx.dtype) }];
}

/**
 * Scales and shifts each drawn sample: α = 1 + uniform(contrastLimit), β = uniform(brightnessLimit)
 * of the full scale, with probability p (default 0.5). A limit l is the range [−l, l].
 * @example RandomBrightnessContrast({ p: 0.2, brightnessLimit: 0.2, contrastLimit: [-0.1, 0.3] })
 */
export const RandomBrightnessContrast = defineTransform(
  'RandomBrightnessContrast',
  z.strictObject({ p: probability(0.5), brightnessLimit: limit(1, 0.2), contrastLimit: limit(1, 0.2) }),
  (a): Omit<PointwiseTransform<BrightnessContrastParams>, 'name' | 'args'> => ({
    kind: 'pointwise',
    p: a.p,
    params: bcParams,
    sample: (rng) => ({ alpha: 1 + uniform(rng, rangeOf(a.contrastLimit)), beta: uniform(rng, rangeOf(a.brightnessLimit)) }),
    stage: bcStage,
    apply: (image, ps) => applyStages(image, ps, bcStage),
  }),
);

/** One sample's draw of RandomGamma: the exponent. */
export type GammaParams = { gamma: number };

function gammaStage(p: GammaParams | null): readonly ColorStage[] {
  return p === null ? [] : [{ kind: 'gamma', gamma: p.gamma }];
}

/**
 * Gamma-corrects each drawn sample with γ = uniform(gammaLimit) / 100, with probability p (default 0.5).
 * @example RandomGamma({ p: 0.5, gammaLimit: [80, 120] })
 */
export const RandomGamma = defineTransform(
  'RandomGamma',
  z.strictObject({ p: probability(0.5), gammaLimit: range(1, 10000).default([80, 120]) }),
  (a): Omit<PointwiseTransform<GammaParams>, 'name' | 'args'> => ({
    kind: 'pointwise',
    p: a.p,
    params: z.strictObject({ gamma: z.number().positive().max(100) }),
    sample: (rng) => ({ gamma: uniform(rng, a.gammaLimit) / 100 }),
    stage: gammaStage,
    apply: (image, ps) => applyStages(image, ps, gammaStage),
  }),
);
