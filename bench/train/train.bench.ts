/**
 * Training throughput of kensa's loop (src/train: the augmentation loader with its random crops,
 * BCE + Dice, AdamW, AMP requested) on UNet 64-128-256-512, 512² crops, batch 8, on synthetic
 * samples (kensa samples, 1024², written once to the data folder). Steady images/s is measured
 * between consecutive steps inside an epoch (each step reads its loss back, so a step's time is
 * its own), after the first epoch; the wall rate includes the epoch ends (checkpoints). The
 * PyTorch peer on the same data, crops and batch: bench/train/train_torch.py. Prints one JSON line:
 *   node --import tsx bench/train/train.bench.ts [dataDir] [epochs]
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { openBackend } from '../../src/backend.js';
import { writeSamples } from '../../src/samples/index.js';
import { resolveTrainConfig, train } from '../../src/train/index.js';
import { metadata, summarize } from '../_kit/stats.js';

const data = process.argv[2] ?? '/tmp/kensa-bench-train/data';
const epochs = Number(process.argv[3] ?? 4);
const IMAGES = 64;
const SIZE = 1024;

/** The data set both benches read: 64 grey 1024² samples, seed 1. */
async function ensureData(): Promise<void> {
  if (existsSync(join(data, 'labels.json'))) return;
  await writeSamples({ out: data, count: IMAGES, width: SIZE, height: SIZE, seed: 1, jobs: Math.min(16, os.availableParallelism()), force: true });
}

async function main(): Promise<void> {
  await ensureData();
  const out = join(os.tmpdir(), 'kensa-bench-train-run');
  await rm(out, { recursive: true, force: true });
  const config = resolveTrainConfig({ data, epochs, batchSize: 8, crop: 512, widths: 'default', validationFraction: 0, amp: true, seed: 1 });
  const backend = await openBackend({ device: 'gpu' });
  const steps: { epoch: number; at: number; images: number }[] = [];
  const started = performance.now();
  const result = await train(config, { backend, out, onProgress: (p) => steps.push({ epoch: p.epoch, at: performance.now(), images: 8 }) });
  const wallS = (performance.now() - started) / 1000;
  const stepMs = steps.slice(1).flatMap((s, i) => (s.epoch === steps[i]!.epoch && s.epoch > 1 ? [s.at - steps[i]!.at] : []));
  const ms = summarize(stepMs);
  const images = result.log.steps.loss.length * config.batchSize;
  console.log(
    JSON.stringify({
      bench: 'train kensa',
      meta: metadata(backend.name),
      model: 'UNet 64-128-256-512',
      crop: config.crop,
      batch: config.batchSize,
      images: IMAGES,
      imageSize: SIZE,
      epochs,
      amp: result.log.amp,
      steps: result.log.steps.loss.length,
      stepMs: ms,
      imagesPerSecond: (config.batchSize * 1000) / ms.median,
      wallImagesPerSecond: images / wallS,
      lastLoss: result.log.steps.loss.at(-1),
    }),
  );
  backend.close();
}

await main();
