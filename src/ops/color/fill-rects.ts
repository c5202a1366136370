/**
 * Fills rectangles of each sample with a value (augmentation's CoarseDropout, torchvision's
 * erase): pixel (x, y) of sample n takes the fill when x0 ≤ x < x0 + w and y0 ≤ y < y0 + h for
 * one of sample n's rectangles [x0, y0, w, h] (integers; parts outside the image are ignored),
 * else keeps its value. The fill is one number or one per channel, saturated into the dtype.
 * Exact on both backends. Rectangles travel as uniforms: at most 3072 in a batch.
 */
import { onDevice } from '../../device.js';
import { DTYPES, f16BitsToF32, saturate, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { invalidParameter, is } from '../../validate.js';
import { checkImage, MAX_PER_SAMPLE } from '../image.js';
import { pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';

/** Most rectangles of one batch (one uniform vec4 each, 48 KiB). */
export const MAX_FILL_RECTS = 3072;
/** Most channels with distinct fill values (one uniform array). */
export const MAX_FILL_CHANNELS = 64;

/** [x, y, width, height] in pixels. */
export type Rect = readonly [number, number, number, number];

export interface FillRectsOptions {
  /** Sample n's rectangles at rects[n] (one list per sample), or one list for every sample. */
  rects: readonly Rect[] | readonly (readonly Rect[])[];
  /** The fill, one number or one per channel; default 0. */
  value?: number | readonly number[];
}

const RECT_LIMIT = 1 << 24;

function checkRect(name: string, r: unknown): Rect {
  if (!Array.isArray(r) || r.length !== 4 || !r.every((v, i) => is.integer(v) && Math.abs(v) <= RECT_LIMIT && (i < 2 || v >= 0)))
    throw invalidParameter(name, `[x, y, width, height] of integers (width and height at least 0, all within ±${RECT_LIMIT})`, r);
  return r as unknown as Rect;
}

/** The rectangles of each of `n` samples, validated. */
function rectLists(rects: unknown, n: number): Rect[][] {
  if (!Array.isArray(rects)) throw invalidParameter('rects', 'an array of rectangles, or one array of rectangles per sample', rects);
  const perSample = rects.length > 0 && rects.every((r) => Array.isArray(r) && r.every(Array.isArray));
  if (!perSample) {
    const shared = rects.map((r, i) => checkRect(`rects[${i}]`, r));
    return Array.from({ length: n }, () => shared);
  }
  if (rects.length !== n) throw invalidParameter('rects', `one array of rectangles per sample (${n})`, `an array of ${rects.length}`);
  return (rects as unknown[][]).map((list, i) => list.map((r, j) => checkRect(`rects[${i}][${j}]`, r)));
}

function fillRectsProgram(dtype: DType): ProgramInfo {
  return pixelProgram({
    name: 'fill_rects',
    key: '',
    inputs: [{ name: 'src', dtype }],
    output: dtype,
    border: 'replicate',
    uniforms: [
      // sample n's rectangles are rects[starts[n] .. starts[n + 1]), starts packed 4 per vec4
      { name: 'starts', type: { array: 'vec4u', length: MAX_PER_SAMPLE / 4 + 1, sized: true } },
      { name: 'rects', type: { array: 'vec4i', length: MAX_FILL_RECTS, sized: true } },
      { name: 'fill', type: { array: 'vec4f', length: MAX_FILL_CHANNELS / 4 } },
    ],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let first = u.starts[n / 4u][n % 4u];
  let end = u.starts[(n + 1u) / 4u][(n + 1u) % 4u];
  let p = vec2<i32>(i32(x), i32(y));
  for (var i = first; i < end; i++) {
    let r = u.rects[i];
    if (all(p >= r.xy) && all(p < r.zw)) { return u.fill[c / 4u][c % 4u]; }
  }
  return src_px(n, c, y, x);
}`,
  });
}

/**
 * Fills rectangles of each sample of an N×C×H×W batch with a value. Runs where `x` lives.
 * @example fillRects(img, { rects: [[4, 4, 8, 8]], value: 0 })
 * @example fillRects(batch2, { rects: [[[0, 0, 5, 5]], [[3, 1, 2, 9], [10, 10, 4, 4]]], value: [255, 0, 0] })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for a rectangle not [x, y, width, height] of integers,
 *   a per-sample list of another length than N, more than 3072 rectangles, or a fill of another length than 1 or C.
 */
export function fillRects(x: Tensor, options: FillRectsOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? ({} as FillRectsOptions);
  const lists = rectLists(o.rects, d.n);
  const total = lists.reduce((s, l) => s + l.length, 0);
  if (total > MAX_FILL_RECTS) throw invalidParameter('rects', `at most ${MAX_FILL_RECTS} rectangles in all`, `${total} rectangles`);
  if (d.n > MAX_PER_SAMPLE) throw invalidParameter('x', `a batch of at most ${MAX_PER_SAMPLE} samples`, `${d.n} samples`);
  const value = o.value ?? 0;
  const channels = d.c <= MAX_FILL_CHANNELS ? d.c : 1;
  if (!(is.number(value) || (Array.isArray(value) && (value.length === 1 || value.length === channels) && value.every(is.number))))
    throw invalidParameter('value', `a number or an array of 1 or ${channels} numbers`, value);
  const fill = typeof value === 'number' ? [value] : value;
  // the fill as stored, so the GPU writes back exactly what the CPU writes
  const stored = Array.from({ length: d.c }, (_, c) => saturate(x.dtype, fill[fill.length === 1 ? 0 : c]!));
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  return onDevice(x, {
    gpu: () => {
      const starts = new Array<number>(d.n + 1).fill(0);
      const rects: number[] = [];
      lists.forEach((list, n) => {
        for (const [rx, ry, rw, rh] of list) rects.push(rx, ry, rx + rw, ry + rh);
        starts[n + 1] = rects.length / 4;
      });
      const fillValues = new Array<number>(MAX_FILL_CHANNELS).fill(0);
      stored.forEach((v, c) => {
        fillValues[c] = x.dtype === 'f16' ? f16BitsToF32(v) : v;
      });
      return runPixelProgram(fillRectsProgram(x.dtype), [x], shape, x.dtype, { starts, rects, fill: fillValues });
    },
    cpu: () => {
      const out = x.contiguous().data.slice();
      const [, C, H, W] = shape;
      lists.forEach((list, n) => {
        for (const [rx, ry, rw, rh] of list)
          for (let c = 0; c < C; c++)
            for (let y = Math.max(0, ry); y < Math.min(H, ry + rh); y++)
              for (let xx = Math.max(0, rx); xx < Math.min(W, rx + rw); xx++) out[((n * C + c) * H + y) * W + xx] = stored[c]!;
      });
      return Tensor.fromArray(out, shape, x.dtype);
    },
  });
}

/** Every program variant of fillRects, for compile-all tests. */
export function fillRectsPrograms(): ProgramInfo[] {
  return DTYPES.map(fillRectsProgram);
}
