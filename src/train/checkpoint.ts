/**
 * A training run's files in RUN_DIR: `last.safetensors` (the weights after the latest epoch),
 * `best.safetensors` (the best validation IoU so far), `checkpoint.json` (configuration, the next
 * epoch and step, loss scaler, data-stream state, log) and `checkpoint.safetensors` (AdamW's
 * moments under `exp_avg.<name>` / `exp_avg_sq.<name>`). Together they continue a run exactly:
 * the data order and augmentation streams are functions of (seed, epoch), so the epoch is the
 * random state.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KensaError } from '../errors.js';
import { type NamedTensor, decodeSafetensors, encodeSafetensors } from '../models/safetensors.js';
import { type UNet, writeInto } from '../models/unet.js';
import type { AdamW } from '../nn/optim.js';
import type { GradScalerState } from '../nn/scaler.js';
import type { Tensor } from '../tensor.js';
import type { TrainLog } from './log.js';

export const CHECKPOINT_FILES = {
  last: 'last.safetensors',
  best: 'best.safetensors',
  state: 'checkpoint.json',
  moments: 'checkpoint.safetensors',
} as const;

/** checkpoint.json. */
export interface CheckpointState {
  version: 1;
  /** The epoch the run continues with (epochs done). */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  bestIou: number | null;
  scaler: GradScalerState | null;
  /** The data streams: order and augmentation of epoch e are drawn from (seed, e). */
  rng: { seed: number; epoch: number };
  runId: string | null;
  log: TrainLog;
}

/** Writes a file whole or not at all (a crash mid-write leaves the previous one). */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeFile(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
}

/** The optimizer's moment buffers under the names of their parameters (`exp_avg.enc.0.conv1.weight`, …). */
function momentSlots(net: UNet, opt: AdamW): { name: string; tensor: Tensor }[] {
  const names = new Map(net.stateEntries().map((e) => [e.tensor, e.name]));
  const { expAvg, expAvgSq } = opt.state();
  return opt.params.flatMap((p, k) => [
    { name: `exp_avg.${names.get(p.value)}`, tensor: expAvg[k]! },
    { name: `exp_avg_sq.${names.get(p.value)}`, tensor: expAvgSq[k]! },
  ]);
}

async function momentTensors(net: UNet, opt: AdamW): Promise<Map<string, NamedTensor>> {
  const tensors = new Map<string, NamedTensor>();
  for (const { name, tensor } of momentSlots(net, opt)) {
    const cpu = await tensor.toCpu();
    tensors.set(name, { dtype: 'F32', shape: [...tensor.shape], data: (cpu.data as Float32Array).slice() });
    if (cpu !== tensor) cpu.dispose();
  }
  return tensors;
}

/** Saves the epoch's weights and the state to continue from (last, then the state that points past it). */
export async function saveCheckpoint(dir: string, net: UNet, opt: AdamW, state: CheckpointState): Promise<void> {
  await writeAtomic(join(dir, CHECKPOINT_FILES.last), await net.toSafetensors());
  await writeAtomic(join(dir, CHECKPOINT_FILES.moments), encodeSafetensors({ tensors: await momentTensors(net, opt), metadata: {} }));
  await writeAtomic(join(dir, CHECKPOINT_FILES.state), `${JSON.stringify(state)}\n`);
}

async function readOrThrow(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new KensaError('KENSA_ERR_TRAIN_DATA', `--resume expects a run folder of kensa train but ${path} cannot be read (${(e as Error).message})`, {
      cause: e,
    });
  }
}

/** checkpoint.json of a run folder. */
export async function readCheckpointState(dir: string): Promise<CheckpointState> {
  const path = join(dir, CHECKPOINT_FILES.state);
  const text = (await readOrThrow(path)).toString('utf8');
  const bad = (why: string, cause?: unknown) =>
    new KensaError('KENSA_ERR_TRAIN_DATA', `--resume: ${path} is not a kensa train checkpoint (${why})`, cause === undefined ? {} : { cause });
  let state: CheckpointState;
  try {
    state = JSON.parse(text) as CheckpointState;
  } catch (e) {
    throw bad((e as Error).message, e);
  }
  if (state?.version !== 1) throw bad(`version ${state?.version}`);
  return state;
}

/** Loads the weights and the optimizer's moments of a run folder into `net` and `opt` (made with the run's configuration). */
export async function loadCheckpoint(dir: string, net: UNet, opt: AdamW, state: CheckpointState): Promise<void> {
  const last = join(dir, CHECKPOINT_FILES.last);
  await net.loadStateDict(decodeSafetensors(await readOrThrow(last), last), last);
  const path = join(dir, CHECKPOINT_FILES.moments);
  const file = decodeSafetensors(await readOrThrow(path), path);
  for (const { name, tensor } of momentSlots(net, opt)) {
    const saved = file.tensors.get(name);
    if (!saved || saved.data.length !== tensor.size)
      throw new KensaError(
        'KENSA_ERR_WEIGHTS',
        `Expected tensor ${name} of ${tensor.size} values in ${path} but received ${saved ? saved.data.length : 'none'}`,
      );
    await writeInto(tensor, saved.data);
  }
  opt.resumeAt(state.step);
}
