/**
 * Batch normalisation over the channels of f32 N×C×H×W tensors (PyTorch's batch_norm):
 * y = (x − mean) · invstd · gamma + beta with invstd = 1 / sqrt(var + eps).
 *  - training: mean and the biased variance of each channel over N, H and W; the running stats,
 *    when given, move by `momentum` towards the mean and the unbiased variance, in place;
 *  - eval: the running stats.
 * The forward returns mean and invstd for the backward:
 *   dbeta = Σ dy, dgamma = Σ dy · x̂, dx = gamma · invstd · (dy − (dbeta + x̂ · dgamma) / M) in
 *   training (M = N·H·W; the batch stats depend on x) and gamma · invstd · dy in eval.
 * The GPU reduces each channel in chunks, one workgroup each (count, mean and squared deviations
 * from the chunk's mean, two passes over the cached chunk so large means do not cancel), combines
 * the chunks per channel (Chan et al.'s pairwise update), then normalises with one thread per element.
 */
import { defineOp } from '../../device.js';
import { KensaError } from '../../errors.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { invalidParameter, numberInRange } from '../../validate.js';
import { checkNchw, checkShapeIs } from './args.js';

/** The variance's ε when none is given (PyTorch's). */
export const BATCH_NORM_EPS = 1e-5;

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

/** Tree sum of `partial` into partial[0] by the whole workgroup. */
const WORKGROUP_SUM = /* wgsl */ `
var<workgroup> partial: array<f32, WG>;
fn reduce_partial(li: u32) {
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (li < half) { partial[li] += partial[li + half]; }
    workgroupBarrier();
  }
}`;

/** Elements of one channel a workgroup reduces, at least: a channel of more is split into chunks. */
const CHUNK = 4096;

/** Chunks per channel: enough workgroups to fill a large GPU (~1024 in all), none under CHUNK elements. */
function chunksFor(c: number, count: number): number {
  return Math.max(1, Math.min(Math.ceil(count / CHUNK), Math.ceil(1024 / c)));
}

/** The chunk's element range of channel `c` (workgroup `linear_workgroup` = c·chunks + chunk), as e over (sample, pixel). */
const CHUNK_RANGE = /* wgsl */ `
fn chunk_bounds(chunk: u32) -> vec2<u32> {
  let count = u.n * u.plane;
  let size = (count + u.chunks - 1u) / u.chunks;
  return vec2<u32>(min(chunk * size, count), min((chunk + 1u) * size, count));
}
fn element(c: u32, e: u32) -> u32 { return ((e / u.plane) * u.c + c) * u.plane + e % u.plane; }`;

const CHUNK_UNIFORMS = [...SIZE_UNIFORMS, { name: 'chunks', type: 'u32' as const }];

/**
 * Pass 1 of the batch statistics: each chunk's count, mean and sum of squared deviations from
 * that mean (two passes over the chunk, which the cache holds), combined per channel afterwards.
 */
const chunkStatsInfo: ProgramInfo = {
  name: 'batch_norm_chunk_stats',
  key: '',
  inputs: [{ name: 'x', dtype: 'f32' }],
  outputs: [{ name: 'stats', dtype: 'f32' }],
  uniforms: CHUNK_UNIFORMS,
  workgroupSize: WG,
  body: /* wgsl */ `${WORKGROUP_SUM}${CHUNK_RANGE}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = linear_workgroup(wid, nwg);
  if (t >= u.c * u.chunks) { return; }
  let c = t / u.chunks;
  let range = chunk_bounds(t % u.chunks);
  let count = f32(range.y - range.x);
  var s = 0.0;
  for (var e = range.x + li; e < range.y; e += WG) { s += x[element(c, e)]; }
  partial[li] = s;
  reduce_partial(li);
  let mu = partial[0] / max(count, 1.0);
  workgroupBarrier();
  var q = 0.0;
  for (var e = range.x + li; e < range.y; e += WG) { let d = x[element(c, e)] - mu; q += d * d; }
  partial[li] = q;
  reduce_partial(li);
  if (li == 0u) {
    stats[3u * t] = count;
    stats[3u * t + 1u] = mu;
    stats[3u * t + 2u] = partial[0];
  }
}`,
};

/**
 * Pass 2: one thread per channel combines its chunks (Chan et al.'s pairwise update of count, mean
 * and squared deviations), writes mean and invstd and moves the running stats.
 */
function combineStatsInfo(running: boolean): ProgramInfo {
  const outputs = [
    { name: 'mean', dtype: 'f32' as const },
    { name: 'invstd', dtype: 'f32' as const },
  ];
  if (running) outputs.push({ name: 'running_mean', dtype: 'f32' }, { name: 'running_var', dtype: 'f32' });
  return {
    name: 'batch_norm_combine_stats',
    key: running ? 'running' : 'batch',
    inputs: [{ name: 'stats', dtype: 'f32' }],
    outputs,
    uniforms: [...CHUNK_UNIFORMS, { name: 'eps', type: 'f32' }, { name: 'momentum', type: 'f32' }],
    workgroupSize: WG,
    body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = linear_workgroup(wid, nwg) * WG + li;
  if (c >= u.c) { return; }
  var count = 0.0;
  var mu = 0.0;
  var m2 = 0.0;
  for (var j = 0u; j < u.chunks; j++) {
    let at = 3u * (c * u.chunks + j);
    let nb = stats[at];
    if (nb == 0.0) { continue; }
    let total = count + nb;
    let delta = stats[at + 1u] - mu;
    mu += delta * nb / total;
    m2 += stats[at + 2u] + delta * delta * count * nb / total;
    count = total;
  }
  mean[c] = mu;
  invstd[c] = inverseSqrt(m2 / count + u.eps);
  ${
    running
      ? `running_mean[c] = (1.0 - u.momentum) * running_mean[c] + u.momentum * mu;
  running_var[c] = (1.0 - u.momentum) * running_var[c] + u.momentum * m2 / (count - 1.0);`
      : ''
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

/** Pass 1 of the parameter gradients: each chunk's Σ dy and Σ dy · (x − mean). */
const chunkGradInfo: ProgramInfo = {
  name: 'batch_norm_chunk_grads',
  key: '',
  inputs: [
    { name: 'dy', dtype: 'f32' },
    { name: 'x', dtype: 'f32' },
    { name: 'mean', dtype: 'f32' },
  ],
  outputs: [{ name: 'sums', dtype: 'f32' }],
  uniforms: CHUNK_UNIFORMS,
  workgroupSize: WG,
  body: /* wgsl */ `${WORKGROUP_SUM}${CHUNK_RANGE}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = linear_workgroup(wid, nwg);
  if (t >= u.c * u.chunks) { return; }
  let c = t / u.chunks;
  let range = chunk_bounds(t % u.chunks);
  let mu = mean[c];
  var s = 0.0;
  var sx = 0.0;
  for (var e = range.x + li; e < range.y; e += WG) {
    let i = element(c, e);
    s += dy[i];
    sx += dy[i] * (x[i] - mu);
  }
  partial[li] = s;
  reduce_partial(li);
  if (li == 0u) { sums[2u * t] = partial[0]; }
  workgroupBarrier();
  partial[li] = sx;
  reduce_partial(li);
  if (li == 0u) { sums[2u * t + 1u] = partial[0]; }
}`,
};

/** Pass 2: dbeta = Σ dy and dgamma = Σ dy · x̂ per channel, one thread each. */
const combineGradInfo: ProgramInfo = {
  name: 'batch_norm_combine_grads',
  key: '',
  inputs: [
    { name: 'sums', dtype: 'f32' },
    { name: 'invstd', dtype: 'f32' },
  ],
  outputs: [
    { name: 'dgamma', dtype: 'f32' },
    { name: 'dbeta', dtype: 'f32' },
  ],
  uniforms: CHUNK_UNIFORMS,
  workgroupSize: WG,
  body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = linear_workgroup(wid, nwg) * WG + li;
  if (c >= u.c) { return; }
  var s = 0.0;
  var sx = 0.0;
  for (var j = 0u; j < u.chunks; j++) {
    s += sums[2u * (c * u.chunks + j)];
    sx += sums[2u * (c * u.chunks + j) + 1u];
  }
  dbeta[c] = s;
  dgamma[c] = sx * invstd[c];
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

const combinePrograms = [combineStatsInfo(false), combineStatsInfo(true)] as const;

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
      const chunks = chunksFor(c, n * h * w);
      const stats = Tensor.empty(gpu, [c * chunks * 3], 'f32');
      const sizes = { n, c, plane: h * w, chunks };
      gpu.dispatch({ program: chunkStatsInfo, inputs: [x.gpu.ref], outputs: [stats.gpu.ref], uniforms: sizes, workgroups: c * chunks });
      const outputs = [mean.gpu.ref, invstd.gpu.ref];
      if (o.running) outputs.push(runningMean!.gpu.ref, runningVar!.gpu.ref);
      gpu.dispatch({
        program: combinePrograms[o.running ? 1 : 0],
        inputs: [stats.gpu.ref],
        outputs,
        uniforms: { ...sizes, eps: o.eps, momentum: o.momentum },
        workgroups: Math.ceil(c / WG),
      });
      stats.dispose();
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
    const sizes = { n, c, plane: h * w, chunks: chunksFor(c, n * h * w) };
    const sums = Tensor.empty(gpu, [c * sizes.chunks * 2], 'f32');
    gpu.dispatch({
      program: chunkGradInfo,
      inputs: [dy, x, mean].map((t) => t.gpu.ref),
      outputs: [sums.gpu.ref],
      uniforms: sizes,
      workgroups: c * sizes.chunks,
    });
    gpu.dispatch({
      program: combineGradInfo,
      inputs: [sums.gpu.ref, invstd.gpu.ref],
      outputs: [dgamma.gpu.ref, dbeta.gpu.ref],
      uniforms: sizes,
      workgroups: Math.ceil(c / WG),
    });
    sums.dispose();
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
  const eps = numberInRange('eps', options.eps ?? BATCH_NORM_EPS, 0, 1);
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
  return [chunkStatsInfo, ...combinePrograms, runningStatsInfo, normalizeInfo, chunkGradInfo, combineGradInfo, backwardInputInfo];
}
