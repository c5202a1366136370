/** The options of a training run, validated once (the CLI and resumed runs go through here). */
import { resolveUNetConfig, UNET_WIDTHS } from '../models/unet.js';
import { integerInRange, invalidParameter, numberInRange } from '../validate.js';

export interface TrainConfig {
  /** A folder with images/ and masks/. */
  data: string;
  epochs: number;
  batchSize: number;
  /** Side of the square training crops; a multiple of 2^(levels−1). */
  crop: number;
  validationFraction: number;
  /** UNet channels per level, top to bottom. */
  widths: number[];
  /** Peak learning rate (AdamW, cosine decay over the run). */
  lr: number;
  weightDecay: number;
  /** Weight of the defect pixels in the BCE term (rare defects: > 1). */
  posWeight: number;
  seed: number;
  /** f16 tensor-core convolutions with loss scaling, where the device has them. */
  amp: boolean;
  /** A pipeline file (JSON or YAML, as kensa augment reads) applied after the crop; null: crops only. */
  augment: string | null;
  /** Radius (px) of the validation's pixel F1. */
  tolerance: number;
  /**
   * Share (0 … 1) of each batch's crops centred on a defect pixel of a training image with defects
   * (crops.ts); 0: every crop uniform at random (the loader's RandomCrop).
   */
  defectCrops: number;
}

/** The defaults of the optional settings (the CLI's too). */
export const TRAIN_DEFAULTS = { crop: 256, validationFraction: 0.2, lr: 1e-3, weightDecay: 1e-4, posWeight: 1, seed: 0, tolerance: 2, defectCrops: 0 } as const;

export type TrainOptions = Pick<TrainConfig, 'data' | 'epochs' | 'batchSize'> &
  Partial<Omit<TrainConfig, 'data' | 'epochs' | 'batchSize' | 'widths'>> & {
    /** 'default' (64-128-256-512), 'slim' (48-96-192-384) or the channels per level. */
    widths?: keyof typeof UNET_WIDTHS | readonly number[];
  };

/** `64-128-256-512`, `slim` or `default` as channel counts. */
export function parseWidths(text: string): keyof typeof UNET_WIDTHS | number[] {
  if (text === 'default' || text === 'slim') return text;
  const widths = text.split(/[-,]/).map(Number);
  if (!widths.every((w) => Number.isInteger(w) && w > 0)) throw invalidParameter('widths', "'default', 'slim' or channel counts like 64-128-256-512", text);
  return widths;
}

export function resolveTrainConfig(o: TrainOptions): TrainConfig {
  const w = o.widths ?? 'default';
  const widths = resolveUNetConfig({ widths: typeof w === 'string' ? (UNET_WIDTHS[w] ?? []) : w }).widths;
  const crop = integerInRange('crop', o.crop ?? TRAIN_DEFAULTS.crop, 8, 8192);
  const factor = 2 ** (widths.length - 1);
  if (crop % factor !== 0)
    throw invalidParameter('crop', `a multiple of ${factor} (2^(levels−1) for widths ${widths.join('-')}, which do not divide the crop)`, crop);
  if (typeof o.data !== 'string' || o.data === '') throw invalidParameter('data', 'a folder with images/ and masks/', o.data);
  return {
    data: o.data,
    epochs: integerInRange('epochs', o.epochs, 1, 1e6),
    batchSize: integerInRange('batchSize', o.batchSize, 1, 1024),
    crop,
    validationFraction: numberInRange('validationFraction', o.validationFraction ?? TRAIN_DEFAULTS.validationFraction, 0, 0.9),
    widths,
    lr: numberInRange('lr', o.lr ?? TRAIN_DEFAULTS.lr, 1e-8, 10),
    weightDecay: numberInRange('weightDecay', o.weightDecay ?? TRAIN_DEFAULTS.weightDecay, 0, 1),
    posWeight: numberInRange('posWeight', o.posWeight ?? TRAIN_DEFAULTS.posWeight, 1e-3, 1e4),
    seed: integerInRange('seed', o.seed ?? TRAIN_DEFAULTS.seed, 0, 0xffff0000),
    amp: o.amp === true,
    augment: o.augment ?? null,
    tolerance: numberInRange('tolerance', o.tolerance ?? TRAIN_DEFAULTS.tolerance, 0, 100),
    defectCrops: numberInRange('defectCrops', o.defectCrops ?? TRAIN_DEFAULTS.defectCrops, 0, 1),
  };
}
