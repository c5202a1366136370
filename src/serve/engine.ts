/**
 * The service's inspection engine: Triton's dynamic batcher on the pipeline's own Batcher. Each
 * recipe has a lane (keyed by the recipe's hash) whose Batcher groups decoded images by geometry;
 * `instances` device slots each run one batch at a time. When a slot is free it takes, in order,
 * a group the Batcher released as full (`maxBatch` images or the pixel budget), a group that
 * reached a preferred size, then a group whose oldest image waited `maxQueueDelayUs`; while every
 * slot is busy the groups keep growing. The queue is bounded: past `queueLimit` waiting images a
 * request fails at once with KENSA_ERR_OVERLOADED (503 and Retry-After) instead of growing memory
 * and latency without end. A request's deadline is enforced while it waits: when it passes, the
 * image leaves its group and never reaches the device (KENSA_ERR_DEADLINE, 504).
 */
import type { Backend } from '../backend.js';
import { detectorFor, type ImageDetection, type Payload } from '../detect/detector.js';
import type { LoadedRecipe, Recipe } from '../detect/recipe.js';
import { toOriginal } from '../detect/rescale.js';
import { KensaError } from '../errors.js';
import { Batcher, type Geometry } from '../pipeline/batcher.js';
import type { DecodedImage, Frame } from '../pipeline/decode.js';
import { framesOnDevice, inFrameOrder, type ItemFailure } from '../pipeline/device-frames.js';
import { batchLimitsFor, bytesPerPixelOf, tilingFor } from '../pipeline/inspect.js';
import type { WorkerPool } from '../pipeline/workers.js';
import { Tensor } from '../tensor.js';

export interface EngineOptions {
  backend: Backend;
  /** Most images in one batch. */
  maxBatch: number;
  /** Batch sizes a free slot starts at once, without waiting for the queue delay (Triton's preferred_batch_size). */
  preferredBatch: readonly number[];
  /** Longest an image waits for its batch to fill while a slot is free, in microseconds. */
  maxQueueDelayUs: number;
  /** Most images waiting in all lanes together; past it requests are refused (KENSA_ERR_OVERLOADED). */
  queueLimit: number;
  /** Batches on the device at once. */
  instances: number;
  /** Pixel budget of one batch (default the pipeline's, shrunk to the adapter's largest binding). */
  maxBatchPixels?: number;
  /**
   * Worker threads for the CPU work, as in `inspect`: with the GPU backend the post stages, with the
   * CPU backend whole recipes; null runs everything on this thread (which then answers no HTTP meanwhile).
   */
  pool?: WorkerPool | null;
}

/** What the engine reports as it works (the metrics plugin listens). */
export interface EngineObserver {
  /** A batch's wall time (device and post stages) and its device stage's: from its upload to its readbacks done (the CPU backend's whole recipe). */
  batch(recipe: string, size: number, computeMs: number, deviceMs: number): void;
  failed(recipe: string, size: number): void;
}

/** One image's inspection: its detection in the file's pixels and where its time went. */
export interface Inspection {
  detection: ImageDetection;
  /** From the request's arrival in the queue to its batch's start. */
  queueMs: number;
  /** Its batch's time on the device and in post-processing. */
  computeMs: number;
  /** Its batch's device stage (upload to readbacks done). */
  deviceMs: number;
  /** Images in its batch. */
  batchSize: number;
}

export interface SubmitOptions {
  wantMask: boolean;
  /** performance.now() time after which the image must not reach the device. */
  deadline?: number;
  /** For a JPEG left for the GPU: its pixels from sharp, where the GPU cannot decode it (corrupt scan data, a tiled image). */
  redecode?: () => Promise<DecodedImage>;
}

interface Job {
  image: Frame;
  redecode?: () => Promise<DecodedImage>;
  geometry: Geometry;
  wantMask: boolean;
  enqueued: number;
  expired: boolean;
  timer: NodeJS.Timeout | null;
  resolve: (r: Inspection) => void;
  reject: (e: unknown) => void;
}

interface Lane {
  loaded: LoadedRecipe;
  batcher: Batcher<Job>;
  /** Groups the Batcher released as full, waiting for a slot. */
  ready: Job[][];
}

export class InspectionEngine {
  readonly options: EngineOptions;
  readonly #lanes = new Map<string, Lane>();
  readonly #observer: EngineObserver | null;
  #inFlight = 0;
  #timer: NodeJS.Timeout | null = null;
  #draining = false;
  #idle: (() => void)[] = [];

  constructor(options: EngineOptions, observer: EngineObserver | null = null) {
    this.options = options;
    this.#observer = observer;
  }

  /** Images waiting for a slot, in every lane. */
  get depth(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.batcher.waiting + lane.ready.reduce((sum, b) => sum + b.filter((j) => !j.expired).length, 0);
    return n;
  }

  /** Batches on the device now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  #lane(loaded: LoadedRecipe): Lane {
    let lane = this.#lanes.get(loaded.hash);
    if (!lane) {
      const asked = {
        maxCount: this.options.maxBatch,
        maxWaitMs: this.options.maxQueueDelayUs / 1000,
        ...(this.options.maxBatchPixels ? { maxPixels: this.options.maxBatchPixels } : {}),
      };
      const limits = batchLimitsFor(this.options.backend, asked, bytesPerPixelOf(loaded.recipe));
      lane = { loaded, batcher: new Batcher<Job>(limits), ready: [] };
      this.#lanes.set(loaded.hash, lane);
    }
    return lane;
  }

  /** Throws KENSA_ERR_OVERLOADED while the queue is full: a server checks before decoding too, so an overload costs no decode. */
  admit(): void {
    const depth = this.depth;
    if (depth < this.options.queueLimit) return;
    const message = `The queue holds ${depth} images, its limit (queueLimit ${this.options.queueLimit}); retry after the Retry-After seconds`;
    throw new KensaError('KENSA_ERR_OVERLOADED', message);
  }

  /** Queues one decoded image (or a JPEG the GPU decodes) for the recipe; settles with its inspection, or fails with KENSA_ERR_OVERLOADED or KENSA_ERR_DEADLINE. */
  submit(loaded: LoadedRecipe, image: Frame, o: SubmitOptions): Promise<Inspection> {
    try {
      this.admit();
    } catch (e) {
      return Promise.reject(e);
    }
    const now = performance.now();
    if (o.deadline !== undefined && o.deadline <= now) return Promise.reject(deadlineError(now - o.deadline));
    const lane = this.#lane(loaded);
    return new Promise<Inspection>((resolve, reject) => {
      const job: Job = {
        image,
        geometry: { width: image.width, height: image.height, channels: image.channels, dtype: image.dtype },
        wantMask: o.wantMask,
        ...(o.redecode ? { redecode: o.redecode } : {}),
        enqueued: now,
        expired: false,
        timer: null,
        resolve,
        reject,
      };
      if (o.deadline !== undefined) job.timer = setTimeout(() => this.#expire(lane, job), o.deadline - now);
      for (const full of lane.batcher.add(job)) lane.ready.push(full);
      this.#pump();
    });
  }

  /** A deadline passed while the image waited: it leaves its group (or its formed batch) and fails. */
  #expire(lane: Lane, job: Job): void {
    job.expired = true;
    lane.batcher.remove(job);
    job.reject(deadlineError(0));
    this.#pump();
  }

  /** The next batch for a free slot: a full group, a group at a preferred size, then a due one (every group once draining). */
  #nextBatch(): { lane: Lane; jobs: Job[] } | null {
    for (const lane of this.#lanes.values()) {
      if (lane.ready.length === 0) {
        const preferred = lane.batcher.takePreferred(this.options.preferredBatch);
        if (preferred) lane.ready.push(preferred);
        else lane.ready.push(...(this.#draining ? lane.batcher.drain() : lane.batcher.due()));
      }
      for (let group = lane.ready.shift(); group; group = lane.ready.shift()) {
        const jobs = group.filter((j) => !j.expired);
        if (jobs.length === 0) continue;
        // the lane goes to the back: with several recipes busy, slots take their turns
        this.#lanes.delete(lane.loaded.hash);
        this.#lanes.set(lane.loaded.hash, lane);
        return { lane, jobs };
      }
    }
    return null;
  }

  #pump(): void {
    while (this.#inFlight < this.options.instances) {
      const next = this.#nextBatch();
      if (!next) break;
      this.#inFlight++;
      void this.#run(next.lane, next.jobs).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
    this.#arm();
    if (this.#inFlight === 0 && this.depth === 0) for (const r of this.#idle.splice(0)) r();
  }

  /** With a slot free and images waiting: wake when the oldest group is due. */
  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#inFlight >= this.options.instances) return;
    let wait: number | null = null;
    for (const lane of this.#lanes.values()) {
      const due = lane.batcher.nextDueIn();
      if (due !== null) wait = wait === null ? due : Math.min(wait, due);
    }
    if (wait !== null) this.#timer = setTimeout(() => this.#pump(), wait);
  }

  async #run(lane: Lane, jobs: Job[]): Promise<void> {
    const started = performance.now();
    for (const j of jobs) if (j.timer) clearTimeout(j.timer);
    const recipe = lane.loaded.recipe;
    try {
      const { found, deviceMs } = await this.#compute(recipe, jobs);
      const computeMs = performance.now() - started;
      this.#observer?.batch(recipe.name, jobs.length, computeMs, deviceMs);
      for (const [i, j] of jobs.entries()) {
        const f = found[i]!;
        if ('failed' in f) j.reject(f.failed);
        else j.resolve({ detection: toOriginal(f, j.geometry, j.image.original), queueMs: started - j.enqueued, computeMs, deviceMs, batchSize: jobs.length });
      }
    } catch (e) {
      this.#observer?.failed(recipe.name, jobs.length);
      for (const j of jobs) j.reject(e);
    }
  }

  /**
   * One batch: tile by tile for an image too large for one binding, else as one N×C×H×W tensor;
   * with a pool, the CPU backend's whole recipe or the GPU's post stage runs on a worker thread.
   */
  async #compute(
    recipe: Recipe,
    jobs: readonly Pick<Job, 'image' | 'geometry' | 'wantMask' | 'redecode'>[],
  ): Promise<{ found: (ImageDetection | ItemFailure)[]; deviceMs: number }> {
    const { backend } = this.options;
    const pool = this.options.pool ?? null;
    const g = jobs[0]!.geometry;
    const wantMasks = jobs.some((j) => j.wantMask);
    const detector = detectorFor(recipe);
    const started = performance.now();
    const post = async (payloads: Payload[]) => (pool ? (await pool.post(recipe, payloads)).detections : payloads.map((p) => detector.post(p, recipe)));
    const tiling = jobs.length === 1 ? tilingFor(backend, recipe, g) : null;
    if (tiling) {
      const { data, width, height } = await pixelsOf(jobs[0]!);
      const payload = await detector.tiled!.device({ data, width, height }, recipe, wantMasks, tiling);
      const deviceMs = performance.now() - started;
      return { found: await post([payload]), deviceMs };
    }
    // a model's sessions live on this thread: its recipe never runs on a worker
    if (pool && backend.kind === 'cpu' && detector.portable) {
      const shape: [number, number, number, number] = [jobs.length, g.channels, g.height, g.width];
      const frames = await Promise.all(jobs.map(async (j) => (await pixelsOf(j)).data));
      const host = (await Tensor.fromFrames(frames, shape, g.dtype === 'u16' ? 'u16' : 'u8')).data as Uint8Array | Uint16Array;
      const found = (await pool.detect(recipe, host, shape, wantMasks)).detections;
      return { found, deviceMs: performance.now() - started };
    }
    const { parts, failures } = await framesOnDevice(
      backend,
      jobs.map((j) => j.image),
      (i) => pixelsOf(jobs[i]!),
    );
    const done: { at: number[]; payloads: Payload[] }[] = [];
    try {
      for (const { x, at } of parts) done.push({ at, payloads: await detector.device(x, recipe, wantMasks) });
    } finally {
      for (const { x } of parts) x.dispose();
    }
    const deviceMs = performance.now() - started;
    const found = await Promise.all(done.map(async ({ at, payloads }) => ({ at, found: await post(payloads) })));
    return { found: inFrameOrder(jobs.length, found, failures), deviceMs };
  }

  /**
   * Runs the recipe once on a batch of `count` copies of `image` outside the queue (warm-up: the
   * device compiles its pipelines, a model's provider its kernels, for that batch shape; a JPEG
   * frame, the GPU decoder's). The
   * count is capped at what the lane's batcher could form (its pixel budget).
   */
  async warm(loaded: LoadedRecipe, image: Frame, count: number, redecode?: () => Promise<DecodedImage>): Promise<number> {
    const g = { width: image.width, height: image.height, channels: image.channels, dtype: image.dtype };
    const { maxPixels } = this.#lane(loaded).batcher.limits;
    const n = Math.max(1, Math.min(count, Math.floor(maxPixels / (g.width * g.height * g.channels))));
    await this.#compute(
      loaded.recipe,
      Array.from({ length: n }, () => ({ image, geometry: g, wantMask: false, ...(redecode ? { redecode } : {}) })),
    );
    return n;
  }

  /** Starts every waiting group at once from now on (shutdown), and settles when nothing waits or runs. */
  async drain(): Promise<void> {
    this.#draining = true;
    const idle = new Promise<void>((r) => this.#idle.push(r));
    this.#pump();
    await idle;
    if (this.#timer) clearTimeout(this.#timer);
  }
}

/** A job's pixels: decoded already, or its JPEG decoded by sharp instead of the GPU. */
async function pixelsOf(j: Pick<Job, 'image' | 'redecode'>): Promise<DecodedImage> {
  if (!('jpeg' in j.image)) return j.image;
  if (!j.redecode) throw new KensaError('KENSA_ERR_DECODE', 'A JPEG left for the GPU has no CPU decode to fall back on');
  return j.redecode();
}

function deadlineError(lateMs: number): KensaError {
  const late = lateMs > 0 ? ` (${Math.round(lateMs)} ms before it arrived)` : '';
  return new KensaError('KENSA_ERR_DEADLINE', `The request's deadline passed${late} while its image waited for the device; it was not inspected`);
}
