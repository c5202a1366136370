/**
 * The inspection pipeline, a list of stages, each a small function over the queues of one `Run`:
 * source → decode (D concurrent sharp decodes on libuv's pool) → batch (the dynamic batcher) →
 * device → post → sink (`inspect()` yields the results). Each recipe is a detector of a device stage and a CPU post
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
 * pixels (src/detect/rescale.ts). An image whose batch of one would pass the adapter's largest
 * storage binding runs through its detector's tiled stage (src/tiling) on this thread, when the
 * detector has one; its results are the untiled run's.
 */
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { Backend } from '../backend.js';
import { KensaError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { Batcher, type BatchLimits, type Geometry } from './batcher.js';
import type { Defect } from '../detect/defect.js';
import { detect, detectorFor, type ImageDetection, type TiledOptions } from '../detect/detector.js';
import { DEFAULT_MAX_PIXELS, type DecodedImage, type DecodeOptions, type Frame } from './decode.js';
import { framesOnDevice, inFrameOrder, type ItemFailure } from './device-frames.js';
import { ProgressMeter, type ProgressSnapshot } from './progress.js';
import { BoundedQueue } from './queue.js';
import { DEFAULT_RECIPE, type LoadedRecipe, type Recipe } from '../detect/recipe.js';
import { toOriginal } from '../detect/rescale.js';
import { tileSide } from '../tiling/grid.js';
import { expandSource, type SourceItem } from './source.js';
import { readAndDecodeItem, WorkerPool, resolvePostWorkers } from './workers.js';

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
  /** A classification model's top class and its score. */
  label?: { name: string; score: number };
  /** A cascade's stage that decided: `first` (an early exit) or `full` (the full model). */
  cascade?: 'first' | 'full';
  /** The item's source fields (a task row and its fan-out). */
  fields?: SourceItem['fields'];
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
  /** The items, in place of expanding the sources (a task table, a queued job). */
  items?: AsyncIterable<SourceItem>;
  /** Item keys to skip (a resumed run's finished items). */
  skip?: ReadonlySet<string>;
  signal?: AbortSignal;
  /**
   * Worker threads for CPU detection stages, 0 … 256; 0 runs everything on this thread. With the
   * GPU backend they run the post stages and colour decodes, with the CPU backend whole recipes,
   * one batch per thread (default: cores).
   */
  postWorkers?: number;
  /**
   * Where baseline JPEGs are decoded with the GPU backend: 'gpu' (default) parses them on
   * the worker threads and decodes them on the GPU, Huffman stage included (src/ops/jpeg: the same
   * pixels as sharp's); 'cpu' decodes every file with sharp. Other files always decode on the CPU.
   */
  jpegDecode?: 'gpu' | 'cpu';
  /** Threads the caller keeps across calls (a queue worker's jobs: starting threads per job costs more than the job); `postWorkers` is ignored then, and the caller destroys it. */
  pool?: WorkerPool | null;
  /** Called with a snapshot after every batch and every error item. */
  onProgress?: (p: ProgressSnapshot) => void;
  /** Total item count, when known (for ETA). */
  total?: number | null;
  stdin?: NodeJS.ReadableStream;
}

interface Decoded {
  item: SourceItem;
  /** The pixels; or a JPEG the device stage decodes on the GPU (`jpegDecode`). */
  image: Frame;
  hash: string;
  decodeMs: number;
  geometry: Geometry;
}

type Outcome = { detections: (ImageDetection | ItemFailure)[]; ms: number } | { error: unknown };

/** A batch between the device and the post stage: what its items need, and its detections to come. */
interface Judged {
  items: (Pick<Decoded, 'item' | 'hash' | 'decodeMs' | 'geometry'> & Pick<DecodedImage, 'bytes' | 'original'>)[];
  outcome: Promise<Outcome>;
}

export const DEFAULT_BATCH: BatchLimits = { maxCount: 16, maxPixels: 16 * 2048 * 2048, maxWaitMs: 50 };

/** Bytes per pixel of a recipe's widest device buffer, as its detector declares it. */
export function bytesPerPixelOf(recipe: Recipe): number {
  return detectorFor(recipe).bytesPerPixel(recipe);
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

/** Largest tile interior side: bounds a tile's device memory (a few f32 maps of its crop) on large adapters. */
const MAX_TILE_SIDE = 4096;

/**
 * How an image of this geometry runs tile by tile: when its batch of one would pass the adapter's
 * largest storage binding; null when it fits (the batch path). Throws KENSA_ERR_GPU_OUT_OF_MEMORY
 * when it does not fit and the recipe's detector has no tiled stage.
 */
export function tilingFor(backend: Backend, recipe: Recipe, g: Geometry): TiledOptions | null {
  const binding = backend.gpu?.info.limits.maxStorageBufferBindingSize;
  const detector = detectorFor(recipe);
  const bytes = g.width * g.height * g.channels * detector.bytesPerPixel(recipe);
  if (binding === undefined || bytes <= binding) return null;
  if (!detector.tiled || g.channels !== 1) {
    const message = `An image of ${g.width}×${g.height} needs ${bytes} bytes in one storage binding, more than this adapter's ${binding}, and the ${recipe.kind} recipe cannot run tile by tile: inspect it with --device cpu, or at a recipe input.scale below 1`;
    throw new KensaError('KENSA_ERR_GPU_OUT_OF_MEMORY', message);
  }
  const { halo, align, bytesPerPixel } = detector.tiled.geometry(recipe);
  return { backend, tile: tileSide(binding, bytesPerPixel, halo, align, MAX_TILE_SIDE) };
}

/** A mask file name from an item key: same relative path, `.png`, no escaping the folder. */
export function maskFileName(key: string): string {
  const parts = key.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const last = (parts.pop() ?? 'item').replace(/\.[^.]*$/, '');
  return [...parts, `${last}.png`].join('/');
}

function errorResult(item: SourceItem, error: unknown, decodeMs = 0): ItemResult {
  return {
    key: item.key,
    path: item.path,
    status: 'error',
    error: error instanceof Error ? error.message : String(error),
    defects: [],
    timings: { decodeMs, detectMs: 0 },
    ...(item.fields ? { fields: item.fields } : {}),
  };
}

async function runStage(count: number, worker: () => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: count }, worker));
}

/** One inspection: its settings, and the bounded queues between its stages. */
interface Run {
  options: InspectOptions;
  recipe: Recipe;
  limits: BatchLimits;
  decodeOptions: DecodeOptions;
  concurrency: number;
  wantMasks: boolean;
  pool: WorkerPool | null;
  meter: ProgressMeter;
  batcher: Batcher<Decoded>;
  paths: BoundedQueue<SourceItem>;
  decoded: BoundedQueue<Decoded | ItemResult>;
  batches: BoundedQueue<Decoded[]>;
  judged: BoundedQueue<Judged>;
  results: BoundedQueue<ItemResult>;
}

function openRun(options: InspectOptions): Run {
  const recipe = (options.recipe ?? DEFAULT_RECIPE).recipe;
  const limits = batchLimitsFor(options.backend, options.batch, bytesPerPixelOf(recipe));
  const concurrency = options.decodeConcurrency ?? os.availableParallelism();
  const workers = options.pool !== undefined ? 0 : resolvePostWorkers(options.postWorkers);
  return {
    options,
    recipe,
    limits,
    decodeOptions: {
      channels: 'gray',
      maxPixels: options.maxImagePixels ?? DEFAULT_MAX_PIXELS,
      scale: recipe.input.scale,
      ...(options.raw ? { raw: options.raw } : {}),
      jpegOnDevice: options.backend.kind === 'gpu' && options.jpegDecode !== 'cpu',
    },
    concurrency,
    wantMasks: options.masksDir !== undefined,
    pool: options.pool !== undefined ? options.pool : workers > 0 ? new WorkerPool(workers) : null,
    meter: new ProgressMeter(options.total ?? null),
    batcher: new Batcher<Decoded>(limits),
    paths: new BoundedQueue<SourceItem>(concurrency * 2),
    decoded: new BoundedQueue<Decoded | ItemResult>(Math.max(2 * limits.maxCount, concurrency)),
    batches: new BoundedQueue<Decoded[]>(2),
    judged: new BoundedQueue<Judged>(Math.max(2, workers)),
    results: new BoundedQueue<ItemResult>(4 * limits.maxCount),
  };
}

/** Source: every item of the sources (or the given items), less those to skip, until the signal aborts. */
async function sourceStage(run: Run, sources: readonly string[]): Promise<void> {
  const skip = run.options.skip ?? new Set<string>();
  const given = run.options.items;
  const items = given ? [given] : sources.map((arg) => expandSource(arg, run.options.stdin, undefined, sources.length > 1));
  try {
    for (const source of items) {
      for await (const item of source) {
        if (run.options.signal?.aborted) return;
        if (skip.has(item.key)) {
          run.meter.skipped++;
          continue;
        }
        await run.paths.push(item);
      }
    }
  } finally {
    run.paths.close();
  }
}

/** Decode (one of `concurrency`): read, hash and decode each item; a bad file becomes an error result. */
async function decodeStage(run: Run): Promise<void> {
  const { pool, options } = run;
  for await (const item of run.paths) {
    const t = performance.now();
    try {
      // with the GPU backend the workers are mostly idle: they read, hash and convert colour, the main thread stays free
      const { image, hash } = await readAndDecodeItem(options.backend.kind === 'gpu' ? pool : null, item.path, run.decodeOptions);
      const geometry = { width: image.width, height: image.height, channels: image.channels, dtype: image.dtype };
      await run.decoded.push({ item, image, hash, decodeMs: performance.now() - t, geometry });
    } catch (e) {
      await run.decoded.push(errorResult(item, e, performance.now() - t));
    }
  }
}

/** Batch: groups decoded frames (Batcher), releasing a group when it is full or its oldest frame is due. */
async function batchStage(run: Run): Promise<void> {
  const { batcher, batches } = run;
  let next: Promise<Decoded | ItemResult | undefined> = run.decoded.pop();
  for (;;) {
    const wait = batcher.nextDueIn();
    const timer = wait === null ? null : new Promise<'due'>((r) => setTimeout(() => r('due'), wait));
    const got = await (timer ? Promise.race([next, timer]) : next);
    if (got === 'due') {
      for (const b of batcher.due()) await batches.push(b);
      continue;
    }
    if (got === undefined) break;
    next = run.decoded.pop();
    if ('status' in got) {
      await run.results.push(got);
      continue;
    }
    for (const b of batcher.add(got)) await batches.push(b);
  }
  for (const b of batcher.drain()) await batches.push(b);
}

/**
 * This thread's share of a batch: uploading its frames and its device stage, or, when a worker
 * runs the whole recipe, stacking the frames for it. Returns once that share is done (so at most
 * two batches are on the device); `rest` settles with the detections.
 */
async function startBatch(run: Run, group: Decoded[]): Promise<{ rest: Promise<(ImageDetection | ItemFailure)[]> }> {
  const { pool, recipe, wantMasks, options } = run;
  const g = group[0]!.geometry;
  const tiling = group.length === 1 ? tilingFor(options.backend, recipe, g) : null;
  if (tiling) return startTiled(run, await pixelsOf(run, group[0]!), tiling);
  const shape: [number, number, number, number] = [group.length, g.channels, g.height, g.width];
  const dtype = g.dtype === 'u16' ? 'u16' : 'u8';
  if (pool && options.backend.kind === 'cpu' && detectorFor(recipe).portable) {
    const frames = await Promise.all(group.map((d) => pixelsOf(run, d).then((p) => p.data)));
    const host = (await Tensor.fromFrames(frames, shape, dtype)).data as Uint8Array | Uint16Array;
    return { rest: pool.detect(recipe, host, shape, wantMasks).then((r) => r.detections) };
  }
  const { parts, failures } = await framesOnDevice(
    options.backend,
    group.map((d) => d.image),
    (i) => pixelsOf(run, group[i]!),
  );
  const started: { at: number[]; found: Promise<ImageDetection[]> }[] = [];
  try {
    for (const { x, at } of parts) {
      if (!pool) started.push({ at, found: Promise.resolve(await detect(x, recipe, wantMasks)) });
      else {
        const payloads = await detectorFor(recipe).device(x, recipe, wantMasks);
        started.push({ at, found: pool.post(recipe, payloads).then((r) => r.detections) });
      }
    }
  } finally {
    for (const { x } of parts) x.dispose();
  }
  const rest = Promise.all(started.map((s) => s.found)).then((found) =>
    inFrameOrder(
      group.length,
      started.map((s, k) => ({ at: s.at, found: found[k]! })),
      failures,
    ),
  );
  return { rest };
}

/** An item's pixels: decoded already, or its JPEG decoded by sharp instead of the GPU (tiled images, corrupt scan data). */
async function pixelsOf(run: Run, d: Decoded): Promise<DecodedImage> {
  if (!('jpeg' in d.image)) return d.image;
  const read = await readAndDecodeItem(run.pool, d.item.path, { ...run.decodeOptions, jpegOnDevice: false });
  return read.image as DecodedImage;
}

/** One image too large for a batch: its detector's tiled device stage, then the post stage as for a batch. */
async function startTiled(run: Run, image: DecodedImage, tiling: TiledOptions): Promise<{ rest: Promise<ImageDetection[]> }> {
  const { pool, recipe } = run;
  const detector = detectorFor(recipe);
  const payload = await detector.tiled!.device({ data: image.data, width: image.width, height: image.height }, recipe, run.wantMasks, tiling);
  if (pool) return { rest: pool.post(recipe, [payload]).then((r) => r.detections) };
  return { rest: Promise.resolve([detector.post(payload, recipe)]) };
}

/** Device (one of two, so one batch uploads while the other computes): each batch's detections to come. */
async function deviceStage(run: Run): Promise<void> {
  for await (const group of run.batches) {
    const t = performance.now();
    let rest: Promise<(ImageDetection | ItemFailure)[]>;
    try {
      ({ rest } = await startBatch(run, group));
    } catch (e) {
      rest = Promise.reject(e);
    }
    // settled here, not where it is awaited: a rejection waiting in the queue is handled
    const outcome = rest.then(
      (detections): Outcome => ({ detections, ms: performance.now() - t }),
      (error: unknown): Outcome => ({ error }),
    );
    // the pixels are in the batch now; only what the results need waits with the outcome
    await run.judged.push({
      items: group.map(({ item, hash, decodeMs, geometry, image }) => ({ item, hash, decodeMs, geometry, bytes: image.bytes, original: image.original })),
      outcome,
    });
  }
}

/** One item's result from its detection: in the file's pixels, its mask written when asked. */
async function itemResult(run: Run, d: Judged['items'][number], found: ImageDetection, detectMs: number): Promise<ItemResult> {
  const f = toOriginal(found, d.geometry, d.original);
  const { width, height } = d.original;
  let maskPath: string | undefined;
  try {
    if (run.options.masksDir !== undefined && f.mask) {
      maskPath = join(run.options.masksDir, maskFileName(d.item.key));
      await mkdir(dirname(maskPath), { recursive: true });
      await sharp(f.mask, { raw: { width, height, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toFile(maskPath);
    }
  } catch (e) {
    return errorResult(d.item, e, d.decodeMs);
  }
  return {
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
    ...(f.label ? { label: f.label } : {}),
    ...(f.cascade ? { cascade: f.cascade } : {}),
    ...(d.item.fields ? { fields: d.item.fields } : {}),
  };
}

/** Post: each batch's items, in order, as results; a failed batch fails its items, not the run. */
async function postStage(run: Run): Promise<void> {
  for await (const { items, outcome } of run.judged) {
    const o = await outcome;
    if ('error' in o) {
      // a failed batch (device lost, out of memory, a worker that threw or died) fails its items, not the run
      for (const d of items) await run.results.push(errorResult(d.item, o.error, d.decodeMs));
      continue;
    }
    const detectMs = o.ms / items.length;
    for (let i = 0; i < items.length; i++) {
      const found = o.detections[i]!;
      await run.results.push(
        'failed' in found ? errorResult(items[i]!.item, found.failed, items[i]!.decodeMs) : await itemResult(run, items[i]!, found, detectMs),
      );
    }
  }
}

/** Inspects every image of `sources`; yields each item's result as it completes. */
export async function* inspect(sources: readonly string[], options: InspectOptions): AsyncGenerator<ItemResult> {
  const run = openRun(options);
  const { meter } = run;
  const report = () => options.onProgress?.(meter.snapshot({ decoded: run.decoded.size, batches: run.batches.size, batching: run.batcher.waiting }));
  const stages = Promise.all([
    sourceStage(run, sources),
    runStage(run.concurrency, () => decodeStage(run)).finally(() => run.decoded.close()),
    batchStage(run).finally(() => run.batches.close()),
    runStage(2, () => deviceStage(run)).finally(() => run.judged.close()),
    postStage(run),
  ]).finally(() => run.results.close());
  let failure: unknown = null;
  stages.catch((e: unknown) => {
    failure = e;
  });

  // sink: count and yield each result
  try {
    for await (const r of run.results) {
      meter.done++;
      if (r.status === 'ok') meter.ok++;
      else if (r.status === 'ng') meter.ng++;
      else meter.errors++;
      report();
      yield r;
    }
    await stages.catch(() => undefined);
  } finally {
    // also when the consumer stops early: the threads must not outlive the generator (unless the caller keeps them)
    if (options.pool === undefined) await run.pool?.destroy();
  }
  if (failure) throw failure;
}
