/**
 * Layers: parameters with PyTorch's default initialisation (seeded, so two runs start alike) and
 * a forward function; made on the CPU, or on the Gpu given as `gpu`.
 */
import type { Gpu } from '../gpu/gpu.js';
import { mulberry32 } from '../rng.js';
import { Tensor } from '../tensor.js';
import { integerInRange } from '../validate.js';
import { Var } from './autograd.js';
import { type BatchNorm2dOptions, batchNorm2d, type Conv2dForwardOptions, type ConvTranspose2dForwardOptions, conv2d, convTranspose2d } from './conv.js';
import { linear } from './ops.js';
import { runMap } from './map.js';
import { BATCH_NORM_EPS } from './ops/batch-norm.js';

/** U(−bound, bound) samples of a seeded generator. */
function uniform(n: number, bound: number, next: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 2 - 1) * bound;
  return out;
}

async function placed(values: Float32Array, shape: readonly number[], gpu: Gpu | undefined): Promise<Var> {
  const t = Tensor.fromArray(values, shape, 'f32');
  return Var.parameter(gpu ? await t.toGpu(gpu) : t);
}

export interface LinearOptions {
  /** Default true. */
  bias?: boolean;
  /** Seed of the initial weights; default 0. */
  seed?: number;
  /** Make the parameters on this Gpu (default the CPU). */
  gpu?: Gpu;
}

/** y = x · Wᵀ + b, W [out, in] and b [out] drawn from U(±1/√in) (torch.nn.Linear). */
export class Linear {
  readonly weight: Var;
  readonly bias: Var | null;

  private constructor(weight: Var, bias: Var | null) {
    this.weight = weight;
    this.bias = bias;
  }

  static async create(inFeatures: number, outFeatures: number, options: LinearOptions = {}): Promise<Linear> {
    const nIn = integerInRange('inFeatures', inFeatures, 1, 1 << 20);
    const nOut = integerInRange('outFeatures', outFeatures, 1, 1 << 20);
    const next = mulberry32(integerInRange('seed', options.seed ?? 0, 0, 0xffffffff));
    const bound = 1 / Math.sqrt(nIn);
    const w = await placed(uniform(nIn * nOut, bound, next), [nOut, nIn], options.gpu);
    const b = options.bias === false ? null : await placed(uniform(nOut, bound, next), [nOut], options.gpu);
    return new Linear(w, b);
  }

  parameters(): Var[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  forward(x: Var): Var {
    return linear(x, this.weight, this.bias ?? undefined);
  }
}

export interface Conv2dLayerOptions extends Conv2dForwardOptions, Omit<LinearOptions, 'bias'> {
  /** Default true. */
  bias?: boolean;
}

/** A 2-D convolution layer, weights [Cout, Cin/groups, k, k] and bias from U(±1/√fan_in) (torch.nn.Conv2d). */
export class Conv2d {
  readonly weight: Var;
  readonly bias: Var | null;
  readonly options: Conv2dForwardOptions;

  private constructor(weight: Var, bias: Var | null, options: Conv2dForwardOptions) {
    this.weight = weight;
    this.bias = bias;
    this.options = options;
  }

  static async create(inChannels: number, outChannels: number, kernelSize: number, options: Conv2dLayerOptions = {}): Promise<Conv2d> {
    const groups = integerInRange('groups', options.groups ?? 1, 1, inChannels);
    const cin = integerInRange('inChannels', inChannels, 1, 1 << 16) / groups;
    const cout = integerInRange('outChannels', outChannels, 1, 1 << 16);
    const k = integerInRange('kernelSize', kernelSize, 1, 64);
    const next = mulberry32(integerInRange('seed', options.seed ?? 0, 0, 0xffffffff));
    const bound = 1 / Math.sqrt(cin * k * k);
    const w = await placed(uniform(cout * cin * k * k, bound, next), [cout, cin, k, k], options.gpu);
    const b = options.bias === false ? null : await placed(uniform(cout, bound, next), [cout], options.gpu);
    const { stride, padding, dilation, activation, precision } = options;
    return new Conv2d(w, b, { stride, padding, dilation, groups, activation, precision });
  }

  parameters(): Var[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  forward(x: Var): Var {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

export interface ConvTranspose2dLayerOptions extends ConvTranspose2dForwardOptions, Omit<LinearOptions, 'bias'> {
  bias?: boolean;
}

/** A transposed convolution layer, weights [Cin, Cout/groups, k, k] (torch.nn.ConvTranspose2d's initialisation). */
export class ConvTranspose2d {
  readonly weight: Var;
  readonly bias: Var | null;
  readonly options: ConvTranspose2dForwardOptions;

  private constructor(weight: Var, bias: Var | null, options: ConvTranspose2dForwardOptions) {
    this.weight = weight;
    this.bias = bias;
    this.options = options;
  }

  static async create(inChannels: number, outChannels: number, kernelSize: number, options: ConvTranspose2dLayerOptions = {}): Promise<ConvTranspose2d> {
    const groups = integerInRange('groups', options.groups ?? 1, 1, outChannels);
    const cin = integerInRange('inChannels', inChannels, 1, 1 << 16);
    const cout = integerInRange('outChannels', outChannels, 1, 1 << 16) / groups;
    const k = integerInRange('kernelSize', kernelSize, 1, 64);
    const next = mulberry32(integerInRange('seed', options.seed ?? 0, 0, 0xffffffff));
    // PyTorch takes fan_in from weight.size(1) · k · k for transposed convolutions
    const bound = 1 / Math.sqrt(cout * k * k);
    const w = await placed(uniform(cin * cout * k * k, bound, next), [cin, cout, k, k], options.gpu);
    const b = options.bias === false ? null : await placed(uniform(cout * groups, bound, next), [cout * groups], options.gpu);
    const { stride, padding, dilation, activation, outputPadding, precision } = options;
    return new ConvTranspose2d(w, b, { stride, padding, dilation, groups, activation, outputPadding, precision });
  }

  parameters(): Var[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  forward(x: Var): Var {
    return convTranspose2d(x, this.weight, this.bias, this.options);
  }
}

/** Batch norm over channels: gamma 1, beta 0, running mean 0 and variance 1 (torch.nn.BatchNorm2d). */
export class BatchNorm2d {
  readonly gamma: Var;
  readonly beta: Var;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly options: Omit<BatchNorm2dOptions, 'training'>;

  private constructor(gamma: Var, beta: Var, runningMean: Tensor, runningVar: Tensor, options: Omit<BatchNorm2dOptions, 'training'>) {
    this.gamma = gamma;
    this.beta = beta;
    this.runningMean = runningMean;
    this.runningVar = runningVar;
    this.options = options;
  }

  static async create(channels: number, options: Omit<BatchNorm2dOptions, 'training'> & { gpu?: Gpu } = {}): Promise<BatchNorm2d> {
    const c = integerInRange('channels', channels, 1, 1 << 16);
    const ones = () => new Float32Array(c).fill(1);
    const place = async (t: Tensor) => (options.gpu ? t.toGpu(options.gpu) : t);
    const gamma = await placed(ones(), [c], options.gpu);
    const beta = await placed(new Float32Array(c), [c], options.gpu);
    const mean = await place(Tensor.fromArray(new Float32Array(c), [c], 'f32'));
    const variance = await place(Tensor.fromArray(ones(), [c], 'f32'));
    return new BatchNorm2d(gamma, beta, mean, variance, { momentum: options.momentum, eps: options.eps });
  }

  parameters(): Var[] {
    return [this.gamma, this.beta];
  }

  forward(x: Var, training: boolean): Var {
    return batchNorm2d(x, this.gamma, this.beta, this.runningMean, this.runningVar, { ...this.options, training });
  }

  /**
   * In eval mode, `conv` followed by this norm as one convolution (no gradient): its weight scaled
   * per output channel by s = γ / sqrt(running var + ε), its bias β − (running mean − the conv's bias) · s.
   */
  foldInto(conv: Conv2d): { weight: Var; bias: Var } {
    const c = this.gamma.shape[0]!;
    const w = conv.weight.value;
    const s = runMap('bn_scale', [this.gamma.value, this.runningVar], [c], { p: this.options.eps ?? BATCH_NORM_EPS });
    const mean = conv.bias ? runMap('sub', [this.runningMean, conv.bias.value], [c]) : this.runningMean;
    const weight = runMap('mul', [w, s.reshape([c, 1, 1, 1])], w.shape);
    const bias = runMap('bn_shift', [this.beta.value, mean, s], [c]);
    if (mean !== this.runningMean) mean.dispose();
    s.dispose();
    return { weight: Var.constant(weight), bias: Var.constant(bias) };
  }
}
