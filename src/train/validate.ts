/**
 * Validation of a training run, without gradients: every validation image predicted whole, in
 * crop-sized tiles (the last row and column of tiles aligned to the image's edge, so tiles overlap
 * there and every pixel is predicted), a pixel defect where the logit is > 0 (sigmoid > 0.5).
 * IoU and Dice are strict; F1 counts a pixel within `tolerance` of the truth as a match (as
 * `kensa eval`); an image without truth defects with any predicted defect pixel is a false NG.
 */
import type { Backend } from '../backend.js';
import { addCounts, pixelCounts, scores, ZERO_COUNTS, type MaskCounts } from '../eval/metrics.js';
import type { UNet } from '../models/unet.js';
import { noGrad, Var } from '../nn/autograd.js';
import { bceDiceLoss } from '../nn/losses.js';
import type { LoadedItem } from '../pipeline/augment-files.js';
import { Tensor, tidy } from '../tensor.js';

export interface ValidationScores {
  /** Mean BCE + Dice loss over the tiles. */
  loss: number;
  iou: number | null;
  dice: number | null;
  /** Pixel F1 with the tolerance. */
  f1: number | null;
  /** False NGs among the defect-free validation images; null without one. */
  falseNgRate: number | null;
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

/** The predicted 0/1 mask of one image and the summed loss of its tiles. */
async function predictImage(net: UNet, item: LoadedItem, o: ValidateOptions): Promise<{ pred: Uint8Array; lossSum: number; tiles: number }> {
  const { width, height, channels, data, dtype } = item.image;
  const corners = tileOrigins(height, o.crop).flatMap((y) => tileOrigins(width, o.crop).map((x): [number, number] => [x, y]));
  const pred = new Uint8Array(width * height);
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
      for (let r = 0; r < o.crop; r++) for (let i = 0; i < o.crop; i++) pred[(y0 + r) * width + x0 + i] = values[(t * o.crop + r) * o.crop + i]! > 0 ? 1 : 0;
    });
    for (const t of new Set([x, y, logits!, loss!, l, v])) t.dispose();
  }
  return { pred, lossSum, tiles: corners.length };
}

/** Scores the net (in eval mode, restored after) on the validation images. */
export async function validate(net: UNet, items: readonly LoadedItem[], options: ValidateOptions): Promise<ValidationScores> {
  let strict: MaskCounts = { ...ZERO_COUNTS };
  let tolerant: MaskCounts = { ...ZERO_COUNTS };
  let lossSum = 0;
  let tiles = 0;
  let good = 0;
  let falseNg = 0;
  for (const item of items) {
    const p = await predictImage(net, item, options);
    const truth = item.mask!.data as Uint8Array;
    const { width, height } = item.image;
    strict = addCounts(strict, pixelCounts(p.pred, truth, width, height, 0));
    tolerant = addCounts(tolerant, pixelCounts(p.pred, truth, width, height, options.tolerance));
    lossSum += p.lossSum;
    tiles += p.tiles;
    if (!truth.includes(1)) {
      good++;
      if (p.pred.includes(1)) falseNg++;
    }
  }
  const s = scores(strict);
  return {
    loss: tiles ? lossSum / tiles : 0,
    iou: s.iou,
    dice: s.f1,
    f1: scores(tolerant).f1,
    falseNgRate: good ? falseNg / good : null,
    images: items.length,
    goodImages: good,
  };
}
