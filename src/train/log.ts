/**
 * `train-log.json` and `training-curve.png`: the configuration, every step's loss, learning rate
 * and loss scale, and one record per epoch (training loss, validation scores, speed).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTrainingCurvePng } from '../eval/plot.js';
import type { TrainConfig } from './config.js';
import type { ThresholdScores } from './validate.js';

export const LOG_FILES = { log: 'train-log.json', curve: 'training-curve.png' } as const;

/** One epoch: its mean training loss and the validation after it. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Optimizer steps taken by the end of the epoch. */
  steps: number;
  trainLoss: number;
  validationLoss: number | null;
  iou: number | null;
  dice: number | null;
  f1: number | null;
  falseNgRate: number | null;
  /** The decision threshold the validation chose (highest IoU over THRESHOLD_GRID) and the scores at it; null without validation. */
  threshold: ThresholdScores | null;
  lr: number;
  lossScale: number | null;
  imagesPerSecond: number;
  seconds: number;
}

export interface TrainLog {
  config: TrainConfig;
  device: string;
  /** Whether --amp was asked for, whether it runs (f16 tensor-core convolutions and loss scaling), and why not. */
  amp: { requested: boolean; active: boolean; note: string | null };
  epochs: EpochRecord[];
  /** Per optimizer step, in order. */
  steps: { loss: number[]; lr: number[]; lossScale: (number | null)[] };
}

/** The epoch of the highest validation IoU (the first of equals); null without one. */
export function bestEpoch(log: TrainLog): EpochRecord | null {
  return log.epochs.reduce<EpochRecord | null>((b, e) => (e.iou !== null && (b === null || e.iou > b.iou!) ? e : b), null);
}

/** Writes the JSON log and the curve. */
export async function writeTrainLog(dir: string, log: TrainLog): Promise<void> {
  await writeFile(join(dir, LOG_FILES.log), `${JSON.stringify(log, null, 1)}\n`);
  const title = `UNet ${log.config.widths.join('-')} · ${log.device}`;
  await writeTrainingCurvePng(log.epochs, title, join(dir, LOG_FILES.curve));
}
