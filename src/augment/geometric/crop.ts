/**
 * RandomCrop, CenterCrop and RandomResizedCrop. They set the output size, so they take p = 1 only.
 * RandomCrop and CenterCrop are exact integer maps (the crop op alone, any fused group);
 * RandomResizedCrop resamples each sample's box to the output size (resize with per-sample boxes,
 * taps clamped to the box) and runs alone.
 */
import { z } from 'zod';
import { crop } from '../../ops/geometry/crop.js';
import { resize } from '../../ops/geometry/resize.js';
import { IDENTITY, translation } from '../matrix.js';
import { defineTransform, range } from '../registry.js';
import type { GeometricTransform, Matrix3, Rng, SampleContext } from '../transform.js';
import { side, SIZE_SETTING_P, tooSmall } from './common.js';

/** A crop's drawn box: left column, top row, and (RandomResizedCrop) its width and height. */
export type CropParams = { x: number; y: number };
export type BoxParams = { x: number; y: number; width: number; height: number };

const offset = z.number().int().min(0);
const sizeArgs = { p: SIZE_SETTING_P, width: side, height: side };

function cropTransform(
  a: { p: 1; width: number; height: number },
  name: string,
  place: (rng: Rng, ctx: SampleContext) => CropParams,
): Omit<GeometricTransform<CropParams>, 'name' | 'args'> {
  return {
    kind: 'geometric',
    p: a.p,
    params: z.strictObject({ x: offset, y: offset }),
    resample: null,
    sample: (rng, ctx) => {
      if (ctx.width < a.width || ctx.height < a.height) throw tooSmall(name, a.width, a.height, ctx);
      return place(rng, ctx);
    },
    outputSize: (size, q) => (q === null ? size : { width: a.width, height: a.height }),
    matrix: (q) => (q === null ? IDENTITY : translation(-q.x, -q.y)),
    warp: (x, qs) => crop(x, { x: qs.map((q) => q?.x ?? 0), y: qs.map((q) => q?.y ?? 0), width: a.width, height: a.height }),
  };
}

/** Crops a `width`×`height` window at a uniform position of every target. */
export const RandomCrop = defineTransform('RandomCrop', z.strictObject(sizeArgs), (a) =>
  cropTransform(a, 'RandomCrop', (rng, ctx) => ({ x: Math.floor(rng() * (ctx.width - a.width + 1)), y: Math.floor(rng() * (ctx.height - a.height + 1)) })),
);

/** Crops the central `width`×`height` window of every target (the left/top one when the margin is odd). */
export const CenterCrop = defineTransform('CenterCrop', z.strictObject(sizeArgs), (a) =>
  cropTransform(a, 'CenterCrop', (_rng, ctx) => ({ x: Math.floor((ctx.width - a.width) / 2), y: Math.floor((ctx.height - a.height) / 2) })),
);

/**
 * torchvision's RandomResizedCrop sampling: up to 10 tries of an area fraction uniform in `scale`
 * and a log-uniform aspect ratio in `ratio`; else the central crop of the ratio clamped to `ratio`.
 */
function resizedCropBox(rng: Rng, ctx: SampleContext, scale: readonly [number, number], ratio: readonly [number, number]): BoxParams {
  const { width: W, height: H } = ctx;
  const area = W * H;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng());
    const aspect = Math.exp(logRatio[0] + (logRatio[1] - logRatio[0]) * rng());
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= W && h <= H) return { x: Math.floor(rng() * (W - w + 1)), y: Math.floor(rng() * (H - h + 1)), width: w, height: h };
  }
  const inRatio = W / H;
  const w = inRatio < ratio[0] ? W : inRatio > ratio[1] ? Math.round(H * ratio[1]) : W;
  const h = inRatio < ratio[0] ? Math.round(W / ratio[0]) : H;
  return { x: Math.floor((W - w) / 2), y: Math.floor((H - h) / 2), width: w, height: h };
}

function boxMatrix(q: BoxParams, width: number, height: number): Matrix3 {
  const sx = width / q.width;
  const sy = height / q.height;
  return [sx, 0, -q.x * sx, 0, sy, -q.y * sy, 0, 0, 1];
}

/** Crops a random box (area fraction in `scale`, aspect ratio in `ratio`) and resizes it to `width`×`height`. */
export const RandomResizedCrop = defineTransform(
  'RandomResizedCrop',
  z.strictObject({
    ...sizeArgs,
    scale: range(0.0001, 1).default([0.08, 1]),
    ratio: range(0.01, 100).default([3 / 4, 4 / 3]),
    interpolation: z.enum(['nearest', 'bilinear']).default('bilinear'),
  }),
  (a): Omit<GeometricTransform<BoxParams>, 'name' | 'args'> => ({
    kind: 'geometric',
    p: a.p,
    params: z.strictObject({ x: offset, y: offset, width: side, height: side }),
    resample: { interpolation: a.interpolation, border: 'replicate', fill: 0, maskFill: 0 },
    sample: (rng, ctx) => resizedCropBox(rng, ctx, a.scale, a.ratio),
    outputSize: (size, q) => (q === null ? size : { width: a.width, height: a.height }),
    matrix: (q) => (q === null ? IDENTITY : boxMatrix(q, a.width, a.height)),
    warp: (x, qs, target) =>
      resize(x, {
        width: a.width,
        height: a.height,
        interpolation: target === 'mask' ? 'nearest' : a.interpolation,
        boxes: qs.map((q) => (q === null ? [0, 0, x.shape[3]!, x.shape[2]!] : [q.x, q.y, q.width, q.height])),
      }),
  }),
);
