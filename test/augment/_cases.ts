/**
 * Shared cases of the augmentation tests: an example of every registered transform (the
 * conformance test fails for a registered transform without one), and a small batch with a mask,
 * boxes and keypoints around a drawn object.
 */
import * as A from '../../src/augment/index.js';
import type { AugmentBatch, Box, Transform } from '../../src/augment/index.js';
import type { DType } from '../../src/dtype.js';
import { Tensor } from '../../src/tensor.js';
import { naturalImage } from '../_kit/images.js';

export interface Example {
  /** The transform with chance p (ignored by transforms that set the size: their p is 1 only). */
  readonly make: (p: number) => Transform;
  /** Whether it sets the output size (p 1 only; p 0 is tested through an enclosing Compose). */
  readonly setsSize?: boolean;
  /** Whether it moves pixels (a box test applies). */
  readonly geometric?: boolean;
  /**
   * Extra distance (px) by which an object pixel's centre may lie outside its box: OpenCV's nearest
   * resize picks the source pixel under a destination pixel's left/top edge, not its centre.
   */
  readonly boxSlack?: number;
  /** Whether its draw is the same whatever the seed (nothing random but p). */
  readonly deterministic?: boolean;
  /** The image dtypes it takes; default u8, u16 and f32. */
  readonly dtypes?: readonly DType[];
}

/** Examples with arguments that change a 24×24 sample whenever they are drawn. */
export const EXAMPLES: Readonly<Record<string, Example>> = {
  HorizontalFlip: { make: (p) => A.HorizontalFlip({ p }), geometric: true },
  VerticalFlip: { make: (p) => A.VerticalFlip({ p }), geometric: true },
  RandomRotate90: { make: (p) => A.RandomRotate90({ p }), geometric: true },
  Transpose: { make: (p) => A.Transpose({ p }), geometric: true },
  Affine: { make: (p) => A.Affine({ p, rotate: [-30, 30], scale: [0.8, 1.2], shear: [-5, 5], translate: [-0.1, 0.1] }), geometric: true },
  ShiftScaleRotate: { make: (p) => A.ShiftScaleRotate({ p }), geometric: true },
  Perspective: { make: (p) => A.Perspective({ p, scale: [0.05, 0.15] }), geometric: true },
  RandomCrop: { make: () => A.RandomCrop({ width: 17, height: 15 }), setsSize: true, geometric: true },
  CenterCrop: { make: () => A.CenterCrop({ width: 16, height: 18 }), setsSize: true, deterministic: true, geometric: true },
  RandomResizedCrop: { make: () => A.RandomResizedCrop({ width: 20, height: 16 }), setsSize: true, geometric: true, boxSlack: 0.5 },
  Resize: { make: () => A.Resize({ width: 30, height: 14 }), setsSize: true, deterministic: true, geometric: true, boxSlack: 0.5 },
  PadIfNeeded: {
    make: () => A.PadIfNeeded({ minWidth: 29, minHeight: 27, border: 'constant', fill: 7, maskFill: 9 }),
    setsSize: true,
    deterministic: true,
    geometric: true,
  },
};

/** The example of a registered name, or a failure naming it. */
export function example(name: string): Example {
  const e = EXAMPLES[name];
  if (e === undefined) throw new Error(`no example for the registered transform ${name}: add one to test/augment/_cases.ts`);
  return e;
}

/** The object of sample n: a filled rectangle of label 1 (its box), different per sample. */
export function objectBox(n: number): Box {
  return { x0: 4 + n, y0: 6 + ((2 * n) % 5), x1: 12 + n, y1: 15 + ((2 * n) % 5), label: 1 };
}

/**
 * A batch of `n` samples 24×24 (3 channels of `dtype`), a u8 mask with each sample's object
 * (label 1), its box, and keypoints at the object's corner pixel centres.
 */
export function batchOf(n: number, dtype: DType = 'u8', size = 24): AugmentBatch {
  const image = naturalImage([n, 3, size, size], dtype, 5);
  const m = new Uint8Array(n * size * size);
  for (let s = 0; s < n; s++) {
    const b = objectBox(s);
    for (let y = b.y0; y < b.y1; y++) for (let x = b.x0; x < b.x1; x++) m[(s * size + y) * size + x] = 1;
  }
  return {
    image,
    mask: Tensor.fromArray(m, [n, 1, size, size], 'u8'),
    boxes: Array.from({ length: n }, (_, s) => [objectBox(s)]),
    keypoints: Array.from({ length: n }, (_, s) => [
      { x: objectBox(s).x0 + 0.5, y: objectBox(s).y0 + 0.5, label: 'corner' },
      { x: objectBox(s).x1 - 0.5, y: objectBox(s).y1 - 0.5 },
    ]),
  };
}

/** Sample n of a tensor as its own contiguous batch of one. */
export function sampleOf(t: Tensor, n: number): Tensor {
  return t.slice([[n, n + 1]]).contiguous();
}
