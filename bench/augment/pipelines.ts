/** The pipelines of issue 14's benchmarks (bench/augment/augment.bench.ts and host.bench.ts). */
import type { TransformData } from '../../src/augment/serialize.js';

/** Albumentations' Flip: one of horizontal, vertical or both, with probability p. */
const flip = (p: number): TransformData => ({
  name: 'OneOf',
  p,
  transforms: [
    { name: 'HorizontalFlip', p: 1 },
    { name: 'VerticalFlip', p: 1 },
    {
      name: 'Sequential',
      p: 1,
      transforms: [
        { name: 'HorizontalFlip', p: 1 },
        { name: 'VerticalFlip', p: 1 },
      ],
    },
  ],
});

export const COMPOSITE: TransformData = {
  name: 'Compose',
  transforms: [
    { name: 'RandomRotate90', p: 0.5 },
    flip(0.5),
    { name: 'RandomBrightnessContrast', p: 0.2 },
    { name: 'GaussianBlur', p: 0.1, blurLimit: [3, 7] },
  ],
};

/** Six transforms, geometric and colour, for 512² image + mask batches. */
export const SIX: TransformData = {
  name: 'Compose',
  transforms: [
    { name: 'RandomRotate90', p: 0.5 },
    { name: 'HorizontalFlip', p: 0.5 },
    { name: 'ShiftScaleRotate', p: 0.5 },
    { name: 'RandomBrightnessContrast', p: 0.5 },
    { name: 'HueSaturationValue', p: 0.5 },
    { name: 'GaussianBlur', p: 0.3, blurLimit: [3, 7] },
  ],
};
