/**
 * The training loop of `kensa train`: a UNet on random crops of the data set's images (the GPU
 * augmentation loader with a RandomCrop first, then the user's pipeline; masks follow the
 * geometry; with `defectCrops` a share of the crops centred on defects, crops.ts), BCE + Dice
 * with `posWeight`, AdamW with a cosine decay, loss scaling with f16 tensor-core convolutions
 * under AMP, validation after each epoch without gradients (which chooses the decision threshold
 * the epoch's weights are written with), and after each epoch the checkpoint that
 * `resumeTraining` continues from exactly. The run is recorded in
 * a store (a `train` run: its configuration, then its final metrics).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
// the index registers every transform a pipeline file may name
import { Compose, loadPipeline, RandomCrop, type Transform } from '../augment/index.js';
import type { Backend } from '../backend.js';
import { KensaError } from '../errors.js';
import { invalidParameter } from '../validate.js';
import { UNet } from '../models/unet.js';
import { backward, Var } from '../nn/autograd.js';
import { bceDiceLoss } from '../nn/losses.js';
import { enableConvTensorCores } from '../nn/ops/conv2d.js';
import { AdamW } from '../nn/optim.js';
import { GradScaler } from '../nn/scaler.js';
import { cosineSchedule, type Schedule } from '../nn/schedule.js';
import { convert } from '../ops/color/convert.js';
import { threshold } from '../ops/threshold/binary.js';
import type { LoaderBatch } from '../pipeline/augment-loader.js';
import { ProgressMeter } from '../pipeline/progress.js';
import type { Json } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { type Tensor, tidy } from '../tensor.js';
import { CHECKPOINT_FILES, type CheckpointState, loadCheckpoint, readCheckpointState, saveCheckpoint } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { epochBatches } from './crops.js';
import { loadTrainItem, readTrainData, type TrainData } from './data.js';
import { bestEpoch, type EpochRecord, type TrainLog, writeTrainLog } from './log.js';
import { validate, type ValidationScores } from './validate.js';

/** What a progress line shows after each step. */
export interface TrainProgress {
  /** 1-based. */
  epoch: number;
  epochs: number;
  /** Step within the epoch, 1-based. */
  step: number;
  stepsPerEpoch: number;
  loss: number;
  lr: number;
  lossScale: number | null;
  imagesPerSecond: number;
  etaMs: number | null;
}

export interface TrainRunOptions {
  backend: Backend;
  /** The run folder. */
  out: string;
  /** Where the run is recorded (a `train` run); none: not recorded. */
  store?: Store;
  /** Stops after the current step; the run continues from its last epoch with resumeTraining. */
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  onEpoch?: (e: EpochRecord) => void;
  /** Said once: e.g. why --amp runs in f32 here. */
  onNote?: (line: string) => void;
  /** Start from this net's weights instead of fresh ones (fine-tuning, e.g. after kensa slim); its widths must be the config's. */
  initial?: UNet;
}

export interface TrainResult {
  status: 'done' | 'interrupted';
  log: TrainLog;
  runId: string | null;
}

/** The loader's pipeline: a random crop, then the user's transforms. */
async function trainingPipeline(config: TrainConfig): Promise<Transform> {
  const crop = RandomCrop({ width: config.crop, height: config.crop });
  return Compose({ transforms: config.augment ? [crop, await loadPipeline(config.augment)] : [crop] });
}

/** Whether --amp can run here (f16 tensor-core convolutions), and if not, why. */
async function ampMode(requested: boolean, backend: Backend): Promise<TrainLog['amp']> {
  if (!requested) return { requested, active: false, note: null };
  const why = backend.gpu ? await enableConvTensorCores(backend.gpu) : 'the CPU reference has no f16 tensor cores';
  return why ? { requested, active: false, note: `--amp: ${why}; training in f32 without loss scaling` } : { requested, active: true, note: null };
}

/** f32 network input (pixels / their maximum) and 0/1 f32 target (a pipeline's synthetic defects mark masks with 255) of a loader batch. */
function batchTensors(batch: LoaderBatch): { x: Tensor; y: Tensor } {
  const { image, mask } = batch;
  const x = image.dtype === 'f32' ? image : convert(image, { dtype: 'f32', scale: image.dtype === 'u16' ? 1 / 65535 : 1 / 255 });
  return { x, y: threshold(mask!, { thresh: 0, maxval: 1, dtype: 'f32' }) };
}

/**
 * Records one optimizer step on a batch. Resolves once the step is recorded (under loss scaling
 * only after the scaler's inf/NaN read-back, which decides the step) to its unscaled loss, whose
 * read-back is started but not awaited: the next step can be recorded while it is in flight.
 */
export async function recordStep(net: UNet, opt: AdamW, scaler: GradScaler | null, batch: LoaderBatch, posWeight: number): Promise<{ loss: Promise<number> }> {
  opt.zeroGrad();
  const value = tidy(() => {
    const { x, y } = batchTensors(batch);
    // retained: under loss scaling the loss is not backward's root, whose value alone survives it
    const loss = bceDiceLoss(net.forward(Var.constant(x)), y, { posWeight }).retain();
    backward(scaler ? scaler.scaleLoss(loss) : loss);
    if (!scaler) opt.step();
    return loss.value;
  });
  if (scaler) await scaler.step(opt);
  batch.image.dispose();
  batch.mask?.dispose();
  const loss = readLoss(value);
  // awaited by the caller a step later; until then a failed read-back must not count as unhandled
  loss.catch(() => {});
  return { loss };
}

async function readLoss(value: Tensor): Promise<number> {
  try {
    const cpu = await value.toCpu();
    const loss = cpu.at(0);
    if (cpu !== value) cpu.dispose();
    return loss;
  } finally {
    value.dispose();
  }
}

function epochRecord(
  epoch: number,
  steps: number,
  losses: readonly number[],
  v: ValidationScores | null,
  lr: number,
  scale: number | null,
  images: number,
  ms: number,
): EpochRecord {
  return {
    epoch: epoch + 1,
    steps,
    trainLoss: losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length),
    validationLoss: v?.loss ?? null,
    iou: v?.iou ?? null,
    dice: v?.dice ?? null,
    f1: v?.f1 ?? null,
    falseNgRate: v?.falseNgRate ?? null,
    threshold: v?.threshold ?? null,
    lr,
    lossScale: scale,
    imagesPerSecond: ms > 0 ? (images / ms) * 1000 : 0,
    seconds: ms / 1000,
  };
}

/** The final metrics a store records: the last epoch's, and the best epoch by IoU. */
function finalMetrics(log: TrainLog): { [key: string]: Json } {
  const last = log.epochs.at(-1) ?? null;
  return { last: last as unknown as Json, best: bestEpoch(log) as unknown as Json };
}

/** Creates (fresh) or resumes (continued) the run's store row. */
async function recordStart(store: Store | undefined, state: CheckpointState, config: TrainConfig, out: string, device: string): Promise<string | null> {
  if (!store) return null;
  if (state.runId && (await store.getRun(state.runId))) return (await store.resumeRun(state.runId, { device })).id;
  const run = await store.createRun({ recipeName: 'train', recipe: config as unknown as Json, device, options: { kind: 'train', out } });
  return run.id;
}

/** Milliseconds spent training and validating (recorded with the run). */
interface Timings {
  train: number;
  validate: number;
}

/** Ends the run's store row: its final metrics, status, image count and timings. */
async function recordEnd(s: Session, done: boolean, timings: Timings): Promise<void> {
  const { store, out } = s.run;
  const id = s.state.runId;
  if (!store || !id) return;
  await store.updateRunOptions(id, { kind: 'train', out, metrics: finalMetrics(s.state.log) });
  const total = s.data.train.length + s.data.validation.length;
  await store.finishRun(id, done ? 'done' : 'interrupted', { total, ok: 0, ng: 0, error: 0 }, { train: timings.train, validate: timings.validate });
}

interface Session {
  config: TrainConfig;
  run: TrainRunOptions;
  data: TrainData;
  net: UNet;
  opt: AdamW;
  scaler: GradScaler | null;
  pipeline: Transform;
  state: CheckpointState;
}

/** What the epochs share: the schedule, the steps an epoch takes (mixed image sizes may take more) and the rate meter. */
interface Pace {
  schedule: Schedule;
  stepsPerEpoch: number;
  meter: ProgressMeter;
}

/** One pass over the training images; the losses of its steps, or null when interrupted. */
async function trainEpoch(s: Session, epoch: number, pace: Pace): Promise<number[] | null> {
  const { config, run, opt, scaler } = s;
  const log = s.state.log;
  const losses: number[] = [];
  const { batches } = epochBatches({
    config,
    data: s.data,
    pipeline: s.pipeline,
    backend: run.backend,
    epoch,
    load: (item) => loadTrainItem(item, config.crop),
  });
  // a step's loss is read while the next step is recorded, so the GPU is not idle waiting for the host
  const inFlight: { loss: Promise<number>; lr: number; lossScale: number | null; images: number }[] = [];
  const settle = async (): Promise<boolean> => {
    const { loss: pending, lr, lossScale, images } = inFlight.shift()!;
    const loss = await pending;
    losses.push(loss);
    log.steps.loss.push(loss);
    log.steps.lr.push(lr);
    log.steps.lossScale.push(lossScale);
    pace.meter.done += images;
    const p = pace.meter.snapshot({ decoded: 0, batches: 0, batching: 0 });
    run.onProgress?.({
      epoch: epoch + 1,
      epochs: config.epochs,
      step: losses.length,
      stepsPerEpoch: pace.stepsPerEpoch,
      loss,
      lr,
      lossScale,
      imagesPerSecond: p.imagesPerSecond,
      etaMs: p.etaMs,
    });
    if (!run.signal?.aborted) return true;
    await Promise.allSettled(inFlight.map((s) => s.loss));
    return false;
  };
  for await (const batch of batches) {
    opt.lr = pace.schedule(opt.steps);
    const { loss } = await recordStep(s.net, opt, scaler, batch, config.posWeight);
    inFlight.push({ loss, lr: opt.lr, lossScale: scaler?.scale ?? null, images: batch.names.length });
    if (inFlight.length > 1 && !(await settle())) return null;
  }
  while (inFlight.length) if (!(await settle())) return null;
  return losses;
}

/** Validates, logs the epoch and writes the checkpoint (and best.safetensors when the IoU improved), the weights with the epoch's chosen threshold. */
async function endEpoch(s: Session, epoch: number, losses: number[], trainMs: number, timings: Timings): Promise<void> {
  const { config, run, net, opt, scaler } = s;
  const started = performance.now();
  const v = s.data.validation.length
    ? await validate(net, s.data.validation, {
        backend: run.backend,
        crop: config.crop,
        batchSize: config.batchSize,
        posWeight: config.posWeight,
        tolerance: config.tolerance,
      })
    : null;
  timings.validate += performance.now() - started;
  const record = epochRecord(epoch, opt.steps, losses, v, opt.lr, scaler?.scale ?? null, s.data.train.length, trainMs);
  s.state.log.epochs.push(record);
  const improved = s.state.bestIou === null || (record.iou !== null && record.iou > s.state.bestIou);
  s.state = {
    ...s.state,
    epoch: epoch + 1,
    step: opt.steps,
    bestIou: improved ? record.iou : s.state.bestIou,
    scaler: scaler?.state ?? null,
    rng: { seed: config.seed, epoch: epoch + 1 },
  };
  net.threshold = record.threshold?.value ?? null;
  await saveCheckpoint(run.out, net, opt, s.state);
  if (improved) await copyFile(join(run.out, CHECKPOINT_FILES.last), join(run.out, CHECKPOINT_FILES.best));
  await writeTrainLog(run.out, s.state.log);
  run.onEpoch?.(record);
}

/** Trains the epochs from `s.state.epoch` on; false when interrupted. */
async function trainEpochs(s: Session, timings: Timings): Promise<boolean> {
  const { config, data } = s;
  const stepsPerEpoch = Math.ceil(data.train.length / config.batchSize);
  const pace: Pace = {
    schedule: cosineSchedule(config.lr, { totalSteps: config.epochs * stepsPerEpoch }),
    stepsPerEpoch,
    meter: new ProgressMeter((config.epochs - s.state.epoch) * data.train.length),
  };
  for (let epoch = s.state.epoch; epoch < config.epochs; epoch++) {
    const started = performance.now();
    const losses = await trainEpoch(s, epoch, pace);
    if (!losses) return false;
    const trainMs = performance.now() - started;
    timings.train += trainMs;
    await endEpoch(s, epoch, losses, trainMs, timings);
  }
  return true;
}

/** Builds the session (data checked, model, optimizer, scaler) and trains from `state`. */
async function runTraining(config: TrainConfig, run: TrainRunOptions, resumed: CheckpointState | null): Promise<TrainResult> {
  const data = await readTrainData(config.data, {
    crop: config.crop,
    validationFraction: config.validationFraction,
    seed: config.seed,
    defects: config.defectCrops > 0,
  });
  if (run.initial && !resumed && run.initial.config.inChannels !== data.channels)
    throw new KensaError(
      'KENSA_ERR_TRAIN_DATA',
      `${config.data} holds ${data.channels}-channel images but the net to fine-tune takes ${run.initial.config.inChannels}`,
    );
  const pipeline = await trainingPipeline(config);
  const amp = await ampMode(config.amp, run.backend);
  if (amp.note) run.onNote?.(amp.note);
  // once the data and the augmentation are known good: a refused run leaves no empty folder behind
  await mkdir(run.out, { recursive: true });
  const gpu = run.backend.gpu ?? undefined;
  const net =
    resumed || !run.initial
      ? await UNet.create({ widths: config.widths, inChannels: data.channels }, { seed: config.seed, gpu, precision: amp.active ? 'f16' : 'f32' })
      : run.initial;
  const opt = new AdamW(net.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
  const scaler = amp.active ? new GradScaler() : null;
  const fresh: CheckpointState = {
    version: 1,
    epoch: 0,
    step: 0,
    bestIou: null,
    scaler: null,
    rng: { seed: config.seed, epoch: 0 },
    runId: null,
    log: { config, device: run.backend.name, amp, epochs: [], steps: { loss: [], lr: [], lossScale: [] } },
  };
  const state = resumed ?? fresh;
  if (resumed) {
    await loadCheckpoint(run.out, net, opt, resumed);
    if (scaler && resumed.scaler) scaler.loadState(resumed.scaler);
  }
  state.runId = await recordStart(run.store, state, config, run.out, run.backend.name);
  const session: Session = { config, run, data, net, opt, scaler, pipeline, state };
  const timings: Timings = { train: 0, validate: 0 };
  const done = await trainEpochs(session, timings);
  await recordEnd(session, done, timings);
  return { status: done ? 'done' : 'interrupted', log: session.state.log, runId: state.runId };
}

/**
 * Trains a UNet from scratch into `run.out`.
 * @throws KensaError KENSA_ERR_TRAIN_DATA for unusable data (naming the file) or an `out` that holds a run, KENSA_ERR_INVALID_ARGUMENT for bad options.
 */
export async function train(config: TrainConfig, run: TrainRunOptions): Promise<TrainResult> {
  if (existsSync(join(run.out, CHECKPOINT_FILES.state)))
    throw new KensaError('KENSA_ERR_TRAIN_DATA', `--out ${run.out} already holds a training run: continue it with --resume or choose another folder`);
  const initial = run.initial?.config.widths;
  if (initial && initial.join('-') !== config.widths.join('-'))
    throw invalidParameter('initial', `a net of the config's widths ${config.widths.join('-')}`, initial.join('-'));
  return runTraining(config, run, null);
}

/** Continues the run in `run.out` from its last finished epoch, with its own configuration: the same losses as a run never stopped (CPU). */
export async function resumeTraining(run: TrainRunOptions): Promise<TrainResult> {
  const state = await readCheckpointState(run.out);
  // a run from before --defect-crops took uniform crops
  return runTraining({ ...state.log.config, defectCrops: state.log.config.defectCrops ?? 0 }, run, state);
}
