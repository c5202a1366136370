/**
 * Layers: parameters with PyTorch's default initialisation (seeded, so two runs start alike) and
 * a forward function. Parameters are made on the CPU and moved to a Gpu by `to(gpu)`.
 */
import type { Gpu } from '../gpu/gpu.js';
import { mulberry32 } from '../rng.js';
import { Tensor } from '../tensor.js';
import { integerInRange } from '../validate.js';
import { Var } from './autograd.js';
import { linear } from './ops.js';

/** U(−bound, bound) samples of a seeded generator. */
function uniform(n: number, bound: number, next: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 2 - 1) * bound;
  return out;
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
    const place = async (t: Tensor) => (options.gpu ? t.toGpu(options.gpu) : t);
    const w = await place(Tensor.fromArray(uniform(nIn * nOut, bound, next), [nOut, nIn], 'f32'));
    const b = options.bias === false ? null : await place(Tensor.fromArray(uniform(nOut, bound, next), [nOut], 'f32'));
    return new Linear(Var.parameter(w), b ? Var.parameter(b) : null);
  }

  parameters(): Var[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  forward(x: Var): Var {
    return linear(x, this.weight, this.bias ?? undefined);
  }
}
