/**
 * Validation of a training run, without gradients: every validation image predicted whole, in
 * crop-sized tiles (the last row and column of tiles aligned to the image's edge, so tiles overlap
 * there and every pixel is predicted), a pixel defect where the logit is > 0 (sigmoid > 0.5).
 * IoU and Dice are strict; F1 counts a pixel within `tolerance` of the truth as a match (as
 * `kensa eval`); an image without truth defects with any predicted defect pixel is a false NG.
 * Then the decision threshold: of THRESHOLD_GRID, the sigmoid threshold of the highest strict IoU
 * (the score the best epoch is chosen by; among equal IoUs the one nearest 0.5), with every score
 * again at it.
 */
import type { Backend } from '../backend.js';
import { addCounts, pixelCounts, scores, ZERO_COUNTS, type MaskCounts } from '../eval/metrics.js';
import type { UNet } from '../models/unet.js';
import { noGrad, Var } from '../nn/autograd.js';
import { bceDiceLoss } from '../nn/losses.js';
import type { LoadedItem } from '../pipeline/augment-files.js';
import { Tensor, tidy } from '../tensor.js';

/** The thresholds the validation chooses from: 0.05, 0.10, …, 0.95. */
export const THRESHOLD_GRID: readonly number[] = Array.from({ length: 19 }, (_, k) => (k + 1) / 20);

/** The scores of the validation images at one sigmoid threshold. */
export interface ThresholdScores {
  /** A pixel is a defect where its sigmoid is > value. */
  value: number;
  iou: number | null;
  dice: number | null;
  f1: number | null;
  falseNgRate: number | null;
}

export interface ValidationScores {
  /** Mean BCE + Dice loss over the tiles. */
  loss: number;
  iou: number | null;
  dice: number | null;
  /** Pixel F1 with the tolerance. */
  f1: number | null;
  /** False NGs among the defect-free validation images; null without one. */
  falseNgRate: number | null;
  /** The grid's threshold of the highest IoU and the scores at it. */
  threshold: ThresholdScores;
  images: number;
  goodImages: number;
}

export interface ValidateOptions {
  backend: Backend;
  crop: number;
  /** Tiles per forward pass. */
  batchSize: number;
  posWeight: number;
  /** Pixel F1 tolerance radius (px). */
  tolerance: number;
}

/** Top-left corners along one side: every `crop`, the last at `size − crop`. */
export function tileOrigins(size: number, crop: number): number[] {
  const out: number[] = [];
  for (let v = 0; v + crop < size; v += crop) out.push(v);
  out.push(size - crop);
  return out;
}

/** f32 tiles [n, C, crop, crop] of planar C×H×W values, each divided by `scale`. */
function cutTiles(
  data: ArrayLike<number>,
  channels: number,
  width: number,
  height: number,
  corners: readonly [number, number][],
  crop: number,
  scale: number,
): Float32Array {
  const out = new Float32Array(corners.length * channels * crop * crop);
  let o = 0;
  for (const [x, y] of corners)
    for (let c = 0; c < channels; c++)
      for (let r = 0; r < crop; r++) {
        const row = (c * height + y + r) * width + x;
        for (let i = 0; i < crop; i++) out[o++] = data[row + i]! / scale;
      }
  return out;
}

/** The logits of one image and the summed loss of its tiles. */
async function predictImage(net: UNet, item: LoadedItem, o: ValidateOptions): Promise<{ logits: Float32Array; lossSum: number; tiles: number }> {
  const { width, height, channels, data, dtype } = item.image;
  const corners = tileOrigins(height, o.crop).flatMap((y) => tileOrigins(width, o.crop).map((x): [number, number] => [x, y]));
  const map = new Float32Array(width * height);
  let lossSum = 0;
  for (let start = 0; start < corners.length; start += o.batchSize) {
    const part = corners.slice(start, start + o.batchSize);
    const shape = [part.length, channels, o.crop, o.crop];
    const x = await o.backend.toDevice(Tensor.fromArray(cutTiles(data, channels, width, height, part, o.crop, dtype === 'u8' ? 255 : 65535), shape, 'f32'));
    const y = await o.backend.toDevice(Tensor.fromArray(cutTiles(item.mask!.data, 1, width, height, part, o.crop, 1), [part.length, 1, o.crop, o.crop], 'f32'));
    const [logits, loss] = tidy(() =>
      noGrad(() => {
        const l = net.predict(Var.constant(x));
        return [l.value, bceDiceLoss(l, y, { posWeight: o.posWeight }).value];
      }),
    );
    const [l, v] = [await logits!.toCpu(), await loss!.toCpu()];
    lossSum += v.at(0) * part.length;
    const values = l.data as Float32Array;
    part.forEach(([x0, y0], t) => {
      for (let r = 0; r < o.crop; r++) for (let i = 0; i < o.crop; i++) map[(y0 + r) * width + x0 + i] = values[(t * o.crop + r) * o.crop + i]!;
    });
    for (const t of new Set([x, y, logits!, loss!, l, v])) t.dispose();
  }
  return { logits: map, lossSum, tiles: corners.length };
}

/** An image's logits and its 0/1 truth (row-major, width × height). */
export interface PredictedImage {
  logits: Float32Array;
  truth: Uint8Array;
  width: number;
  height: number;
}

/** The sigmoid threshold `t` as a logit: σ(l) > t ⇔ l > log(t / (1 − t)) (0 for 0.5). */
const logitOf = (t: number) => Math.log(t / (1 - t));

/** Every score at sigmoid threshold `value`, micro-averaged over the images. */
export function scoresAt(images: readonly PredictedImage[], value: number, tolerance: number): ThresholdScores {
  const cut = logitOf(value);
  let strict: MaskCounts = { ...ZERO_COUNTS };
  let tolerant: MaskCounts = { ...ZERO_COUNTS };
  let good = 0;
  let falseNg = 0;
  for (const { logits, truth, width, height } of images) {
    const pred = Uint8Array.from(logits, (l) => (l > cut ? 1 : 0));
    strict = addCounts(strict, pixelCounts(pred, truth, width, height, 0));
    tolerant = addCounts(tolerant, pixelCounts(pred, truth, width, height, tolerance));
    if (!truth.includes(1)) {
      good++;
      if (pred.includes(1)) falseNg++;
    }
  }
  const s = scores(strict);
  return { value, iou: s.iou, dice: s.f1, f1: scores(tolerant).f1, falseNgRate: good ? falseNg / good : null };
}

/**
 * The grid's threshold of the highest strict IoU over the images (the nearest 0.5 among equals;
 * 0.5 when no threshold has an IoU). One pass: each pixel counted in the bin of the grid
 * thresholds its logit exceeds.
 */
export function chooseThreshold(images: readonly PredictedImage[]): number {
  const cuts = THRESHOLD_GRID.map(logitOf);
  // bins[k]: pixels above exactly the first k cuts
  const truthBins = new Float64Array(cuts.length + 1);
  const otherBins = new Float64Array(cuts.length + 1);
  for (const { logits, truth } of images)
    for (let i = 0; i < logits.length; i++) {
      let k = 0;
      while (k < cuts.length && logits[i]! > cuts[k]!) k++;
      const bins = truth[i] ? truthBins : otherBins;
      bins[k] = bins[k]! + 1;
    }
  const truthTotal = truthBins.reduce((a, b) => a + b, 0);
  const iouAt = (g: number): number | null => {
    let hit = 0;
    let extra = 0;
    for (let k = g + 1; k <= cuts.length; k++) [hit, extra] = [hit + truthBins[k]!, extra + otherBins[k]!];
    const union = truthTotal + extra;
    return union ? hit / union : null;
  };
  const byNearness = THRESHOLD_GRID.map((t, g) => ({ t, g })).sort((a, b) => Math.abs(a.t - 0.5) - Math.abs(b.t - 0.5) || a.t - b.t);
  let best = { t: 0.5, iou: -1 };
  for (const { t, g } of byNearness) {
    const iou = iouAt(g);
    if (iou !== null && iou > best.iou) best = { t, iou };
  }
  return best.t;
}

/** Scores the net (in eval mode, restored after) on the validation images, at 0.5 and at the threshold it chooses. */
export async function validate(net: UNet, items: readonly LoadedItem[], options: ValidateOptions): Promise<ValidationScores> {
  const predicted: PredictedImage[] = [];
  let lossSum = 0;
  let tiles = 0;
  for (const item of items) {
    const p = await predictImage(net, item, options);
    predicted.push({ logits: p.logits, truth: item.mask!.data as Uint8Array, width: item.image.width, height: item.image.height });
    lossSum += p.lossSum;
    tiles += p.tiles;
  }
  const half = scoresAt(predicted, 0.5, options.tolerance);
  const chosen = chooseThreshold(predicted);
  return {
    loss: tiles ? lossSum / tiles : 0,
    iou: half.iou,
    dice: half.dice,
    f1: half.f1,
    falseNgRate: half.falseNgRate,
    threshold: chosen === 0.5 ? half : scoresAt(predicted, chosen, options.tolerance),
    images: items.length,
    goodImages: predicted.filter((p) => !p.truth.includes(1)).length,
  };
}
