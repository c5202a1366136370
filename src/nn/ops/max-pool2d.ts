/**
 * 2-D max pooling (PyTorch's max_pool2d with return_indices, ceil_mode off): each output is the
 * largest input in its window (padding never wins), its index the flat position iy·W + ix of
 * the first such input in the plane (row-major window order, as PyTorch). The backward gathers:
 * each input pixel sums the dy of the windows that cover it and chose it, so no atomics are needed.
 */
import { defineOp } from '../../device.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { invalidParameter } from '../../validate.js';
import { checkNchw, checkShapeIs, intPair, type Nchw, type Pair } from './args.js';
import { convOutputLength } from './conv2d.js';
import { KensaError } from '../../errors.js';
import { checkDType } from '../../ops/image.js';

export interface MaxPool2dOptions {
  /** Window: an integer 1–64 or [height, width]. */
  kernelSize: Pair;
  /** Step between windows; defaults to kernelSize. */
  stride?: Pair;
  /** Implicit −∞ border on each side, at most half the window. Default 0. */
  padding?: Pair;
  /** Spacing of the window taps: an integer 1–64 or [height, width]. Default 1. */
  dilation?: Pair;
}

export interface MaxPool2dBackwardOptions extends MaxPool2dOptions {
  /** [H, W] of the forward's input. */
  inputSize: readonly [number, number];
}

/** Every size of one pooling: input n×c×h×w, output n×c×oh×ow. */
export interface PoolGeometry {
  n: number;
  c: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

function poolGeometry(o: MaxPool2dOptions, d: Nchw, name: string): PoolGeometry {
  const [kh, kw] = intPair('kernelSize', o.kernelSize, 1, 64);
  const [sh, sw] = intPair('stride', o.stride, 1, 64, [kh, kw]);
  const [ph, pw] = intPair('padding', o.padding, 0, 32, 0);
  const [dh, dw] = intPair('dilation', o.dilation, 1, 64, 1);
  if (2 * ph > kh || 2 * pw > kw) throw invalidParameter('padding', `at most half the kernel size [${kh}, ${kw}]`, o.padding);
  const oh = convOutputLength(d.h, kh, sh, ph, dh);
  const ow = convOutputLength(d.w, kw, sw, pw, dw);
  if (oh < 1 || ow < 1) {
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected ${name} of at least one window (H + 2·padding ≥ dilation·(KH − 1) + 1) but received ${d.h}×${d.w} for a ${kh}×${kw} window`,
    );
  }
  return { n: d.n, c: d.c, h: d.h, w: d.w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw };
}

// ---- CPU references ----

/** y and the flat in-plane index of each window's first maximum. */
export function maxPool2dReference(g: PoolGeometry, x: ArrayLike<number>): { y: Float64Array; indices: Int32Array } {
  const count = g.n * g.c * g.oh * g.ow;
  const y = new Float64Array(count);
  const indices = new Int32Array(count);
  let o = 0;
  for (let p = 0; p < g.n * g.c; p++)
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++, o++) {
        let best = -Infinity;
        let at = -1;
        for (let ky = 0; ky < g.kh; ky++) {
          const iy = oy * g.sh - g.ph + ky * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          for (let kx = 0; kx < g.kw; kx++) {
            const ix = ox * g.sw - g.pw + kx * g.dw;
            if (ix < 0 || ix >= g.w) continue;
            const v = x[(p * g.h + iy) * g.w + ix]!;
            if (at < 0 || v > best) {
              best = v;
              at = iy * g.w + ix;
            }
          }
        }
        y[o] = best;
        indices[o] = at;
      }
  return { y, indices };
}

/** dx: each window's dy added to the input its index names. */
export function maxPool2dBackwardReference(g: PoolGeometry, dy: ArrayLike<number>, indices: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(g.n * g.c * g.h * g.w);
  const plane = g.oh * g.ow;
  for (let o = 0; o < dy.length; o++) {
    const at = Math.floor(o / plane) * g.h * g.w + indices[o]!;
    dx[at] = dx[at]! + dy[o]!;
  }
  return dx;
}

// ---- WGSL ----

const WG = 256;
const POOL_UNIFORMS = ['count', 'h', 'w', 'oh', 'ow', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw'].map((name) => ({ name, type: 'u32' as const }));

const forwardInfo: ProgramInfo = {
  name: 'max_pool2d_forward',
  key: '',
  inputs: [{ name: 'x', dtype: 'f32' }],
  outputs: [
    { name: 'y', dtype: 'f32' },
    { name: 'indices', dtype: 'i32' },
  ],
  uniforms: POOL_UNIFORMS,
  workgroupSize: WG,
  body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let o = linear_workgroup(wid, nwg) * WG + li;
  if (o >= u.count) { return; }
  let ox = o % u.ow;
  let oy = (o / u.ow) % u.oh;
  let base = (o / (u.ow * u.oh)) * u.h * u.w;
  var best = 0.0;
  var at = -1;
  for (var ky = 0u; ky < u.kh; ky++) {
    let iy = i32(oy * u.sh + ky * u.dh) - i32(u.ph);
    if (iy < 0 || iy >= i32(u.h)) { continue; }
    for (var kx = 0u; kx < u.kw; kx++) {
      let ix = i32(ox * u.sw + kx * u.dw) - i32(u.pw);
      if (ix < 0 || ix >= i32(u.w)) { continue; }
      let i = iy * i32(u.w) + ix;
      let v = x[base + u32(i)];
      if (at < 0 || v > best) { best = v; at = i; }
    }
  }
  y[o] = best;
  indices[o] = at;
}`,
};

/** One thread per input pixel: the windows that cover it are a small range of output rows and columns. */
const backwardInfo: ProgramInfo = {
  name: 'max_pool2d_backward',
  key: '',
  inputs: [
    { name: 'dy', dtype: 'f32' },
    { name: 'indices', dtype: 'i32' },
  ],
  outputs: [{ name: 'dx', dtype: 'f32' }],
  uniforms: POOL_UNIFORMS,
  workgroupSize: WG,
  body: /* wgsl */ `
// output positions o whose window o·s − p + k·d (k < taps) can cover input position i
fn first_window(i: u32, s: u32, p: u32, d: u32, taps: u32) -> u32 {
  let reach = i32(i + p) - i32(d * (taps - 1u));
  return select(0u, (u32(reach) + s - 1u) / s, reach > 0);
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.count) { return; }
  let ix = i % u.w;
  let iy = (i / u.w) % u.h;
  let base = (i / (u.w * u.h)) * u.oh * u.ow;
  let me = i32(iy * u.w + ix);
  let y_end = min(u.oh, (iy + u.ph) / u.sh + 1u);
  let x_end = min(u.ow, (ix + u.pw) / u.sw + 1u);
  var s = 0.0;
  for (var oy = first_window(iy, u.sh, u.ph, u.dh, u.kh); oy < y_end; oy++) {
    for (var ox = first_window(ix, u.sw, u.pw, u.dw, u.kw); ox < x_end; ox++) {
      let o = base + oy * u.ow + ox;
      if (indices[o] == me) { s += dy[o]; }
    }
  }
  dx[i] = s;
}`,
};

function poolUniforms(g: PoolGeometry, count: number): Record<string, number> {
  const { h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw } = g;
  return { count, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw };
}

const forwardOp = defineOp({
  name: 'max_pool2d_forward',
  gpu: (x: Tensor, g: PoolGeometry) => {
    const gpu = x.gpu.gpu;
    const shape = [g.n, g.c, g.oh, g.ow];
    const y = Tensor.empty(gpu, shape, 'f32');
    const indices = Tensor.empty(gpu, shape, 'i32');
    const count = y.size;
    gpu.dispatch({
      program: forwardInfo,
      inputs: [x.gpu.ref],
      outputs: [y.gpu.ref, indices.gpu.ref],
      uniforms: poolUniforms(g, count),
      workgroups: Math.ceil(count / WG),
    });
    return { y, indices };
  },
  cpu: (x: Tensor, g: PoolGeometry) => {
    const r = maxPool2dReference(g, x.data);
    const shape = [g.n, g.c, g.oh, g.ow];
    return { y: Tensor.fromArray(Float32Array.from(r.y), shape, 'f32'), indices: Tensor.fromArray(r.indices, shape, 'i32') };
  },
});

const backwardOp = defineOp({
  name: 'max_pool2d_backward',
  gpu: (inputs: readonly [Tensor, Tensor], g: PoolGeometry) => {
    const gpu = inputs[0].gpu.gpu;
    const dx = Tensor.empty(gpu, [g.n, g.c, g.h, g.w], 'f32');
    const count = dx.size;
    gpu.dispatch({
      program: backwardInfo,
      inputs: inputs.map((t) => t.gpu.ref),
      outputs: [dx.gpu.ref],
      uniforms: poolUniforms(g, count),
      workgroups: Math.ceil(count / WG),
    });
    return dx;
  },
  cpu: (inputs: readonly [Tensor, Tensor], g: PoolGeometry) =>
    Tensor.fromArray(Float32Array.from(maxPool2dBackwardReference(g, inputs[0].data, inputs[1].data)), [g.n, g.c, g.h, g.w], 'f32'),
});

/**
 * Max pooling of x [N, C, H, W] (f32): y [N, C, OH, OW] with OH = floor((H + 2·padding −
 * dilation·(KH − 1) − 1) / stride) + 1, and `indices` (i32, same shape) holding each maximum's
 * position iy·W + ix in its plane, for the backward.
 * @example const { y, indices } = maxPool2dForward(x, { kernelSize: 2 });
 */
export function maxPool2dForward(x: Tensor, options: MaxPool2dOptions): { y: Tensor; indices: Tensor } {
  const d = checkNchw('x', x);
  return forwardOp(x, poolGeometry(options, d, 'x'));
}

/** dx [N, C, H, W] from dy and the forward's indices (both [N, C, OH, OW]); `inputSize` is [H, W]. */
export function maxPool2dBackward(dy: Tensor, indices: Tensor, options: MaxPool2dBackwardOptions): Tensor {
  const size = options.inputSize;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 1 && v <= 65535)) {
    throw invalidParameter('inputSize', '[height, width] of integers between 1 and 65535', size);
  }
  const dd = checkNchw('dy', dy);
  const g = poolGeometry(options, { n: dd.n, c: dd.c, h: size[0], w: size[1] }, 'inputSize');
  checkShapeIs('dy', dy, [g.n, g.c, g.oh, g.ow], '[N, C, OH, OW]');
  checkDType('indices', indices, ['i32']);
  if (indices.shape.some((v, i) => v !== dy.shape[i]) || indices.shape.length !== 4) {
    throw new KensaError('KENSA_ERR_SHAPE', `Expected indices of the shape of dy [${dy.shape.join(', ')}] but received [${indices.shape.join(', ')}]`);
  }
  return backwardOp([dy, indices], g);
}

/** Every program variant, for compile-all tests. */
export function maxPool2dPrograms(): ProgramInfo[] {
  return [forwardInfo, backwardInfo];
}
