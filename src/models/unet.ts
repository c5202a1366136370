/**
 * A UNet on the nn engine: an encoder of double convolutions (conv 3×3 without bias, batch norm,
 * ReLU, twice) and 2×2 max-pools, a decoder of 2×2 stride-2 transposed convolutions whose output
 * is concatenated after the encoder's skip, and a 1×1 head. The parameter names are those of the
 * PyTorch module in scripts/nn/unet_torch_ref.py (`enc.0.conv1.weight`, `up.0.bias`, …), so a
 * state dict moves between the two unchanged.
 */
import { KensaError } from '../errors.js';
import type { Gpu } from '../gpu/gpu.js';
import { noGrad, noteParameterWrite, parameterWriteCount, type Var } from '../nn/autograd.js';
import { conv2d, maxPool2d } from '../nn/conv.js';
import { BatchNorm2d, Conv2d, ConvTranspose2d } from '../nn/layers.js';
import { concat, relu } from '../nn/ops.js';
import { type NamedTensor, type Safetensors, decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { keep, type Tensor } from '../tensor.js';
import { integerInRange, invalidParameter, is, numberInRange } from '../validate.js';

export const UNET_WIDTHS = {
  default: [64, 128, 256, 512],
  slim: [48, 96, 192, 384],
} as const;

/** How pixels become the network's input: x = (pixel / 255 − mean[c]) / std[c]. Recorded with the weights, not applied by forward. */
export interface UNetPreprocessing {
  mean: number[];
  std: number[];
}

export interface UNetConfig {
  /** 1 (grey) or 3 (RGB); default 1. */
  inChannels?: number;
  /** 1: one logit per pixel for a sigmoid; k ≥ 2: k logits for a softmax. Default 1. */
  classes?: number;
  /** Channels of each level, top to bottom (2 to 6 levels); default 64-128-256-512. */
  widths?: readonly number[];
  /** Default mean 0 and std 1 per channel. */
  preprocessing?: UNetPreprocessing;
}

export interface ResolvedUNetConfig {
  inChannels: number;
  classes: number;
  widths: number[];
  preprocessing: UNetPreprocessing;
}

export interface UNetOptions {
  /** Seed of the initial weights; default 0. */
  seed?: number;
  /** Make the parameters on this Gpu (default the CPU). */
  gpu?: Gpu;
  /** 'f16' runs the convolutions' GEMMs on tensor cores where `nn.enableConvTensorCores` found them. */
  precision?: 'f32' | 'f16';
}

function perChannel(name: string, v: unknown, channels: number): number[] {
  if (!Array.isArray(v) || v.length !== channels || !v.every((x) => is.number(x))) {
    throw invalidParameter(name, `an array of ${channels} finite numbers`, v);
  }
  return [...v];
}

export function resolveUNetConfig(config: UNetConfig = {}): ResolvedUNetConfig {
  const inChannels = config.inChannels ?? 1;
  if (inChannels !== 1 && inChannels !== 3) throw invalidParameter('inChannels', '1 or 3', inChannels);
  const classes = integerInRange('classes', config.classes ?? 1, 1, 1024);
  const widths = config.widths ?? UNET_WIDTHS.default;
  if (!Array.isArray(widths) || widths.length < 2 || widths.length > 6) {
    throw invalidParameter('widths', 'an array of 2 to 6 channel counts', widths);
  }
  for (const [i, w] of widths.entries()) integerInRange(`widths[${i}]`, w, 1, 4096);
  const std = perChannel('preprocessing.std', config.preprocessing?.std ?? new Array(inChannels).fill(1), inChannels);
  for (const [i, s] of std.entries()) numberInRange(`preprocessing.std[${i}]`, s, 1e-6, 1e6);
  const mean = perChannel('preprocessing.mean', config.preprocessing?.mean ?? new Array(inChannels).fill(0), inChannels);
  return { inChannels, classes, widths: [...widths], preprocessing: { mean, std } };
}

/** A convolution with its batch norm folded in (eval mode), and the parameter write count it was folded at. */
interface FoldedConvs {
  at: number;
  convs: { weight: Var; bias: Var }[];
}

/** conv-bn-ReLU twice (PyTorch: `DoubleConv` with `conv1, bn1, conv2, bn2`). */
class DoubleConv {
  /** Eval mode's folded weights, kept across forwards until a parameter or running statistic is written. */
  #folded: FoldedConvs | null = null;

  constructor(
    readonly conv1: Conv2d,
    readonly bn1: BatchNorm2d,
    readonly conv2: Conv2d,
    readonly bn2: BatchNorm2d,
  ) {}

  static async create(cin: number, cout: number, seed: number, options: UNetOptions): Promise<DoubleConv> {
    const conv = { padding: 1, bias: false, gpu: options.gpu, precision: options.precision };
    return new DoubleConv(
      await Conv2d.create(cin, cout, 3, { ...conv, seed }),
      await BatchNorm2d.create(cout, { gpu: options.gpu }),
      await Conv2d.create(cout, cout, 3, { ...conv, seed: seed + 1 }),
      await BatchNorm2d.create(cout, { gpu: options.gpu }),
    );
  }

  /** Eval mode: each conv, norm and ReLU as one convolution (the norm folded into its weight and bias, the ReLU into its store). */
  forward(x: Var, training: boolean): Var {
    if (training) {
      this.disposeFolded();
      const h = relu(this.bn1.forward(this.conv1.forward(x), training));
      return relu(this.bn2.forward(this.conv2.forward(h), training));
    }
    const [a, b] = this.#foldedConvs();
    const h = conv2d(x, a!.weight, a!.bias, { ...this.conv1.options, activation: 'relu' });
    return conv2d(h, b!.weight, b!.bias, { ...this.conv2.options, activation: 'relu' });
  }

  /** The folded weights, folded again only after a parameter write (an optimizer step, a training batch norm, loaded weights). */
  #foldedConvs(): FoldedConvs['convs'] {
    const at = parameterWriteCount();
    if (this.#folded?.at !== at) {
      this.disposeFolded();
      const fold = (conv: Conv2d, bn: BatchNorm2d) => {
        const { weight, bias } = bn.foldInto(conv);
        keep(weight.value);
        keep(bias.value);
        return { weight, bias };
      };
      this.#folded = { at, convs: [fold(this.conv1, this.bn1), fold(this.conv2, this.bn2)] };
    }
    return this.#folded.convs;
  }

  disposeFolded(): void {
    for (const c of this.#folded?.convs ?? []) {
      c.weight.value.dispose();
      c.bias.value.dispose();
    }
    this.#folded = null;
  }
}

/** One named tensor of the state dict: a parameter (Var) or a batch-norm running statistic. */
export interface StateEntry {
  name: string;
  tensor: Tensor;
  parameter: boolean;
}

export class UNet {
  readonly config: ResolvedUNetConfig;
  /** Batch norm uses the batch's statistics (and updates the running ones) in training mode. */
  training = true;
  /** Training forwards run, PyTorch's `num_batches_tracked` of every batch norm. */
  batchesTracked = 0;
  /**
   * The sigmoid threshold of a defect pixel chosen on validation (kensa train), kept with the
   * weights under `kensa.threshold` in the metadata; a model recipe without a threshold uses it.
   * Null: none chosen.
   */
  threshold: number | null = null;
  readonly #enc: DoubleConv[];
  readonly #up: ConvTranspose2d[];
  readonly #dec: DoubleConv[];
  readonly #head: Conv2d;

  private constructor(config: ResolvedUNetConfig, enc: DoubleConv[], up: ConvTranspose2d[], dec: DoubleConv[], head: Conv2d) {
    this.config = config;
    this.#enc = enc;
    this.#up = up;
    this.#dec = dec;
    this.#head = head;
  }

  /** A UNet with PyTorch's default initialisation, drawn from `seed` (each layer its own stream). */
  static async create(config: UNetConfig = {}, options: UNetOptions = {}): Promise<UNet> {
    const c = resolveUNetConfig(config);
    const seed = integerInRange('seed', options.seed ?? 0, 0, 0xffff0000);
    const w = c.widths;
    const enc: DoubleConv[] = [];
    const up: ConvTranspose2d[] = [];
    const dec: DoubleConv[] = [];
    for (let i = 0; i < w.length; i++) enc.push(await DoubleConv.create(i === 0 ? c.inChannels : w[i - 1]!, w[i]!, seed + 10 * i, options));
    for (let i = 0; i + 1 < w.length; i++) {
      up.push(await ConvTranspose2d.create(w[i + 1]!, w[i]!, 2, { stride: 2, seed: seed + 100 + 10 * i, gpu: options.gpu, precision: options.precision }));
      dec.push(await DoubleConv.create(2 * w[i]!, w[i]!, seed + 200 + 10 * i, options));
    }
    const head = await Conv2d.create(w[0]!, c.classes, 1, { seed: seed + 300, gpu: options.gpu, precision: options.precision });
    return new UNet(c, enc, up, dec, head);
  }

  train(): this {
    this.training = true;
    return this;
  }

  eval(): this {
    this.training = false;
    return this;
  }

  /** Trainable parameters, in state-dict order. */
  parameters(): Var[] {
    const double = (d: DoubleConv) => [d.conv1, d.bn1, d.conv2, d.bn2].flatMap((l) => l.parameters());
    return [...this.#enc.flatMap(double), ...this.#up.flatMap((l) => l.parameters()), ...this.#dec.flatMap(double), ...this.#head.parameters()];
  }

  /** Parameters and running statistics under their PyTorch names (num_batches_tracked is `batchesTracked`). */
  stateEntries(): StateEntry[] {
    const out: StateEntry[] = [];
    const param = (name: string, v: Var) => {
      out.push({ name, tensor: v.value, parameter: true });
    };
    const bn = (name: string, b: BatchNorm2d) => {
      param(`${name}.weight`, b.gamma);
      param(`${name}.bias`, b.beta);
      out.push({ name: `${name}.running_mean`, tensor: b.runningMean, parameter: false });
      out.push({ name: `${name}.running_var`, tensor: b.runningVar, parameter: false });
    };
    const double = (name: string, d: DoubleConv) => {
      param(`${name}.conv1.weight`, d.conv1.weight);
      bn(`${name}.bn1`, d.bn1);
      param(`${name}.conv2.weight`, d.conv2.weight);
      bn(`${name}.bn2`, d.bn2);
    };
    for (const [i, d] of this.#enc.entries()) double(`enc.${i}`, d);
    this.#up.forEach((u, i) => {
      param(`up.${i}.weight`, u.weight);
      if (u.bias) param(`up.${i}.bias`, u.bias);
    });
    for (const [i, d] of this.#dec.entries()) double(`dec.${i}`, d);
    param('head.weight', this.#head.weight);
    if (this.#head.bias) param('head.bias', this.#head.bias);
    return out;
  }

  /** The names of the batch norms, whose `num_batches_tracked` a PyTorch state dict also holds. */
  batchNormNames(): string[] {
    const names: string[] = [];
    const add = (prefix: string, n: number) => {
      for (let i = 0; i < n; i++) names.push(`${prefix}.${i}.bn1`, `${prefix}.${i}.bn2`);
    };
    add('enc', this.#enc.length);
    add('dec', this.#dec.length);
    return names;
  }

  /**
   * Logits [N, classes, H, W] of x [N, inChannels, H, W]; H and W multiples of 2^(levels−1).
   * `levels`, when given, receives each level's output under its module name (`enc.0`, `dec.0`, …)
   * for a layer-by-layer comparison with PyTorch.
   */
  forward(x: Var, levels?: Map<string, Var>): Var {
    const depth = this.config.widths.length;
    const factor = 2 ** (depth - 1);
    const [, c, h, w] = x.shape;
    if (x.shape.length !== 4 || c !== this.config.inChannels || h! % factor !== 0 || w! % factor !== 0) {
      throw new KensaError(
        'KENSA_ERR_SHAPE',
        `Expected x of shape [N, ${this.config.inChannels}, H, W] with H and W multiples of ${factor} but received [${x.shape.join(', ')}]`,
      );
    }
    if (this.training) this.batchesTracked++;
    const skips: Var[] = [];
    let h1 = x;
    for (let i = 0; i < depth; i++) {
      h1 = this.#enc[i]!.forward(h1, this.training);
      levels?.set(`enc.${i}`, h1.retain());
      if (i + 1 < depth) {
        skips.push(h1);
        h1 = maxPool2d(h1, { kernelSize: 2 });
      }
    }
    for (let i = depth - 2; i >= 0; i--) {
      h1 = this.#dec[i]!.forward(concat([skips[i]!, this.#up[i]!.forward(h1)], 1), this.training);
      levels?.set(`dec.${i}`, h1.retain());
    }
    return this.#head.forward(h1);
  }

  /**
   * The weights as a safetensors file: PyTorch's state-dict names (with each batch norm's
   * `num_batches_tracked`), the configuration under `kensa.config` (JSON) in the metadata, and
   * the threshold (when set) under `kensa.threshold`.
   */
  async toSafetensors(): Promise<Uint8Array> {
    const tensors = await this.stateDict();
    const head = this.config.classes === 1 ? 'sigmoid' : 'softmax';
    const metadata: Record<string, string> = { format: 'pt', 'kensa.model': 'unet', 'kensa.config': JSON.stringify({ ...this.config, head }) };
    if (this.threshold !== null) metadata['kensa.threshold'] = String(this.threshold);
    return encodeSafetensors({ tensors, metadata });
  }

  /** The state dict on the host, in state-dict order: F32 copies, each batch norm's `num_batches_tracked` I64 after its running_var. */
  async stateDict(): Promise<Map<string, NamedTensor>> {
    const tensors = new Map<string, NamedTensor>();
    for (const e of this.stateEntries()) {
      const cpu = await e.tensor.toCpu();
      tensors.set(e.name, { dtype: 'F32', shape: [...e.tensor.shape], data: (cpu.data as Float32Array).slice() });
      if (cpu !== e.tensor) cpu.dispose();
      if (e.name.endsWith('.running_var')) {
        const bn = e.name.slice(0, -'.running_var'.length);
        tensors.set(`${bn}.num_batches_tracked`, { dtype: 'I64', shape: [], data: new Float32Array([this.batchesTracked]) });
      }
    }
    return tensors;
  }

  /** A UNet made from a file of `toSafetensors` (its configuration and threshold read from the metadata). */
  static async fromSafetensors(bytes: Uint8Array, source: string, options: Omit<UNetOptions, 'seed'> = {}): Promise<UNet> {
    const file = decodeSafetensors(bytes, source);
    let config: UNetConfig;
    try {
      config = JSON.parse(file.metadata['kensa.config'] ?? '');
    } catch {
      throw new KensaError(
        'KENSA_ERR_WEIGHTS',
        `Expected a JSON UNet configuration under kensa.config in the metadata of weights file ${source} but received ${JSON.stringify(file.metadata['kensa.config'])}`,
      );
    }
    const net = await UNet.create(
      { inChannels: config.inChannels, classes: config.classes, widths: config.widths, preprocessing: config.preprocessing },
      options,
    );
    await net.loadStateDict(file, source);
    const threshold = file.metadata['kensa.threshold'];
    if (threshold !== undefined) {
      const t = Number(threshold);
      if (threshold.trim() === '' || !(t > 0 && t < 1))
        throw new KensaError(
          'KENSA_ERR_WEIGHTS',
          `Expected a number between 0 and 1 (exclusive) under kensa.threshold in the metadata of weights file ${source} but received ${JSON.stringify(threshold)}`,
        );
      net.threshold = t;
    }
    return net;
  }

  /**
   * Loads a state dict of this architecture (a file of `toSafetensors`, or a PyTorch UNet's saved
   * with safetensors.torch.save_file): every tensor present with the same shape, nothing else.
   */
  async loadStateDict(file: Safetensors, source: string): Promise<void> {
    const entries = this.stateEntries();
    const expected = new Set(entries.map((e) => e.name));
    for (const name of this.batchNormNames()) expected.add(`${name}.num_batches_tracked`);
    for (const name of file.tensors.keys()) {
      if (!expected.has(name)) throw new KensaError('KENSA_ERR_WEIGHTS', `Expected only this UNet's tensors in weights file ${source} but received ${name}`);
    }
    for (const e of entries) {
      const t = file.tensors.get(e.name);
      if (!t) throw new KensaError('KENSA_ERR_WEIGHTS', `Expected tensor ${e.name} in weights file ${source} but received none`);
      if (t.shape.join(',') !== e.tensor.shape.join(',')) {
        throw new KensaError(
          'KENSA_ERR_WEIGHTS',
          `Expected shape [${e.tensor.shape.join(', ')}] for tensor ${e.name} in weights file ${source} but received [${t.shape.join(', ')}]`,
        );
      }
    }
    for (const e of entries) await writeInto(e.tensor, file.tensors.get(e.name)!.data);
    this.batchesTracked = file.tensors.get(`${this.batchNormNames()[0]}.num_batches_tracked`)?.data[0] ?? 0;
  }

  /** Frees the weights, running statistics and eval mode's folded weights. */
  dispose(): void {
    for (const d of [...this.#enc, ...this.#dec]) d.disposeFolded();
    for (const e of this.stateEntries()) e.tensor.dispose();
    for (const p of this.parameters()) p.grad?.dispose();
  }

  /** Eval-mode logits without recording a graph (the mode is restored after). */
  predict(x: Var, levels?: Map<string, Var>): Var {
    const was = this.training;
    this.training = false;
    try {
      return noGrad(() => this.forward(x, levels));
    } finally {
      this.training = was;
    }
  }
}

/** Copies f32 values into a tensor in place, on its device. */
export async function writeInto(t: Tensor, values: Float32Array): Promise<void> {
  noteParameterWrite();
  if (t.device === 'cpu') (t.data as Float32Array).set(values);
  else await t.gpu.gpu.upload(t.gpu.ref, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}
