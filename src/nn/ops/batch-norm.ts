/**
 * Batch normalisation over the channels of f32 N×C×H×W tensors (PyTorch's batch_norm):
 * y = (x − mean) · invstd · gamma + beta with invstd = 1 / sqrt(var + eps).
 *  - training: mean and the biased variance of each channel over N, H and W; the running stats,
 *    when given, move by `momentum` towards the mean and the unbiased variance, in place;
 *  - eval: the running stats.
 * The forward returns mean and invstd for the backward:
 *   dbeta = Σ dy, dgamma = Σ dy · x̂, dx = gamma · invstd · (dy − (dbeta + x̂ · dgamma) / M) in
 *   training (M = N·H·W; the batch stats depend on x) and gamma · invstd · dy in eval.
 * The GPU reduces each channel in one workgroup (two passes over the channel for the variance, so
 * large means do not cancel), then normalises with one thread per element.
 */
import { defineOp } from '../../device.js';
import { KensaError } from '../../errors.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { invalidParameter, numberInRange } from '../../validate.js';
import { checkNchw, checkShapeIs } from './args.js';

export interface BatchNormOptions {
  /** Batch statistics (true) or the running ones (false). */
  training: boolean;
  /** Weight of the batch statistics in the running-stat update, 0–1. Default 0.1. */
  momentum?: number;
  /** Added to the variance, 0–1. Default 1e-5. */
  eps?: number;
}

export interface BatchNormForward {
  y: Tensor;
  /** Per-channel mean [C] used (the batch's in training, the running one in eval). */
  mean: Tensor;
  /** Per-channel 1 / sqrt(var + eps) [C] used. */
  invstd: Tensor;
}

export interface BatchNormBackward {
  dx: Tensor;
  dgamma: Tensor;
  dbeta: Tensor;
}

interface BnSizes {
  n: number;
  c: number;
  plane: number;
}

// ---- CPU references (f64) ----

/** Per-channel batch mean and biased variance. */
export function batchStatsReference(s: BnSizes, x: ArrayLike<number>): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(s.c);
  const variance = new Float64Array(s.c);
  const m = s.n * s.plane;
  for (let ch = 0; ch < s.c; ch++) {
    let sum = 0;
    for (let b = 0; b < s.n; b++) for (let i = 0; i < s.plane; i++) sum += x[(b * s.c + ch) * s.plane + i]!;
    const mu = sum / m;
    let sq = 0;
    for (let b = 0; b < s.n; b++) for (let i = 0; i < s.plane; i++) sq += (x[(b * s.c + ch) * s.plane + i]! - mu) ** 2;
    mean[ch] = mu;
    variance[ch] = sq / m;
  }
  return { mean, variance };
}

/** y from x and per-channel mean and invstd. */
export function batchNormReference(
  s: BnSizes,
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const ch = Math.floor(i / s.plane) % s.c;
    y[i] = (x[i]! - mean[ch]!) * invstd[ch]! * gamma[ch]! + beta[ch]!;
  }
  return y;
}

/** dx, dgamma and dbeta; `training` adds the batch statistics' dependence on x. */
export function batchNormBackwardReference(
  s: BnSizes,
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  gamma: ArrayLike<number>,
  training: boolean,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const dgamma = new Float64Array(s.c);
  const dbeta = new Float64Array(s.c);
  for (let i = 0; i < x.length; i++) {
    const ch = Math.floor(i / s.plane) % s.c;
    dbeta[ch] = dbeta[ch]! + dy[i]!;
    dgamma[ch] = dgamma[ch]! + dy[i]! * (x[i]! - mean[ch]!) * invstd[ch]!;
  }
  const m = s.n * s.plane;
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const ch = Math.floor(i / s.plane) % s.c;
    const xhat = (x[i]! - mean[ch]!) * invstd[ch]!;
    const centred = training ? dy[i]! - (dbeta[ch]! + xhat * dgamma[ch]!) / m : dy[i]!;
    dx[i] = gamma[ch]! * invstd[ch]! * centred;
  }
  return { dx, dgamma, dbeta };
}

// ---- WGSL ----

const WG = 256;
const SIZE_UNIFORMS = [
  { name: 'n', type: 'u32' as const },
  { name: 'c', type: 'u32' as const },
  { name: 'plane', type: 'u32' as const },
];

/** Σ over channel c of `term(i)` (i the element index) into `partial[0]`, by the whole workgroup. */
const CHANNEL_SUM = /* wgsl */ `
var<workgroup> partial: array<f32, WG>;
fn reduce_partial(li: u32) {
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (li < half) { partial[li] += partial[li + half]; }
    workgroupBarrier();
  }
}`;

function statsInfo(running: boolean): ProgramInfo {
  const outputs = [
    { name: 'mean', dtype: 'f32' as const },
    { name: 'invstd', dtype: 'f32' as const },
  ];
  if (running) outputs.push({ name: 'running_mean', dtype: 'f32' }, { name: 'running_var', dtype: 'f32' });
  return {
    name: 'batch_norm_stats',
    key: running ? 'running' : 'batch',
    inputs: [{ name: 'x', dtype: 'f32' }],
    outputs,
    uniforms: [...SIZE_UNIFORMS, { name: 'eps', type: 'f32' }, { name: 'momentum', type: 'f32' }],
    workgroupSize: WG,
    body: /* wgsl */ `${CHANNEL_SUM}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = linear_workgroup(wid, nwg);
  if (c >= u.c) { return; }
  let count = f32(u.n * u.plane);
  var s = 0.0;
  for (var b = 0u; b < u.n; b++) {
    let base = (b * u.c + c) * u.plane;
    for (var i = li; i < u.plane; i += WG) { s += x[base + i]; }
  }
  partial[li] = s;
  reduce_partial(li);
  let mu = partial[0] / count;
  workgroupBarrier();
  var q = 0.0;
  for (var b = 0u; b < u.n; b++) {
    let base = (b * u.c + c) * u.plane;
    for (var i = li; i < u.plane; i += WG) { let d = x[base + i] - mu; q += d * d; }
  }
  partial[li] = q;
  reduce_partial(li);
  if (li == 0u) {
    let variance = partial[0] / count;
    mean[c] = mu;
    invstd[c] = inverseSqrt(variance + u.eps);
    ${
      running
        ? `running_mean[c] = (1.0 - u.momentum) * running_mean[c] + u.momentum * mu;
    running_var[c] = (1.0 - u.momentum) * running_var[c] + u.momentum * partial[0] / (count - 1.0);`
        : ''
    }
  }
}`,
  };
}

/** Eval: mean and invstd from the running stats, one thread per channel. */
const runningStatsInfo: ProgramInfo = {
  name: 'batch_norm_running_stats',
  key: '',
  inputs: [
    { name: 'running_mean', dtype: 'f32' },
    { name: 'running_var', dtype: 'f32' },
  ],
  outputs: [
    { name: 'mean', dtype: 'f32' },
    { name: 'invstd', dtype: 'f32' },
  ],
  uniforms: [
    { name: 'c', type: 'u32' },
    { name: 'eps', type: 'f32' },
  ],
  workgroupSize: WG,
  body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = linear_workgroup(wid, nwg) * WG + li;
  if (c >= u.c) { return; }
  mean[c] = running_mean[c];
  invstd[c] = inverseSqrt(running_var[c] + u.eps);
}`,
};

const normalizeInfo: ProgramInfo = {
  name: 'batch_norm_normalize',
  key: '',
  inputs: [
    { name: 'x', dtype: 'f32' },
    { name: 'mean', dtype: 'f32' },
    { name: 'invstd', dtype: 'f32' },
    { name: 'gamma', dtype: 'f32' },
    { name: 'beta', dtype: 'f32' },
  ],
  outputs: [{ name: 'y', dtype: 'f32' }],
  uniforms: [...SIZE_UNIFORMS, { name: 'count', type: 'u32' }],
  workgroupSize: WG,
  body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.count) { return; }
  let c = (i / u.plane) % u.c;
  y[i] = (x[i] - mean[c]) * invstd[c] * gamma[c] + beta[c];
}`,
};

/** dbeta = Σ dy and dgamma = Σ dy · x̂ per channel. */
const backwardReduceInfo: ProgramInfo = {
  name: 'batch_norm_backward_reduce',
  key: '',
  inputs: [
    { name: 'dy', dtype: 'f32' },
    { name: 'x', dtype: 'f32' },
    { name: 'mean', dtype: 'f32' },
    { name: 'invstd', dtype: 'f32' },
  ],
  outputs: [
    { name: 'dgamma', dtype: 'f32' },
    { name: 'dbeta', dtype: 'f32' },
  ],
  uniforms: SIZE_UNIFORMS,
  workgroupSize: WG,
  body: /* wgsl */ `${CHANNEL_SUM}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = linear_workgroup(wid, nwg);
  if (c >= u.c) { return; }
  let mu = mean[c];
  var s = 0.0;
  var sx = 0.0;
  for (var b = 0u; b < u.n; b++) {
    let base = (b * u.c + c) * u.plane;
    for (var i = li; i < u.plane; i += WG) {
      let g = dy[base + i];
      s += g;
      sx += g * (x[base + i] - mu);
    }
  }
  partial[li] = s;
  reduce_partial(li);
  if (li == 0u) { dbeta[c] = partial[0]; }
  workgroupBarrier();
  partial[li] = sx;
  reduce_partial(li);
  if (li == 0u) { dgamma[c] = partial[0] * invstd[c]; }
}`,
};

const backwardInputInfo: ProgramInfo = {
  name: 'batch_norm_backward_input',
  key: '',
  inputs: [
    { name: 'dy', dtype: 'f32' },
    { name: 'x', dtype: 'f32' },
    { name: 'mean', dtype: 'f32' },
    { name: 'invstd', dtype: 'f32' },
    { name: 'gamma', dtype: 'f32' },
    { name: 'dgamma', dtype: 'f32' },
    { name: 'dbeta', dtype: 'f32' },
  ],
  outputs: [{ name: 'dx', dtype: 'f32' }],
  // stats_weight: 1 / M in training (the batch statistics depend on x), 0 in eval
  uniforms: [...SIZE_UNIFORMS, { name: 'count', type: 'u32' }, { name: 'stats_weight', type: 'f32' }],
  workgroupSize: WG,
  body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.count) { return; }
  let c = (i / u.plane) % u.c;
  let xhat = (x[i] - mean[c]) * invstd[c];
  dx[i] = gamma[c] * invstd[c] * (dy[i] - u.stats_weight * (dbeta[c] + xhat * dgamma[c]));
}`,
};

const statsPrograms = [statsInfo(false), statsInfo(true)] as const;

const f32Tensor = (values: Float64Array, shape: readonly number[]) => Tensor.fromArray(Float32Array.from(values), shape, 'f32');

interface ForwardParams {
  training: boolean;
  momentum: number;
  eps: number;
  running: boolean;
}

/** Inputs: x, gamma, beta[, running mean, running var]. */
const forwardOp = defineOp({
  name: 'batch_norm_forward',
  gpu: (inputs: readonly Tensor[], o: ForwardParams): BatchNormForward => {
    const [x, gamma, beta, runningMean, runningVar] = inputs as [Tensor, Tensor, Tensor, Tensor?, Tensor?];
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const gpu = x.gpu.gpu;
    const mean = Tensor.empty(gpu, [c], 'f32');
    const invstd = Tensor.empty(gpu, [c], 'f32');
    if (o.training) {
      const outputs = [mean.gpu.ref, invstd.gpu.ref];
      if (o.running) outputs.push(runningMean!.gpu.ref, runningVar!.gpu.ref);
      gpu.dispatch({
        program: statsPrograms[o.running ? 1 : 0],
        inputs: [x.gpu.ref],
        outputs,
        uniforms: { n, c, plane: h * w, eps: o.eps, momentum: o.momentum },
        workgroups: c,
      });
    } else {
      gpu.dispatch({
        program: runningStatsInfo,
        inputs: [runningMean!.gpu.ref, runningVar!.gpu.ref],
        outputs: [mean.gpu.ref, invstd.gpu.ref],
        uniforms: { c, eps: o.eps },
        workgroups: Math.ceil(c / WG),
      });
    }
    const y = Tensor.empty(gpu, x.shape, 'f32');
    gpu.dispatch({
      program: normalizeInfo,
      inputs: [x, mean, invstd, gamma, beta].map((t) => t.gpu.ref),
      outputs: [y.gpu.ref],
      uniforms: { n, c, plane: h * w, count: x.size },
      workgroups: Math.ceil(x.size / WG),
    });
    return { y, mean, invstd };
  },
  cpu: (inputs: readonly Tensor[], o: ForwardParams): BatchNormForward => {
    const [x, gamma, beta, runningMean, runningVar] = inputs as [Tensor, Tensor, Tensor, Tensor?, Tensor?];
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const s = { n, c, plane: h * w };
    let mean: Float64Array;
    let invstd: Float64Array;
    if (o.training) {
      const stats = batchStatsReference(s, x.data);
      mean = stats.mean;
      invstd = stats.variance.map((v) => 1 / Math.sqrt(v + o.eps));
      if (o.running) {
        const m = n * h * w;
        const rm = runningMean!.data as Float32Array;
        const rv = runningVar!.data as Float32Array;
        for (let ch = 0; ch < c; ch++) {
          rm[ch] = (1 - o.momentum) * rm[ch]! + o.momentum * mean[ch]!;
          rv[ch] = (1 - o.momentum) * rv[ch]! + (o.momentum * stats.variance[ch]! * m) / (m - 1);
        }
      }
    } else {
      mean = Float64Array.from(runningMean!.data);
      invstd = Float64Array.from(runningVar!.data, (v) => 1 / Math.sqrt(v + o.eps));
    }
    const y = batchNormReference(s, x.data, mean, invstd, gamma.data, beta.data);
    return { y: f32Tensor(y, x.shape), mean: f32Tensor(mean, [c]), invstd: f32Tensor(invstd, [c]) };
  },
});

/** Inputs: dy, x, mean, invstd, gamma. */
const backwardOp = defineOp({
  name: 'batch_norm_backward',
  gpu: (inputs: readonly Tensor[], training: boolean): BatchNormBackward => {
    const [dy, x, mean, invstd, gamma] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const gpu = x.gpu.gpu;
    const dgamma = Tensor.empty(gpu, [c], 'f32');
    const dbeta = Tensor.empty(gpu, [c], 'f32');
    gpu.dispatch({
      program: backwardReduceInfo,
      inputs: [dy, x, mean, invstd].map((t) => t.gpu.ref),
      outputs: [dgamma.gpu.ref, dbeta.gpu.ref],
      uniforms: { n, c, plane: h * w },
      workgroups: c,
    });
    const dx = Tensor.empty(gpu, x.shape, 'f32');
    gpu.dispatch({
      program: backwardInputInfo,
      inputs: [dy, x, mean, invstd, gamma, dgamma, dbeta].map((t) => t.gpu.ref),
      outputs: [dx.gpu.ref],
      uniforms: { n, c, plane: h * w, count: x.size, stats_weight: training ? 1 / (n * h * w) : 0 },
      workgroups: Math.ceil(x.size / WG),
    });
    return { dx, dgamma, dbeta };
  },
  cpu: (inputs: readonly Tensor[], training: boolean): BatchNormBackward => {
    const [dy, x, mean, invstd, gamma] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const r = batchNormBackwardReference({ n, c, plane: h * w }, dy.data, x.data, mean.data, invstd.data, gamma.data, training);
    return { dx: f32Tensor(r.dx, x.shape), dgamma: f32Tensor(r.dgamma, [c]), dbeta: f32Tensor(r.dbeta, [c]) };
  },
});

function checkTraining(v: unknown): boolean {
  if (typeof v !== 'boolean') throw invalidParameter('training', 'true or false', v);
  return v;
}

/**
 * Batch norm of x [N, C, H, W] with gamma and beta [C]; runningMean and runningVar [C] (f32, on
 * x's device) are updated in place in training and read in eval (required there; null in
 * training skips the update).
 * @example const { y, mean, invstd } = batchNormForward(x, gamma, beta, rm, rv, { training: true });
 */
export function batchNormForward(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: BatchNormOptions,
): BatchNormForward {
  const training = checkTraining(options.training);
  const momentum = numberInRange('momentum', options.momentum ?? 0.1, 0, 1);
  const eps = numberInRange('eps', options.eps ?? 1e-5, 0, 1);
  const d = checkNchw('x', x);
  checkShapeIs('gamma', gamma, [d.c], '[C]');
  checkShapeIs('beta', beta, [d.c], '[C]');
  if ((runningMean === null) !== (runningVar === null) || (!training && runningMean === null)) {
    throw new KensaError(
      'KENSA_ERR_INVALID_ARGUMENT',
      `Expected runningMean and runningVar both tensors${training ? ' or both null' : ' in eval'} but received ${runningMean === null ? 'null' : 'a tensor'} and ${runningVar === null ? 'null' : 'a tensor'}`,
    );
  }
  if (runningMean && runningVar) {
    checkShapeIs('runningMean', runningMean, [d.c], '[C]');
    checkShapeIs('runningVar', runningVar, [d.c], '[C]');
  }
  if (training && d.n * d.h * d.w < 2) {
    throw new KensaError('KENSA_ERR_SHAPE', `Expected x of more than one value per channel in training but received [${x.shape.join(', ')}]`);
  }
  const inputs = runningMean && runningVar ? [x, gamma, beta, runningMean, runningVar] : [x, gamma, beta];
  return forwardOp(inputs, { training, momentum, eps, running: runningMean !== null });
}

/**
 * The gradients of batchNormForward: dy and x [N, C, H, W], the forward's mean and invstd and
 * gamma [C]; `training` as in the forward.
 * @example const { dx, dgamma, dbeta } = batchNormBackward(dy, x, mean, invstd, gamma, { training: true });
 */
export function batchNormBackward(
  dy: Tensor,
  x: Tensor,
  mean: Tensor,
  invstd: Tensor,
  gamma: Tensor,
  options: Pick<BatchNormOptions, 'training'>,
): BatchNormBackward {
  const training = checkTraining(options.training);
  const d = checkNchw('x', x);
  checkShapeIs('dy', dy, x.shape, '[N, C, H, W] of x');
  checkShapeIs('mean', mean, [d.c], '[C]');
  checkShapeIs('invstd', invstd, [d.c], '[C]');
  checkShapeIs('gamma', gamma, [d.c], '[C]');
  return backwardOp([dy, x, mean, invstd, gamma], training);
}

/** Every program variant, for compile-all tests. */
export function batchNormPrograms(): ProgramInfo[] {
  return [...statsPrograms, runningStatsInfo, normalizeInfo, backwardReduceInfo, backwardInputInfo];
}
