/**
 * Optimizers with PyTorch's update rules (torch.optim SGD, Adam, AdamW): a step is one fused pass
 * over all parameters (up to 16 per dispatch, fused-update.ts) that reads each gradient and
 * rewrites the weights and the optimizer's state in place (no tensor per step). State is
 * allocated with the optimizer, beside the parameters.
 * `gradScale` multiplies gradients inside the same pass (a GradScaler's unscale costs nothing).
 */
import type { ProgramInfo } from '../gpu/program.js';
import type { Tensor } from '../tensor.js';
import { integerInRange, invalidParameter, numberInRange } from '../validate.js';
import type { Var } from './autograd.js';
import { fusedUpdateProgram, paramsPerPass, runFusedUpdate, type UpdateKernel } from './fused-update.js';
import { cpuStorage, gpuOf, zerosOn } from './launch.js';
import { runMap } from './map.js';
import { runReduce } from './reduce.js';

export interface StepOptions {
  /** Multiplies every gradient before the update (1 / loss scale); default 1. */
  gradScale?: number;
}

export interface Optimizer {
  readonly params: readonly Var[];
  /** The learning rate of the next step (a schedule sets it). */
  lr: number;
  /** Steps taken. */
  readonly steps: number;
  step(options?: StepOptions): void;
  /** Sets every parameter's gradient to zero (cleared buffers, no program). */
  zeroGrad(): void;
}

function checkParams(params: readonly Var[]): readonly Var[] {
  if (!Array.isArray(params) || params.length === 0) throw invalidParameter('params', 'a non-empty array of parameters', params);
  params.forEach((p: Var, i) => {
    if (!p.grad) throw invalidParameter(`params[${i}]`, 'a parameter (Var.parameter)', 'a Var without gradient');
  });
  return params;
}

export function zeroGrad(params: readonly Var[]): void {
  for (const p of params) {
    const g = p.grad;
    if (!g) continue;
    const gpu = gpuOf(g);
    if (gpu) gpu.clear(g.gpu.ref);
    else (g.data as Float32Array).fill(0);
  }
}

const sgdKernels = new Map<boolean, UpdateKernel>();

/** SGD's update; `momentum` adds the momentum buffer (read and written in the same pass). */
export function sgdKernel(momentum: boolean): UpdateKernel {
  let k = sgdKernels.get(momentum);
  if (!k) {
    k = {
      name: 'nn_sgd',
      key: momentum ? 'momentum' : 'plain',
      reads: ['grad'],
      writes: momentum ? ['param', 'buf'] : ['param'],
      uniforms: [
        { name: 'lr', type: 'f32' },
        { name: 'momentum', type: 'f32' },
        { name: 'dampening', type: 'f32' },
        { name: 'weight_decay', type: 'f32' },
        { name: 'grad_scale', type: 'f32' },
        { name: 'nesterov', type: 'u32' },
        { name: 'first', type: 'u32' },
      ],
      body: (at) => `var d = ${at('grad')} * u.grad_scale + u.weight_decay * ${at('param')};
      ${
        momentum
          ? `var b = d;
      if (u.first == 0u) { b = u.momentum * ${at('buf')} + (1.0 - u.dampening) * d; }
      ${at('buf')} = b;
      d = select(b, d + u.momentum * b, u.nesterov == 1u);`
          : ''
      }
      ${at('param')} = ${at('param')} - u.lr * d;`,
    };
    sgdKernels.set(momentum, k);
  }
  return k;
}

const adamKernels = new Map<boolean, UpdateKernel>();

/** Adam's update; `decoupled` applies weight decay to the weights (AdamW), else to the gradient (Adam's L2). */
export function adamKernel(decoupled: boolean): UpdateKernel {
  let k = adamKernels.get(decoupled);
  if (!k) {
    k = {
      name: 'nn_adam',
      key: decoupled ? 'adamw' : 'adam',
      reads: ['grad'],
      writes: ['param', 'exp_avg', 'exp_avg_sq'],
      uniforms: [
        { name: 'lr', type: 'f32' },
        { name: 'beta1', type: 'f32' },
        { name: 'beta2', type: 'f32' },
        { name: 'eps', type: 'f32' },
        { name: 'weight_decay', type: 'f32' },
        { name: 'grad_scale', type: 'f32' },
        { name: 'correction1', type: 'f32' },
        { name: 'correction2', type: 'f32' },
      ],
      body: (at) => `var w = ${at('param')};
      var g = ${at('grad')} * u.grad_scale;
      ${decoupled ? 'w = w * (1.0 - u.lr * u.weight_decay);' : 'g = g + u.weight_decay * w;'}
      let m1 = u.beta1 * ${at('exp_avg')} + (1.0 - u.beta1) * g;
      let v1 = u.beta2 * ${at('exp_avg_sq')} + (1.0 - u.beta2) * g * g;
      ${at('exp_avg')} = m1;
      ${at('exp_avg_sq')} = v1;
      ${at('param')} = w - u.lr * (m1 / u.correction1) / (sqrt(v1 / u.correction2) + u.eps);`,
    };
    adamKernels.set(decoupled, k);
  }
  return k;
}

export interface SgdOptions {
  lr: number;
  /** Default 0 (no buffer). */
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
}

/** Stochastic gradient descent with momentum and Nesterov momentum (torch.optim.SGD). */
export class SGD implements Optimizer {
  readonly params: readonly Var[];
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  #steps = 0;
  readonly #buffers: Tensor[] | null;

  constructor(params: readonly Var[], options: SgdOptions) {
    this.params = checkParams(params);
    this.lr = numberInRange('lr', options.lr, 0, 1e6);
    this.momentum = numberInRange('momentum', options.momentum ?? 0, 0, 1);
    this.dampening = numberInRange('dampening', options.dampening ?? 0, 0, 1);
    this.weightDecay = numberInRange('weightDecay', options.weightDecay ?? 0, 0, 1e6);
    this.nesterov = options.nesterov === true;
    if (this.nesterov && (this.momentum === 0 || this.dampening !== 0))
      throw invalidParameter('nesterov', 'false unless momentum > 0 and dampening is 0', options.nesterov);
    this.#buffers = this.momentum > 0 ? this.params.map((p) => zerosOn(p.value, p.shape)) : null;
  }

  get steps(): number {
    return this.#steps;
  }

  zeroGrad(): void {
    zeroGrad(this.params);
  }

  step(options: StepOptions = {}): void {
    const gradScale = options.gradScale ?? 1;
    const first = this.#steps === 0;
    const buffers = this.#buffers;
    const tensors = this.params.map((p, k) => (buffers ? [p.grad!, p.value, buffers[k]!] : [p.grad!, p.value]));
    const uniforms = {
      lr: this.lr,
      momentum: this.momentum,
      dampening: this.dampening,
      weight_decay: this.weightDecay,
      grad_scale: gradScale,
      nesterov: this.nesterov ? 1 : 0,
      first: first ? 1 : 0,
    };
    runFusedUpdate(sgdKernel(buffers !== null), tensors, uniforms, ([grad, param, buf]) => {
      const w = cpuStorage(param!);
      const g = cpuStorage(grad!);
      const b = buf ? cpuStorage(buf) : null;
      for (let i = 0; i < w.length; i++) {
        let d = g[i]! * gradScale + this.weightDecay * w[i]!;
        if (b) {
          b[i] = first ? d : this.momentum * b[i]! + (1 - this.dampening) * d;
          d = this.nesterov ? d + this.momentum * b[i]! : b[i]!;
        }
        w[i] = w[i]! - this.lr * d;
      }
    });
    this.#steps++;
  }
}

export interface AdamOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Adam: L2 added to the gradient (default 0); AdamW: decoupled decay of the weights (default 0.01). */
  weightDecay?: number;
}

export interface AdamState {
  steps: number;
  expAvg: readonly Tensor[];
  expAvgSq: readonly Tensor[];
}

/** Adam (torch.optim.Adam); weight decay as L2 on the gradient. */
export class Adam implements Optimizer {
  readonly params: readonly Var[];
  lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly #decoupled: boolean;
  readonly #m: Tensor[];
  readonly #v: Tensor[];
  #steps = 0;

  constructor(params: readonly Var[], options: AdamOptions = {}, decoupled = false) {
    this.params = checkParams(params);
    this.lr = numberInRange('lr', options.lr ?? 1e-3, 0, 1e6);
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw invalidParameter('betas', 'two numbers in [0, 1)', betas);
    this.betas = [numberInRange('betas[0]', betas[0], 0, 0.999999), numberInRange('betas[1]', betas[1], 0, 0.999999)];
    this.eps = numberInRange('eps', options.eps ?? 1e-8, 0, 1);
    this.weightDecay = numberInRange('weightDecay', options.weightDecay ?? (decoupled ? 0.01 : 0), 0, 1e6);
    this.#decoupled = decoupled;
    this.#m = this.params.map((p) => zerosOn(p.value, p.shape));
    this.#v = this.params.map((p) => zerosOn(p.value, p.shape));
  }

  get steps(): number {
    return this.#steps;
  }

  zeroGrad(): void {
    zeroGrad(this.params);
  }

  step(options: StepOptions = {}): void {
    const gradScale = options.gradScale ?? 1;
    const t = this.#steps + 1;
    const [beta1, beta2] = this.betas;
    const correction1 = 1 - beta1 ** t;
    const correction2 = 1 - beta2 ** t;
    const tensors = this.params.map((p, k) => [p.grad!, p.value, this.#m[k]!, this.#v[k]!]);
    const uniforms = { lr: this.lr, beta1, beta2, eps: this.eps, weight_decay: this.weightDecay, grad_scale: gradScale, correction1, correction2 };
    runFusedUpdate(adamKernel(this.#decoupled), tensors, uniforms, ([grad, param, m, v]) => {
      const w = cpuStorage(param!);
      const g = cpuStorage(grad!);
      const ms = cpuStorage(m!);
      const vs = cpuStorage(v!);
      for (let i = 0; i < w.length; i++) {
        let wi = w[i]!;
        let gi = g[i]! * gradScale;
        if (this.#decoupled) wi *= 1 - this.lr * this.weightDecay;
        else gi += this.weightDecay * wi;
        ms[i] = beta1 * ms[i]! + (1 - beta1) * gi;
        vs[i] = beta2 * vs[i]! + (1 - beta2) * gi * gi;
        w[i] = wi - (this.lr * (ms[i]! / correction1)) / (Math.sqrt(vs[i]! / correction2) + this.eps);
      }
    });
    this.#steps = t;
  }

  /** The moment buffers (exp_avg, exp_avg_sq per parameter, in parameter order) and the steps taken, for a checkpoint. */
  state(): AdamState {
    return { steps: this.#steps, expAvg: this.#m, expAvgSq: this.#v };
  }

  /** Continues from a checkpoint: the steps taken (the moments are written into `state()`'s tensors in place). */
  resumeAt(steps: number): void {
    this.#steps = integerInRange('steps', steps, 0, 2 ** 53);
  }

  /** Releases the moment buffers. */
  dispose(): void {
    for (const t of [...this.#m, ...this.#v]) t.dispose();
  }
}

/** AdamW (torch.optim.AdamW): Adam with weight decay applied to the weights, default 0.01. */
export class AdamW extends Adam {
  constructor(params: readonly Var[], options: AdamOptions = {}) {
    super(params, options, true);
  }
}

const CLIP: UpdateKernel = {
  name: 'nn_clip_grads',
  key: '',
  reads: [],
  writes: ['grad'],
  sharedReads: ['total'],
  uniforms: [{ name: 'max_norm', type: 'f32' }],
  body: (at) => `${at('grad')} = ${at('grad')} * min(1.0, u.max_norm / (sqrt(total[0]) + 1e-6));`,
};

const FOUND_INF: UpdateKernel = {
  name: 'nn_found_inf',
  key: '',
  reads: ['grad'],
  writes: [],
  sharedWrites: ['found'],
  uniforms: [],
  // threads that find one all write the same 1
  body: (at) => `if ((bitcast<u32>(${at('grad')}) & 0x7f800000u) == 0x7f800000u) { found[0] = 1.0; }`,
};

const SCALE: UpdateKernel = {
  name: 'nn_scale_grads',
  key: '',
  reads: [],
  writes: ['grad'],
  uniforms: [{ name: 'factor', type: 'f32' }],
  body: (at) => `${at('grad')} = ${at('grad')} * u.factor;`,
};

/**
 * Scales all gradients together so that their global L2 norm is at most `maxNorm`
 * (torch.nn.utils.clip_grad_norm_) and returns the norm before clipping, a [1] tensor on the
 * parameters' device (read it when logging; nothing waits for it): each gradient's sum of squares
 * added into one scalar (a program per parameter), then one fused pass scaling them all by
 * min(1, maxNorm / norm).
 */
export function clipGradNorm(params: readonly Var[], maxNorm: number): Tensor {
  checkParams(params);
  const limit = numberInRange('maxNorm', maxNorm, 0, 3.4e38);
  const total = zerosOn(params[0]!.value, [1]);
  for (const p of params)
    runReduce(
      'sumsq',
      p.grad!,
      p.shape.map((_, i) => i),
      { into: total },
    );
  const sumSquares = total.device === 'cpu' ? total.at(0) : 0;
  runFusedUpdate(
    CLIP,
    params.map((p) => [p.grad!]),
    { max_norm: limit },
    ([grad]) => {
      const g = cpuStorage(grad!);
      const factor = Math.min(1, limit / (Math.sqrt(sumSquares) + 1e-6));
      for (let i = 0; i < g.length; i++) g[i] = g[i]! * factor;
    },
    [total],
  );
  const norm = runMap('sqrt', [total], [1]);
  total.dispose();
  return norm;
}

/** Whether any parameter's gradient holds an inf or NaN: a [1] tensor, 1 or 0 (one fused pass). */
export function foundNonFinite(params: readonly Var[]): Tensor {
  checkParams(params);
  const found = zerosOn(params[0]!.value, [1]);
  const flag = found.device === 'cpu' ? cpuStorage(found) : null;
  runFusedUpdate(
    FOUND_INF,
    params.map((p) => [p.grad!]),
    {},
    ([grad]) => {
      const g = cpuStorage(grad!);
      for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i]!)) flag![0] = 1;
    },
    [found],
  );
  return found;
}

/** Multiplies every parameter's gradient by `factor` in place (one fused pass). */
export function scaleGrads(params: readonly Var[], factor: number): void {
  checkParams(params);
  runFusedUpdate(
    SCALE,
    params.map((p) => [p.grad!]),
    { factor },
    ([grad]) => {
      const g = cpuStorage(grad!);
      for (let i = 0; i < g.length; i++) g[i] = g[i]! * factor;
    },
  );
}

/**
 * Every optimizer program variant a device binding `maxStorageBuffers` storage buffers per stage
 * runs (WebGPU's default limit 8; lavapipe 16), for compile-all tests.
 */
export function optimizerPrograms(maxStorageBuffers = 8): ProgramInfo[] {
  const kernels = [sgdKernel(false), sgdKernel(true), adamKernel(false), adamKernel(true), CLIP, FOUND_INF, SCALE];
  return kernels.flatMap((k) => {
    const most = paramsPerPass(k, maxStorageBuffers);
    return [...new Set([1, 2, most])].filter((count) => count <= most).map((count) => fusedUpdateProgram(k, count));
  });
}
