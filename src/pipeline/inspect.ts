/**
 * The inspection pipeline: sources → decode (D concurrent sharp decodes on libuv's pool) →
 * dynamic batcher → detect → results. Each recipe is a detector of a device stage and a CPU post
 * stage (detector.ts). With the GPU backend the device stage runs here (two batches in flight, so
 * the upload of batch k+1 is recorded while batch k computes and reads back) and the post stages
 * on `postWorkers` worker threads; with the CPU backend a worker runs a batch's whole recipe, so
 * the workers inspect that many batches at once (`postWorkers: 0` runs everything on this thread).
 * Stages are connected by bounded queues — the one between detect and results holds at most
 * max(2, postWorkers) batches whose detections are still coming — so memory stays flat however
 * many images come in. A bad file becomes an item with status `error`, and so does every item of
 * a batch whose detection fails (a lost device, a worker that threw or died); the run goes on. An
 * aborted signal stops taking input; what is in flight is finished. `inspect()` yields every
 * item's result as it completes, and stops the worker threads when it ends. Images are decoded
 * at the recipe's `input.scale`; results (boxes, areas, sizes, masks) are in the file's own
 * pixels (src/pipeline/rescale.ts).
 */
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { Backend } from '../backend.js';
import { componentsBytesPerPixel } from '../ops/analysis/components.js';
import { Tensor } from '../tensor.js';
import { Batcher, type BatchLimits, type Geometry } from './batcher.js';
import type { Defect } from '../detect/classic.js';
import { detect, detectorFor, type ImageDetection } from '../detect/detector.js';
import { decodeBuffer, DEFAULT_MAX_PIXELS, readHashedImageFile, type DecodedImage, type DecodeOptions } from './decode.js';
import { ProgressMeter, type ProgressSnapshot } from './progress.js';
import { BoundedQueue } from './queue.js';
import { DEFAULT_RECIPE, type LoadedRecipe, type Recipe } from '../detect/recipe.js';
import { toOriginal } from '../detect/rescale.js';
import { expandSource, type SourceItem } from './source.js';
import { WorkerPool, resolvePostWorkers } from './workers.js';

export interface ItemTimings {
  decodeMs: number;
  /** This item's share of its batch's detection time. */
  detectMs: number;
}

export interface ItemResult {
  key: string;
  path: string;
  status: 'ok' | 'ng' | 'error';
  error?: string;
  width?: number;
  height?: number;
  sizeBytes?: number;
  /** sha256 (hex) of the file bytes. */
  contentHash?: string;
  verdict?: 'OK' | 'NG';
  score?: number;
  defects: Defect[];
  timings: ItemTimings;
  /** Where the mask PNG was written (with `masksDir`). */
  maskPath?: string;
}

export interface InspectOptions {
  backend: Backend;
  recipe?: LoadedRecipe;
  batch?: Partial<BatchLimits>;
  /** Concurrent decodes (default: available cores). */
  decodeConcurrency?: number;
  /** Largest image accepted, width × height (decompression bombs); default 0x3FFF². */
  maxImagePixels?: number;
  raw?: DecodeOptions['raw'];
  /** Write each image's defect mask as an 8-bit PNG (255 = defect) named after the image. */
  masksDir?: string;
  /** Item keys to skip (a resumed run's finished items). */
  skip?: ReadonlySet<string>;
  signal?: AbortSignal;
  /**
   * Worker threads for CPU detection stages, 0 … 256; 0 runs everything on this thread. With the
   * GPU backend they run the post stages (default min(cores, 4)), with the CPU backend whole
   * recipes, one batch per thread (default: cores).
   */
  postWorkers?: number;
  /** Called with a snapshot after every batch and every error item. */
  onProgress?: (p: ProgressSnapshot) => void;
  /** Total item count, when known (for ETA). */
  total?: number | null;
  stdin?: NodeJS.ReadableStream;
}

interface Decoded {
  item: SourceItem;
  image: DecodedImage;
  hash: string;
  decodeMs: number;
  geometry: Geometry;
}

type Outcome = { detections: ImageDetection[]; ms: number } | { error: unknown };

/** A batch between the detect stage and the results: what its items need, and its detections to come. */
interface Judged {
  items: (Pick<Decoded, 'item' | 'hash' | 'decodeMs' | 'geometry'> & Pick<DecodedImage, 'bytes' | 'original'>)[];
  outcome: Promise<Outcome>;
}

export const DEFAULT_BATCH: BatchLimits = { maxCount: 16, maxPixels: 16 * 2048 * 2048, maxWaitMs: 50 };

/**
 * Bytes per pixel of a recipe's widest buffer: f32 maps and i32 labels take 4, the labelling's
 * per-block statistics 11 (8-connectivity) or 22 (4-connectivity).
 */
export function bytesPerPixelOf(recipe: Recipe): number {
  return Math.max(4, componentsBytesPerPixel(recipe.components.connectivity));
}

/**
 * The batch limits on a backend: the pixel budget shrinks so that a batch's widest buffer
 * (`bytesPerPixel` per pixel) fits the adapter's largest storage binding (lavapipe's is 128 MiB:
 * two frames of 2048² with 8-connected labelling, not 16).
 */
export function batchLimitsFor(backend: Backend, asked: Partial<BatchLimits> = {}, bytesPerPixel = 4): BatchLimits {
  const limits = { ...DEFAULT_BATCH, ...asked };
  const binding = backend.gpu?.info.limits.maxStorageBufferBindingSize;
  if (binding === undefined) return limits;
  return { ...limits, maxPixels: Math.min(limits.maxPixels, Math.floor(binding / bytesPerPixel)) };
}

/** A mask file name from an item key: same relative path, `.png`, no escaping the folder. */
export function maskFileName(key: string): string {
  const parts = key.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const last = (parts.pop() ?? 'item').replace(/\.[^.]*$/, '');
  return [...parts, `${last}.png`].join('/');
}

function errorResult(item: SourceItem, error: unknown, decodeMs = 0): ItemResult {
  return { key: item.key, path: item.path, status: 'error', error: error instanceof Error ? error.message : String(error), defects: [], timings: { decodeMs, detectMs: 0 } };
}

async function runStage(count: number, worker: () => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: count }, worker));
}

/** Inspects every image of `sources`; yields each item's result as it completes. */
export async function* inspect(sources: readonly string[], options: InspectOptions): AsyncGenerator<ItemResult> {
  const recipe = (options.recipe ?? DEFAULT_RECIPE).recipe;
  const limits = batchLimitsFor(options.backend, options.batch, bytesPerPixelOf(recipe));
  const decodeOptions: DecodeOptions = { channels: 'gray', maxPixels: options.maxImagePixels ?? DEFAULT_MAX_PIXELS, scale: recipe.input.scale, ...(options.raw ? { raw: options.raw } : {}) };
  const concurrency = options.decodeConcurrency ?? os.availableParallelism();
  const skip = options.skip ?? new Set<string>();
  const meter = new ProgressMeter(options.total ?? null);
  const paths = new BoundedQueue<SourceItem>(concurrency * 2);
  const decoded = new BoundedQueue<Decoded | ItemResult>(Math.max(2 * limits.maxCount, concurrency));
  const batches = new BoundedQueue<Decoded[]>(2);
  const wantMasks = options.masksDir !== undefined;
  const workers = resolvePostWorkers(options.postWorkers, options.backend.kind);
  const judged = new BoundedQueue<Judged>(Math.max(2, workers));
  const results = new BoundedQueue<ItemResult>(4 * limits.maxCount);
  const batcher = new Batcher<Decoded>(limits);
  const pool = workers > 0 ? new WorkerPool(workers) : null;
  const report = () => options.onProgress?.(meter.snapshot({ decoded: decoded.size, batches: batches.size, batching: batcher.waiting }));

  const feed = async () => {
    try {
      for (const arg of sources) {
        for await (const item of expandSource(arg, options.stdin)) {
          if (options.signal?.aborted) return;
          if (skip.has(item.key)) {
            meter.skipped++;
            continue;
          }
          await paths.push(item);
        }
      }
    } finally {
      paths.close();
    }
  };

  const decode = async () => {
    for await (const item of paths) {
      const t = performance.now();
      try {
        // with the GPU backend the workers are mostly idle: they read and hash, the main thread stays free
        const { bytes, hash } = pool && options.backend.kind === 'gpu' ? await pool.read(item.path) : await readHashedImageFile(item.path);
        const image = await decodeBuffer(item.path, bytes, decodeOptions);
        const geometry = { width: image.width, height: image.height, channels: image.channels, dtype: image.dtype };
        await decoded.push({ item, image, hash, decodeMs: performance.now() - t, geometry });
      } catch (e) {
        await decoded.push(errorResult(item, e, performance.now() - t));
      }
    }
  };

  const batch = async () => {
    let next: Promise<Decoded | ItemResult | undefined> = decoded.pop();
    for (;;) {
      const wait = batcher.nextDueIn();
      const timer = wait === null ? null : new Promise<'due'>((r) => setTimeout(() => r('due'), wait));
      const got = await (timer ? Promise.race([next, timer]) : next);
      if (got === 'due') {
        for (const b of batcher.due()) await batches.push(b);
        continue;
      }
      if (got === undefined) break;
      next = decoded.pop();
      if ('status' in got) {
        await results.push(got);
        continue;
      }
      for (const b of batcher.add(got)) await batches.push(b);
    }
    for (const b of batcher.drain()) await batches.push(b);
  };

  // This thread's share of a batch: uploading its frames and its device stage, or, when a worker
  // runs the whole recipe, stacking the frames for it. Returns once that share is done (so at most
  // two batches are on the device); `rest` settles with the detections.
  const start = async (group: Decoded[]): Promise<{ rest: Promise<ImageDetection[]> }> => {
    const g = group[0]!.geometry;
    const shape: [number, number, number, number] = [group.length, g.channels, g.height, g.width];
    const dtype = g.dtype === 'u16' ? 'u16' : 'u8';
    const frames = group.map((d) => d.image.data);
    if (pool && options.backend.kind === 'cpu') {
      const host = (await Tensor.fromFrames(frames, shape, dtype)).data as Uint8Array | Uint16Array;
      return { rest: pool.detect(recipe, host, shape, wantMasks).then((r) => r.detections) };
    }
    // on the GPU each frame uploads from its own array: no host copy assembles the batch
    const x = await options.backend.framesToDevice(frames, shape, dtype);
    try {
      if (!pool) return { rest: Promise.resolve(await detect(x, recipe, wantMasks)) };
      const payloads = await detectorFor(recipe).device(x, recipe, wantMasks);
      return { rest: pool.post(recipe, payloads).then((r) => r.detections) };
    } finally {
      x.dispose();
    }
  };

  const detectStage = async () => {
    for await (const group of batches) {
      const t = performance.now();
      let rest: Promise<ImageDetection[]>;
      try {
        ({ rest } = await start(group));
      } catch (e) {
        rest = Promise.reject(e);
      }
      // settled here, not where it is awaited: a rejection waiting in the queue is handled
      const outcome = rest.then(
        (detections): Outcome => ({ detections, ms: performance.now() - t }),
        (error: unknown): Outcome => ({ error }),
      );
      // the pixels are in the batch now; only what the results need waits with the outcome
      await judged.push({ items: group.map(({ item, hash, decodeMs, geometry, image }) => ({ item, hash, decodeMs, geometry, bytes: image.bytes, original: image.original })), outcome });
    }
  };

  const finish = async () => {
    for await (const { items, outcome } of judged) {
      const o = await outcome;
      if ('error' in o) {
        // a failed batch (device lost, out of memory, a worker that threw or died) fails its items, not the run
        for (const d of items) await results.push(errorResult(d.item, o.error, d.decodeMs));
        continue;
      }
      const detectMs = o.ms / items.length;
      for (let i = 0; i < items.length; i++) {
        const d = items[i]!;
        const f = toOriginal(o.detections[i]!, d.geometry, d.original);
        const { width, height } = d.original;
        let maskPath: string | undefined;
        try {
          if (options.masksDir !== undefined && f.mask) {
            maskPath = join(options.masksDir, maskFileName(d.item.key));
            await mkdir(dirname(maskPath), { recursive: true });
            await sharp(f.mask, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toFile(maskPath);
          }
        } catch (e) {
          await results.push(errorResult(d.item, e, d.decodeMs));
          continue;
        }
        await results.push({
          key: d.item.key,
          path: d.item.path,
          status: f.verdict === 'NG' ? 'ng' : 'ok',
          width,
          height,
          sizeBytes: d.bytes,
          contentHash: d.hash,
          verdict: f.verdict,
          score: f.score,
          defects: f.defects,
          timings: { decodeMs: d.decodeMs, detectMs },
          ...(maskPath ? { maskPath } : {}),
        });
      }
    }
  };

  const stages = Promise.all([
    feed(),
    runStage(concurrency, decode).finally(() => decoded.close()),
    batch().finally(() => batches.close()),
    runStage(2, detectStage).finally(() => judged.close()),
    finish(),
  ]).finally(() => results.close());
  let failure: unknown = null;
  stages.catch((e: unknown) => {
    failure = e;
  });

  try {
    for await (const r of results) {
      meter.done++;
      if (r.status === 'ok') meter.ok++;
      else if (r.status === 'ng') meter.ng++;
      else meter.errors++;
      report();
      yield r;
    }
    await stages.catch(() => undefined);
  } finally {
    // also when the consumer stops early: the threads must not outlive the generator
    await pool?.destroy();
  }
  if (failure) throw failure;
}
