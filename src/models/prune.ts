/**
 * Channel pruning of a UNet to narrower widths, as PaddleSlim's L1-norm criterion on batch-norm
 * scales: each convolution followed by a batch norm keeps the output channels whose |γ| is largest
 * (that norm's own ranking), and every tensor reading those channels keeps the same ones: the next
 * convolution's input channels, the decoder's concatenation (the skip's channels, then the
 * transposed convolution's), the transposed convolution's input channels and the head's. The
 * transposed convolutions have no batch norm after them: their output channels are ranked by the
 * L1 norm of their filters (Li et al., "Pruning filters for efficient ConvNets"). Kept channels stay
 * in their original order, so identical widths copy the net exactly. Also the cost model `kensa
 * slim` reports: parameters and convolution multiply-accumulates at an input size.
 */
import { KensaError } from '../errors.js';
import type { Gpu } from '../gpu/gpu.js';
import { integerInRange, invalidParameter } from '../validate.js';
import type { NamedTensor } from './safetensors.js';
import { type ResolvedUNetConfig, UNet } from './unet.js';

/** The `count` indices of the largest `score`s (ties to the lower index), in ascending order. */
function topChannels(score: ArrayLike<number>, count: number): number[] {
  const order = Array.from({ length: score.length }, (_, i) => i).sort((a, b) => score[b]! - score[a]! || a - b);
  return order.slice(0, count).sort((a, b) => a - b);
}

/** Rows `out` (axis 0, null: all) and columns `inp` (axis 1, null: all) of a tensor [A, B, …] or [A]. */
function select(t: NamedTensor, out: readonly number[] | null, inp: readonly number[] | null): NamedTensor {
  const [a, b = 1, ...rest] = t.shape;
  const inner = rest.reduce((x, y) => x * y, 1);
  const rows = out ?? Array.from({ length: a! }, (_, i) => i);
  const cols = inp ?? Array.from({ length: b }, (_, i) => i);
  const data = new Float32Array(rows.length * cols.length * inner);
  let k = 0;
  for (const r of rows) for (const c of cols) data.set(t.data.subarray((r * b + c) * inner, (r * b + c + 1) * inner), inner * k++);
  const shape = t.shape.length === 1 ? [rows.length] : [rows.length, cols.length, ...rest];
  return { dtype: t.dtype, shape, data };
}

/** Checks the target widths against the net's: one per level, each 1 … the level's width; KENSA_ERR_INVALID_ARGUMENT naming the option. */
export function checkPruneWidths(widths: unknown, original: readonly number[], name = 'widths'): number[] {
  if (!Array.isArray(widths) || widths.length !== original.length) {
    throw invalidParameter(name, `an array of ${original.length} channel counts (one per level of the net, ${original.join('-')})`, widths);
  }
  return widths.map((w, i) => integerInRange(`${name}[${i}]`, w, 1, original[i]!));
}

/** The kept channel indices of every batch norm (`enc.0.bn1` …) and transposed convolution (`up.0`). */
export async function prunedChannels(net: UNet, widths: readonly number[]): Promise<Map<string, number[]>> {
  const target = checkPruneWidths(widths, net.config.widths);
  const state = await net.stateDict();
  const keep = new Map<string, number[]>();
  for (const bn of net.batchNormNames()) {
    const level = Number(bn.split('.')[1]);
    keep.set(bn, topChannels(state.get(`${bn}.weight`)!.data.map(Math.abs), target[level]!));
  }
  for (let i = 0; i + 1 < target.length; i++) {
    const w = state.get(`up.${i}.weight`)!; // [in, out, 2, 2]
    const [cin, cout] = w.shape as [number, number];
    const l1 = new Float64Array(cout);
    for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) for (let k = 0; k < 4; k++) l1[o]! += Math.abs(w.data[(c * cout + o) * 4 + k]!);
    keep.set(`up.${i}`, topChannels(l1, target[i]!));
  }
  return keep;
}

/**
 * A new UNet of `widths` (one per level, each at most the original's) whose weights are the
 * original's kept channels (see the module comment), on `gpu` or the CPU; its batch-norm running
 * statistics and `batchesTracked` come along, so it predicts right away (fine-tune it after).
 */
export async function pruneUNet(net: UNet, widths: readonly number[], options: { gpu?: Gpu } = {}): Promise<UNet> {
  const keep = await prunedChannels(net, widths);
  const state = await net.stateDict();
  const levels = net.config.widths.length;
  const out = new Map<string, NamedTensor>();
  const k = (name: string) => keep.get(name)!;
  const bn = (name: string) => {
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) out.set(`${name}.${p}`, select(state.get(`${name}.${p}`)!, k(name), null));
    out.set(`${name}.num_batches_tracked`, state.get(`${name}.num_batches_tracked`)!);
  };
  const double = (name: string, inputs: number[] | null) => {
    out.set(`${name}.conv1.weight`, select(state.get(`${name}.conv1.weight`)!, k(`${name}.bn1`), inputs));
    bn(`${name}.bn1`);
    out.set(`${name}.conv2.weight`, select(state.get(`${name}.conv2.weight`)!, k(`${name}.bn2`), k(`${name}.bn1`)));
    bn(`${name}.bn2`);
  };
  for (let i = 0; i < levels; i++) double(`enc.${i}`, i === 0 ? null : k(`enc.${i - 1}.bn2`));
  for (let i = 0; i + 1 < levels; i++) {
    // the transposed convolution reads the level below: the bottom encoder's output, or the decoder's
    const below = i + 2 === levels ? k(`enc.${i + 1}.bn2`) : k(`dec.${i + 1}.bn2`);
    out.set(`up.${i}.weight`, select(state.get(`up.${i}.weight`)!, below, k(`up.${i}`)));
    out.set(`up.${i}.bias`, select(state.get(`up.${i}.bias`)!, k(`up.${i}`), null));
  }
  for (let i = 0; i + 1 < levels; i++) {
    // cat([skip, up]): the skip's kept channels, then the upsampled ones after the skip's w_i
    const skipWidth = net.config.widths[i]!;
    double(`dec.${i}`, [...k(`enc.${i}.bn2`), ...k(`up.${i}`).map((c) => c + skipWidth)]);
  }
  out.set('head.weight', select(state.get('head.weight')!, null, k('dec.0.bn2')));
  out.set('head.bias', state.get('head.bias')!);
  const { inChannels, classes, preprocessing } = net.config;
  const pruned = await UNet.create({ inChannels, classes, preprocessing, widths: [...widths] }, options.gpu ? { gpu: options.gpu } : {});
  await pruned.loadStateDict({ tensors: out, metadata: {} }, 'the pruned state dict');
  // the decision threshold chosen on validation stays the best known until a fine-tuning chooses again
  pruned.threshold = net.threshold;
  return pruned.eval();
}

/** Trainable parameters of a UNet of this configuration. */
export function unetParameters(c: ResolvedUNetConfig): number {
  const w = c.widths;
  let n = 0;
  const double = (cin: number, cout: number) => cin * cout * 9 + cout * cout * 9 + 4 * cout;
  for (let i = 0; i < w.length; i++) n += double(i === 0 ? c.inChannels : w[i - 1]!, w[i]!);
  for (let i = 0; i + 1 < w.length; i++) n += w[i + 1]! * w[i]! * 4 + w[i]! + double(2 * w[i]!, w[i]!);
  return n + w[0]! * c.classes + c.classes;
}

/**
 * Multiply-accumulates of one forward pass on a height × width input (multiples of the stride):
 * the convolutions, transposed convolutions and the head (batch norms, ReLUs and pools, a few per
 * pixel each, are left out). FLOPs are twice this.
 */
export function unetMacs(c: ResolvedUNetConfig, height: number, width: number): number {
  const w = c.widths;
  const factor = 2 ** (w.length - 1);
  if (height % factor !== 0 || width % factor !== 0) {
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected a size of multiples of ${factor} (the net's stride) for size but received ${width}×${height}`);
  }
  const pixels = (level: number) => (height / 2 ** level) * (width / 2 ** level);
  let macs = 0;
  const double = (cin: number, cout: number, level: number) => 9 * (cin * cout + cout * cout) * pixels(level);
  for (let i = 0; i < w.length; i++) macs += double(i === 0 ? c.inChannels : w[i - 1]!, w[i]!, i);
  // each input pixel of a 2×2 stride-2 transposed convolution writes 4 outputs of every channel
  for (let i = 0; i + 1 < w.length; i++) macs += w[i + 1]! * w[i]! * 4 * pixels(i + 1) + double(2 * w[i]!, w[i]!, i);
  return macs + w[0]! * c.classes * pixels(0);
}
