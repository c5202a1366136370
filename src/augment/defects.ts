/**
 * Synthetic defects as transforms, so a defect model can be trained from good images: Crack,
 * Scratch, Spot, Pit, PerlinStain and CutPaste each draw 1 … n defects per sample (the shapes of
 * src/samples/defects.ts, the generators `kensa samples` uses), darken or brighten the image
 * (every channel alike) and mark their pixels in the mask with `maskValue` (a zero mask is made
 * when the batch has none). Where the batch carries boxes, each drawn defect appends the tight box
 * of its mask pixels, labelled `label`. A sample's parameters are its shapes, plain JSON numbers,
 * so a replay draws the same pixels.
 *
 * The shapes are rasterised on the CPU, over their own boxes only, into one map per sample: for
 * each pixel of the box around its defects, where to read (an integer offset, for pasted patches),
 * a gain a and a lift b (out = a · v + b · max, max = 255, 65535, or 1 for f32; darkening by k is
 * a = 1 − k, b = 0, brightening a = 1 − k, b = k; successive defects compose), and the mask flag. The map
 * is applied where the batch lives, by a pixel program on the GPU (the map uploaded, the image
 * never read back) or the same arithmetic in f32 on the CPU; integers round half to even and
 * saturate once, at the end.
 */
import { z } from 'zod';
import { DTYPE_RANGE, type DType } from '../dtype.js';
import { KensaError } from '../errors.js';
import type { Gpu } from '../gpu/gpu.js';
import type { ProgramInfo } from '../gpu/program.js';
import { cpuPixelKernel, type Dims4, pixelProgram, runPixelProgram } from '../kernels/pixel.js';
import { checkDType, checkImage, MAX_PER_SAMPLE, packPerSample, perSampleField } from '../ops/image.js';
import { type DefectShape, type Footprint, footprint, patchFootprint, sampleDefect, type ShapeClass } from '../samples/defects.js';
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
  cutpaste: z
    .object({
      class: z.literal('cutpaste'),
      sx: z.number().int(),
      sy: z.number().int(),
      dx: z.number().int(),
      dy: z.number().int(),
      width: z.number().int().min(1),
      height: z.number().int().min(1),
      gain: num,
    })
    .strict(),
} as const;

/** Entries per map pixel: read offset x, y; gain a; lift b; mask flag. */
const ENTRY = 5;

/** One sample's map over its box x0 … x0 + w − 1, y0 … y0 + h − 1 (ENTRY floats a pixel), and the boxes of its defects. */
interface DefectMap {
  x0: number;
  y0: number;
  w: number;
  h: number;
  entries: Float32Array;
  boxes: { x0: number; y0: number; x1: number; y1: number }[];
}

/** The tight box of a footprint's mask pixels, or null when it has none. */
function maskBox(fp: Footprint): { x0: number; y0: number; x1: number; y1: number } | null {
  const fw = fp.x1 - fp.x0 + 1;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -1, -1];
  const mask = fp.mask;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = fp.x0 + (i % fw);
    const y = fp.y0 + Math.floor(i / fw);
    if (x < x0) x0 = x;
    if (y < y0) y0 = y;
    if (x > x1) x1 = x;
    if (y > y1) y1 = y;
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** Composes a sample's shapes, in order, into one map (null when none of them touches the image). */
function defectMap(shapes: readonly DefectShape[], width: number, height: number): DefectMap | null {
  const drawn = shapes.flatMap((shape): { shape: DefectShape; fp: Footprint }[] => {
    if (shape.class === 'cutpaste') {
      const clipped = shape.dx >= 0 && shape.dy >= 0 && shape.dx + shape.width <= width && shape.dy + shape.height <= height;
      const inside = shape.sx >= 0 && shape.sy >= 0 && shape.sx + shape.width <= width && shape.sy + shape.height <= height;
      if (!clipped || !inside)
        throw new KensaError('KENSA_ERR_AUGMENT', `Expected a CutPaste patch inside the ${width}×${height} image but received ${JSON.stringify(shape)}`);
      return [{ shape, fp: patchFootprint(shape) }];
    }
    const fp = footprint(shape, width, height);
    return fp ? [{ shape, fp }] : [];
  });
  if (drawn.length === 0) return null;
  const x0 = Math.min(...drawn.map((d) => d.fp.x0));
  const y0 = Math.min(...drawn.map((d) => d.fp.y0));
  const w = Math.max(...drawn.map((d) => d.fp.x1)) - x0 + 1;
  const h = Math.max(...drawn.map((d) => d.fp.y1)) - y0 + 1;
  // composed in double: offset x, y, gain, lift, mask per pixel of the box
  let e = new Float64Array(w * h * ENTRY);
  for (let i = 0; i < w * h; i++) e[i * ENTRY + 2] = 1;
  const boxes: DefectMap['boxes'] = [];
  for (const { shape, fp } of drawn) {
    const fw = fp.x1 - fp.x0 + 1;
    if (shape.class === 'cutpaste') {
      // a pasted pixel reads what the source pixel held before this paste (the earlier map at the source)
      const before = e;
      e = before.slice();
      const [ox, oy] = [shape.dx - shape.sx, shape.dy - shape.sy];
      for (let y = fp.y0; y <= fp.y1; y++)
        for (let x = fp.x0; x <= fp.x1; x++) {
          const [qx, qy] = [x - ox - x0, y - oy - y0];
          const q = qx >= 0 && qy >= 0 && qx < w && qy < h ? (qy * w + qx) * ENTRY : -1;
          const o = ((y - y0) * w + x - x0) * ENTRY;
          e[o] = ox + (q < 0 ? 0 : before[q]!);
          e[o + 1] = oy + (q < 0 ? 0 : before[q + 1]!);
          e[o + 2] = shape.gain * (q < 0 ? 1 : before[q + 2]!);
          e[o + 3] = shape.gain * (q < 0 ? 0 : before[q + 3]!);
          e[o + 4] = 1;
        }
    } else {
      for (let y = fp.y0; y <= fp.y1; y++)
        for (let x = fp.x0; x <= fp.x1; x++) {
          const f = (y - fp.y0) * fw + x - fp.x0;
          const k = fp.shade[f]!;
          const o = ((y - y0) * w + x - x0) * ENTRY;
          if (fp.mask[f]) e[o + 4] = 1;
          if (k === 0) continue;
          // darkening: a = 1 + k, b = 0; brightening: a = 1 − k, b = k (scalars: this loop runs per pixel)
          const a = k < 0 ? 1 + k : 1 - k;
          e[o + 2] = a * e[o + 2]!;
          e[o + 3] = a * e[o + 3]! + Math.max(k, 0);
        }
    }
    const box = maskBox(fp);
    if (box) boxes.push(box);
  }
  return { x0, y0, w, h, entries: Float32Array.from(e), boxes };
}

/** The largest pixel value a dtype's images hold: brightening moves towards it. */
function pixelMax(dtype: DType): number {
  return dtype === 'f32' ? 1 : DTYPE_RANGE[dtype][1];
}

/** The maps' boxes as per-sample uniform rows ([x0, y0, w, h], [first entry, 0, 0, 0]) and their entries end to end. */
function packMaps(maps: readonly (DefectMap | null)[]): { rows: number[][]; entries: Float32Array } {
  let at = 0;
  const rows = maps.flatMap((m) => {
    const r = m ? [[m.x0, m.y0, m.w, m.h], [at]] : [[0, 0, 0, 0], [0]];
    at += m ? m.entries.length : 0;
    return [r.flat()];
  });
  const entries = new Float32Array(Math.max(1, at));
  let o = 0;
  for (const m of maps)
    if (m) {
      entries.set(m.entries, o);
      o += m.entries.length;
    }
  return { rows: rows.map((r) => [r[0]!, r[1]!, r[2]!, r[3]!, r[4]!, 0, 0, 0]), entries };
}

/** WGSL shared by the image and mask programs: the map entry of (n, y, x), or −1 outside the sample's box. */
const MAP_LOOKUP = /* wgsl */ `
fn defect_entry(n: u32, y: u32, x: u32) -> i32 {
  let r = u.rects[2u * n];
  let dx = i32(x) - r.x;
  let dy = i32(y) - r.y;
  if (dx < 0 || dy < 0 || dx >= r.z || dy >= r.w) { return -1; }
  return (u.rects[2u * n + 1u].x + (dy * r.z + dx) * ${ENTRY});
}`;

function imageProgram(dtype: DType): ProgramInfo {
  return pixelProgram({
    name: 'augment_defects_image',
    key: '',
    inputs: [
      { name: 'x', dtype },
      { name: 'map', dtype: 'f32' },
    ],
    output: dtype,
    border: 'constant',
    uniforms: [perSampleField('rects', 'vec4i', 2), { name: 'max_value', type: 'f32' }],
    pixel: /* wgsl */ `${MAP_LOOKUP}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let e = defect_entry(n, y, x);
  if (e < 0) { return x_px(n, c, y, x); }
  let i = u32(e);
  let v = x_px(n, c, u32(i32(y) - i32(map_load(i + 1u))), u32(i32(x) - i32(map_load(i))));
  return map_load(i + 2u) * v + map_load(i + 3u) * u.max_value;
}`,
  });
}

function maskProgram(dtype: DType, fresh: boolean): ProgramInfo {
  return pixelProgram({
    name: 'augment_defects_mask',
    key: fresh ? 'fresh' : '',
    inputs: fresh
      ? [{ name: 'map', dtype: 'f32' }]
      : [
          { name: 'mask', dtype },
          { name: 'map', dtype: 'f32' },
        ],
    output: dtype,
    border: 'constant',
    uniforms: [perSampleField('rects', 'vec4i', 2), { name: 'mask_value', type: 'f32' }],
    pixel: /* wgsl */ `${MAP_LOOKUP}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let e = defect_entry(n, y, x);
  if (e >= 0 && map_load(u32(e) + 4u) > 0.0) { return u.mask_value; }
  return ${fresh ? '0.0' : 'mask_px(n, c, y, x)'};
}`,
  });
}

/** Every program variant of the defect transforms, for compile-all tests. */
export function defectPrograms(): ProgramInfo[] {
  return [...(['u8', 'u16', 'f32'] as const).map(imageProgram), ...(['u8', 'i32'] as const).flatMap((d) => [maskProgram(d, false), maskProgram(d, true)])];
}

/**
 * The map entries on the GPU, now: `apply` is synchronous, so the bytes go through the queue's own
 * write, after the pending commands (which may still use this pooled buffer) are submitted.
 */
function uploadNow(gpu: Gpu, data: Float32Array): Tensor {
  const t = Tensor.empty(gpu, [data.length], 'f32');
  gpu.flush();
  gpu.device.queue.writeBuffer(t.gpu.ref.buffer, 0, data);
  return t;
}

/** The CPU mirror of the image program (f32 arithmetic, saturated once). */
function applyMapsCpu(image: Tensor, maps: readonly (DefectMap | null)[], max: number): Tensor {
  const [, c, h, w] = image.shape as Dims4;
  const src = image.contiguous().data;
  const m = Math.fround(max);
  return cpuPixelKernel(image.shape as Dims4, image.dtype, (n, ch, y, x) => {
    const map = maps[n];
    const v = (yy: number, xx: number) => src[((n * c + ch) * h + yy) * w + xx]!;
    if (!map) return v(y, x);
    const [dx, dy] = [x - map.x0, y - map.y0];
    if (dx < 0 || dy < 0 || dx >= map.w || dy >= map.h) return v(y, x);
    const e = map.entries;
    const i = (dy * map.w + dx) * ENTRY;
    return Math.fround(Math.fround(e[i + 2]! * v(y - e[i + 1]!, x - e[i]!)) + Math.fround(e[i + 3]! * m));
  });
}

function markMasksCpu(mask: Tensor | undefined, shape: Dims4, dtype: DType, maps: readonly (DefectMap | null)[], value: number): Tensor {
  const old = mask?.contiguous().data;
  const [, , h, w] = shape;
  return cpuPixelKernel(shape, dtype, (n, _c, y, x) => {
    const map = maps[n];
    const [dx, dy] = map ? [x - map.x0, y - map.y0] : [-1, -1];
    if (map && dx >= 0 && dy >= 0 && dx < map.w && dy < map.h && map.entries[(dy * map.w + dx) * ENTRY + 4]! > 0) return value;
    return old ? old[(n * h + y) * w + x]! : 0;
  });
}

/** Draws each sample's shapes into the image and mask; appends boxes where the batch has them. */
function drawBatch(name: string, batch: AugmentBatch, params: readonly (DefectParams | null)[], maskValue: number, label: number | string): AugmentBatch {
  const { image } = batch;
  const { n, h, w } = checkImage('image', image);
  checkDType('image', image, ['u8', 'u16', 'f32']);
  if (n > MAX_PER_SAMPLE) throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected at most ${MAX_PER_SAMPLE} samples for ${name} but received ${n}`);
  const maps = params.map((p) => (p ? defectMap(p.shapes, w, h) : null));
  const maskShape: Dims4 = [n, 1, h, w];
  const maskDType = batch.mask?.dtype ?? 'u8';
  const max = pixelMax(image.dtype);
  let out: { image: Tensor; mask: Tensor };
  if (image.device === 'gpu') {
    const gpu = image.gpu.gpu;
    const { rows, entries } = packMaps(maps);
    const map = uploadNow(gpu, entries);
    const rects = packPerSample(rows, 2);
    out = {
      image: runPixelProgram(imageProgram(image.dtype), [image.contiguous(), map], image.shape as Dims4, image.dtype, { rects, max_value: max }),
      mask: batch.mask
        ? runPixelProgram(maskProgram(maskDType, false), [batch.mask.contiguous(), map], maskShape, maskDType, { rects, mask_value: maskValue })
        : runPixelProgram(maskProgram(maskDType, true), [map], maskShape, maskDType, { rects, mask_value: maskValue }),
    };
    map.dispose();
  } else {
    out = { image: applyMapsCpu(image, maps, max), mask: markMasksCpu(batch.mask, maskShape, maskDType, maps, maskValue) };
  }
  const boxes = batch.boxes?.map((list, s) => [...list, ...(maps[s]?.boxes ?? []).map((b): Box => ({ ...b, label }))]);
  return { ...batch, ...out, ...(boxes ? { boxes } : {}) };
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
