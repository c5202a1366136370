/**
 * Bilinear and nearest resizing of f32 N×C×H×W tensors with PyTorch's interpolate semantics and
 * their backwards:
 *  - bilinear, align_corners = false: output o reads source position max((o + 0.5)·in/out − 0.5, 0)
 *    from its two neighbours i0 = floor(src) and min(i0 + 1, in − 1), weighted 1 − λ and λ;
 *  - nearest (PyTorch's 'nearest', not 'nearest-exact'): o reads min(floor(o·in/out), in − 1).
 * The ratio in/out is f32 and the positions are computed in f32 on both backends, as PyTorch's GPU
 * kernels do. The backwards gather: one thread per input pixel sums the weighted dy of the few
 * outputs whose taps reach it (a range found from the inverse map), so no atomics are needed.
 */
import { defineOp } from '../../device.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { invalidParameter } from '../../validate.js';
import { checkNchw, checkShapeIs, intPair, type Nchw, type Pair } from './args.js';

export const UPSAMPLE_MODES = ['bilinear', 'nearest'] as const;
export type UpsampleMode = (typeof UPSAMPLE_MODES)[number];

export interface UpsampleOptions {
  /** Output [H, W]; give this or scaleFactor. */
  size?: readonly [number, number];
  /** Integer factor 1–64 (or [height, width]) the output size is the input's times. */
  scaleFactor?: Pair;
}

export interface UpsampleBackwardOptions extends UpsampleOptions {
  /** [H, W] of the forward's input. */
  inputSize: readonly [number, number];
}

/** Input n×c×h×w, output n×c×oh×ow. */
export interface ResizeGeometry {
  n: number;
  c: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
}

function sizePair(name: string, v: unknown): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= 1 && d <= 65535)) {
    throw invalidParameter(name, '[height, width] of integers between 1 and 65535', v);
  }
  return [v[0] as number, v[1] as number];
}

function resizeGeometry(o: UpsampleOptions, d: Nchw): ResizeGeometry {
  if ((o.size === undefined) === (o.scaleFactor === undefined)) throw invalidParameter('size', 'exactly one of size and scaleFactor', o.size);
  const [oh, ow] = o.size !== undefined ? sizePair('size', o.size) : intPair('scaleFactor', o.scaleFactor, 1, 64).map((s, i) => s * (i === 0 ? d.h : d.w));
  return { n: d.n, c: d.c, h: d.h, w: d.w, oh: oh!, ow: ow! };
}

/** The f32 ratio in/out both backends map with. */
const ratio = (input: number, output: number) => Math.fround(input / output);

/** Output o's two source taps along one axis and their weights (f32 arithmetic, as the GPU). */
export function bilinearTaps(o: number, input: number, r: number): [number, number, number, number] {
  const src = Math.max(Math.fround(Math.fround(r * Math.fround(o + 0.5)) - 0.5), 0);
  const i0 = Math.floor(src);
  const lambda = Math.fround(src - i0);
  return [i0, Math.min(i0 + 1, input - 1), Math.fround(1 - lambda), lambda];
}

/** Output o's source index along one axis. */
export function nearestTap(o: number, input: number, r: number): number {
  return Math.min(Math.floor(Math.fround(o * r)), input - 1);
}

/**
 * The resize as a sum of taps: for each output element, its (input index, weight) pairs, in the
 * order both references visit them.
 */
function forEachResizeTap(mode: UpsampleMode, g: ResizeGeometry, visit: (xi: number, weight: number, yi: number) => void): void {
  const ry = ratio(g.h, g.oh);
  const rx = ratio(g.w, g.ow);
  let yi = 0;
  for (let p = 0; p < g.n * g.c; p++)
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++, yi++) {
        if (mode === 'nearest') {
          visit((p * g.h + nearestTap(oy, g.h, ry)) * g.w + nearestTap(ox, g.w, rx), 1, yi);
          continue;
        }
        const [y0, y1, wy0, wy1] = bilinearTaps(oy, g.h, ry);
        const [x0, x1, wx0, wx1] = bilinearTaps(ox, g.w, rx);
        const row = (iy: number) => (p * g.h + iy) * g.w;
        visit(row(y0) + x0, wy0 * wx0, yi);
        visit(row(y0) + x1, wy0 * wx1, yi);
        visit(row(y1) + x0, wy1 * wx0, yi);
        visit(row(y1) + x1, wy1 * wx1, yi);
      }
}

export function upsampleReference(mode: UpsampleMode, g: ResizeGeometry, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(g.n * g.c * g.oh * g.ow);
  forEachResizeTap(mode, g, (xi, weight, yi) => (y[yi] = y[yi]! + weight * x[xi]!));
  return y;
}

export function upsampleBackwardReference(mode: UpsampleMode, g: ResizeGeometry, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(g.n * g.c * g.h * g.w);
  forEachResizeTap(mode, g, (xi, weight, yi) => (dx[xi] = dx[xi]! + weight * dy[yi]!));
  return dx;
}

// ---- WGSL ----

const WG = 256;
const UNIFORMS = [
  { name: 'count', type: 'u32' as const },
  { name: 'h', type: 'u32' as const },
  { name: 'w', type: 'u32' as const },
  { name: 'oh', type: 'u32' as const },
  { name: 'ow', type: 'u32' as const },
  { name: 'ry', type: 'f32' as const },
  { name: 'rx', type: 'f32' as const },
];

/** tap_weight(o, i, n, r): the weight of input i in output o along one axis of n inputs. */
const TAPS: Record<UpsampleMode, string> = {
  bilinear: /* wgsl */ `
fn tap_weight(o: u32, i: u32, n: u32, r: f32) -> f32 {
  let src = max(r * (f32(o) + 0.5) - 0.5, 0.0);
  let i0 = u32(floor(src));
  let lambda = src - f32(i0);
  let i1 = min(i0 + 1u, n - 1u);
  return select(0.0, 1.0 - lambda, i0 == i) + select(0.0, lambda, i1 == i);
}
// outputs whose taps can reach input i: src in (i − 1, i + 1], o ≈ (src + 0.5) / r − 0.5, one more each side
fn first_output(i: u32, r: f32) -> u32 { return u32(max(floor((f32(i) - 0.5) / r - 0.5) - 1.0, 0.0)); }
fn end_output(i: u32, r: f32, outs: u32) -> u32 { return min(u32(max(ceil((f32(i) + 1.5) / r - 0.5) + 2.0, 0.0)), outs); }`,
  nearest: /* wgsl */ `
fn tap_weight(o: u32, i: u32, n: u32, r: f32) -> f32 { return select(0.0, 1.0, min(u32(floor(f32(o) * r)), n - 1u) == i); }
// outputs with floor(o·r) = i: o in [i / r, (i + 1) / r), one more each side
fn first_output(i: u32, r: f32) -> u32 { return u32(max(floor(f32(i) / r) - 1.0, 0.0)); }
fn end_output(i: u32, r: f32, outs: u32) -> u32 { return min(u32(ceil((f32(i) + 1.0) / r) + 1.0), outs); }`,
};

function forwardInfo(mode: UpsampleMode): ProgramInfo {
  const sample =
    mode === 'nearest'
      ? 'x[base + min(u32(floor(f32(oy) * u.ry)), u.h - 1u) * u.w + min(u32(floor(f32(ox) * u.rx)), u.w - 1u)]'
      : /* wgsl */ `bilinear(base, oy, ox)`;
  return {
    name: 'upsample_forward',
    key: mode,
    inputs: [{ name: 'x', dtype: 'f32' }],
    outputs: [{ name: 'y', dtype: 'f32' }],
    uniforms: UNIFORMS,
    workgroupSize: WG,
    body: /* wgsl */ `
fn bilinear(base: u32, oy: u32, ox: u32) -> f32 {
  let sy = max(u.ry * (f32(oy) + 0.5) - 0.5, 0.0);
  let sx = max(u.rx * (f32(ox) + 0.5) - 0.5, 0.0);
  let y0 = u32(floor(sy));
  let x0 = u32(floor(sx));
  let ly = sy - f32(y0);
  let lx = sx - f32(x0);
  let y1 = min(y0 + 1u, u.h - 1u);
  let x1 = min(x0 + 1u, u.w - 1u);
  let top = (1.0 - lx) * x[base + y0 * u.w + x0] + lx * x[base + y0 * u.w + x1];
  let bottom = (1.0 - lx) * x[base + y1 * u.w + x0] + lx * x[base + y1 * u.w + x1];
  return (1.0 - ly) * top + ly * bottom;
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let o = linear_workgroup(wid, nwg) * WG + li;
  if (o >= u.count) { return; }
  let ox = o % u.ow;
  let oy = (o / u.ow) % u.oh;
  let base = (o / (u.ow * u.oh)) * u.h * u.w;
  y[o] = ${sample};
}`,
  };
}

function backwardInfo(mode: UpsampleMode): ProgramInfo {
  return {
    name: 'upsample_backward',
    key: mode,
    inputs: [{ name: 'dy', dtype: 'f32' }],
    outputs: [{ name: 'dx', dtype: 'f32' }],
    uniforms: UNIFORMS,
    workgroupSize: WG,
    body: /* wgsl */ `${TAPS[mode]}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.count) { return; }
  let ix = i % u.w;
  let iy = (i / u.w) % u.h;
  let base = (i / (u.w * u.h)) * u.oh * u.ow;
  let x_first = first_output(ix, u.rx);
  let x_end = end_output(ix, u.rx, u.ow);
  var s = 0.0;
  for (var oy = first_output(iy, u.ry); oy < end_output(iy, u.ry, u.oh); oy++) {
    let wy = tap_weight(oy, iy, u.h, u.ry);
    if (wy == 0.0) { continue; }
    var row = 0.0;
    for (var ox = x_first; ox < x_end; ox++) { row += tap_weight(ox, ix, u.w, u.rx) * dy[base + oy * u.ow + ox]; }
    s += wy * row;
  }
  dx[i] = s;
}`,
  };
}

const programs = new Map<string, ProgramInfo>();
function cached(key: string, make: () => ProgramInfo): ProgramInfo {
  let p = programs.get(key);
  if (!p) programs.set(key, (p = make()));
  return p;
}

function uniformsOf(g: ResizeGeometry, count: number): Record<string, number> {
  return { count, h: g.h, w: g.w, oh: g.oh, ow: g.ow, ry: ratio(g.h, g.oh), rx: ratio(g.w, g.ow) };
}

const forwardOp = defineOp({
  name: 'upsample_forward',
  gpu: (x: Tensor, mode: UpsampleMode, g: ResizeGeometry) => {
    const gpu = x.gpu.gpu;
    const y = Tensor.empty(gpu, [g.n, g.c, g.oh, g.ow], 'f32');
    gpu.dispatch({
      program: cached(`f${mode}`, () => forwardInfo(mode)),
      inputs: [x.gpu.ref],
      outputs: [y.gpu.ref],
      uniforms: uniformsOf(g, y.size),
      workgroups: Math.ceil(y.size / WG),
    });
    return y;
  },
  cpu: (x: Tensor, mode: UpsampleMode, g: ResizeGeometry) =>
    Tensor.fromArray(Float32Array.from(upsampleReference(mode, g, x.data)), [g.n, g.c, g.oh, g.ow], 'f32'),
});

const backwardOp = defineOp({
  name: 'upsample_backward',
  gpu: (dy: Tensor, mode: UpsampleMode, g: ResizeGeometry) => {
    const gpu = dy.gpu.gpu;
    const dx = Tensor.empty(gpu, [g.n, g.c, g.h, g.w], 'f32');
    gpu.dispatch({
      program: cached(`b${mode}`, () => backwardInfo(mode)),
      inputs: [dy.gpu.ref],
      outputs: [dx.gpu.ref],
      uniforms: uniformsOf(g, dx.size),
      workgroups: Math.ceil(dx.size / WG),
    });
    return dx;
  },
  cpu: (dy: Tensor, mode: UpsampleMode, g: ResizeGeometry) =>
    Tensor.fromArray(Float32Array.from(upsampleBackwardReference(mode, g, dy.data)), [g.n, g.c, g.h, g.w], 'f32'),
});

function forward(mode: UpsampleMode, x: Tensor, options: UpsampleOptions): Tensor {
  return forwardOp(x, mode, resizeGeometry(options, checkNchw('x', x)));
}

function backward(mode: UpsampleMode, dy: Tensor, options: UpsampleBackwardOptions): Tensor {
  const [h, w] = sizePair('inputSize', options.inputSize);
  const dd = checkNchw('dy', dy);
  const g = resizeGeometry(options, { n: dd.n, c: dd.c, h, w });
  checkShapeIs('dy', dy, [g.n, g.c, g.oh, g.ow], '[N, C, OH, OW]');
  return backwardOp(dy, mode, g);
}

/**
 * Bilinear resize of x [N, C, H, W] to `size` or `scaleFactor` times its size (PyTorch's
 * interpolate(mode='bilinear', align_corners=False)).
 * @example const up = upsampleBilinear2dForward(x, { scaleFactor: 2 });
 */
export function upsampleBilinear2dForward(x: Tensor, options: UpsampleOptions): Tensor {
  return forward('bilinear', x, options);
}

/** dx [N, C, H, W] of the bilinear resize from dy [N, C, OH, OW]; `inputSize` is [H, W]. */
export function upsampleBilinear2dBackward(dy: Tensor, options: UpsampleBackwardOptions): Tensor {
  return backward('bilinear', dy, options);
}

/** Nearest resize of x [N, C, H, W] (PyTorch's interpolate(mode='nearest')). */
export function upsampleNearest2dForward(x: Tensor, options: UpsampleOptions): Tensor {
  return forward('nearest', x, options);
}

/** dx [N, C, H, W] of the nearest resize from dy [N, C, OH, OW]; `inputSize` is [H, W]. */
export function upsampleNearest2dBackward(dy: Tensor, options: UpsampleBackwardOptions): Tensor {
  return backward('nearest', dy, options);
}

/** Every program variant, for compile-all tests. */
export function upsamplePrograms(): ProgramInfo[] {
  return UPSAMPLE_MODES.flatMap((mode) => [cached(`f${mode}`, () => forwardInfo(mode)), cached(`b${mode}`, () => backwardInfo(mode))]);
}
