/**
 * The pipeline's CPU worker threads (piscina): a fixed pool that runs detector stages, and the
 * reading and hashing of source files, off the main thread. With the GPU backend the device stage stays on the main thread (the GPU device
 * lives there) and a worker runs a batch's post stages; with the CPU backend a worker runs the
 * whole recipe on a batch (both stages on CPU tensors), so N workers inspect N batches at once.
 * Frames and payloads are transferred, never copied; so are the masks coming back. Whatever a
 * worker throws, and a worker that dies, rejects that task with a KENSA_ERR_WORKER naming the
 * stage and the cause; piscina starts a replacement thread, so the next task runs as usual.
 * The caller bounds the tasks in flight (inspect's queue); the pool queues what waits for a thread,
 * detection tasks before decodes.
 */
import os from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina, type TaskQueue } from 'piscina';
import { KensaError } from '../errors.js';
import { integerInRange } from '../validate.js';
import { transferables, type ImageDetection, type Payload } from '../detect/detector.js';
import {
  decodeBuffer,
  decodeErrorOf,
  type DecodeOptions,
  type Frame,
  type HashedDecode,
  parseForDevice,
  type ReadFile,
  readHashedImageFile,
} from './decode.js';
import type { Recipe } from '../detect/recipe.js';

/**
 * What a worker is asked: post stages of payloads made elsewhere, a whole recipe on CPU frames, a
 * source file read, hashed and decoded, or uploaded bytes decoded and hashed (off the main thread).
 */
export type WorkerTask =
  | { stage: 'post'; recipe: Recipe; payloads: Payload[] }
  | { stage: 'whole recipe'; recipe: Recipe; frames: Uint8Array | Uint16Array; shape: [number, number, number, number]; wantMasks: boolean }
  | { stage: 'read and decode'; path: string; options: DecodeOptions }
  | { stage: 'decode'; path: string; bytes: Uint8Array; options: DecodeOptions };

export interface WorkerResult {
  detections: ImageDetection[];
  /** The worker's threadId (diagnostics: which thread judged the batch). */
  thread: number;
}

/** A failed read or decode: the error's message and whether it was the pixel limit (PixelLimitError). */
export interface DecodeFailure {
  error: string;
  pixelLimit: boolean;
}

/**
 * A read-and-decode task's answer: the file's hash with the image (transferred; with
 * `jpegOnDevice`, maybe a JPEG parsed for the GPU) or, where decoding runs no JavaScript
 * (decodeRunsJavaScript), with the bytes for the caller to decode; or the error.
 */
export type ReadResult = ({ image: Frame } | { bytes: Uint8Array }) & { hash: string };

/** A decode task's answer: the image and the bytes (both transferred) with their hash. */
export interface DecodeResult {
  image: Frame;
  bytes: Uint8Array;
  hash: string;
}

/** WorkerPool.readAndDecode's answer: the file's hash with its image, or with its bytes to decode. */
export type ReadAndDecoded = { image: Frame; hash: string } | ReadFile;

export const MAX_POST_WORKERS = 256;

/**
 * Reads, hashes and decodes one file as a run does: on `pool`'s threads where decoding runs
 * JavaScript (WorkerPool.readAndDecode), the rest here (libvips' own threads); without a pool, here.
 * With `jpegOnDevice`, a JPEG the GPU decodes exactly comes back parsed instead (parseForDevice).
 */
export async function readAndDecodeItem(pool: WorkerPool | null, path: string, options: DecodeOptions): Promise<{ image: Frame; hash: string }> {
  const read: ReadAndDecoded = pool ? await pool.readAndDecode(path, options) : await readHashedImageFile(path);
  if (!('bytes' in read)) return read;
  const jpeg = options.jpegOnDevice ? parseForDevice(path, read.bytes, options) : null;
  return { image: jpeg ?? (await decodeBuffer(path, read.bytes, options)), hash: read.hash };
}

/**
 * The pool size for `postWorkers`: 0 runs every stage on the main thread. Default: one thread per
 * core, on either backend: the CPU backend runs whole recipes there, and with the GPU backend the
 * decode of colour files (its JavaScript conversion) needs the threads more than the post stages do.
 */
export function resolvePostWorkers(value: unknown): number {
  return integerInRange('postWorkers', value ?? os.availableParallelism(), 0, MAX_POST_WORKERS);
}

type Task = Parameters<TaskQueue['push']>[0];

/** Marks a detection task (post stages, a whole recipe) for DetectionFirstQueue. */
const DETECTION = { detection: true };

/**
 * Piscina's queue of tasks waiting for a thread, detection first: a batch's post stages wait behind
 * no queued decode (decodes feed the batches; a detection ends one and frees what it holds), and
 * each kind keeps its order.
 */
class DetectionFirstQueue implements TaskQueue {
  readonly #detections: Task[] = [];
  readonly #decodes: Task[] = [];

  get size(): number {
    return this.#detections.length + this.#decodes.length;
  }

  #of(task: Task): Task[] {
    return task[Piscina.queueOptionsSymbol as keyof Task] === DETECTION ? this.#detections : this.#decodes;
  }

  push(task: Task): void {
    this.#of(task).push(task);
  }

  shift(): Task | null {
    return this.#detections.shift() ?? this.#decodes.shift() ?? null;
  }

  remove(task: Task): void {
    const queue = this.#of(task);
    const at = queue.indexOf(task);
    if (at >= 0) queue.splice(at, 1);
  }
}

export class WorkerPool {
  readonly size: number;
  /** Tasks one thread holds at once: a decode waits on libvips' threads most of its time, so a pool of few threads still keeps a decode per core in flight. */
  readonly tasksPerThread: number;
  readonly #pool: Piscina<WorkerTask, WorkerResult | ReadResult | DecodeResult | DecodeFailure>;

  /** Starts `size` threads (1 … 256, see resolvePostWorkers); `destroy()` stops them. */
  constructor(size: number) {
    this.size = integerInRange('postWorkers', size, 1, MAX_POST_WORKERS);
    this.tasksPerThread = Math.max(1, Math.ceil(os.availableParallelism() / this.size));
    const ext = extname(fileURLToPath(import.meta.url)); // .ts under tsx, .js when built
    this.#pool = new Piscina<WorkerTask, WorkerResult | ReadResult | DecodeResult | DecodeFailure>({
      filename: new URL(`./worker${ext}`, import.meta.url).href,
      minThreads: this.size,
      maxThreads: this.size,
      concurrentTasksPerWorker: this.tasksPerThread,
      taskQueue: new DetectionFirstQueue(),
    });
    // an idle thread that dies holds no task: piscina replaces it, and there is nothing to report
    this.#pool.on('error', () => undefined);
  }

  /** The post stage of every payload of a batch; the payloads' buffers are transferred (detached here). */
  post(recipe: Recipe, payloads: Payload[]): Promise<WorkerResult> {
    return this.#run({ stage: 'post', recipe, payloads });
  }

  /** The whole recipe on a batch of CPU frames; `frames`' buffer is transferred (detached here). */
  detect(recipe: Recipe, frames: Uint8Array | Uint16Array, shape: [number, number, number, number], wantMasks: boolean): Promise<WorkerResult> {
    return this.#run({ stage: 'whole recipe', recipe, frames, shape, wantMasks });
  }

  /**
   * Reads and hashes a file on a worker and decodes it there where decoding runs JavaScript
   * (colour conversion: the main thread then only drives the device); the pixels come back by
   * transfer. Where libvips does all of it, the bytes come back instead (by transfer), for the
   * caller to decode: sharp's pixel buffer would be copied. Errors: a DecodeError (a missing file
   * too), a PixelLimitError over the limit.
   */
  async readAndDecode(path: string, options: DecodeOptions): Promise<ReadAndDecoded> {
    const r = (await this.#pool.run({ stage: 'read and decode', path, options } satisfies WorkerTask)) as ReadResult | DecodeFailure;
    if ('error' in r) throw decodeErrorOf(r.error, r.pixelLimit);
    if (!('bytes' in r)) return r;
    return { bytes: Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength), hash: r.hash };
  }

  /**
   * Decodes and hashes uploaded bytes on a worker (a server's main thread then only answers HTTP
   * and drives the device): the bytes go by transfer and come back with the pixels. Errors are
   * decodeBuffer's: a DecodeError, a PixelLimitError over the limit.
   */
  async decode(path: string, bytes: Buffer, options: DecodeOptions): Promise<HashedDecode> {
    const task: WorkerTask = { stage: 'decode', path, bytes, options };
    const r = (await this.#pool.run(task, { transferList: transferables(task) })) as DecodeResult | DecodeFailure;
    if ('error' in r) throw decodeErrorOf(r.error, r.pixelLimit);
    return { image: r.image, bytes: Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength), hash: r.hash };
  }

  /** Stops every thread; tasks still running or queued reject. */
  destroy(): Promise<void> {
    return this.#pool.destroy();
  }

  async #run(task: Exclude<WorkerTask, { stage: 'read and decode' | 'decode' }>): Promise<WorkerResult> {
    try {
      // the mark is a symbol-keyed property: the structured clone to the worker leaves it behind
      const marked = Object.assign(task, { [Piscina.queueOptionsSymbol]: DETECTION });
      return (await this.#pool.run(marked, { transferList: transferables(task) })) as WorkerResult;
    } catch (e) {
      throw new KensaError('KENSA_ERR_WORKER', `The ${task.stage} failed on a worker thread: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
}
