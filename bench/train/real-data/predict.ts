/**
 * kensa's test-image predictions for the real-data comparison, with the same rule as the PyTorch
 * twin's (scripts/train/torch_train.py): each image whole, padded at the bottom and right to a
 * multiple of 2^(levels−1) by reflection (PyTorch's 'reflect': the edge pixel not repeated),
 * input = pixels / 255, a defect where the logit is > 0 (sigmoid > 0.5), written as a 0/255 PNG
 * named after the image. (`kensa inspect --model` will tile instead; this is the twin's rule.)
 * `--threshold file` predicts at the threshold kensa train chose on validation (the weights'
 * `kensa.threshold`, 0.5 when they hold none): σ > t, i.e. the logit > log(t / (1 − t)).
 *
 *   node dist/bench/train/real-data/predict.js --weights RUN/best.safetensors --images DIR --out DIR [--device gpu] [--threshold file]
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { type DeviceChoice, openBackend } from '../../../src/backend.js';
import { UNet } from '../../../src/models/unet.js';
import { Var } from '../../../src/nn/autograd.js';
import { listAugmentItems, loadItem } from '../../../src/pipeline/augment-files.js';
import { Tensor, tidy } from '../../../src/tensor.js';

/** Index into 0 … n−1 of position i ≥ 0 reflected at the far edge (PyTorch 'reflect', pad < n). */
const reflect = (i: number, n: number): number => (i < n ? i : 2 * (n - 1) - i);

/** Planar C×H×W pixels / `scale`, padded to C×H2×W2 by reflection at the bottom and right. */
function padReflect(data: ArrayLike<number>, channels: number, width: number, height: number, w2: number, h2: number, scale: number): Float32Array {
  const out = new Float32Array(channels * h2 * w2);
  for (let c = 0; c < channels; c++)
    for (let y = 0; y < h2; y++) {
      const row = (c * height + reflect(y, height)) * width;
      for (let x = 0; x < w2; x++) out[(c * h2 + y) * w2 + x] = data[row + reflect(x, width)]! / scale;
    }
  return out;
}

const { values: a } = parseArgs({
  options: { weights: { type: 'string' }, images: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' }, threshold: { type: 'string' } },
});
if (a.threshold !== undefined && a.threshold !== 'file') throw new Error(`--threshold expects 'file' but received '${a.threshold}'`);
const backend = await openBackend({ device: (a.device ?? 'auto') as DeviceChoice });
const net = await UNet.fromSafetensors(await readFile(a.weights!), a.weights!, { gpu: backend.gpu ?? undefined });
const factor = 2 ** (net.config.widths.length - 1);
const threshold = a.threshold === 'file' ? (net.threshold ?? 0.5) : 0.5;
const cut = Math.log(threshold / (1 - threshold));
mkdirSync(a.out!, { recursive: true });
const started = performance.now();
const { items } = listAugmentItems(a.images!);
for (const item of items) {
  const { image } = await loadItem(item);
  const { width, height, channels } = image;
  const [w2, h2] = [Math.ceil(width / factor) * factor, Math.ceil(height / factor) * factor];
  const x = await backend.toDevice(
    Tensor.fromArray(padReflect(image.data, channels, width, height, w2, h2, image.dtype === 'u8' ? 255 : 65535), [1, channels, h2, w2], 'f32'),
  );
  const logits = tidy(() => net.predict(Var.constant(x)).value);
  const cpu = await logits.toCpu();
  const values = cpu.data as Float32Array;
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let i = 0; i < width; i++) mask[y * width + i] = values[y * w2 + i]! > cut ? 255 : 0;
  for (const t of new Set([x, logits, cpu])) t.dispose();
  await sharp(mask, { raw: { width, height, channels: 1 } })
    .png()
    .toFile(join(a.out!, `${item.name}.png`));
}
console.log(`predict: ${items.length} masks in ${a.out} at threshold ${threshold} on ${backend.name}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
backend.close();
