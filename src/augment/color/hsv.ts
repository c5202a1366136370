/**
 * HueSaturationValue, ColorJitter and ToGray (Albumentations' names and defaults), colour steps of
 * the image only, fused with their colour neighbours into one pass (../pointwise.ts). HSV is
 * OpenCV's float conversion with the hue in degrees (src/ops/color/chain.ts).
 *  - HueSaturationValue: shifts drawn uniformly from the limits in Albumentations' u8 units (hue
 *    in OpenCV's half degrees, saturation and value out of 255), whatever the dtype: hue + 2·h°,
 *    saturation + s / 255, value + v / 255 of the full scale. Albumentations quantises HSV to u8
 *    for u8 images; this float path can differ from it by a grey level.
 *  - ColorJitter (torchvision's factors): brightness (y = b·x), contrast (toward the grey mean),
 *    saturation (toward the pixel's grey) and hue (+ h turns), in an order drawn per sample.
 *    Contrast's mean is the image's grey mean before the jitter carried through its brightness
 *    (see colorChain's contrast step).
 *  - ToGray: every channel the pixel's grey (0.299 R + 0.587 G + 0.114 B); grey images unchanged.
 */
import { z } from 'zod';
import { uniform } from '../geometric/common.js';
import { applyStages } from '../pointwise.js';
import { defineTransform, probability, range } from '../registry.js';
import type { ColorStage, PointwiseTransform } from '../transform.js';
import { limit, rangeOf } from './common.js';

/** One sample's draw of HueSaturationValue, in Albumentations' u8 units. */
export type HsvParams = { hue: number; saturation: number; value: number };

function hsvStage(p: HsvParams | null): readonly ColorStage[] {
  return p === null ? [] : [{ kind: 'hsv', hue: 2 * p.hue, saturation: p.saturation / 255, value: p.value / 255 }];
}

/**
 * Shifts hue, saturation and value of each drawn sample (RGB or grey: value only), with probability p (default 0.5).
 * @example HueSaturationValue({ p: 0.5, hueShiftLimit: 20, satShiftLimit: 30, valShiftLimit: 20 })
 */
export const HueSaturationValue = defineTransform(
  'HueSaturationValue',
  z.strictObject({ p: probability(0.5), hueShiftLimit: limit(180, 20), satShiftLimit: limit(255, 30), valShiftLimit: limit(255, 20) }),
  (a): Omit<PointwiseTransform<HsvParams>, 'name' | 'args'> => ({
    kind: 'pointwise',
    p: a.p,
    params: z.strictObject({ hue: z.number().min(-180).max(180), saturation: z.number().min(-255).max(255), value: z.number().min(-255).max(255) }),
    sample: (rng) => ({
      hue: uniform(rng, rangeOf(a.hueShiftLimit)),
      saturation: uniform(rng, rangeOf(a.satShiftLimit)),
      value: uniform(rng, rangeOf(a.valShiftLimit)),
    }),
    stage: hsvStage,
    apply: (image, ps) => applyStages(image, ps, hsvStage),
  }),
);

/** A jitter factor: f (the range [max(0, 1 − f), 1 + f]) or a [lo, hi] range of factors. */
const factor = (fallback: number) => z.union([z.number().min(0).max(1000), range(0, 1000)]).default(fallback);

function factorRange(v: number | readonly [number, number]): readonly [number, number] {
  return typeof v === 'number' ? [Math.max(0, 1 - v), 1 + v] : v;
}

/** One sample's draw of ColorJitter: its factors, the hue shift in turns, and the order of the four (0 brightness, 1 contrast, 2 saturation, 3 hue). */
export type ColorJitterParams = { brightness: number; contrast: number; saturation: number; hue: number; order: number[] };

function jitterStage(p: ColorJitterParams | null): readonly ColorStage[] {
  if (p === null) return [];
  const steps: readonly ColorStage[] = [
    { kind: 'affine', alpha: p.brightness, beta: 0 },
    { kind: 'contrast', factor: p.contrast },
    { kind: 'saturation', factor: p.saturation },
    { kind: 'hsv', hue: 360 * p.hue },
  ];
  return p.order.map((k) => steps[k]!);
}

/**
 * Jitters brightness, contrast, saturation and hue of each drawn sample in a random order, with
 * probability p (default 0.5). Factors f give [max(0, 1 − f), 1 + f]; hue h gives [−h, h] turns (h ≤ 0.5).
 * @example ColorJitter({ p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 })
 */
export const ColorJitter = defineTransform(
  'ColorJitter',
  z.strictObject({ p: probability(0.5), brightness: factor(0.2), contrast: factor(0.2), saturation: factor(0.2), hue: limit(0.5, 0.2) }),
  (a): Omit<PointwiseTransform<ColorJitterParams>, 'name' | 'args'> => ({
    kind: 'pointwise',
    p: a.p,
    params: z.strictObject({
      brightness: z.number().min(0).max(1000),
      contrast: z.number().min(0).max(1000),
      saturation: z.number().min(0).max(1000),
      hue: z.number().min(-0.5).max(0.5),
      order: z
        .array(z.number().int().min(0).max(3))
        .length(4)
        .refine((o) => new Set(o).size === 4, { message: 'a permutation of 0, 1, 2, 3' }),
    }),
    sample: (rng) => {
      const brightness = uniform(rng, factorRange(a.brightness));
      const contrast = uniform(rng, factorRange(a.contrast));
      const saturation = uniform(rng, factorRange(a.saturation));
      const hue = uniform(rng, rangeOf(a.hue));
      const order = [0, 1, 2, 3];
      for (let i = 3; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      return { brightness, contrast, saturation, hue, order };
    },
    stage: jitterStage,
    apply: (image, ps) => applyStages(image, ps, jitterStage),
  }),
);

const grayStage = (p: true | null): readonly ColorStage[] => (p === null ? [] : [{ kind: 'gray' }]);

/**
 * Turns each drawn sample grey, keeping its channels, with probability p (default 0.5).
 * @example ToGray({ p: 0.1 })
 */
export const ToGray = defineTransform(
  'ToGray',
  z.strictObject({ p: probability(0.5) }),
  (a): Omit<PointwiseTransform<true>, 'name' | 'args'> => ({
    kind: 'pointwise',
    p: a.p,
    params: z.literal(true),
    sample: () => true,
    stage: grayStage,
    apply: (image, ps) => applyStages(image, ps, grayStage),
  }),
);
