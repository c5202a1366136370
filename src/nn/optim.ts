/**
 * Optimizers with PyTorch's update rules (torch.optim SGD, Adam, AdamW), each parameter updated
 * by one fused program that reads its gradient and rewrites the weights and the optimizer's state
 * in place (no tensor per step). State is allocated with the optimizer, beside the parameters.
 * `gradScale` multiplies gradients inside the same pass (a GradScaler's unscale costs nothing).
 */
import type { ProgramInfo } from '../gpu/program.js';
import type { Tensor } from '../tensor.js';
import { invalidParameter, numberInRange } from '../validate.js';
import type { Var } from './autograd.js';
import { cpuStorage, gpuOf, launchCpu, launchGpu, zerosOn } from './launch.js';
import { runMap } from './map.js';
import { runReduce } from './reduce.js';

const WG = 256;

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

function elementwiseMain(body: string): string {
  return /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.numel) { return; }
  ${body}
}`;
}

const sgdPrograms = new Map<boolean, ProgramInfo>();

/** SGD's update; `momentum` adds the momentum buffer (read and written in the same pass). */
export function sgdProgram(momentum: boolean): ProgramInfo {
  let p = sgdPrograms.get(momentum);
  if (!p) {
    p = {
      name: 'nn_sgd',
      key: momentum ? 'momentum' : 'plain',
      inputs: [{ name: 'grad', dtype: 'f32' }],
      outputs: [{ name: 'param', dtype: 'f32' }, ...(momentum ? [{ name: 'buf', dtype: 'f32' as const }] : [])],
      uniforms: [
        { name: 'numel', type: 'u32' },
        { name: 'lr', type: 'f32' },
        { name: 'momentum', type: 'f32' },
        { name: 'dampening', type: 'f32' },
        { name: 'weight_decay', type: 'f32' },
        { name: 'grad_scale', type: 'f32' },
        { name: 'nesterov', type: 'u32' },
        { name: 'first', type: 'u32' },
      ],
      workgroupSize: WG,
      body: elementwiseMain(`var d = grad[i] * u.grad_scale + u.weight_decay * param[i];
  ${
    momentum
      ? `var b = d;
  if (u.first == 0u) { b = u.momentum * buf[i] + (1.0 - u.dampening) * d; }
  buf[i] = b;
  d = select(b, d + u.momentum * b, u.nesterov == 1u);`
      : ''
  }
  param[i] = param[i] - u.lr * d;`),
    };
    sgdPrograms.set(momentum, p);
  }
  return p;
}

const adamPrograms = new Map<boolean, ProgramInfo>();

/** Adam's update; `decoupled` applies weight decay to the weights (AdamW), else to the gradient (Adam's L2). */
export function adamProgram(decoupled: boolean): ProgramInfo {
  let p = adamPrograms.get(decoupled);
  if (!p) {
    p = {
      name: 'nn_adam',
      key: decoupled ? 'adamw' : 'adam',
      inputs: [{ name: 'grad', dtype: 'f32' }],
      outputs: [
        { name: 'param', dtype: 'f32' },
        { name: 'exp_avg', dtype: 'f32' },
        { name: 'exp_avg_sq', dtype: 'f32' },
      ],
      uniforms: [
        { name: 'numel', type: 'u32' },
        { name: 'lr', type: 'f32' },
        { name: 'beta1', type: 'f32' },
        { name: 'beta2', type: 'f32' },
        { name: 'eps', type: 'f32' },
        { name: 'weight_decay', type: 'f32' },
        { name: 'grad_scale', type: 'f32' },
        { name: 'correction1', type: 'f32' },
        { name: 'correction2', type: 'f32' },
      ],
      workgroupSize: WG,
      body: elementwiseMain(`var w = param[i];
  var g = grad[i] * u.grad_scale;
  ${decoupled ? 'w = w * (1.0 - u.lr * u.weight_decay);' : 'g = g + u.weight_decay * w;'}
  let m1 = u.beta1 * exp_avg[i] + (1.0 - u.beta1) * g;
  let v1 = u.beta2 * exp_avg_sq[i] + (1.0 - u.beta2) * g * g;
  exp_avg[i] = m1;
  exp_avg_sq[i] = v1;
  param[i] = w - u.lr * (m1 / u.correction1) / (sqrt(v1 / u.correction2) + u.eps);`),
    };
    adamPrograms.set(decoupled, p);
  }
  return p;
}

function refsOf(tensors: readonly Tensor[]) {
  return tensors.map((t) => t.gpu.ref);
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
    this.params.forEach((p, k) => {
      const grad = p.grad!;
      const buf = this.#buffers?.[k];
      const gpu = gpuOf(p.value);
      if (gpu) {
        launchGpu(gpu, {
          program: sgdProgram(buf !== undefined),
          inputs: [grad.gpu.ref],
          outputs: refsOf(buf ? [p.value, buf] : [p.value]),
          uniforms: {
            numel: p.value.size,
            lr: this.lr,
            momentum: this.momentum,
            dampening: this.dampening,
            weight_decay: this.weightDecay,
            grad_scale: gradScale,
            nesterov: this.nesterov ? 1 : 0,
            first: first ? 1 : 0,
          },
          workgroups: Math.ceil(p.value.size / WG),
        });
        return;
      }
      launchCpu();
      const w = cpuStorage(p.value);
      const g = cpuStorage(grad);
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
    this.params.forEach((p, k) => {
      const m = this.#m[k]!;
      const v = this.#v[k]!;
      const gpu = gpuOf(p.value);
      if (gpu) {
        launchGpu(gpu, {
          program: adamProgram(this.#decoupled),
          inputs: [p.grad!.gpu.ref],
          outputs: refsOf([p.value, m, v]),
          uniforms: {
            numel: p.value.size,
            lr: this.lr,
            beta1,
            beta2,
            eps: this.eps,
            weight_decay: this.weightDecay,
            grad_scale: gradScale,
            correction1,
            correction2,
          },
          workgroups: Math.ceil(p.value.size / WG),
        });
        return;
      }
      launchCpu();
      const w = cpuStorage(p.value);
      const g = cpuStorage(p.grad!);
      const ms = cpuStorage(m);
      const vs = cpuStorage(v);
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

/**
 * Scales all gradients together so that their global L2 norm is at most `maxNorm`
 * (torch.nn.utils.clip_grad_norm_) and returns the norm before clipping, a [1] tensor on the
 * parameters' device (read it when logging; nothing waits for it). Two programs per parameter:
 * its sum of squares added into one scalar, then its scaling by min(1, maxNorm / norm).
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
  for (const p of params) runMap('clip_scale', [p.grad!, total], p.shape, { p: limit, into: p.grad!, inplace: true });
  const norm = runMap('sqrt', [total], [1]);
  total.dispose();
  return norm;
}

/** Whether any parameter's gradient holds an inf or NaN: a [1] tensor, 1 or 0. */
export function foundNonFinite(params: readonly Var[]): Tensor {
  checkParams(params);
  const found = zerosOn(params[0]!.value, [1]);
  for (const p of params)
    runReduce(
      'nonfinite',
      p.grad!,
      p.shape.map((_, i) => i),
      { into: found },
    );
  return found;
}

/** Every optimizer program variant, for compile-all tests. */
export function optimizerPrograms(): ProgramInfo[] {
  return [sgdProgram(false), sgdProgram(true), adamProgram(false), adamProgram(true)];
}
