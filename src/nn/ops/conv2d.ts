/**
 * 2-D convolution over f32 N×C×H×W tensors (PyTorch's conv2d: cross-correlation, zero padding,
 * weights [Cout, Cin/groups, KH, KW]) and its gradients, each an implicit GEMM per group on the
 * shared engine (implicit-gemm.ts), gathering its im2col operand from the tensors on the fly:
 *  - forward:         y[co][b,oy,ox]   = Σ_(ci,ky,kx) w[co][ci,ky,kx] · x[b,ci][oy·s−p+ky·d, ox·s−p+kx·d]
 *  - backward input:  dx[ci][b,iy,ix]  = Σ_(co,ky,kx) w[co][ci,ky,kx] · dy[b,co][(iy+p−ky·d)/s, …] (where divisible)
 *  - backward weight: dw[co][ci,ky,kx] = Σ_(b,oy,ox) dy[b,co][oy,ox] · x[b,ci][oy·s−p+ky·d, …], split over K
 *    when the output grid is too small to fill the GPU (summed by a second pass).
 * The forward may fuse the bias and a ReLU into its store. The CPU references are plain loops
 * accumulating in f64 over any array type, so gradient checks run them in f64.
 */
import { defineOp } from '../../device.js';
import { KensaError } from '../../errors.js';
import type { Gpu } from '../../gpu/gpu.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { UniformField } from '../../gpu/uniforms.js';
import { checkDType } from '../../ops/image.js';
import { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, oneOf } from '../../validate.js';
import { checkNchw, checkShapeIs, intPair, type Pair } from './args.js';
import {
  GEMM_PRECISIONS,
  GEMM_TILE_SIZES,
  type GemmPrecision,
  type GemmSize,
  type GemmSpec,
  type GemmTile,
  gemmEnginePrograms,
  enableTensorCores,
  gemmProgram,
  type MatrixSpelling,
  mmaGemmProgram,
  runGemm,
  runMeasuredGemm,
  sumSplits,
} from './implicit-gemm.js';

export interface Conv2dOptions {
  /** Step between output pixels: an integer 1–64 or [height, width]. Default 1. */
  stride?: Pair;
  /** Zeros added on each side: an integer 0–1024 or [height, width]. Default 0. */
  padding?: Pair;
  /** Spacing of the kernel taps: an integer 1–64 or [height, width]. Default 1. */
  dilation?: Pair;
  /** Channel groups: Cin and Cout split into this many independent convolutions. Default 1. */
  groups?: number;
  /**
   * 'f32' (default), or 'f16': the products take f16-rounded inputs with f32 sums on the GPU's
   * tensor cores (subgroup matrices) once enableConvTensorCores(gpu) turned them on; elsewhere,
   * and on the CPU, f32.
   */
  precision?: GemmPrecision;
}

export const CONV_ACTIVATIONS = ['none', 'relu'] as const;
export type ConvActivation = (typeof CONV_ACTIVATIONS)[number];

export interface Conv2dForwardOptions extends Conv2dOptions {
  /** Activation fused into the output store, after the bias. Default 'none'. */
  activation?: ConvActivation;
}

export interface Conv2dBackwardInputOptions extends Conv2dOptions {
  /** [H, W] of the forward's input (several sizes give one output size when stride > 1). */
  inputSize: readonly [number, number];
}

export interface Conv2dBackwardWeightOptions extends Conv2dOptions {
  /** [KH, KW] of the weight (or one integer for both). */
  kernelSize: Pair;
}

/** Every size of one convolution: input n×cin×h×w, weight cout×(cin/groups)×kh×kw, output n×cout×oh×ow. */
export interface ConvGeometry {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  groups: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  precision: GemmPrecision;
}

/** Stride, padding, dilation and groups as validated numbers. */
export interface ConvParams {
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  groups: number;
  precision: GemmPrecision;
}

export function convParams(o: Conv2dOptions): ConvParams {
  const [sh, sw] = intPair('stride', o.stride, 1, 64, 1);
  const [ph, pw] = intPair('padding', o.padding, 0, 1024, 0);
  const [dh, dw] = intPair('dilation', o.dilation, 1, 64, 1);
  const groups = integerInRange('groups', o.groups ?? 1, 1, 65535);
  const precision = oneOf('precision', o.precision ?? 'f32', GEMM_PRECISIONS);
  return { sh, sw, ph, pw, dh, dw, groups, precision };
}

/** Output length of one axis: floor((in + 2p − d·(k−1) − 1) / s) + 1. */
export function convOutputLength(input: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((input + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** Checks that `groups` divides both channel counts. */
export function checkGroups(p: ConvParams, cin: number, cout: number): void {
  if (cin % p.groups !== 0 || cout % p.groups !== 0) {
    throw invalidParameter('groups', `a divisor of both Cin (${cin}) and Cout (${cout})`, p.groups);
  }
}

/** The geometry of a convolution of an input of n×cin×h×w by a weight [cout, cin/groups, kh, kw]; the output must be at least 1×1. */
export function convGeometry(p: ConvParams, n: number, cin: number, h: number, w: number, cout: number, kh: number, kw: number, name: string): ConvGeometry {
  const oh = convOutputLength(h, kh, p.sh, p.ph, p.dh);
  const ow = convOutputLength(w, kw, p.sw, p.pw, p.dw);
  if (oh < 1 || ow < 1) {
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected ${name} of at least one output pixel (H + 2·padding ≥ dilation·(KH − 1) + 1) but received ${h}×${w} for a ${kh}×${kw} kernel, padding [${p.ph}, ${p.pw}] and dilation [${p.dh}, ${p.dw}]`,
    );
  }
  return { n, cin, h, w, cout, kh, kw, oh, ow, ...p };
}

/** Checks a weight of [cout, cin/groups, kh, kw] against cin; returns [cout, kh, kw]. */
export function checkWeight(name: string, weight: Tensor, cin: number, p: ConvParams): [number, number, number] {
  checkDType(name, weight, ['f32']);
  if (weight.shape.length !== 4)
    throw new KensaError('KENSA_ERR_SHAPE', `Expected ${name} of shape [Cout, Cin / groups, KH, KW] but received [${weight.shape.join(', ')}]`);
  const [cout, cinG, kh, kw] = weight.shape as [number, number, number, number];
  checkGroups(p, cin, cout);
  if (cinG * p.groups !== cin) {
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected ${name} of shape [Cout, Cin / groups = ${cin / p.groups}, KH, KW] but received [${weight.shape.join(', ')}]`,
    );
  }
  return [cout, kh, kw];
}

// ---- WGSL ----

const CONV_UNIFORMS: readonly UniformField[] = ['cin', 'h', 'w', 'cout', 'cin_g', 'cout_g', 'oh', 'ow', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw'].map(
  (name) => ({ name, type: 'u32' }),
);

function convUniforms(g: ConvGeometry): Record<string, number> {
  const { cin, h, w, cout, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw } = g;
  return { cin, h, w, cout, cin_g: cin / g.groups, cout_g: cout / g.groups, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw };
}

/** x at element offset `at`, which lies at input row `row` and column `col` of its plane; zero in the padding. */
const X_AT = /* wgsl */ `
fn x_at(at: i32, row: i32, col: i32) -> f32 {
  if (row < 0 || col < 0 || row >= i32(u.h) || col >= i32(u.w)) { return 0.0; }
  return x[u32(at)];
}`;

/** A 1×1 kernel at stride 1 without padding: a plain GEMM over each sample's pixels (no window to decode). */
function isPointwise(g: ConvGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;
}

/**
 * B of the general forward: output pixel n's window corner (its offset in the sample's first input
 * plane of the group, row, column) and tap k = (ci, ky, kx)'s shift from it.
 */
const FORWARD_B = /* wgsl */ `${X_AT}
fn b_col(g: u32, n: u32) -> vec4<i32> {
  let ox = n % u.ow;
  let oy = (n / u.ow) % u.oh;
  let plane = i32(((n / (u.ow * u.oh)) * u.cin + g * u.cin_g) * u.h * u.w);
  let row = i32(oy * u.sh) - i32(u.ph);
  let col = i32(ox * u.sw) - i32(u.pw);
  return vec4<i32>(plane + row * i32(u.w) + col, row, col, 0);
}
fn k_info(k: u32) -> vec4<i32> {
  let kx = k % u.kw;
  let ky = (k / u.kw) % u.kh;
  let ci = k / (u.kw * u.kh);
  let dy = i32(ky * u.dh);
  let dx = i32(kx * u.dw);
  return vec4<i32>(i32(ci * u.h * u.w) + dy * i32(u.w) + dx, dy, dx, 0);
}
fn load_b(g: u32, k: u32, col: vec4<i32>, t: vec4<i32>) -> f32 { return x_at(col.x + t.x, col.y + t.y, col.z + t.z); }`;

/** B of the pointwise forward: pixel n of its sample's first input plane of the group; k is the channel. */
const POINTWISE_B = /* wgsl */ `
fn b_col(g: u32, n: u32) -> vec4<i32> {
  let plane = u.h * u.w;
  return vec4<i32>(i32(((n / plane) * u.cin + g * u.cin_g) * plane + n % plane), 0, 0, 0);
}
fn k_info(k: u32) -> vec4<i32> { return vec4<i32>(i32(k * u.h * u.w), 0, 0, 0); }
fn load_b(g: u32, k: u32, col: vec4<i32>, t: vec4<i32>) -> f32 { return x[u32(col.x + t.x)]; }`;

function forwardSpec(bias: boolean, activation: ConvActivation, pointwise: boolean): GemmSpec {
  const inputs = [
    { name: 'x', dtype: 'f32' as const },
    { name: 'weight', dtype: 'f32' as const },
  ];
  if (bias) inputs.push({ name: 'bias', dtype: 'f32' });
  return {
    name: 'conv2d_forward',
    key: `${bias ? 'bias' : 'nobias'},${activation}${pointwise ? ',pointwise' : ''}`,
    inputs,
    outputs: [{ name: 'y', dtype: 'f32' }],
    uniforms: CONV_UNIFORMS,
    aAlong: 'k',
    bAlong: 'n',
    // A: weight rows [cout][cin_g·kh·kw]
    functions: /* wgsl */ `${pointwise ? POINTWISE_B : FORWARD_B}
fn a_col(g: u32, m: u32) -> vec4<i32> { return vec4<i32>(i32((g * u.m + m) * u.k), 0, 0, 0); }
fn load_a(g: u32, k: u32, row: vec4<i32>, t: vec4<i32>) -> f32 { return weight[u32(row.x) + k]; }
fn store_c(g: u32, m: u32, n: u32, v: f32, split: u32) {
  let co = g * u.m + m;
  let plane = u.oh * u.ow;
  var r = v${bias ? ' + bias[co]' : ''};
  ${activation === 'relu' ? 'r = max(r, 0.0);' : ''}
  y[((n / plane) * u.cout + co) * plane + n % plane] = r;
}`,
  };
}

/** dx = wᵀ ⊛ dy; `bias` (transposed convolution's forward) adds a per-input-channel bias and activation. */
function backwardInputSpec(bias: boolean, activation: ConvActivation): GemmSpec {
  const inputs = [
    { name: 'dy', dtype: 'f32' as const },
    { name: 'weight', dtype: 'f32' as const },
  ];
  if (bias) inputs.push({ name: 'bias', dtype: 'f32' });
  return {
    name: 'conv2d_backward_input',
    key: `${bias ? 'bias' : 'nobias'},${activation}`,
    inputs,
    outputs: [{ name: 'dx', dtype: 'f32' }],
    uniforms: CONV_UNIFORMS,
    aAlong: 'k',
    bAlong: 'n',
    // A: the weights of input channel m; B: input pixel (iy, ix)'s reach into dy, (iy + p − ky·d) / s
    // where divisible; k = (co, ky, kx) decodes to dy's plane, the tap's shifts and its weight offset
    functions: /* wgsl */ `
fn k_info(k: u32) -> vec4<i32> {
  let taps = u.kh * u.kw;
  let tap = k % taps;
  let co = k / taps;
  return vec4<i32>(i32(co * u.oh * u.ow), i32((tap / u.kw) * u.dh), i32((tap % u.kw) * u.dw), i32(co * u.cin_g * taps + tap));
}
fn a_col(g: u32, m: u32) -> vec4<i32> { return vec4<i32>(i32((g * u.cout_g * u.cin_g + m) * u.kh * u.kw), 0, 0, 0); }
fn load_a(g: u32, k: u32, row: vec4<i32>, t: vec4<i32>) -> f32 { return weight[u32(row.x + t.w)]; }
fn b_col(g: u32, n: u32) -> vec4<i32> {
  let ix = n % u.w;
  let iy = (n / u.w) % u.h;
  let plane = ((n / (u.w * u.h)) * u.cout + g * u.cout_g) * u.oh * u.ow;
  return vec4<i32>(i32(plane), i32(iy + u.ph), i32(ix + u.pw), 0);
}
fn load_b(g: u32, k: u32, col: vec4<i32>, t: vec4<i32>) -> f32 {
  let ty = col.y - t.y;
  let tx = col.z - t.z;
  if (ty < 0 || tx < 0) { return 0.0; }
  let oy = u32(ty) / u.sh;
  let ox = u32(tx) / u.sw;
  if (oy * u.sh != u32(ty) || ox * u.sw != u32(tx) || oy >= u.oh || ox >= u.ow) { return 0.0; }
  return dy[u32(col.x + t.x) + oy * u.ow + ox];
}
fn store_c(g: u32, m: u32, n: u32, v: f32, split: u32) {
  let ci = g * u.m + m;
  let plane = u.h * u.w;
  var r = v${bias ? ' + bias[ci]' : ''};
  ${activation === 'relu' ? 'r = max(r, 0.0);' : ''}
  dx[((n / plane) * u.cin + ci) * plane + n % plane] = r;
}`,
  };
}

/** dw = dy ⊛ x over the batch; slice `split` of K writes its own copy of dw (summed afterwards). */
const backwardWeightSpec: GemmSpec = {
  name: 'conv2d_backward_weight',
  key: '',
  inputs: [
    { name: 'dy', dtype: 'f32' },
    { name: 'x', dtype: 'f32' },
  ],
  outputs: [{ name: 'dw', dtype: 'f32' }],
  uniforms: CONV_UNIFORMS,
  aAlong: 'k',
  bAlong: 'k',
  // A: dy of output channel m; B: weight tap n = (ci, ky, kx)'s input plane and shifts; k = (b, oy, ox)
  // decodes to x's sample offset, the output pixel's input row and column, and dy's offset
  functions: /* wgsl */ `${X_AT}
fn k_info(k: u32) -> vec4<i32> {
  let plane = u.oh * u.ow;
  let b = k / plane;
  let p = k % plane;
  return vec4<i32>(i32(b * u.cin * u.h * u.w), i32((p / u.ow) * u.sh), i32((p % u.ow) * u.sw), i32(b * u.cout * plane + p));
}
fn a_col(g: u32, m: u32) -> vec4<i32> { return vec4<i32>(i32((g * u.m + m) * u.oh * u.ow), 0, 0, 0); }
fn load_a(g: u32, k: u32, row: vec4<i32>, t: vec4<i32>) -> f32 { return dy[u32(row.x + t.w)]; }
fn b_col(g: u32, n: u32) -> vec4<i32> {
  let kx = n % u.kw;
  let ky = (n / u.kw) % u.kh;
  let ci = g * u.cin_g + n / (u.kw * u.kh);
  return vec4<i32>(i32(ci * u.h * u.w), i32(ky * u.dh) - i32(u.ph), i32(kx * u.dw) - i32(u.pw), 0);
}
fn load_b(g: u32, k: u32, col: vec4<i32>, t: vec4<i32>) -> f32 {
  let row = col.y + t.y;
  let column = col.z + t.z;
  return x_at(col.x + t.x + row * i32(u.w) + column, row, column);
}
fn store_c(g: u32, m: u32, n: u32, v: f32, split: u32) { dw[((split * u.groups + g) * u.m + m) * u.n + n] = v; }`,
};

const BIAS_WG = 256;
/** db[c] = Σ over the batch and the plane of dy[b, c]: one workgroup per channel, a tree sum in workgroup memory. */
const biasGradInfo: ProgramInfo = {
  name: 'conv2d_backward_bias',
  key: '',
  inputs: [{ name: 'dy', dtype: 'f32' }],
  outputs: [{ name: 'db', dtype: 'f32' }],
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'c', type: 'u32' },
    { name: 'plane', type: 'u32' },
  ],
  workgroupSize: BIAS_WG,
  body: /* wgsl */ `
var<workgroup> partial: array<f32, WG>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = linear_workgroup(wid, nwg);
  if (c >= u.c) { return; }
  var s = 0.0;
  for (var b = 0u; b < u.n; b++) {
    let base = (b * u.c + c) * u.plane;
    for (var i = li; i < u.plane; i += WG) { s += dy[base + i]; }
  }
  partial[li] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (li < half) { partial[li] += partial[li + half]; }
    workgroupBarrier();
  }
  if (li == 0u) { db[c] = partial[0]; }
}`,
};

const programs = new Map<string, ProgramInfo>();
/** The program of `spec` on a SIMT tile or the tensor cores (in a matrix spelling), made once. */
function variant(id: string, spec: () => GemmSpec): (tile: GemmTile | MatrixSpelling) => ProgramInfo {
  return (tile) => {
    const key = `${id}:${tile}`;
    let p = programs.get(key);
    if (!p) programs.set(key, (p = typeof tile === 'string' ? mmaGemmProgram(spec(), tile) : gemmProgram(spec(), tile)));
    return p;
  };
}
const forwardProgram = (bias: boolean, act: ConvActivation, pointwise: boolean) =>
  variant(`f${bias}${act}${pointwise}`, () => forwardSpec(bias, act, pointwise));
const backwardInputProgram = (bias: boolean, act: ConvActivation) => variant(`i${bias}${act}`, () => backwardInputSpec(bias, act));
const backwardWeightProgram = variant('w', () => backwardWeightSpec);

// ---- CPU references (f64 accumulation over any array type) ----

/** y = conv(x, w) + bias, then the activation. */
export function conv2dReference(
  g: ConvGeometry,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  activation: ConvActivation = 'none',
): Float64Array {
  const cinG = g.cin / g.groups;
  const coutG = g.cout / g.groups;
  const y = new Float64Array(g.n * g.cout * g.oh * g.ow);
  let o = 0;
  for (let b = 0; b < g.n; b++)
    for (let co = 0; co < g.cout; co++) {
      const c0 = Math.floor(co / coutG) * cinG;
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          let s = bias ? bias[co]! : 0;
          for (let ci = 0; ci < cinG; ci++)
            for (let ky = 0; ky < g.kh; ky++) {
              const iy = oy * g.sh - g.ph + ky * g.dh;
              if (iy < 0 || iy >= g.h) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const ix = ox * g.sw - g.pw + kx * g.dw;
                if (ix < 0 || ix >= g.w) continue;
                s += w[((co * cinG + ci) * g.kh + ky) * g.kw + kx]! * x[((b * g.cin + c0 + ci) * g.h + iy) * g.w + ix]!;
              }
            }
          y[o++] = activation === 'relu' ? Math.max(s, 0) : s;
        }
    }
  return y;
}

/** Visits every (input element, weight element, output element) triple the convolution multiplies. */
function forEachTap(g: ConvGeometry, visit: (xi: number, wi: number, yi: number) => void): void {
  const cinG = g.cin / g.groups;
  const coutG = g.cout / g.groups;
  for (let b = 0; b < g.n; b++)
    for (let co = 0; co < g.cout; co++) {
      const c0 = Math.floor(co / coutG) * cinG;
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          const yi = ((b * g.cout + co) * g.oh + oy) * g.ow + ox;
          for (let ci = 0; ci < cinG; ci++)
            for (let ky = 0; ky < g.kh; ky++) {
              const iy = oy * g.sh - g.ph + ky * g.dh;
              if (iy < 0 || iy >= g.h) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const ix = ox * g.sw - g.pw + kx * g.dw;
                if (ix < 0 || ix >= g.w) continue;
                visit(((b * g.cin + c0 + ci) * g.h + iy) * g.w + ix, ((co * cinG + ci) * g.kh + ky) * g.kw + kx, yi);
              }
            }
        }
    }
}

/** dx: each product's dy · w scattered back to its input element. */
export function conv2dBackwardInputReference(g: ConvGeometry, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(g.n * g.cin * g.h * g.w);
  forEachTap(g, (xi, wi, yi) => (dx[xi] = dx[xi]! + dy[yi]! * w[wi]!));
  return dx;
}

/** dw: each product's dy · x summed into its weight element. */
export function conv2dBackwardWeightReference(g: ConvGeometry, dy: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  const dw = new Float64Array(g.cout * (g.cin / g.groups) * g.kh * g.kw);
  forEachTap(g, (xi, wi, yi) => (dw[wi] = dw[wi]! + dy[yi]! * x[xi]!));
  return dw;
}

/** db[c]: dy summed over the batch and the plane. */
export function channelSumReference(dy: ArrayLike<number>, n: number, c: number, plane: number): Float64Array {
  const db = new Float64Array(c);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < plane; i++) db[ch] = db[ch]! + dy[(b * c + ch) * plane + i]!;
  return db;
}

const f32Tensor = (values: Float64Array, shape: readonly number[]) => Tensor.fromArray(Float32Array.from(values), shape, 'f32');

// ---- ops ----

type Maybe = Tensor | null;

/** y from (x, weight[, bias]). */
export const convForwardOp = defineOp({
  name: 'conv2d_forward',
  gpu: (inputs: readonly Tensor[], g: ConvGeometry, bias: boolean, activation: ConvActivation) => {
    const gpu = inputs[0]!.gpu.gpu;
    const y = Tensor.empty(gpu, [g.n, g.cout, g.oh, g.ow], 'f32');
    const size: GemmSize = { m: g.cout / g.groups, n: g.n * g.oh * g.ow, k: (g.cin / g.groups) * g.kh * g.kw, groups: g.groups };
    const refs = inputs.map((t) => t.gpu.ref);
    runMeasuredGemm(gpu, forwardProgram(bias, activation, isPointwise(g)), size, g.precision, false, (c) =>
      runGemm(gpu, c.kernel, size, refs, [y.gpu.ref], convUniforms(g)),
    );
    return y;
  },
  cpu: (inputs: readonly Tensor[], g: ConvGeometry, bias: boolean, activation: ConvActivation) =>
    f32Tensor(conv2dReference(g, inputs[0]!.data, inputs[1]!.data, bias ? inputs[2]!.data : null, activation), [g.n, g.cout, g.oh, g.ow]),
});

/** dx (inputs dy, weight[, bias]); with a bias, transposed convolution's forward. */
export const convBackwardInputOp = defineOp({
  name: 'conv2d_backward_input',
  gpu: (inputs: readonly Tensor[], g: ConvGeometry, bias: boolean, activation: ConvActivation) => {
    const gpu = inputs[0]!.gpu.gpu;
    const dx = Tensor.empty(gpu, [g.n, g.cin, g.h, g.w], 'f32');
    const size: GemmSize = { m: g.cin / g.groups, n: g.n * g.h * g.w, k: (g.cout / g.groups) * g.kh * g.kw, groups: g.groups };
    const refs = inputs.map((t) => t.gpu.ref);
    runMeasuredGemm(gpu, backwardInputProgram(bias, activation), size, g.precision, false, (c) =>
      runGemm(gpu, c.kernel, size, refs, [dx.gpu.ref], convUniforms(g)),
    );
    return dx;
  },
  cpu: (inputs: readonly Tensor[], g: ConvGeometry, bias: boolean, activation: ConvActivation) => {
    const dx = conv2dBackwardInputReference(g, inputs[0]!.data, inputs[1]!.data);
    if (bias) {
      const b = inputs[2]!.data;
      const plane = g.h * g.w;
      for (let i = 0; i < dx.length; i++) dx[i] = dx[i]! + b[Math.floor(i / plane) % g.cin]!;
    }
    if (activation === 'relu') for (let i = 0; i < dx.length; i++) dx[i] = Math.max(dx[i]!, 0);
    return f32Tensor(dx, [g.n, g.cin, g.h, g.w]);
  },
});

/** dw from (dy, x). */
export const convBackwardWeightOp = defineOp({
  name: 'conv2d_backward_weight',
  gpu: (inputs: readonly [Tensor, Tensor], g: ConvGeometry) => {
    const gpu: Gpu = inputs[0].gpu.gpu;
    const shape = [g.cout, g.cin / g.groups, g.kh, g.kw];
    const dw = Tensor.empty(gpu, shape, 'f32');
    const size: GemmSize = { m: g.cout / g.groups, n: (g.cin / g.groups) * g.kh * g.kw, k: g.n * g.oh * g.ow, groups: g.groups };
    const refs = inputs.map((t) => t.gpu.ref);
    runMeasuredGemm(gpu, backwardWeightProgram, size, g.precision, true, ({ kernel, splits }) => {
      if (splits === 1) {
        runGemm(gpu, kernel, size, refs, [dw.gpu.ref], convUniforms(g));
        return;
      }
      const part = Tensor.empty(gpu, [splits, dw.size], 'f32');
      runGemm(gpu, kernel, size, refs, [part.gpu.ref], convUniforms(g), splits);
      sumSplits(gpu, part.gpu.ref, dw.gpu.ref, dw.size, splits);
      part.dispose();
    });
    return dw;
  },
  cpu: (inputs: readonly [Tensor, Tensor], g: ConvGeometry) =>
    f32Tensor(conv2dBackwardWeightReference(g, inputs[0].data, inputs[1].data), [g.cout, g.cin / g.groups, g.kh, g.kw]),
});

/** db from dy: the sum over the batch and the plane of each channel. */
export const channelSumOp = defineOp({
  name: 'conv2d_backward_bias',
  gpu: (dy: Tensor) => {
    const [n, c, h, w] = dy.shape as [number, number, number, number];
    const gpu = dy.gpu.gpu;
    const db = Tensor.empty(gpu, [c], 'f32');
    gpu.dispatch({ program: biasGradInfo, inputs: [dy.gpu.ref], outputs: [db.gpu.ref], uniforms: { n, c, plane: h * w }, workgroups: c });
    return db;
  },
  cpu: (dy: Tensor) => {
    const [n, c, h, w] = dy.shape as [number, number, number, number];
    return f32Tensor(channelSumReference(dy.data, n, c, h * w), [c]);
  },
});

/** Checks dy against the output shape the geometry gives. */
export function checkGradOutput(dy: Tensor, g: ConvGeometry): void {
  checkShapeIs('dy', dy, [g.n, g.cout, g.oh, g.ow], '[N, Cout, OH, OW]');
}

function activationOf(v: unknown): ConvActivation {
  return v === undefined ? 'none' : oneOf('activation', v, CONV_ACTIVATIONS);
}

/**
 * y = conv2d(x, weight) + bias, with an optional fused ReLU: x [N, Cin, H, W], weight
 * [Cout, Cin/groups, KH, KW], bias [Cout] or null, all f32 on one device; y [N, Cout, OH, OW] with
 * OH = floor((H + 2·padding − dilation·(KH − 1) − 1) / stride) + 1 (PyTorch's conv2d).
 * @example const y = conv2dForward(x, w, b, { padding: 1, activation: 'relu' });
 * @throws KensaError KENSA_ERR_SHAPE / KENSA_ERR_DTYPE for tensors of the wrong shape or dtype; KENSA_ERR_INVALID_ARGUMENT for bad options.
 */
export function conv2dForward(x: Tensor, weight: Tensor, bias?: Maybe, options: Conv2dForwardOptions = {}): Tensor {
  const p = convParams(options);
  const activation = activationOf(options.activation);
  const d = checkNchw('x', x);
  const [cout, kh, kw] = checkWeight('weight', weight, d.c, p);
  if (bias) checkShapeIs('bias', bias, [cout], '[Cout]');
  const g = convGeometry(p, d.n, d.c, d.h, d.w, cout, kh, kw, 'x');
  return convForwardOp(bias ? [x, weight, bias] : [x, weight], g, !!bias, activation);
}

/**
 * The gradient of conv2dForward's loss with respect to x, from dy [N, Cout, OH, OW] and the weight;
 * `inputSize` gives x's [H, W]. Returns dx [N, Cin, H, W].
 * @example const dx = conv2dBackwardInput(dy, w, { padding: 1, inputSize: [64, 64] });
 */
export function conv2dBackwardInput(dy: Tensor, weight: Tensor, options: Conv2dBackwardInputOptions): Tensor {
  const p = convParams(options);
  const [h, w] = inputSizeOf(options.inputSize);
  const dd = checkNchw('dy', dy);
  checkDType('weight', weight, ['f32']);
  if (weight.shape.length !== 4)
    throw new KensaError('KENSA_ERR_SHAPE', `Expected weight of shape [Cout, Cin / groups, KH, KW] but received [${weight.shape.join(', ')}]`);
  const [cout, cinG, kh, kw] = weight.shape as [number, number, number, number];
  checkGroups(p, cinG * p.groups, cout);
  const g = convGeometry(p, dd.n, cinG * p.groups, h, w, cout, kh, kw, 'inputSize');
  checkGradOutput(dy, g);
  return convBackwardInputOp([dy, weight], g, false, 'none');
}

/**
 * The gradient of conv2dForward's loss with respect to the weight, from dy [N, Cout, OH, OW] and
 * the forward's x [N, Cin, H, W]; `kernelSize` gives [KH, KW]. Returns dw [Cout, Cin/groups, KH, KW].
 * @example const dw = conv2dBackwardWeight(dy, x, { padding: 1, kernelSize: 3 });
 */
export function conv2dBackwardWeight(dy: Tensor, x: Tensor, options: Conv2dBackwardWeightOptions): Tensor {
  const p = convParams(options);
  const [kh, kw] = intPair('kernelSize', options.kernelSize, 1, 1024);
  const d = checkNchw('x', x);
  const dd = checkNchw('dy', dy);
  checkGroups(p, d.c, dd.c);
  const g = convGeometry(p, d.n, d.c, d.h, d.w, dd.c, kh, kw, 'x');
  checkGradOutput(dy, g);
  return convBackwardWeightOp([dy, x], g);
}

/** The gradient of the bias: dy [N, C, H, W] summed over N, H and W, as [C]. */
export function conv2dBackwardBias(dy: Tensor): Tensor {
  checkNchw('dy', dy);
  return channelSumOp(dy);
}

function inputSizeOf(v: unknown): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= 1 && d <= 65535)) {
    throw invalidParameter('inputSize', '[height, width] of integers between 1 and 65535', v);
  }
  return [v[0] as number, v[1] as number];
}

function gemmVariants(tiles: readonly (GemmTile | MatrixSpelling)[]): ProgramInfo[] {
  const list: ProgramInfo[] = [];
  for (const tile of tiles) {
    list.push(backwardWeightProgram(tile));
    for (const bias of [false, true])
      for (const act of CONV_ACTIVATIONS) {
        for (const pointwise of [false, true]) list.push(forwardProgram(bias, act, pointwise)(tile));
        list.push(backwardInputProgram(bias, act)(tile));
      }
  }
  return list;
}

/** Every f32 program variant of the convolutions, for compile-all tests. */
export function conv2dPrograms(): ProgramInfo[] {
  return [biasGradInfo, ...gemmEnginePrograms(), ...gemmVariants(GEMM_TILE_SIZES)];
}

/** The tensor-core variants (precision 'f16') in one matrix spelling; they compile only where enableConvTensorCores(gpu) chose it. */
export function conv2dTensorCorePrograms(spelling: MatrixSpelling): ProgramInfo[] {
  return gemmVariants([spelling]);
}

/**
 * Lets precision 'f16' run the convolutions on `gpu`'s tensor cores where they fit (see
 * enableTensorCores); returns null once on, else why not (the f32 kernels run instead).
 * @example const why = await enableConvTensorCores(gpu); if (why) console.log(`f16 convolutions in f32: ${why}`);
 */
export function enableConvTensorCores(gpu: Gpu): Promise<string | null> {
  return enableTensorCores(gpu, forwardSpec(true, 'relu', false));
}
