/**
 * Fusion: consecutive geometric transforms run as one warp. A chain of exact maps (flips, quarter
 * turns, transposes, crops, constant padding) gives the unfused chain's bytes; a chain that
 * resamples (Affine, Perspective, ShiftScaleRotate) equals one warp by the composed matrix bit for
 * bit, and differs from the unfused chain (which interpolates once per transform) on interior
 * pixels by less than the tolerance below. CPU.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Affine,
  augment,
  CenterCrop,
  Compose,
  HorizontalFlip,
  OneOf,
  PadIfNeeded,
  Perspective,
  RandomCrop,
  RandomRotate90,
  Sequential,
  ShiftScaleRotate,
  Transpose,
  VerticalFlip,
  type GeometricTransform,
  type Json,
  type Matrix3,
  type Size,
} from '../../src/augment/index.js';
import { warpBatch } from '../../src/augment/fuse.js';
import { IDENTITY, mapPoint, multiply } from '../../src/augment/matrix.js';
import type { DType } from '../../src/dtype.js';
import { Tensor } from '../../src/tensor.js';
import { naturalImage } from '../_kit/images.js';
import { assertClose } from '../_kit/compare.js';
import { batchOf } from './_cases.js';

const EXACT = { int: 0, atol: 0, rtol: 0 };

describe('geometric fusion', () => {
  test('a chain of exact maps: fused gives the unfused bytes (image and mask), u8 and f32', () => {
    const pipeline = Compose({
      transforms: [
        PadIfNeeded({ minWidth: 30, minHeight: 30, fill: 3, maskFill: 2 }),
        RandomRotate90({ p: 0.5 }),
        HorizontalFlip({ p: 0.5 }),
        VerticalFlip({ p: 0.5 }),
        Transpose({ p: 0.5 }),
        CenterCrop({ width: 26, height: 26 }),
        RandomCrop({ width: 21, height: 19 }),
      ],
    });
    for (const dtype of ['u8', 'f32'] as DType[]) {
      for (const seed of [1, 2, 3]) {
        const b = batchOf(5, dtype);
        const fused = augment(pipeline, b, { seed });
        const chain = augment(pipeline, b, { seed, fuse: false });
        assertClose(fused.batch.image, chain.batch.image, EXACT, `${dtype} seed ${seed} image`);
        assertClose(fused.batch.mask!, chain.batch.mask!, EXACT, `${dtype} seed ${seed} mask`);
      }
    }
  });

  test("a container of exact maps (Albumentations' Flip) fuses with its neighbours: the unfused bytes and boxes", () => {
    const flip = OneOf({
      p: 0.7,
      transforms: [HorizontalFlip({ p: 1 }), VerticalFlip({ p: 1 }), Sequential({ transforms: [HorizontalFlip({ p: 1 }), VerticalFlip({ p: 1 })] })],
    });
    const pipeline = Compose({ transforms: [RandomRotate90({ p: 0.5 }), flip, Transpose({ p: 0.5 }), RandomCrop({ width: 13, height: 11 })] });
    const boxes = Array.from({ length: 6 }, (_, i) => [{ x0: i, y0: 1, x1: i + 5, y1: 9, label: i }]);
    for (const seed of [1, 2, 3, 4]) {
      const b = { ...batchOf(6, 'u8'), boxes };
      const fused = augment(pipeline, b, { seed });
      const chain = augment(pipeline, b, { seed, fuse: false });
      assertClose(fused.batch.image, chain.batch.image, EXACT, `seed ${seed} image`);
      assertClose(fused.batch.mask!, chain.batch.mask!, EXACT, `seed ${seed} mask`);
      assert.deepEqual(fused.batch.boxes, chain.batch.boxes, `seed ${seed} boxes`);
    }
  });

  test('a transform with a non-constant border runs alone: the chain around it gives the unfused bytes', () => {
    const pipeline = Compose({
      transforms: [
        HorizontalFlip({ p: 1 }),
        ShiftScaleRotate({ p: 1, border: 'reflect101' }),
        VerticalFlip({ p: 1 }),
        Affine({ p: 1, border: 'replicate', rotate: [5, 10] }),
      ],
    });
    const b = batchOf(3);
    const fused = augment(pipeline, b, { seed: 4 });
    const chain = augment(pipeline, b, { seed: 4, fuse: false });
    assertClose(fused.batch.image, chain.batch.image, EXACT);
    assertClose(fused.batch.mask!, chain.batch.mask!, EXACT);
  });

  test('a crop ends what a warp reading outside may join: padding or rotating after a crop gives the unfused bytes', () => {
    const b = batchOf(3);
    for (const pipeline of [
      Compose({
        transforms: [
          HorizontalFlip({ p: 1 }),
          RandomCrop({ width: 16, height: 14 }),
          PadIfNeeded({ minWidth: 24, minHeight: 24, fill: 7 }),
          VerticalFlip({ p: 1 }),
        ],
      }),
      Compose({ transforms: [CenterCrop({ width: 18, height: 18 }), Affine({ p: 1, rotate: [20, 30] })] }),
    ]) {
      const fused = augment(pipeline, b, { seed: 2 });
      const chain = augment(pipeline, b, { seed: 2, fuse: false });
      assertClose(fused.batch.image, chain.batch.image, EXACT);
      assertClose(fused.batch.mask!, chain.batch.mask!, EXACT);
    }
  });

  const resampling = [
    Affine({ p: 1, rotate: [-20, 20], scale: [0.9, 1.1] }),
    Perspective({ p: 1, scale: [0.03, 0.08] }),
    ShiftScaleRotate({ p: 1, rotateLimit: 15, shiftLimit: 0.04, scaleLimit: 0.05 }),
  ] as GeometricTransform[];
  const size: Size = { width: 48, height: 48 };

  /** The inverse of a 3×3 matrix (adjugate over determinant). */
  function inverse(m: Matrix3): Matrix3 {
    const [a, b, c, d, e, f, g, h, k] = m;
    const det = a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g);
    return [
      (e * k - f * h) / det,
      (c * h - b * k) / det,
      (b * f - c * e) / det,
      (f * g - d * k) / det,
      (a * k - c * g) / det,
      (c * d - a * f) / det,
      (d * h - e * g) / det,
      (b * g - a * h) / det,
      (a * e - b * d) / det,
    ];
  }

  /** Sample i's matrices of each transform of the chain, from its parameters. */
  function stepMatrices(params: readonly Json[], i: number): Matrix3[] {
    return resampling.map((t, k) => t.matrix((params[i] as Json[])[k]!, size));
  }

  test('a resampling chain fused is one warp by the composed matrix, bit for bit', () => {
    const b = { image: naturalImage([3, 2, 48, 48], 'u8', 3) };
    const r = augment(Compose({ transforms: resampling }), b, { seed: 7 });
    const composed = [0, 1, 2].map((i) => stepMatrices(r.params, i).reduce((m, s) => multiply(s, m), IDENTITY));
    const once = warpBatch(b.image, composed, size, resampling[0]!.resample, 'image');
    assertClose(r.batch.image, once, EXACT);
  });

  test('a resampling chain fused is near the unfused chain on interior pixels (u8): within the local range, ≤ 2 on smooth content; masks agree on 98 %', () => {
    // Interior: the pixel's centre maps back through every step to at least 2 px inside each intermediate image, so no
    // border is read. Fused and chain values are both convex combinations of source pixels near the pixel's source point
    // (within 1 px for the one warp, 3 × 1 px scaled by the steps for the chain, so 4 px here), rounded to integers: their
    // difference is at most the range of the source there. The chain's extra interpolations smooth edges (on
    // naturalImage's bright rectangle and dark line); on smooth shading they differ by at most 2. Masks differ only where
    // nearest picks another neighbour along the object's edge.
    const smooth = Tensor.fromArray(
      Uint8Array.from({ length: 4 * 3 * 48 * 48 }, (_, k) => {
        const x = k % 48;
        const y = Math.floor(k / 48) % 48;
        const n = Math.floor(k / (3 * 48 * 48));
        return Math.round(128 + 60 * Math.sin((x + 5 * n) / 7) * Math.cos(y / 9));
      }),
      [4, 3, 48, 48],
      'u8',
    );
    for (const [what, image] of [
      ['natural', naturalImage([4, 3, 48, 48], 'u8', 5)],
      ['smooth', smooth],
    ] as const) {
      const b = { ...batchOf(4, 'u8', 48), image };
      let worst = 0;
      let count = 0;
      let maskSame = 0;
      for (const seed of [1, 2, 3]) {
        const pipeline = Compose({ transforms: resampling });
        const fused = augment(pipeline, b, { seed });
        const chain = augment(pipeline, b, { seed, fuse: false });
        for (let i = 0; i < 4; i++) {
          const inverses = stepMatrices(fused.params, i).map(inverse);
          for (let y = 0; y < 48; y++) {
            for (let x = 0; x < 48; x++) {
              let p: [number, number] = [x + 0.5, y + 0.5];
              let interior = true;
              for (let s = inverses.length - 1; s >= 0; s--) {
                p = mapPoint(inverses[s]!, p[0], p[1]);
                interior &&= p[0] >= 2 && p[0] <= 46 && p[1] >= 2 && p[1] <= 46;
              }
              if (!interior) continue;
              count++;
              if (fused.batch.mask!.data[(i * 48 + y) * 48 + x] === chain.batch.mask!.data[(i * 48 + y) * 48 + x]) maskSame++;
              for (let c = 0; c < 3; c++) {
                const at = ((i * 3 + c) * 48 + y) * 48 + x;
                const d = Math.abs(fused.batch.image.data[at]! - chain.batch.image.data[at]!);
                worst = Math.max(worst, d);
                let lo = 255;
                let hi = 0;
                for (let yy = Math.max(0, Math.floor(p[1] - 0.5) - 4); yy <= Math.min(47, Math.floor(p[1] - 0.5) + 5); yy++) {
                  for (let xx = Math.max(0, Math.floor(p[0] - 0.5) - 4); xx <= Math.min(47, Math.floor(p[0] - 0.5) + 5); xx++) {
                    const v = image.data[((i * 3 + c) * 48 + yy) * 48 + xx]!;
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                  }
                }
                assert.ok(
                  d <= hi - lo,
                  `${what} seed ${seed} (${x}, ${y}): |${fused.batch.image.data[at]} − ${chain.batch.image.data[at]}| beyond the local range ${hi - lo}`,
                );
              }
            }
          }
        }
      }
      assert.ok(count > 3 * 4 * 48 * 48 * 0.4, `${what}: only ${count} interior pixels`);
      if (what === 'smooth') assert.ok(worst <= 2, `smooth: worst ${worst}`);
      assert.ok(maskSame / count >= 0.98, `${what}: masks agree on ${maskSame / count}`);
    }
  });
});
