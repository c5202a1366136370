/**
 * The inspection pipeline: sources → decode (D concurrent sharp decodes on libuv's pool) →
 * dynamic batcher → detection on the backend's device (two batches in flight, so the upload of
 * batch k+1 is recorded while batch k computes and reads back) → results. Stages are connected
 * by bounded queues, so memory stays flat however many images come in. A bad file becomes an
 * item with status `error` and the run goes on. An aborted signal stops taking input; what is in
 * flight is finished. `inspect()` yields every item's result as it completes. Images are decoded
 * at the recipe's `input.scale`; results (boxes, areas, sizes, masks) are in the file's own
 * pixels (src/pipeline/rescale.ts).
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { Backend } from '../backend.js';
import { Tensor } from '../tensor.js';
import { Batcher, type BatchLimits, type Geometry } from './batcher.js';
import { detectClassic, type Defect, type ImageDetection } from './classic.js';
import { decodeBuffer, DEFAULT_MAX_PIXELS, readImageFile, type DecodedImage, type DecodeOptions } from './decode.js';
import { ProgressMeter, type ProgressSnapshot } from './progress.js';
import { BoundedQueue } from './queue.js';
import { DEFAULT_RECIPE, type LoadedRecipe } from './recipe.js';
import { toOriginal } from './rescale.js';
import { expandSource, type SourceItem } from './source.js';

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

export const DEFAULT_BATCH: BatchLimits = { maxCount: 16, maxPixels: 16 * 2048 * 2048, maxWaitMs: 50 };

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
  const limits: BatchLimits = { ...DEFAULT_BATCH, ...options.batch };
  const decodeOptions: DecodeOptions = { channels: 'gray', maxPixels: options.maxImagePixels ?? DEFAULT_MAX_PIXELS, scale: recipe.input.scale, ...(options.raw ? { raw: options.raw } : {}) };
  const concurrency = options.decodeConcurrency ?? os.availableParallelism();
  const skip = options.skip ?? new Set<string>();
  const meter = new ProgressMeter(options.total ?? null);
  const paths = new BoundedQueue<SourceItem>(concurrency * 2);
  const decoded = new BoundedQueue<Decoded | ItemResult>(Math.max(2 * limits.maxCount, concurrency));
  const batches = new BoundedQueue<Decoded[]>(2);
  const results = new BoundedQueue<ItemResult>(4 * limits.maxCount);
  const batcher = new Batcher<Decoded>(limits);
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
        const buf = await readImageFile(item.path);
        const hash = createHash('sha256').update(buf).digest('hex');
        const image = await decodeBuffer(item.path, buf, decodeOptions);
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

  const detect = async () => {
    for await (const group of batches) {
      const t = performance.now();
      const g = group[0]!.geometry;
      const frame = g.width * g.height * g.channels;
      try {
        const host = g.dtype === 'u16' ? new Uint16Array(frame * group.length) : new Uint8Array(frame * group.length);
        group.forEach((d, i) => host.set(d.image.data, i * frame));
        const cpu = Tensor.fromArray(host, [group.length, g.channels, g.height, g.width], g.dtype === 'u16' ? 'u16' : 'u8');
        const x = await options.backend.toDevice(cpu);
        const found: ImageDetection[] = await detectClassic(x, recipe, options.masksDir !== undefined);
        if (x !== cpu) x.dispose();
        const detectMs = (performance.now() - t) / group.length;
        for (let i = 0; i < group.length; i++) {
          const d = group[i]!;
          const { original } = d.image;
          const f = toOriginal(found[i]!, g, original);
          let maskPath: string | undefined;
          if (options.masksDir !== undefined && f.mask) {
            maskPath = join(options.masksDir, maskFileName(d.item.key));
            await mkdir(dirname(maskPath), { recursive: true });
            await sharp(f.mask, { raw: { width: original.width, height: original.height, channels: 1 } }).toColourspace('b-w').png().toFile(maskPath);
          }
          await results.push({
            key: d.item.key,
            path: d.item.path,
            status: f.verdict === 'NG' ? 'ng' : 'ok',
            width: original.width,
            height: original.height,
            sizeBytes: d.image.bytes,
            contentHash: d.hash,
            verdict: f.verdict,
            score: f.score,
            defects: f.defects,
            timings: { decodeMs: d.decodeMs, detectMs },
            ...(maskPath ? { maskPath } : {}),
          });
        }
      } catch (e) {
        // a failed batch (device lost, out of memory) fails its items, not the run
        for (const d of group) await results.push(errorResult(d.item, e, d.decodeMs));
      }
    }
  };

  const stages = Promise.all([
    feed(),
    runStage(concurrency, decode).finally(() => decoded.close()),
    batch().finally(() => batches.close()),
    runStage(2, detect),
  ]).finally(() => results.close());
  let failure: unknown = null;
  stages.catch((e: unknown) => {
    failure = e;
  });

  for await (const r of results) {
    meter.done++;
    if (r.status === 'ok') meter.ok++;
    else if (r.status === 'ng') meter.ng++;
    else meter.errors++;
    report();
    yield r;
  }
  await stages.catch(() => undefined);
  if (failure) throw failure;
}
