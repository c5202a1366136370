/**
 * Synthetic defects as transforms, so a defect model can be trained from good images: Crack,
 * Scratch, Spot, Pit, PerlinStain and CutPaste each draw 1 … n defects per sample (the shapes of
 * src/samples/defects.ts, the generators `kensa samples` uses), darken or brighten the image
 * (every channel alike) and mark their pixels in the mask with `maskValue` (a zero mask is made
 * when the batch has none). Where the batch carries boxes, each drawn defect appends its tight box,
 * labelled `label`. A sample's parameters are its shapes, plain JSON numbers, so a replay draws the
 * same pixels.
 *
 * Drawing runs on the CPU over each defect's own box: a batch must be on the CPU (a GPU batch is
 * refused with KENSA_ERR_DEVICE_MISMATCH naming the transform).
 */
import { z } from 'zod';
import { DTYPE_RANGE, type AnyTypedArray } from '../dtype.js';
import { KensaError } from '../errors.js';
import { checkDType, checkImage } from '../ops/image.js';
import {
  type DefectShape,
  footprint,
  markMask,
  pastePatch,
  patchFootprint,
  type Plane,
  sampleDefect,
  type ShapeClass,
  shadePlane,
} from '../samples/defects.js';
import { Tensor } from '../tensor.js';
import { defineTransform, probability, range } from './registry.js';
import type { AugmentBatch, Box, ImageTransform, Json, Rng, SampleContext } from './transform.js';

/** One sample's parameters: the shapes drawn, in drawing order. */
export interface DefectParams {
  readonly [key: string]: Json;
  readonly shapes: readonly DefectShape[] & Json;
}

const polarity = z.enum(['dark', 'bright']);
const num = z.number();
const SHAPE_SCHEMAS = {
  crack: z.object({ class: z.literal('crack'), segments: z.array(num), polarity, contrast: num }).strict(),
  scratch: z.object({ class: z.literal('scratch'), segments: z.array(num), polarity, contrast: num }).strict(),
  spot: z
    .object({
      class: z.literal('spot'),
      cx: num,
      cy: num,
      radius: num,
      harmonics: z.tuple([num, num, num]),
      phases: z.tuple([num, num, num]),
      polarity,
      contrast: num,
      stain: z.boolean(),
    })
    .strict(),
  pit: z.object({ class: z.literal('pit'), cx: num, cy: num, radius: num, contrast: num, light: num }).strict(),
  stain: z.object({ class: z.literal('stain'), cx: num, cy: num, rx: num, ry: num, angle: num, cell: num, noiseSeed: num, polarity, contrast: num }).strict(),
  cutpaste: z.object({ class: z.literal('cutpaste'), sx: num, sy: num, dx: num, dy: num, width: num, height: num, gain: num }).strict(),
} as const;

/** The largest value of a dtype's pixels: shading moves towards it, pastes saturate at it. */
function pixelMax(dtype: 'u8' | 'u16' | 'f32'): number {
  return dtype === 'f32' ? 1 : DTYPE_RANGE[dtype][1];
}

/** Draws each sample's shapes into copies of the image and mask; appends boxes where the batch has them. */
function drawBatch(name: string, batch: AugmentBatch, params: readonly (DefectParams | null)[], maskValue: number, label: number | string): AugmentBatch {
  const { image } = batch;
  const { n, c, h, w } = checkImage('image', image);
  checkDType('image', image, ['u8', 'u16', 'f32']);
  if (image.device !== 'cpu' || (batch.mask && batch.mask.device !== 'cpu'))
    throw new KensaError('KENSA_ERR_DEVICE_MISMATCH', `Expected a CPU batch for ${name} (synthetic defects are drawn on the CPU) but received a GPU batch`);
  if (params.every((p) => p === null)) return batch;
  const img = image.contiguous().data.slice() as Plane;
  const maskSource = batch.mask?.contiguous();
  const mask = (maskSource ? maskSource.data.slice() : new Uint8Array(n * h * w)) as Uint8Array | Int32Array;
  const max = pixelMax(image.dtype as 'u8' | 'u16' | 'f32');
  const boxes = batch.boxes?.map((b) => [...b]);
  for (let s = 0; s < n; s++) {
    const p = params[s];
    if (!p) continue;
    const maskPlane = mask.subarray(s * h * w, (s + 1) * h * w);
    for (const shape of p.shapes) {
      const fp = shape.class === 'cutpaste' ? patchFootprint(shape) : footprint(shape, w, h);
      if (!fp) continue;
      for (let ch = 0; ch < c; ch++) {
        const offset = (s * c + ch) * h * w;
        if (shape.class === 'cutpaste') pastePatch(img, offset, w, shape, max);
        else shadePlane(img, offset, w, fp, max);
      }
      const drawn = markMask(maskPlane as Uint8Array, w, fp, maskValue);
      if (drawn && boxes) {
        const { x, y, width, height } = drawn.bbox;
        boxes[s]!.push({ x0: x, y0: y, x1: x + width, y1: y + height, label } satisfies Box);
      }
    }
  }
  return {
    ...batch,
    image: Tensor.fromArray(img as AnyTypedArray, image.shape, image.dtype),
    mask: Tensor.fromArray(mask, [n, 1, h, w], batch.mask?.dtype ?? 'u8'),
    ...(boxes ? { boxes } : {}),
  };
}

const common = {
  p: probability(0.5),
  /** Defects per sample: [fewest, most]. */
  count: z.tuple([z.number().int().min(1).max(50), z.number().int().min(1).max(50)]).default([1, 1]),
  /** The mask's value at defect pixels (a class label; 255 in kensa's binary masks). */
  maskValue: z.number().int().min(1).max(65535).default(255),
  /** Class of the boxes appended for drawn defects (where the batch carries boxes). */
  label: z.union([z.number(), z.string()]),
};

/** Defines one defect transform of shape class `cls`; `ranges` lists the DefectRanges it takes. */
function defectTransform(name: string, cls: ShapeClass, ranges: { contrast: [number, number]; width?: [number, number] }) {
  const schema = z
    .object({
      ...common,
      label: common.label.default(cls),
      contrast: range(0, 1).default(ranges.contrast),
      ...(ranges.width ? { width: range(0.5, 256).default(ranges.width) } : {}),
    })
    // the width key exists for the classes that take one; every value is JSON
    .strict() as unknown as z.ZodType<{ [key: string]: Json }>;
  const params = z.object({ shapes: z.array(SHAPE_SCHEMAS[cls]) }).strict() as unknown as z.ZodType<DefectParams>;
  return defineTransform(name, schema, (args): Omit<ImageTransform<DefectParams>, 'name' | 'args'> => {
    const [lo, hi] = args.count as [number, number];
    if (lo > hi) throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected a range [lo, hi] with lo ≤ hi for ${name}.count but received [${lo}, ${hi}]`);
    const shapeRanges = { contrast: args.contrast as [number, number], ...(args.width ? { width: args.width as [number, number] } : {}) };
    return {
      kind: 'image',
      p: args.p as number,
      params,
      sample(rng: Rng, ctx: SampleContext): DefectParams {
        const k = lo + Math.floor(rng() * (hi - lo + 1));
        const shapes = Array.from({ length: k }, () => sampleDefect(cls, rng, ctx.width, ctx.height, shapeRanges));
        return { shapes: shapes as DefectShape[] & Json };
      },
      apply: (batch, ps) => drawBatch(name, batch, ps, args.maskValue as number, args.label as number | string),
    };
  });
}

/** Thin dark branching random walks; `width` in pixels, `contrast` the share of the way to black. */
export const Crack = defectTransform('Crack', 'crack', { contrast: [0.4, 0.75], width: [1, 3] });
/** Long straight or gently bent lines, bright or dark. */
export const Scratch = defectTransform('Scratch', 'scratch', { contrast: [0.25, 0.5], width: [1, 2] });
/** Small irregular blobs (or, one in three, larger faint stains), dark or bright. */
export const Spot = defectTransform('Spot', 'spot', { contrast: [0.3, 0.6], width: [3, 12] });
/** Small craters: a dark floor and a rim lit from one side. */
export const Pit = defectTransform('Pit', 'pit', { contrast: [0.4, 0.7], width: [3, 12] });
/** Soft blotches with a Perlin-noise outline. */
export const PerlinStain = defectTransform('PerlinStain', 'stain', { contrast: [0.15, 0.35] });
/** A rectangle of the image pasted elsewhere, its pixels × (1 ± contrast). */
export const CutPaste = defectTransform('CutPaste', 'cutpaste', { contrast: [0.1, 0.3] });
