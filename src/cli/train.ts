/**
 * `kensa train`: trains a UNet on a folder of images and masks (src/train) into a run folder:
 * best and last weights, a checkpoint that `--resume` continues exactly, train-log.json and
 * training-curve.png; the run is recorded in the database. Exit code 0; 1 on a data error or an
 * interruption (Ctrl-C: `--resume RUN_DIR` continues from the last finished epoch); 2 on bad flags.
 */
import { parseArgs } from 'node:util';
import { DEVICES, openBackend, type DeviceChoice } from '../backend.js';
import { formatClock } from '../pipeline/progress.js';
import { openStore } from '../store/store.js';
import {
  bestEpoch,
  parseWidths,
  TRAIN_DEFAULTS,
  type TrainConfig,
  resolveTrainConfig,
  resumeTraining,
  train,
  type EpochRecord,
  type TrainProgress,
  type TrainResult,
} from '../train/index.js';
import { PROGRESS } from './inspect.js';
import { adapterFlag, choiceFlag, EXIT_FAIL, EXIT_OK, guard, intFlag, numberFlag, outputFlag, parseFlags, UsageError, type CliIO } from './io.js';

export const TRAIN_HELP = `Usage: kensa train --data <dir> --epochs <n> --batch <b> --out <run-dir> [options]
       kensa train --resume <run-dir>

Trains a UNet to segment defects on your images (docs/train.md): random crops of the images
(a share centred on defects with --defect-crops; augmented on the GPU with --augment), BCE + Dice
loss, AdamW with a cosine decay, validation after each epoch without gradients (IoU, Dice, pixel
F1 with tolerance, false-NG rate on the defect-free validation images, at 0.5 and at the threshold
of the highest IoU among 0.05 … 0.95). Writes into the run folder:
  best.safetensors, last.safetensors   weights (best validation IoU; latest epoch) with their epoch's
                                       threshold, which kensa inspect --model uses
  checkpoint.json, checkpoint.safetensors  what --resume continues from
  train-log.json, training-curve.png   every step's loss, every epoch's scores; their plot

Options:
  --data <dir>            a folder with images/ and masks/ matched by file name (kensa samples writes one)
  --epochs <n>            passes over the training images, 1 … 1000000
  --batch <b>             crops per step, 1 … 1024
  --out <dir>             the run folder (created)
  --crop <px>             side of the square training crops, a multiple of 2^(levels−1) (default 256)
  --widths <w>            default (64-128-256-512) | slim (48-96-192-384) | channels like 16-32-64
  --val-fraction <f>      share of the images held out for validation, 0 … 0.9 (default 0.2)
  --augment <file>        a pipeline file (JSON or YAML, as kensa augment reads) applied after the crop
  --lr <rate>             peak learning rate (default 0.001)
  --weight-decay <w>      AdamW's decoupled weight decay (default 0.0001)
  --pos-weight <w>        weight of defect pixels in the BCE term, for rare defects (default 1)
  --defect-crops <f>      share of each batch's crops centred on a defect pixel of an image with defects, 0 … 1 (default 0)
  --tolerance <px>        pixel F1 tolerance radius of the validation (default 2)
  --seed <n>              seed of the weights, the split, the crops and augmentation (default 0)
  --amp                   f16 tensor-core convolutions and loss scaling (said once and f32 where the device has none)
  --resume <dir>          continue a run from its last finished epoch, with its own options
  --db <url>              the database the run is recorded in (default kensa.db)
  --device D              auto | cpu | gpu (default auto, or KENSA_DEVICE)
  --adapter <i|name>      GPU adapter index or name substring
  --progress P            auto | tty | json | none (default auto: tty on a terminal, else json)
  -h, --help              show this help

Exit code 0; 1 on a data error or an interruption (continue with --resume); 2 on bad flags.
`;

const FLAGS = {
  data: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  out: { type: 'string' },
  crop: { type: 'string' },
  widths: { type: 'string' },
  'val-fraction': { type: 'string' },
  augment: { type: 'string' },
  lr: { type: 'string' },
  'weight-decay': { type: 'string' },
  'pos-weight': { type: 'string' },
  'defect-crops': { type: 'string' },
  tolerance: { type: 'string' },
  seed: { type: 'string' },
  amp: { type: 'boolean' },
  resume: { type: 'string' },
  db: { type: 'string' },
  device: { type: 'string' },
  adapter: { type: 'string' },
  progress: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseTrainFlags>['values'];

function parseTrainFlags(argv: readonly string[]) {
  return parseFlags(() => parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
}

/** Flags that choose the run's data and model: a resumed run keeps its own. */
const RUN_FLAGS = [
  'data',
  'epochs',
  'batch',
  'crop',
  'widths',
  'val-fraction',
  'augment',
  'lr',
  'weight-decay',
  'pos-weight',
  'defect-crops',
  'tolerance',
  'seed',
  'amp',
] as const;

function required(values: Values, name: 'data' | 'epochs' | 'batch' | 'out'): string {
  const v = values[name];
  if (v === undefined) throw new UsageError(`--${name} is required (or --resume <run-dir>)`);
  return v;
}

function configFromFlags(values: Values): TrainConfig {
  return resolveTrainConfig({
    data: required(values, 'data'),
    epochs: intFlag('epochs', required(values, 'epochs'), 1, 1, 1_000_000),
    batchSize: intFlag('batch', required(values, 'batch'), 1, 1, 1024),
    crop: intFlag('crop', values.crop, TRAIN_DEFAULTS.crop, 8, 8192),
    widths: values.widths === undefined ? 'default' : parseWidths(values.widths),
    validationFraction: numberFlag('val-fraction', values['val-fraction'], TRAIN_DEFAULTS.validationFraction, 0, 0.9),
    augment: values.augment ?? null,
    lr: numberFlag('lr', values.lr, TRAIN_DEFAULTS.lr, 1e-8, 10),
    weightDecay: numberFlag('weight-decay', values['weight-decay'], TRAIN_DEFAULTS.weightDecay, 0, 1),
    posWeight: numberFlag('pos-weight', values['pos-weight'], TRAIN_DEFAULTS.posWeight, 1e-3, 1e4),
    tolerance: numberFlag('tolerance', values.tolerance, TRAIN_DEFAULTS.tolerance, 0, 100),
    defectCrops: numberFlag('defect-crops', values['defect-crops'], TRAIN_DEFAULTS.defectCrops, 0, 1),
    seed: intFlag('seed', values.seed, TRAIN_DEFAULTS.seed, 0, 0xffff0000),
    amp: values.amp === true,
  });
}

/** `epoch 2/10 · step 5/40 · loss 0.4123 · lr 9.51e-4 · scale 65536 · 31.2 img/s · ETA 3:05`. */
export function formatTrainLine(p: TrainProgress): string {
  const scale = p.lossScale === null ? '' : ` · scale ${p.lossScale}`;
  return `epoch ${p.epoch}/${p.epochs} · step ${p.step}/${p.stepsPerEpoch} · loss ${p.loss.toFixed(4)} · lr ${p.lr.toExponential(2)}${scale} · ${p.imagesPerSecond.toFixed(1)} img/s · ETA ${p.etaMs === null ? '?' : formatClock(p.etaMs)}`;
}

const score = (v: number | null) => (v === null ? '–' : v.toFixed(3));

/** `epoch 3: loss 0.2 · val loss 0.3 · IoU 0.500 · … · false-NG 0.250 · threshold 0.30: IoU 0.610 · F1 0.700 · false-NG 0.000 · 12.3 img/s`. */
export function formatEpochLine(e: EpochRecord): string {
  const t = e.threshold;
  const chosen = t ? ` · threshold ${t.value.toFixed(2)}: IoU ${score(t.iou)} · F1 ${score(t.f1)} · false-NG ${score(t.falseNgRate)}` : '';
  const val =
    e.validationLoss === null
      ? 'no validation images'
      : `val loss ${e.validationLoss.toFixed(4)} · IoU ${score(e.iou)} · Dice ${score(e.dice)} · F1 ${score(e.f1)} · false-NG ${score(e.falseNgRate)}${chosen}`;
  return `epoch ${e.epoch}: loss ${e.trainLoss.toFixed(4)} · ${val} · ${e.imagesPerSecond.toFixed(1)} img/s`;
}

/** Progress on stderr: a TTY line redrawn in place at most every 200 ms (and each epoch's last step), or JSON lines. */
function progressSink(mode: 'tty' | 'json' | 'none', io: CliIO): ((p: TrainProgress) => void) | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'json') return (p) => io.err.write(`${JSON.stringify({ type: 'train-progress', ...p })}\n`);
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (now - last < 200 && p.step !== p.stepsPerEpoch) return;
    last = now;
    io.err.write(`\r${formatTrainLine(p)}`);
  };
}

export async function run(argv: readonly string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  return guard('train', io, async () => {
    const { values } = parseTrainFlags(argv);
    if (values.help) {
      io.out.write(TRAIN_HELP);
      return EXIT_OK;
    }
    if (values.resume !== undefined) {
      const given = RUN_FLAGS.filter((f) => values[f] !== undefined);
      if (given.length) throw new UsageError(`--resume continues a run with its own options but received ${given.map((f) => `--${f}`).join(', ')}`);
      if (values.out !== undefined && values.out !== values.resume)
        throw new UsageError(`--out must be the --resume folder or left out but received '${values.out}'`);
    }
    const config = values.resume === undefined ? configFromFlags(values) : null;
    const out = values.resume ?? outputFlag('out', required(values, 'out'), 'folder');
    const device: DeviceChoice = choiceFlag('device', values.device ?? process.env.KENSA_DEVICE, 'auto', DEVICES);
    const adapter = adapterFlag(values.adapter);
    const progressMode = choiceFlag('progress', values.progress, 'auto', PROGRESS);
    const onProgress = progressSink(progressMode === 'auto' ? ((io.err as { isTTY?: boolean }).isTTY ? 'tty' : 'json') : progressMode, io);
    const backend = await openBackend({ device, ...(adapter !== undefined ? { adapter } : {}) });
    const store = await openStore(values.db ?? 'kensa.db');
    let result: TrainResult;
    try {
      io.err.write(`train: device ${backend.name}\n`);
      const runOptions = {
        backend,
        out,
        store,
        ...(signal ? { signal } : {}),
        ...(onProgress ? { onProgress } : {}),
        onEpoch: (e: EpochRecord) => io.out.write(`${formatEpochLine(e)}\n`),
        onNote: (line: string) => io.err.write(`train: ${line}\n`),
      };
      result = config ? await train(config, runOptions) : await resumeTraining(runOptions);
    } finally {
      await store.close();
      backend.close();
    }
    if (result.status === 'interrupted') {
      io.err.write(`\nkensa train: interrupted; continue with: kensa train --resume ${out}\n`);
      return EXIT_FAIL;
    }
    const best = bestEpoch(result.log);
    const chosen = best?.threshold ? ` · threshold ${best.threshold.value.toFixed(2)}` : '';
    io.out.write(`${best ? `best epoch ${best.epoch}: IoU ${score(best.iou)}${chosen}` : 'no validation IoU'} · run ${result.runId} · wrote ${out}\n`);
    return EXIT_OK;
  });
}
