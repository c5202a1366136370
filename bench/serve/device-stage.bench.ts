/**
 * bench/serve/device-stage: where the service's device time per batch goes. kensa serve reports a
 * device stage of ~6.5 ms for a batch of one 1080p JPEG on an H100 whose GPU works ~1.5 ms of it;
 * this splits it as the engine runs it (src/serve/engine.ts): the JPEG decoded on the GPU
 * (framesOnDevice: the decode's dispatches and its status readback) and the classic recipe's device
 * stage (its dispatches and readbacks), each as wall time, submissions and readbacks, with the GPU
 * time of both from timestamp queries; beside them a bare round trip (a one-word dispatch read
 * back) and an empty sync. Batches of 1, 4 and 16 copies of a gray 1080p JPEG with a spot.
 * Median of repeats after warm-ups. Reports, never fails.
 * Usage: node dist/bench/serve/device-stage.bench.js [OUT.md] [REPEATS]
 */
import { writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { detectorFor } from '../../src/detect/detector.js';
import { DEFAULT_RECIPE } from '../../src/detect/recipe.js';
import { framesOnDevice } from '../../src/pipeline/device-frames.js';
import { decodeBuffer, parseForDevice, type DecodeOptions } from '../../src/pipeline/decode.js';
import { Tensor } from '../../src/tensor.js';
import { metadata, summarize } from '../_kit/stats.js';

const [outPath, repeatsArg] = process.argv.slice(2);
const REPEATS = Number(repeatsArg ?? 15);
const WARMUP = 3;
const [W, H] = [1920, 1080];

const backend = await openBackend({ device: 'gpu' });
const gpu = backend.gpu!;
const recipe = DEFAULT_RECIPE.recipe;
const detector = detectorFor(recipe);
const options: DecodeOptions = { channels: 'gray', maxPixels: W * H, jpegOnDevice: true };

const pixels = new Uint8Array(W * H);
for (let i = 0; i < pixels.length; i++) pixels[i] = 120 + ((i * 2654435761) >>> 29);
for (let y = 500; y < 540; y++) pixels.fill(30, y * W + 900, y * W + 960);
const file = await sharp(pixels, { raw: { width: W, height: H, channels: 1 } })
  .jpeg({ quality: 90 })
  .toBuffer();
const frame = parseForDevice('frame.jpg', file, options);
if (!frame) throw new Error('the synthetic JPEG is not one the GPU decodes');

interface Sample {
  framesMs: number;
  recipeMs: number;
  gpuMs: number | null;
  submits: number;
  downloads: number;
}

async function once(batch: number): Promise<Sample> {
  await gpu.sync();
  const before = { submits: gpu.stats.submits, downloads: gpu.stats.transfers.downloads };
  const timer = gpu.hasTimestamps ? gpu.startTimer() : null;
  const t0 = performance.now();
  const { parts } = await framesOnDevice(
    backend,
    Array.from({ length: batch }, () => frame!),
    () => decodeBuffer('frame.jpg', file, { ...options, jpegOnDevice: false }),
  );
  const t1 = performance.now();
  for (const { x } of parts) await detector.device(x, recipe, false);
  const t2 = performance.now();
  for (const { x } of parts) x.dispose();
  const gpuMs = timer ? (await timer.stop()).gpuMs : null;
  return {
    framesMs: t1 - t0,
    recipeMs: t2 - t1,
    gpuMs,
    submits: gpu.stats.submits - before.submits,
    downloads: gpu.stats.transfers.downloads - before.downloads,
  };
}

/** A one-word tensor made on the GPU and read back: one submission and one readback, nothing else. */
async function roundTrip(): Promise<number> {
  const t0 = performance.now();
  const one = await Tensor.fromArray(new Uint8Array(4), [1, 1, 1, 4], 'u8').toGpu(gpu);
  await one.toCpu();
  one.dispose();
  return performance.now() - t0;
}

async function emptySync(): Promise<number> {
  const t0 = performance.now();
  await gpu.sync();
  return performance.now() - t0;
}

const median = (xs: number[]) => summarize(xs).median;
const rows: string[] = [];
for (const batch of [1, 4, 16]) {
  const samples: Sample[] = [];
  try {
    for (let r = -WARMUP; r < REPEATS; r++) {
      const s = await once(batch);
      if (r >= 0) samples.push(s);
    }
  } catch (e) {
    // lavapipe binds 128 MiB: the recipe's largest buffer of 16 frames passes it
    rows.push(`| ${batch} | ${(e as Error).message.split('\n')[0]} | | | | | |`);
    continue;
  }
  const gpuMs = samples.every((s) => s.gpuMs !== null) ? median(samples.map((s) => s.gpuMs!)).toFixed(2) : '-';
  rows.push(
    `| ${batch} | ${median(samples.map((s) => s.framesMs + s.recipeMs)).toFixed(2)} | ${median(samples.map((s) => s.framesMs)).toFixed(2)} | ${median(samples.map((s) => s.recipeMs)).toFixed(2)} | ${gpuMs} | ${samples[0]!.submits} | ${samples[0]!.downloads} |`,
  );
  console.error(rows.at(-1));
}
const trips: number[] = [];
const syncs: number[] = [];
for (let r = -WARMUP; r < REPEATS; r++) {
  const t = await roundTrip();
  const s = await emptySync();
  if (r >= 0) {
    trips.push(t);
    syncs.push(s);
  }
}
const meta = metadata(gpu.info.name);
const report = [
  `# Device stage of a 1080p JPEG batch (serve's engine) — ${meta.date}, ${gpu.info.name}, ${meta.host}, commit ${meta.commit}`,
  '',
  `Classic default recipe, gray ${W}×${H} JPEG (quality 90, ${(file.length / 1024).toFixed(0)} KiB) decoded on the GPU; medians of ${REPEATS} after ${WARMUP} warm-ups.`,
  '',
  '| batch | device stage wall ms | of which JPEG decode (framesOnDevice) | of which recipe (device stage) | GPU ms (timestamps) | submissions | readbacks |',
  '|---|---|---|---|---|---|---|',
  ...rows,
  '',
  `A bare round trip (one-word upload, readback): ${median(trips).toFixed(3)} ms; an empty sync: ${median(syncs).toFixed(3)} ms.`,
  '',
].join('\n');
console.log(report);
if (outPath) writeFileSync(outPath, report);
backend.close();
