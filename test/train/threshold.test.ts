/**
 * The decision threshold chosen on validation: the grid value of the highest IoU (the nearest 0.5
 * among equals), as a brute force over the grid finds it, on constructed logits and on a net's;
 * the scores and the false-NG rate at it; kept in the weights' metadata.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBackend } from '../../src/backend.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/models/safetensors.js';
import { UNet } from '../../src/models/unet.js';
import { Var } from '../../src/nn/autograd.js';
import type { LoadedItem } from '../../src/pipeline/augment-files.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor } from '../../src/tensor.js';
import { chooseThreshold, type PredictedImage, scoresAt, THRESHOLD_GRID, validate } from '../../src/train/index.js';
import { isKensaError } from '../../src/errors.js';
import { drawnUNet } from '../_kit/unet.js';

const logit = (p: number) => Math.log(p / (1 - p));

/** The grid value of the highest IoU by scoring every one (the nearest 0.5 among equals). */
function bruteForce(images: PredictedImage[]): number {
  let best = { t: 0.5, iou: -1, near: 1 };
  for (const t of THRESHOLD_GRID) {
    const iou = scoresAt(images, t, 0).iou;
    if (iou === null) continue;
    const near = Math.abs(t - 0.5);
    if (iou > best.iou || (iou === best.iou && (near < best.near || (near === best.near && t < best.t)))) best = { t, iou, near };
  }
  return best.t;
}

test('the threshold of a constructed validation: the grid value of the highest IoU, the nearest 0.5 among equals', () => {
  // truth pixels at σ 0.33, the rest at σ 0.12: IoU 1 from 0.15 to 0.30, less below, 0 above
  const truth = Uint8Array.from({ length: 64 }, (_, i) => (i % 7 === 0 ? 1 : 0));
  const logits = Float32Array.from(truth, (t) => logit(t ? 0.33 : 0.12));
  const clean = { logits: new Float32Array(64).fill(logit(0.2)), truth: new Uint8Array(64), width: 8, height: 8 };
  const images = [{ logits, truth, width: 8, height: 8 }, clean];
  // the clean image's σ 0.2 joins the prediction up to 0.15: IoU 1 only at 0.20 … 0.30
  assert.equal(chooseThreshold(images), 0.3);
  const at = scoresAt(images, 0.3, 0);
  assert.deepEqual([at.iou, at.dice, at.f1, at.falseNgRate], [1, 1, 1, 0]);
  assert.equal(scoresAt(images, 0.15, 0).falseNgRate, 1, 'below the clean image σ it is judged NG');
  assert.equal(scoresAt(images, 0.5, 0).iou, 0, 'the fixed 0.5 finds nothing');
  // nothing to find and nothing found: no IoU anywhere, 0.5
  assert.equal(chooseThreshold([{ ...clean, logits: new Float32Array(64).fill(-9) }]), 0.5);
});

test('the one-pass choice equals a brute force over the grid on drawn logits', () => {
  const r = mulberry32(5);
  for (let trial = 0; trial < 30; trial++) {
    const images = Array.from({ length: 3 }, () => {
      const truth = Uint8Array.from({ length: 100 }, () => (r() < 0.2 ? 1 : 0));
      // truth pixels a little higher on average, so the best threshold moves with the draw
      const shift = 3 * (r() - 0.5);
      const logits = Float32Array.from(truth, (t) => shift + (t ? 1 : -1) * r() * 2 + (r() - 0.5) * 2);
      return { logits, truth, width: 10, height: 10 };
    });
    assert.equal(chooseThreshold(images), bruteForce(images), `trial ${trial}`);
  }
});

test("validate: a net's validation chooses the threshold a brute force over its logits finds, with the false-NG rate at it", async () => {
  const net = await drawnUNet([4, 8], 1, 1, 9);
  const r = mulberry32(2);
  const images = Array.from({ length: 3 }, () => Uint8Array.from({ length: 32 * 32 }, () => Math.floor(r() * 256)));
  const logitsOf = (image: Uint8Array) =>
    net.predict(
      Var.constant(
        Tensor.fromArray(
          Float32Array.from(image, (v) => v / 255),
          [1, 1, 32, 32],
          'f32',
        ),
      ),
    ).value.data as Float32Array;
  const logits = images.map(logitsOf);
  // truth: the pixels of the two first images whose σ exceeds its 70th percentile there; the third image is defect-free
  const sorted = Float32Array.from([...logits[0]!, ...logits[1]!]).sort();
  const cut = sorted[Math.floor(0.7 * sorted.length)]!;
  const truths = logits.map((l, k) => Uint8Array.from(l, (v) => (k < 2 && v > cut ? 1 : 0)));
  const predicted = logits.map((l, k) => ({ logits: l, truth: truths[k]!, width: 32, height: 32 }));
  const expected = bruteForce(predicted);
  assert.notEqual(expected, 0.5, `the constructed case's best threshold is not the fixed one (σ of the cut ${1 / (1 + Math.exp(-cut))})`);
  const items: LoadedItem[] = images.map((data, k) => ({
    name: `v${k}`,
    image: { data, dtype: 'u8', width: 32, height: 32, channels: 1 },
    mask: { data: truths[k]!, dtype: 'u8' },
  }));
  const backend = await openBackend({ device: 'cpu' });
  const v = await validate(net, items, { backend, crop: 32, batchSize: 2, posWeight: 1, tolerance: 2 });
  backend.close();
  assert.equal(v.threshold.value, expected);
  assert.deepEqual(v.threshold, scoresAt(predicted, expected, 2));
  assert.ok(v.threshold.iou! > v.iou!, `IoU ${v.threshold.iou} at ${expected} against ${v.iou} at 0.5`);
  assert.equal(v.falseNgRate, scoresAt(predicted, 0.5, 2).falseNgRate, 'the 0.5 scores stay what they were');
  assert.equal(v.goodImages, 1);
});

test("the threshold is kept in the weights' metadata (kensa.threshold); a bad one is refused naming the file", async () => {
  const net = await UNet.create({ widths: [4, 8] }, { seed: 1 });
  assert.equal(net.threshold, null);
  assert.equal(decodeSafetensors(await net.toSafetensors(), 'a').metadata['kensa.threshold'], undefined);
  net.threshold = 0.35;
  const bytes = await net.toSafetensors();
  assert.equal(decodeSafetensors(bytes, 'b').metadata['kensa.threshold'], '0.35');
  assert.equal((await UNet.fromSafetensors(bytes, 'b')).threshold, 0.35);
  const file = decodeSafetensors(bytes, 'b');
  const bad = encodeSafetensors({ tensors: file.tensors, metadata: { ...file.metadata, 'kensa.threshold': '1.5' } });
  await assert.rejects(
    UNet.fromSafetensors(bad, 'bad.safetensors'),
    (e: unknown) =>
      isKensaError(e) &&
      e.code === 'KENSA_ERR_WEIGHTS' &&
      e.message === 'Expected a number between 0 and 1 (exclusive) under kensa.threshold in the metadata of weights file bad.safetensors but received "1.5"',
  );
});
