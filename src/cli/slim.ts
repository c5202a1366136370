/**
 * `kensa slim`: prunes a trained UNet's channels to target widths by the L1 norm of its
 * batch-norm scales (src/models/prune.ts, PaddleSlim's criterion) and reports parameters, MACs,
 * forward speed and, with labelled data, IoU before and after; with --epochs the pruned net is
 * fine-tuned by `kensa train`'s loop on the same data before it is measured and written.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Backend, DEVICES, type DeviceChoice, openBackend } from '../backend.js';
import { KensaError } from '../errors.js';
import { addCounts, compareMasks, scores, ZERO_COUNTS, type MaskCounts } from '../eval/metrics.js';
import { Var } from '../nn/autograd.js';
import { checkPruneWidths, pruneUNet, unetMacs, unetParameters } from '../models/prune.js';
import type { UNet } from '../models/unet.js';
import { UNetRunner } from '../models/unet-runner.js';
import { Tensor, tidy } from '../tensor.js';
import { loadLabelled, type LabelledFrame } from '../tune/data.js';
import { CHECKPOINT_FILES } from '../train/checkpoint.js';
import { resolveTrainConfig } from '../train/config.js';
import { train } from '../train/train.js';
import { loadUNetFile } from './export.js';
import { adapterFlag, choiceFlag, EXIT_OK, formatMs, guard, intFlag, numberFlag, median, outputFlag, parseFlags, table, UsageError, type CliIO } from './io.js';

export const SLIM_HELP = `Usage: kensa slim --model <best.safetensors> --widths <w0,w1,...> --out <slim.safetensors> [options]

Prunes a kensa UNet to narrower widths (docs/export.md): each convolution keeps the channels with
the largest |gamma| of its batch norm (PaddleSlim's L1 criterion), and every layer reading them
keeps the same ones. Reports parameters, MACs at --size, forward ms per image on --device, and
with --data the IoU before and after. With --epochs the pruned net is fine-tuned on --data by
kensa train's loop (a train run in --train-out; its best checkpoint is written to --out).

Options:
  --model <file>       the trained UNet's weights (required)
  --widths <list>      channels per level, comma-separated, each at most the net's (required;
                       e.g. 48,96,192,384 for a 64-128-256-512 net)
  --out <file>         the pruned weights to write (required)
  --data <dir>         images + masks (kensa samples' layout: images/ and masks/) for IoU
  --epochs <n>         fine-tune the pruned net for n epochs on --data (default 0: no fine-tuning)
  --batch <n>          fine-tuning batch size (default 8)
  --crop <n>           fine-tuning crop side, a multiple of the net's stride (default 256)
  --lr <x>             fine-tuning peak learning rate (default 1e-4)
  --train-out <dir>    the fine-tuning run folder (default <out without .safetensors>.train)
  --size <n>           square input side for MACs and speed, a multiple of the net's stride (default 256)
  --runs <n>           timed forward passes, 1 … 100 (default 3; median reported)
  --device <d>         auto | cpu | gpu (default auto, or KENSA_DEVICE)
  --adapter <a>        GPU adapter index or name substring
  --json               print the report as JSON
  -h, --help           show this help
`;

const FLAGS = {
  model: { type: 'string' },
  widths: { type: 'string' },
  out: { type: 'string' },
  data: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  crop: { type: 'string' },
  lr: { type: 'string' },
  'train-out': { type: 'string' },
  size: { type: 'string' },
  runs: { type: 'string' },
  device: { type: 'string' },
  adapter: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Fine-tunes a pruned net and returns it: the seam for kensa train's loop. */
export type FineTune = (pruned: UNet) => Promise<UNet>;

export interface SlimOptions {
  widths: readonly number[];
  /** Square side of the MAC count and the timed input. */
  size: number;
  runs: number;
  /** Labelled frames for IoU before and after, or none. */
  data?: readonly LabelledFrame[];
  /** The net's device (its Gpu, or the CPU). */
  backend: Backend;
  fineTune?: FineTune;
}

export interface SlimFigures {
  widths: number[];
  parameters: number;
  /** Convolution multiply-accumulates of one size × size forward. */
  macs: number;
  msPerImage: number;
  iou: number | null;
}

export interface SlimReport {
  before: SlimFigures;
  after: SlimFigures;
  fineTuned: boolean;
  pruned: UNet;
  device: string;
  size: number;
}

/** Median ms of `runs` eval forwards of one size × size input (after one warm-up), synchronised with the device. */
async function forwardMs(net: UNet, size: number, runs: number, backend: Backend): Promise<number> {
  const host = Tensor.fromArray(new Float32Array(net.config.inChannels * size * size).fill(0.5), [1, net.config.inChannels, size, size], 'f32');
  using x = await backend.toDevice(host);
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const y = tidy(() => net.predict(Var.constant(x)).value);
    await backend.sync();
    if (i > 0) times.push(performance.now() - t0);
    y.dispose();
  }
  return median(times.sort((a, b) => a - b));
}

/** Pixel IoU over every frame (micro-averaged): a defect where the net's probability is above ½ (1 class) or its top class is not the background. */
async function datasetIou(net: UNet, frames: readonly LabelledFrame[], backend: Backend): Promise<number | null> {
  const runner = UNetRunner.of(net, 'the net', backend.gpu);
  const { inChannels, classes } = net.config;
  let counts: MaskCounts = ZERO_COUNTS;
  for (const f of frames) {
    const max = f.dtype === 'u16' ? 65535 : 255;
    const plane = Float32Array.from(f.data, (v) => v / max);
    const x = new Float32Array(inChannels * plane.length);
    for (let c = 0; c < inChannels; c++) x.set(plane, c * plane.length);
    const [out] = await runner.runBatch(x, [1, inChannels, f.height, f.width]);
    const n = plane.length;
    const pred = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (classes === 1) pred[i] = out!.data[i]! > 0 ? 1 : 0;
      else for (let k = 1; k < classes; k++) if (out!.data[k * n + i]! > out!.data[i]!) pred[i] = 1;
    }
    counts = addCounts(counts, compareMasks(pred, f.truth, f.width, f.height, 0));
  }
  return scores(counts).iou;
}

async function figures(net: UNet, o: SlimOptions): Promise<SlimFigures> {
  return {
    widths: [...net.config.widths],
    parameters: unetParameters(net.config),
    macs: unetMacs(net.config, o.size, o.size),
    msPerImage: await forwardMs(net, o.size, o.runs, o.backend),
    iou: o.data ? await datasetIou(net, o.data, o.backend) : null,
  };
}

/** Prunes `net` to `widths` (fine-tuned when `fineTune` is given) and measures both nets the same way. */
export async function slimUNet(net: UNet, o: SlimOptions): Promise<SlimReport> {
  const factor = 2 ** (net.config.widths.length - 1);
  if (o.size % factor !== 0)
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected a multiple of ${factor} (the net's stride) for size but received ${o.size}`);
  checkPruneWidths(o.widths, net.config.widths); // before the measurements, which take a while
  const before = await figures(net, o);
  const cut = await pruneUNet(net, o.widths, o.backend.gpu ? { gpu: o.backend.gpu } : {});
  const pruned = o.fineTune ? await o.fineTune(cut) : cut;
  return { before, after: await figures(pruned, o), fineTuned: o.fineTune !== undefined, pruned, device: o.backend.name, size: o.size };
}

/** `48,96,192,384` → numbers (checked against the net by pruneUNet). */
function widthsFlag(v: string): number[] {
  const parts = v.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new UsageError(`--widths expects comma-separated channel counts (e.g. 48,96,192,384) but received '${v}'`);
  return parts.map(Number);
}

export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  return guard('slim', io, async () => {
    const { values } = parseFlags(() => parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
    if (values.help) {
      io.out.write(SLIM_HELP);
      return EXIT_OK;
    }
    if (!values.model) throw new UsageError('--model is required (the trained UNet, e.g. RUN_DIR/best.safetensors)');
    if (!values.widths) throw new UsageError('--widths is required (channels per level, e.g. 48,96,192,384)');
    if (!values.out) throw new UsageError('--out is required (the pruned weights to write)');
    outputFlag('out', values.out, 'file');
    const widths = widthsFlag(values.widths);
    const size = intFlag('size', values.size, 256, 1, 16384);
    const runs = intFlag('runs', values.runs, 3, 1, 100);
    const device: DeviceChoice = choiceFlag('device', values.device ?? process.env.KENSA_DEVICE, 'auto', DEVICES);
    const adapter = adapterFlag(values.adapter);
    const epochs = intFlag('epochs', values.epochs, 0, 0, 1e6);
    if (epochs > 0 && !values.data) throw new UsageError('--epochs needs --data (the images and masks to fine-tune on)');
    const data = values.data ? await loadLabelled(join(values.data, 'images'), join(values.data, 'masks')) : undefined;
    const backend = await openBackend({ device, ...(adapter !== undefined ? { adapter } : {}) });
    try {
      const net = await loadUNetFile(values.model, backend.gpu);
      const fineTune: FineTune | undefined =
        epochs > 0
          ? async (pruned) => {
              const out = values['train-out'] ?? `${values.out!.replace(/\.safetensors$/, '')}.train`;
              const config = resolveTrainConfig({
                data: values.data!,
                epochs,
                batchSize: intFlag('batch', values.batch, 8, 1, 1024),
                crop: intFlag('crop', values.crop, 256, 8, 8192),
                lr: numberFlag('lr', values.lr, 1e-4, 1e-8, 10),
                widths: pruned.config.widths,
              });
              await train(config, { backend, out, initial: pruned });
              return loadUNetFile(join(out, CHECKPOINT_FILES.best), backend.gpu);
            }
          : undefined;
      const r = await slimUNet(net, { widths, size, runs, backend, ...(data ? { data } : {}), ...(fineTune ? { fineTune } : {}) });
      await writeFile(values.out, await r.pruned.toSafetensors());
      const { before: b, after: a } = r;
      if (values.json) {
        io.out.write(`${JSON.stringify({ out: values.out, device: r.device, size, before: b, after: a, fineTuned: r.fineTuned })}\n`);
        return EXIT_OK;
      }
      const iou = (v: number | null) => (v === null ? '-' : v.toFixed(4));
      io.out.write(
        `kensa slim: wrote ${values.out}; ${r.fineTuned ? `fine-tuned ${epochs} epochs` : 'not fine-tuned (--epochs N fine-tunes it on --data)'}\n` +
          table([
            ['', 'widths', 'parameters', `GMACs at ${size}²`, `ms/image (${r.device})`, 'IoU'],
            ['before', b.widths.join('-'), String(b.parameters), (b.macs / 1e9).toFixed(3), formatMs(b.msPerImage), iou(b.iou)],
            ['after', a.widths.join('-'), String(a.parameters), (a.macs / 1e9).toFixed(3), formatMs(a.msPerImage), iou(a.iou)],
          ]) +
          `speed-up ${(b.msPerImage / a.msPerImage).toFixed(2)}×, ${((1 - a.parameters / b.parameters) * 100).toFixed(1)}% fewer parameters\n`,
      );
      return EXIT_OK;
    } finally {
      backend.close();
    }
  });
}
