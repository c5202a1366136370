/**
 * How sharp decodes a JPEG below scale 1, for the decoder to repeat it byte for byte: its
 * shrink-on-load plan (jpegShrinkPlan) and libvips' reduce with the Catmull-Rom ("cubic") kernel
 * on 8-bit planes, as sharp runs it for `resize({ width, height, kernel: 'cubic' })` where no box
 * shrink comes first (a reduction under 4 on each axis, libvips' default gap): vips_reducev, then
 * vips_reduceh on its rounded u8 output (libvips 8.18 resample/reducev.cpp, reduceh.cpp,
 * templates.h). src/pipeline/decode.ts decodes with sharp; docs/jpeg.md "Below scale 1".
 *
 * Per output pixel: a 2·rint(2·shrink) + 1 point mask (shrink = input ÷ output size), picked from
 * 65 phases of the pixel's centre in the input, coefficients in 1/4096 truncated to integers;
 * taps past an edge read the edge pixel (libvips embeds with EXTEND_COPY);
 * out = clamp((Σ coefficient · pixel + 2048) >> 12, 0, 255).
 */
import type { Gpu } from '../../gpu/gpu.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { UniformField } from '../../gpu/uniforms.js';
import { Tensor } from '../../tensor.js';
import type { DctDenom } from './cpu.js';
import { JpegError } from './parse.js';
import { invalidParameter } from '../../validate.js';

/** libjpeg's DCT-domain shrink factors (1/1, 1/2, 1/4, 1/8): integer factors, so a decoded pixel is a block of the file's. Recipes choose one (`input.scale`); decode applies it. */
export const DECODE_SCALES = [1, 0.5, 0.25, 0.125] as const;
export type DecodeScale = (typeof DECODE_SCALES)[number];

/** How sharp decodes a JPEG at a scale: libjpeg's DCT scaling, libvips' crop of it, then the reduce. */
export interface JpegShrinkPlan {
  /** libjpeg's scale_denom (sharp's shrink-on-load). */
  denom: DctDenom;
  /** libvips' size of the shrunk decode: ⌊W / denom⌋ × ⌊H / denom⌋ (libjpeg's last partial column and row dropped). */
  decoded: { width: number; height: number };
  /** The size asked for: ⌈W · scale⌉ × ⌈H · scale⌉ (decode.ts scaledSize), reached by reduceCubic. */
  out: { width: number; height: number };
}

/**
 * sharp 0.35's plan for `resize(⌈W · scale⌉, ⌈H · scale⌉)` of a JPEG with fastShrinkOnLoad
 * (pipeline.cc): shrink-on-load by the largest of 8, 4, 2 at most the smaller axis' shrink, halved
 * where the shrink's integer part equals it (its guard against libjpeg's rounding). Null where
 * libvips would box-shrink before the reduce (the rest 4× or more on an axis: only for images a
 * few pixels thin), which reduceCubic does not repeat.
 */
export function jpegShrinkPlan(width: number, height: number, scale: number): JpegShrinkPlan | null {
  const out = { width: Math.ceil(width * scale), height: Math.ceil(height * scale) };
  const shrink = Math.min(width / out.width, height / out.height);
  let denom = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  if (denom > 1 && Math.trunc(shrink) === denom) denom /= 2;
  const decoded = { width: Math.floor(width / denom), height: Math.floor(height / denom) };
  if (denom === 8 || decoded.width / out.width >= 4 || decoded.height / out.height >= 4) return null;
  return { denom: denom as DctDenom, decoded, out };
}

/** The error of a file jpegShrinkPlan has no plan for: sharp decodes it. */
export function boxShrunk(scale: number): JpegError {
  return new JpegError(true, `A JPEG this thin is box-shrunk by libvips at scale ${scale}; decode it with sharp`);
}

/** libvips' VIPS_TRANSFORM_SCALE: the mask phases per input pixel (65 tables, both ends). */
const PHASES = 64;
/** libvips' VIPS_INTERPOLATE_SHIFT: coefficients in 1/4096. */
const SHIFT = 12;

/** The taps of one axis: the mask of `points` coefficients per phase, and each output pixel's first input pixel (before the edge clamp) and phase. */
export interface ReduceAxis {
  readonly points: number;
  /** (PHASES + 1) × points coefficients (1/4096). */
  readonly masks: Int16Array;
  readonly first: Int32Array;
  readonly phase: Uint8Array;
}

/** C's rint() in the default rounding mode. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Catmull-Rom, libvips' cubic_filter(x, B = 0, C = 0.5) term by term (the same doubles). */
function catmullRom(x: number): number {
  const ax = Math.abs(x);
  const ax2 = ax * ax;
  const ax3 = ax2 * ax;
  if (ax <= 1) return (9 * ax3 + -15 * ax2 + 6) / 6;
  if (ax <= 2) return (-3 * ax3 + 15 * ax2 + -24 * ax + 12) / 6;
  return 0;
}

/**
 * The taps that reduce `inSize` pixels to `outSize` along one axis as sharp asks libvips to:
 * shrink = 1 / (1 / (inSize / outSize)) (sharp passes the scale, libvips inverts it).
 */
export function reduceAxis(inSize: number, outSize: number): ReduceAxis {
  const shrink = 1 / (1 / (inSize / outSize));
  const points = 2 * roundHalfEven(2 * shrink) + 1;
  const masks = new Int16Array((PHASES + 1) * points);
  for (let t = 0; t <= PHASES; t++) {
    const half = t / PHASES + points / 2 - 1;
    const c = new Float64Array(points);
    let sum = 0;
    for (let i = 0; i < points; i++) {
      c[i] = catmullRom((i - half) / shrink);
      sum += c[i]!;
    }
    for (let i = 0; i < points; i++) masks[t * points + i] = Math.trunc((c[i]! / sum) * (1 << SHIFT));
  }
  // libvips' output size rounds to nearest; sharp asks for exactly that size
  const extra = outSize * shrink - inSize;
  const offset = (1 + extra) / 2 - 1;
  const pad = Math.ceil(points / 2) - 1;
  const first = new Int32Array(outSize);
  const phase = new Uint8Array(outSize);
  // the centre accumulates by `shrink` from pixel 0, as libvips' loop does over a whole row
  let at = 0.5 * shrink - 0.5 - offset;
  for (let o = 0; o < outSize; o++) {
    const i = Math.trunc(at);
    const s = Math.trunc(at * PHASES * 2) & (PHASES * 2 - 1);
    first[o] = i - pad;
    phase[o] = (s + 1) >> 1;
    at += shrink;
  }
  return { points, masks, first, phase };
}

function tap(src: Uint8Array, base: number, stride: number, index: number, size: number): number {
  return src[base + Math.min(Math.max(index, 0), size - 1) * stride]!;
}

function sumOf(a: ReduceAxis, o: number, src: Uint8Array, base: number, stride: number, size: number): number {
  const m = a.phase[o]! * a.points;
  let sum = 1 << (SHIFT - 1);
  for (let i = 0; i < a.points; i++) sum += a.masks[m + i]! * tap(src, base, stride, a.first[o]! + i, size);
  return Math.min(Math.max(sum >> SHIFT, 0), 255);
}

/** `planes` planes of h × w u8 (planar) reduced to oh × ow: reducev, then reduceh on its u8 result. */
export function reduceCubic(src: Uint8Array, planes: number, h: number, w: number, oh: number, ow: number): Uint8Array {
  const rows = reduceAxis(h, oh);
  const cols = reduceAxis(w, ow);
  const mid = new Uint8Array(planes * oh * w);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < oh; y++) for (let x = 0; x < w; x++) mid[(p * oh + y) * w + x] = sumOf(rows, y, src, p * h * w + x, w, h);
  }
  const out = new Uint8Array(planes * oh * ow);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out[(p * oh + y) * ow + x] = sumOf(cols, x, mid, (p * oh + y) * w, 1, w);
  }
  return out;
}

/** The uniforms of both passes. */
const REDUCE_UNIFORMS: readonly UniformField[] = [
  { name: 'count', type: 'u32' },
  { name: 'planes', type: 'u32' },
  { name: 'h', type: 'u32' },
  { name: 'w', type: 'u32' },
  { name: 'oh', type: 'u32' },
  { name: 'ow', type: 'u32' },
  { name: 'points', type: 'u32' },
  { name: 'axis_at', type: 'u32' },
  { name: 'gray', type: 'u32' },
];

const WG = 256;

const reducePrograms = new Map<'v' | 'h', ProgramInfo>();
/**
 * One pass of reduceCubic, one thread per output word: 'v' reduces planes×h×w to planes×oh×w;
 * 'h' reduces planes×oh×w to planes×oh×ow, or (`gray`) triples of planes to kensa's gray of them.
 * The `taps` buffer holds the axis (reduceAxis: masks, first, phase) from word `axis_at`.
 */
export function jpegReduceProgram(axis: 'v' | 'h'): ProgramInfo {
  let p = reducePrograms.get(axis);
  if (p) return p;
  const vertical = axis === 'v';
  p = {
    name: 'jpeg_reduce',
    key: axis,
    inputs: [
      { name: 'src', dtype: 'u8' },
      { name: 'taps', dtype: 'u8' },
    ],
    outputs: [{ name: 'out', dtype: 'u8' }],
    uniforms: REDUCE_UNIFORMS,
    workgroupSize: WG,
    body: /* wgsl */ `
fn byte_at(i: u32) -> i32 {
  return i32((src[i >> 2u] >> ((i & 3u) * 8u)) & 255u);
}
// the reduced value of output index o along the axis; taps i at base + clamp(first + i) · stride
fn reduced(o: u32, base: u32, stride: u32, size: u32) -> u32 {
  let masks = u.axis_at;
  let first = bitcast<i32>(taps[masks + ${PHASES + 1}u * u.points + o]);
  let m = masks + taps[masks + ${PHASES + 1}u * u.points + u.${vertical ? 'oh' : 'ow'} + o] * u.points;
  var sum = ${1 << (SHIFT - 1)}i;
  for (var i = 0u; i < u.points; i++) {
    let at = u32(clamp(first + i32(i), 0i, i32(size) - 1i));
    sum += bitcast<i32>(taps[m + i]) * byte_at(base + at * stride);
  }
  return u32(clamp(sum >> ${SHIFT}u, 0i, 255i));
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let wi = linear_workgroup(wid, nwg) * WG + li;
  if (wi >= u.count) { return; }
  ${
    vertical
      ? /* wgsl */ `let plane = u.oh * u.w;
  let total = u.planes * plane;`
      : /* wgsl */ `let plane = u.oh * u.ow;
  let total = select(u.planes, u.planes / 3u, u.gray == 1u) * plane;`
  }
  var word = 0u;
  for (var t = 0u; t < 4u; t++) {
    let j = wi * 4u + t;
    if (j >= total) { break; }
    let p = j / plane;
    let rem = j - p * plane;
    ${
      vertical
        ? /* wgsl */ `let y = rem / u.w;
    let x = rem - y * u.w;
    word |= reduced(y, p * u.h * u.w + x, u.w, u.h) << (t * 8u);`
        : /* wgsl */ `let y = rem / u.ow;
    let x = rem - y * u.ow;
    var v = 0u;
    if (u.gray == 1u) {
      let row = u.oh * u.w;
      let r = reduced(x, (3u * p * u.oh + y) * u.w, 1u, u.w);
      let g = reduced(x, (3u * p * u.oh + y) * u.w + row, 1u, u.w);
      let b = reduced(x, (3u * p * u.oh + y) * u.w + 2u * row, 1u, u.w);
      v = (299u * r + 587u * g + 114u * b + 500u) / 1000u;
    } else {
      v = reduced(x, (p * u.oh + y) * u.w, 1u, u.w);
    }
    word |= v << (t * 8u);`
    }
  }
  out[wi] = word;
}`,
  };
  reducePrograms.set(axis, p);
  return p;
}

function axisWords(a: ReduceAxis): Int32Array {
  const words = new Int32Array(a.masks.length + 2 * a.first.length);
  words.set(a.masks);
  words.set(a.first, a.masks.length);
  words.set(a.phase, a.masks.length + a.first.length);
  return words;
}

/**
 * reduceCubic on the GPU: `src` (N×C×H×W u8) to N×C×oh×ow, or with `gray` (C = 3) to kensa's
 * gray of the reduced RGB, N×1×oh×ow.
 */
export async function reduceCubicGpu(gpu: Gpu, src: Tensor, oh: number, ow: number, gray: boolean): Promise<Tensor> {
  const [n, c, h, w] = src.shape as [number, number, number, number];
  if (gray && c !== 3) throw invalidParameter('gray', 'a 3-channel source', `${c} channels`);
  const rowAxis = reduceAxis(h, oh);
  const colAxis = reduceAxis(w, ow);
  const rows = axisWords(rowAxis);
  const cols = axisWords(colAxis);
  const taps = gpu.alloc((rows.length + cols.length) * 4);
  const mid = gpu.alloc(n * c * oh * w);
  const out = Tensor.empty(gpu, [n, gray ? 1 : c, oh, ow], 'u8');
  try {
    const words = new Int32Array(rows.length + cols.length);
    words.set(rows);
    words.set(cols, rows.length);
    await gpu.upload(taps, new Uint8Array(words.buffer));
    const base = { planes: n * c, h, w, oh, ow, gray: gray ? 1 : 0 };
    const vWords = Math.ceil((n * c * oh * w) / 4);
    gpu.dispatch({
      program: jpegReduceProgram('v'),
      inputs: [src.gpu.ref, taps],
      outputs: [mid],
      uniforms: { ...base, count: vWords, points: rowAxis.points, axis_at: 0 },
      workgroups: Math.ceil(vWords / WG),
    });
    const hWords = Math.ceil(out.size / 4);
    gpu.dispatch({
      program: jpegReduceProgram('h'),
      inputs: [mid, taps],
      outputs: [out.gpu.ref],
      uniforms: { ...base, count: hWords, points: colAxis.points, axis_at: rows.length },
      workgroups: Math.ceil(hWords / WG),
    });
    return out;
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    gpu.free(taps);
    gpu.free(mid);
  }
}
