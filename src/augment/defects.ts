/**
 * Synthetic defects as transforms, so a defect model can be trained from good images: Crack,
 * Scratch, Spot, Pit, PerlinStain and CutPaste each draw 1 … n defects per sample (the shapes of
 * src/samples/defects.ts, the generators `kensa samples` uses), darken or brighten the image
 * (every channel alike) and mark their pixels in the mask with `maskValue` (a zero mask is made
 * when the batch has none). Where the batch carries boxes, each drawn defect appends the tight box
 * of its mask pixels, labelled `label`. A sample's parameters are its shapes, plain JSON numbers,
 * so a replay draws the same pixels.
 *
 * The host only encodes each sample's shapes into a small table of f32 constants (segments with
 * tile lists for cracks and scratches, records with Perlin permutations for the blobs, patch
 * rectangles for CutPaste; shade.ts); a pixel program evaluates them per pixel of the sample's box
 * on the GPU: where to read (an offset, for pasted patches), a gain a and a lift b (out = a · v +
 * b · max, max = 255, 65535, or 1 for f32; darkening by k is a = 1 + k, b = 0, brightening
 * a = 1 − k, b = k; successive defects compose), and the mask flag. On the CPU the same arithmetic
 * in f32 (effectAt) fills a map that the same formula applies; integers round half to even and
 * saturate once, at the end. Boxes need the mask's edge: they are found on the host, by that
 * arithmetic, only for batches that carry boxes.
 */
import { z } from 'zod';
import { DTYPE_RANGE, type DType } from '../dtype.js';
import { KensaError } from '../errors.js';
import type { Gpu } from '../gpu/gpu.js';
import type { ProgramInfo } from '../gpu/program.js';
import { cpuPixelKernel, type Dims4, pixelProgram, runPixelProgram } from '../kernels/pixel.js';
import { checkDType, checkImage, MAX_PER_SAMPLE, packPerSample, perSampleField } from '../ops/image.js';
import {
  type DefectShape,
  type LineShape,
  lineBox,
  type PatchShape,
  type PitShape,
  type ShapeClass,
  type SpotShape,
  type StainShape,
  sampleDefect,
} from '../samples/defects.js';
import { encodeSegment, encodeShape, lineShade, PERM, RECORD, SEGMENT, SHADE_AT, SHADE_WGSL, segmentBox, segmentCover } from '../samples/shade.js';
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

const f = Math.fround;

/** The kinds of shape table, one program each: the line classes share one. */
type Kind = 'line' | 'spot' | 'pit' | 'stain' | 'cutpaste';
const KINDS: readonly Kind[] = ['line', 'spot', 'pit', 'stain', 'cutpaste'];
const kindOf = (cls: ShapeClass): Kind => (cls === 'crack' || cls === 'scratch' ? 'line' : cls);

/** Side of the square tiles that list the segments near their pixels (a line's box is mostly empty). */
const TILE = 32;
/** Floats per pasted patch: destination x, y, width, height; offset to the source x, y; gain. */
const PATCH = 7;
/** Floats per spot, pit or stain: its box (x0, y0, x1, y1, inclusive), then its record. */
const stride = (kind: 'spot' | 'pit' | 'stain') => 4 + RECORD[kind] + (kind === 'stain' ? PERM : 0);

/**
 * One sample's shape table: its union box x0 … x0 + w − 1, y0 … y0 + h − 1, the table (indices in
 * it are relative to its start) and two numbers its kind's program reads (lines: where the tile
 * offsets start and the tiles per row; the others: the number of shapes).
 */
interface SampleTable {
  box: [number, number, number, number];
  data: Float32Array;
  args: [number, number];
}

/** The union box [x0, y0, w, h] of inclusive boxes. */
function unionBox(boxes: readonly (readonly number[])[]): [number, number, number, number] {
  const x0 = Math.min(...boxes.map((b) => b[0]!));
  const y0 = Math.min(...boxes.map((b) => b[1]!));
  return [x0, y0, Math.max(...boxes.map((b) => b[2]!)) - x0 + 1, Math.max(...boxes.map((b) => b[3]!)) - y0 + 1];
}

/**
 * Lines: segments (SEGMENT floats: the segment's constants, its shape's signed contrast and index),
 * then per tile of the union box the start of its list (and one end), then the lists: the indices of
 * the segments whose boxes meet the tile, in drawing order.
 */
function lineTable(shapes: readonly LineShape[], W: number, H: number): SampleTable | null {
  const drawn = shapes.flatMap((shape) => {
    const box = lineBox(shape.segments, W, H);
    return box ? [{ shape, box }] : [];
  });
  if (drawn.length === 0) return null;
  const box = unionBox(drawn.map((d) => d.box));
  const [x0, y0, w, h] = box;
  const gw = Math.ceil(w / TILE);
  const tiles = gw * Math.ceil(h / TILE);
  const nseg = drawn.reduce((sum, d) => sum + d.shape.segments.length / 5, 0);
  const spans = new Int32Array(nseg * 4).fill(-1);
  const counts = new Uint32Array(tiles);
  const segs = new Float32Array(nseg * SEGMENT);
  let j = 0;
  for (const [id, { shape }] of drawn.entries()) {
    const sc = (shape.polarity === 'dark' ? -1 : 1) * shape.contrast;
    for (let i = 0; i < shape.segments.length; i += 5, j++) {
      encodeSegment(shape.segments, i, segs, j * SEGMENT);
      segs[j * SEGMENT + 6] = sc;
      segs[j * SEGMENT + 7] = id;
      const sb = segmentBox(shape.segments, i, W, H);
      if (!sb) continue;
      const span = [Math.floor((sb[0] - x0) / TILE), Math.floor((sb[1] - y0) / TILE), Math.floor((sb[2] - x0) / TILE), Math.floor((sb[3] - y0) / TILE)];
      spans.set(span, j * 4);
      for (let ty = span[1]!; ty <= span[3]!; ty++) for (let tx = span[0]!; tx <= span[2]!; tx++) counts[ty * gw + tx]!++;
    }
  }
  const listsAt = segs.length + tiles + 1;
  const entries = counts.reduce((sum, c) => sum + c, 0);
  const data = new Float32Array(listsAt + entries);
  data.set(segs);
  const next = new Uint32Array(tiles);
  let at = listsAt;
  for (let t = 0; t < tiles; t++) {
    data[segs.length + t] = next[t] = at;
    at += counts[t]!;
  }
  data[segs.length + tiles] = at;
  for (let s = 0; s < nseg; s++) {
    if (spans[s * 4]! < 0) continue;
    for (let ty = spans[s * 4 + 1]!; ty <= spans[s * 4 + 3]!; ty++) for (let tx = spans[s * 4]!; tx <= spans[s * 4 + 2]!; tx++) data[next[ty * gw + tx]!++] = s;
  }
  return { box, data, args: [segs.length, gw] };
}

/** Spots, pits and stains: per shape its box and record. */
function recordTable(kind: 'spot' | 'pit' | 'stain', shapes: readonly (SpotShape | PitShape | StainShape)[], W: number, H: number): SampleTable | null {
  const records = shapes.flatMap((shape) => encodeShape(shape, W, H) ?? []);
  if (records.length === 0) return null;
  const size = stride(kind);
  const data = new Float32Array(records.length * size);
  for (const [i, r] of records.entries()) {
    data.set(r.box, i * size);
    data.set(r.rec, i * size + 4);
  }
  return { box: unionBox(records.map((r) => r.box)), data, args: [records.length, 0] };
}

/** Pasted patches, each inside the image. */
function patchTable(shapes: readonly PatchShape[], W: number, H: number): SampleTable | null {
  if (shapes.length === 0) return null;
  const data = new Float32Array(shapes.length * PATCH);
  for (const [i, s] of shapes.entries()) {
    const inside = (x: number, y: number) => x >= 0 && y >= 0 && x + s.width <= W && y + s.height <= H;
    if (!inside(s.dx, s.dy) || !inside(s.sx, s.sy))
      throw new KensaError('KENSA_ERR_AUGMENT', `Expected a CutPaste patch inside the ${W}×${H} image but received ${JSON.stringify(s)}`);
    data.set([s.dx, s.dy, s.width, s.height, s.dx - s.sx, s.dy - s.sy, s.gain], i * PATCH);
  }
  return { box: unionBox(shapes.map((s) => [s.dx, s.dy, s.dx + s.width - 1, s.dy + s.height - 1])), data, args: [shapes.length, 0] };
}

/** A sample's shape table (its shapes are all of one kind: a transform draws one class). */
function sampleTable(kind: Kind, shapes: readonly DefectShape[], W: number, H: number): SampleTable | null {
  if (kind === 'line') return lineTable(shapes as LineShape[], W, H);
  if (kind === 'cutpaste') return patchTable(shapes as PatchShape[], W, H);
  return recordTable(kind, shapes as (SpotShape | PitShape | StainShape)[], W, H);
}

/**
 * What the shapes do to pixel (x, y) of a sample, written at `o` of `e`: the source's offset x, y;
 * gain a; lift b; mask flag (ENTRY floats). Darkening by k is a = 1 + k, b = 0; brightening a = 1 − k,
 * b = k; successive shades compose. Mirrors `defect_effect` of the programs below, operation by operation.
 */
function effectAt(kind: Kind, t: SampleTable, x: number, y: number, e: Float32Array, o: number): void {
  const d = t.data;
  e.set([0, 0, 1, 0, 0], o);
  const shade = (k: number) => {
    const a = k < 0 ? f(1 + k) : f(1 - k);
    e[o + 2] = f(a * e[o + 2]!);
    e[o + 3] = f(f(a * e[o + 3]!) + Math.max(k, 0));
  };
  if (kind === 'line') {
    const [x0, y0] = t.box;
    const tile = t.args[0] + Math.floor((y - y0) / TILE) * t.args[1] + Math.floor((x - x0) / TILE);
    let [id, sc, cov] = [-1, 0, 0];
    const done = () => {
      if (cov <= 0) return;
      if (cov >= 0.5) e[o + 4] = 1;
      shade(lineShade(sc, cov));
    };
    for (let j = d[tile]!; j < d[tile + 1]!; j++) {
      const s = d[j]! * SEGMENT;
      if (d[s + 7] !== id) {
        done();
        [id, sc, cov] = [d[s + 7]!, d[s + 6]!, 0];
      }
      const a = segmentCover(d, s, x, y);
      if (a > 0) cov = Math.max(cov, Math.min(a, 1));
    }
    done();
  } else if (kind === 'cutpaste') {
    // the last paste first: a pasted pixel reads what its source held before that paste
    let [px, py, g] = [x, y, 1];
    for (let i = t.args[0] - 1; i >= 0; i--) {
      const s = i * PATCH;
      const within = (qx: number, qy: number) => qx >= d[s]! && qy >= d[s + 1]! && qx < d[s]! + d[s + 2]! && qy < d[s + 1]! + d[s + 3]!;
      if (within(px, py)) [px, py, g] = [px - d[s + 4]!, py - d[s + 5]!, f(g * d[s + 6]!)];
      if (within(x, y)) e[o + 4] = 1;
    }
    e.set([x - px, y - py, g], o);
  } else {
    const size = stride(kind);
    const at = SHADE_AT[kind];
    for (let i = 0; i < t.args[0]; i++) {
      const s = i * size;
      if (x < d[s]! || y < d[s + 1]! || x > d[s + 2]! || y > d[s + 3]!) continue;
      const { k, mask } = at(d, s + 4, x, y);
      if (mask) e[o + 4] = 1;
      if (k !== 0) shade(k);
    }
  }
}

/** Entries per map pixel of the CPU path: read offset x, y; gain a; lift b; mask flag. */
const ENTRY = 5;

/** One sample's effects over its union box (ENTRY floats a pixel), for the CPU path. */
interface DefectMap {
  x0: number;
  y0: number;
  w: number;
  h: number;
  entries: Float32Array;
}

function defectMap(kind: Kind, t: SampleTable | null): DefectMap | null {
  if (!t) return null;
  const [x0, y0, w, h] = t.box;
  const entries = new Float32Array(w * h * ENTRY);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) effectAt(kind, t, x0 + x, y0 + y, entries, (y * w + x) * ENTRY);
  return { x0, y0, w, h, entries };
}

/** The tight box (exclusive ends) of the pixels of box [x0, y0, x1, y1] (inclusive) where `mask` holds, scanning in from its sides. */
function tightBox([x0, y0, x1, y1]: readonly number[], mask: (x: number, y: number) => boolean): [number, number, number, number] | null {
  const rowHit = (y: number) => {
    for (let x = x0!; x <= x1!; x++) if (mask(x, y)) return true;
    return false;
  };
  let top = y0!;
  while (top <= y1! && !rowHit(top)) top++;
  if (top > y1!) return null;
  let bottom = y1!;
  while (!rowHit(bottom)) bottom--;
  const colHit = (x: number) => {
    for (let y = top; y <= bottom; y++) if (mask(x, y)) return true;
    return false;
  };
  let left = x0!;
  while (!colHit(left)) left++;
  let right = x1!;
  while (!colHit(right)) right--;
  return [left, top, right + 1, bottom + 1];
}

/** The tight box of a shape's mask pixels on a W × H image (null when it has none), by the arithmetic the programs use. */
function shapeBox(shape: DefectShape, W: number, H: number): [number, number, number, number] | null {
  if (shape.class === 'cutpaste') return [shape.dx, shape.dy, shape.dx + shape.width, shape.dy + shape.height];
  if (shape.class === 'crack' || shape.class === 'scratch') {
    // the union of each segment's box: a pixel is a mask pixel where one segment covers it by ½
    const rec = new Float32Array(SEGMENT);
    let out: [number, number, number, number] | null = null;
    for (let i = 0; i < shape.segments.length; i += 5) {
      const sb = segmentBox(shape.segments, i, W, H);
      if (!sb) continue;
      encodeSegment(shape.segments, i, rec, 0);
      const b = tightBox(sb, (x, y) => segmentCover(rec, 0, x, y) >= 0.5);
      if (b) out = out ? [Math.min(out[0], b[0]), Math.min(out[1], b[1]), Math.max(out[2], b[2]), Math.max(out[3], b[3])] : b;
    }
    return out;
  }
  const r = encodeShape(shape as SpotShape | PitShape | StainShape, W, H);
  const at = SHADE_AT[(shape as SpotShape | PitShape | StainShape).class];
  return r && tightBox(r.box, (x, y) => at(r.rec, 0, x, y).mask);
}

/** The largest pixel value a dtype's images hold: brightening moves towards it. */
function pixelMax(dtype: DType): number {
  return dtype === 'f32' ? 1 : DTYPE_RANGE[dtype][1];
}

/** The largest f32: entry 0 of the GPU table, the bound of SHADE_WGSL's `keep`. */
const F32_MAX = 3.4028234663852886e38;

/** The tables end to end after F32_MAX, and per sample its uniform rows ([x0, y0, w, h], [table start, args]). */
function packTables(tables: readonly (SampleTable | null)[]): { rows: number[][]; data: Float32Array } {
  let at = 1;
  const rows = tables.map((t) => {
    const row = t ? [...t.box, at, ...t.args, 0] : [0, 0, 0, 0, 0, 0, 0, 0];
    at += t ? t.data.length : 0;
    return row;
  });
  const data = new Float32Array(at);
  data[0] = F32_MAX;
  at = 1;
  for (const t of tables)
    if (t) {
      data.set(t.data, at);
      at += t.data.length;
    }
  return { rows, data };
}

/** WGSL of each kind's `defect_effect(n, y, x)`, the mirror of `effectAt` (table indices relative to the sample's start). */
const EFFECT_WGSL: Record<Kind, string> = {
  line: /* wgsl */ `
fn line_done(e: ptr<function, Effect>, sc: f32, cov: f32) {
  if (cov <= 0.0) { return; }
  if (cov >= 0.5) { (*e).mask = true; }
  shade_into(e, sc * cov);
}
fn defect_effect(n: u32, y: u32, x: u32) -> Effect {
  let r0 = u.rects[2u * n];
  let r1 = u.rects[2u * n + 1u];
  let base = u32(r1.x);
  let tile = base + u32(r1.y + ((i32(y) - r0.y) / ${TILE}) * r1.z + (i32(x) - r0.x) / ${TILE});
  let fx = f32(x);
  let fy = f32(y);
  var e = no_effect(x, y);
  var id = -1.0;
  var sc = 0.0;
  var cov = 0.0;
  let end = u32(sh(tile + 1u));
  for (var j = u32(sh(tile)); j < end; j++) {
    let o = base + ${SEGMENT}u * u32(sh(base + j));
    if (sh(o + 7u) != id) {
      line_done(&e, sc, cov);
      id = sh(o + 7u);
      sc = sh(o + 6u);
      cov = 0.0;
    }
    let a = segment_cover(o, fx, fy);
    if (a > 0.0) { cov = max(cov, min(a, 1.0)); }
  }
  line_done(&e, sc, cov);
  return e;
}`,
  cutpaste: /* wgsl */ `
fn defect_effect(n: u32, y: u32, x: u32) -> Effect {
  let r1 = u.rects[2u * n + 1u];
  let base = u32(r1.x);
  let at = vec2i(i32(x), i32(y));
  var e = no_effect(x, y);
  for (var i = u32(r1.y); i > 0u; i--) {
    let o = base + (i - 1u) * ${PATCH}u;
    let lo = vec2i(i32(sh(o)), i32(sh(o + 1u)));
    let hi = lo + vec2i(i32(sh(o + 2u)), i32(sh(o + 3u)));
    if (all(e.src >= lo) && all(e.src < hi)) {
      e.src -= vec2i(i32(sh(o + 4u)), i32(sh(o + 5u)));
      e.a = e.a * sh(o + 6u);
    }
    if (all(at >= lo) && all(at < hi)) { e.mask = true; }
  }
  return e;
}`,
  spot: recordEffect('spot'),
  pit: recordEffect('pit'),
  stain: recordEffect('stain'),
};

function recordEffect(kind: 'spot' | 'pit' | 'stain'): string {
  return /* wgsl */ `
fn defect_effect(n: u32, y: u32, x: u32) -> Effect {
  let r1 = u.rects[2u * n + 1u];
  let base = u32(r1.x);
  let fx = f32(x);
  let fy = f32(y);
  var e = no_effect(x, y);
  for (var i = 0u; i < u32(r1.y); i++) {
    let o = base + i * ${stride(kind)}u;
    if (fx < sh(o) || fy < sh(o + 1u) || fx > sh(o + 2u) || fy > sh(o + 3u)) { continue; }
    let km = ${kind}_at(o + 4u, fx, fy);
    if (km.y > 0.0) { e.mask = true; }
    if (km.x != 0.0) { shade_into(&e, km.x); }
  }
  return e;
}`;
}

/** WGSL shared by the image and mask programs: the effect type, shading, the box test and `kind`'s evaluator. */
function effectWgsl(kind: Kind): string {
  return /* wgsl */ `${SHADE_WGSL}
struct Effect { src: vec2i, a: f32, b: f32, mask: bool }
fn no_effect(x: u32, y: u32) -> Effect { return Effect(vec2i(i32(x), i32(y)), 1.0, 0.0, false); }
fn shade_into(e: ptr<function, Effect>, shade: f32) {
  let k = keep(shade);
  let a = select(1.0 - k, 1.0 + k, k < 0.0);
  (*e).a = a * (*e).a;
  (*e).b = keep(a * (*e).b) + max(k, 0.0);
}
fn in_box(n: u32, y: u32, x: u32) -> bool {
  let r = u.rects[2u * n];
  let dx = i32(x) - r.x;
  let dy = i32(y) - r.y;
  return dx >= 0 && dy >= 0 && dx < r.z && dy < r.w;
}
${EFFECT_WGSL[kind]}`;
}

function imageProgram(dtype: DType, kind: Kind): ProgramInfo {
  return pixelProgram({
    name: 'augment_defects_image',
    key: kind,
    inputs: [
      { name: 'x', dtype },
      { name: 'shapes', dtype: 'f32' },
    ],
    output: dtype,
    border: 'constant',
    uniforms: [perSampleField('rects', 'vec4i', 2), { name: 'max_value', type: 'f32' }],
    pixel: /* wgsl */ `${effectWgsl(kind)}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  if (!in_box(n, y, x)) { return x_px(n, c, y, x); }
  let e = defect_effect(n, y, x);
  return keep(e.a * x_px(n, c, u32(e.src.y), u32(e.src.x))) + keep(e.b * u.max_value);
}`,
  });
}

function maskProgram(dtype: DType, fresh: boolean, kind: Kind): ProgramInfo {
  return pixelProgram({
    name: 'augment_defects_mask',
    key: `${kind}${fresh ? ';fresh' : ''}`,
    inputs: fresh
      ? [{ name: 'shapes', dtype: 'f32' }]
      : [
          { name: 'mask', dtype },
          { name: 'shapes', dtype: 'f32' },
        ],
    output: dtype,
    border: 'constant',
    uniforms: [perSampleField('rects', 'vec4i', 2), { name: 'mask_value', type: 'f32' }],
    pixel: /* wgsl */ `${effectWgsl(kind)}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  if (in_box(n, y, x) && defect_effect(n, y, x).mask) { return u.mask_value; }
  return ${fresh ? '0.0' : 'mask_px(n, c, y, x)'};
}`,
  });
}

/** Every program variant of the defect transforms, for compile-all tests. */
export function defectPrograms(): ProgramInfo[] {
  return KINDS.flatMap((kind) => [
    ...(['u8', 'u16', 'f32'] as const).map((d) => imageProgram(d, kind)),
    ...(['u8', 'i32'] as const).flatMap((d) => [maskProgram(d, false, kind), maskProgram(d, true, kind)]),
  ]);
}

/**
 * The shape table on the GPU, now: `apply` is synchronous, so the bytes go through the queue's own
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
function drawBatch(
  name: string,
  kind: Kind,
  batch: AugmentBatch,
  params: readonly (DefectParams | null)[],
  maskValue: number,
  label: number | string,
): AugmentBatch {
  const { image } = batch;
  const { n, h, w } = checkImage('image', image);
  checkDType('image', image, ['u8', 'u16', 'f32']);
  if (n > MAX_PER_SAMPLE) throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected at most ${MAX_PER_SAMPLE} samples for ${name} but received ${n}`);
  const tables = params.map((p) => (p ? sampleTable(kind, p.shapes, w, h) : null));
  const maskShape: Dims4 = [n, 1, h, w];
  const maskDType = batch.mask?.dtype ?? 'u8';
  const max = pixelMax(image.dtype);
  let out: { image: Tensor; mask: Tensor };
  if (image.device === 'gpu') {
    const gpu = image.gpu.gpu;
    const { rows, data } = packTables(tables);
    const shapes = uploadNow(gpu, data);
    const rects = packPerSample(rows, 2);
    out = {
      image: runPixelProgram(imageProgram(image.dtype, kind), [image.contiguous(), shapes], image.shape as Dims4, image.dtype, { rects, max_value: max }),
      mask: batch.mask
        ? runPixelProgram(maskProgram(maskDType, false, kind), [batch.mask.contiguous(), shapes], maskShape, maskDType, { rects, mask_value: maskValue })
        : runPixelProgram(maskProgram(maskDType, true, kind), [shapes], maskShape, maskDType, { rects, mask_value: maskValue }),
    };
    shapes.dispose();
  } else {
    const maps = tables.map((t) => defectMap(kind, t));
    out = { image: applyMapsCpu(image, maps, max), mask: markMasksCpu(batch.mask, maskShape, maskDType, maps, maskValue) };
  }
  // boxes only where the batch carries them: they need the mask's edge on the host
  const boxes = batch.boxes?.map((list, s) => [
    ...list,
    ...(params[s]?.shapes ?? []).flatMap((shape) => {
      const b = shapeBox(shape, w, h);
      return b ? [{ x0: b[0], y0: b[1], x1: b[2], y1: b[3], label } as Box] : [];
    }),
  ]);
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
      apply: (batch, ps) => drawBatch(name, kindOf(cls), batch, ps, args.maskValue as number, args.label as number | string),
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
