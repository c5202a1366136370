/** Arguments shared by the geometric transforms. */
import { z } from 'zod';
import { KensaError } from '../../errors.js';
import { BORDER_MODES } from '../../kernels/border.js';
import type { ResampleSpec, SampleContext } from '../transform.js';

/** The p of a transform that sets the output size: 1 only, so every sample of a batch gets one size. */
export const SIZE_SETTING_P = z.literal(1).default(1);

/** An output side in pixels. */
export const side = z.number().int().min(1).max(65535);

/** The resampling arguments of transforms that interpolate: image interpolation, border, fills. */
export const resampleArgs = {
  interpolation: z.enum(['nearest', 'bilinear']).default('bilinear'),
  border: z.enum(BORDER_MODES).default('constant'),
  fill: z.number().default(0),
  maskFill: z.number().default(0),
};

/** The ResampleSpec of validated resampling arguments. */
export function resampleOf(a: { interpolation: 'nearest' | 'bilinear'; border: (typeof BORDER_MODES)[number]; fill: number; maskFill: number }): ResampleSpec {
  return { interpolation: a.interpolation, border: a.border, fill: a.fill, maskFill: a.maskFill };
}

/** KENSA_ERR_AUGMENT for a sample smaller than a transform needs. */
export function tooSmall(name: string, width: number, height: number, ctx: SampleContext): KensaError {
  return new KensaError(
    'KENSA_ERR_AUGMENT',
    `Expected images of at least ${width}×${height} for ${name} but received ${ctx.width}×${ctx.height} (PadIfNeeded before it brings them to size)`,
  );
}

/** A uniform number in [lo, hi]. */
export function uniform(rng: () => number, [lo, hi]: readonly [number, number]): number {
  return lo + (hi - lo) * rng();
}
