/**
 * A whole inspection run: scan the sources (a missing one fails before any run exists), open the
 * backend and the store, create (or resume) the run with the recipe it uses and the device of
 * this session, stream `inspect()` results into the store in batched transactions, and finish
 * the run with its counts and timings. Results are written idempotently (keyed by run and item),
 * so a crash at any moment followed by `resume` leaves every item exactly once. An aborted
 * signal (SIGINT/SIGTERM in the CLI) stops taking input, finishes what is in flight, flushes the
 * store and marks the run `interrupted`. A store write that fails (a lost connection) is retried
 * until `storeRetryMs` runs out, holding the pipeline back meanwhile; nothing is lost. Any other
 * failure after the run was created marks it `failed` (resumable), so no run stays `running`.
 */
import { openBackend, type Backend, type DeviceChoice } from '../backend.js';
import { KensaError } from '../errors.js';
import { openStore, type Store } from '../store/store.js';
import type { ItemResult as StoredItem, Json, RunRecord } from '../store/schema.js';
import type { BatchLimits } from './batcher.js';
import { DEFAULT_BATCH, inspect, type ItemResult } from './inspect.js';
import type { ProgressSnapshot } from './progress.js';
import { type DatabasePause, isStoreFailure, type RetryOptions, retryTransient } from './retry.js';
import { scanSources, type SourceItem, type SourceScan } from './source.js';
import { openRecipeModels } from '../detect/model.js';
import { DEFAULT_RECIPE, type LoadedRecipe } from '../detect/recipe.js';
import type { OpenModel } from '../models/registry.js';
import type { SessionOptions } from '../models/session.js';
import { openRecipeTemplate, type OpenTemplate } from './template.js';
import type { DecodeOptions } from './decode.js';
import { resolvePostWorkers } from './workers.js';

/** Results wait at most this long for their transaction (a crash loses at most this much work). */
const FLUSH_INTERVAL_MS = 500;

/** Items from elsewhere than files (a task table): how many, and the items themselves. */
export interface TaskSource {
  readonly total: number;
  /** What the run records as its source. */
  readonly description: Json;
  items(): AsyncIterable<SourceItem>;
}

/** Where results also go, before the store (a write-back to the task table); it retries its own failures, reporting them to `onPause`. */
export interface ResultSink {
  write(results: readonly ItemResult[], onPause?: (pause: DatabasePause | null) => void): Promise<void>;
}

export interface RunOptions {
  /** Store URL: a SQLite path (default `kensa.db`), `postgres://…` or `mysql://…`. */
  db?: string;
  /** An open store (tests, embedding); `db` is ignored then. */
  store?: Store;
  recipe?: LoadedRecipe;
  device?: DeviceChoice;
  adapter?: number | string;
  /** An open backend; `device`/`adapter` are ignored then. */
  backend?: Backend;
  /** Continue this run: its finished items are skipped. */
  resume?: string;
  masksDir?: string;
  batch?: Partial<BatchLimits>;
  decodeConcurrency?: number;
  /** Worker threads for CPU detection stages (see InspectOptions.postWorkers). */
  postWorkers?: number;
  /** Where baseline JPEGs decode with the GPU backend (see InspectOptions.jpegDecode; default 'gpu'). */
  jpegDecode?: 'gpu' | 'cpu';
  /** How a model recipe's sessions open: providers, strict, threads, graph optimization, sessions (the warm-up shapes come from the run). */
  model?: Omit<SessionOptions, 'warmUp'>;
  maxImagePixels?: number;
  raw?: DecodeOptions['raw'];
  signal?: AbortSignal;
  onProgress?: (p: ProgressSnapshot) => void;
  /** Called once the run exists (created or resumed), before the first image: its id, and what the source scan found. */
  onStart?: (start: RunStart) => void;
  /** Called with every item result (after it is stored). */
  onItem?: (r: ItemResult) => void;
  /** Items per store transaction (default 64; a transaction is also written every 0.5 s). */
  writeBatch?: number;
  /** How long failing store writes are retried before the run fails (default 60 s). */
  storeRetryMs?: number;
  /** Called when the store write starts waiting for the database (each retry), and with null when it went through. */
  onPause?: (pause: DatabasePause | null) => void;
  stdin?: NodeJS.ReadableStream;
  /** Items to inspect in place of `sources` (a task table). */
  tasks?: TaskSource;
  /** Results are written here first, then to the store: a resumed run redoes what the store missed. */
  sink?: ResultSink;
  /** The scan of `sources`, when the caller made it before (to stop without a run when nothing is there). */
  scan?: SourceScan;
}

export interface RunStart {
  run: RunRecord;
  resumed: boolean;
  scan: SourceScan;
}

export interface RunSummary {
  run: RunRecord;
  /** What the source scan found: the total, sources without images, entries passed over. */
  scan: SourceScan;
  processed: number;
  skipped: number;
  elapsedMs: number;
  imagesPerSecond: number;
  interrupted: boolean;
}

export function toStored(r: ItemResult): StoredItem {
  return {
    itemKey: r.key,
    path: r.path,
    contentHash: r.contentHash ?? null,
    sizeBytes: r.sizeBytes ?? null,
    width: r.width ?? null,
    height: r.height ?? null,
    status: r.status,
    error: r.error ?? null,
    verdict: r.verdict ?? null,
    score: r.score ?? null,
    label: r.label ?? null,
    stageTimings: { decode: r.timings.decodeMs, detect: r.timings.detectMs },
    defects: r.defects,
  };
}

/** Writes a batch of results, retrying a failing store (KENSA_ERR_STORE) for `retryMs`; other failures throw at once. */
export async function writeWithRetry(
  store: Store,
  runId: string,
  items: StoredItem[],
  retryMs: number,
  o: Pick<RetryOptions, 'signal' | 'onPause' | 'giveUp'> = {},
): Promise<void> {
  try {
    await retryTransient(`storing ${items.length} results of run ${runId}`, () => store.writeResults(runId, items), {
      retryMs,
      transient: isStoreFailure,
      ...o,
    });
  } catch (e) {
    if (isStoreFailure(e)) throw e;
    // a batch the store rejects (a validation or logic error) fails the same way every time: no retry
    throw new KensaError(
      e instanceof KensaError ? e.code : 'KENSA_ERR_INTERNAL',
      `Could not store ${items.length} results of run ${runId}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

/** How a run records its device: the adapter and its kind; the CPU backend's name already says it. */
export function deviceLabel(backend: Backend): string {
  return backend.kind === 'cpu' ? backend.name : `${backend.name} (${backend.kind})`;
}

/** Runs (or resumes) an inspection of `sources` and records it in the store. */
export async function runInspection(sources: readonly string[], o: RunOptions = {}): Promise<RunSummary> {
  const started = performance.now();
  // before anything is opened or created: a missing source throws here and leaves no run behind
  const scan = o.scan ?? (o.tasks ? { total: o.tasks.total, empty: [], skipped: [] } : await scanSources(sources));
  const store = o.store ?? (await openStore(o.db ?? 'kensa.db'));
  let backend: Backend;
  try {
    backend = o.backend ?? (await openBackend({ device: o.device ?? 'auto', ...(o.adapter !== undefined ? { adapter: o.adapter } : {}) }));
  } catch (e) {
    if (!o.store) await store.close();
    throw e;
  }
  let run: RunRecord | undefined;
  let models: OpenModel[] = [];
  let template: OpenTemplate | null = null;
  try {
    // the recipe's models and template open (and warm up) before the run exists: one that cannot leaves no run
    template = await openRecipeTemplate(o.recipe ?? DEFAULT_RECIPE);
    const { loaded, models: opened } = await openRecipeModels(template.loaded, o.model ?? {}, o.batch?.maxCount ?? DEFAULT_BATCH.maxCount, backend.gpu);
    models = opened;
    const device = [deviceLabel(backend), ...models.map((m) => `model on ${m.session.runsOn}`)].join(' · ');
    // checked before a run is created for it
    const postWorkers = resolvePostWorkers(o.postWorkers);
    let skip = new Set<string>();
    // a resumed run's timings cover every session, so its rate and the report's shares stay true
    let before = { elapsedMs: 0, processed: 0 };
    if (o.resume) {
      const previous = await store.getRun(o.resume);
      if (!previous)
        throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected the id of a run in the store for resume but received ${JSON.stringify(o.resume)}`);
      if (previous.recipeHash !== loaded.hash) {
        throw new KensaError(
          'KENSA_ERR_RECIPE',
          `Run ${o.resume} was judged by recipe ${previous.recipeHash.slice(0, 12)}; resume it with the same recipe (this one is ${loaded.hash.slice(0, 12)})`,
        );
      }
      // item keys are names relative to their source: another folder's files would pass for the run's own
      const given = previous.options.sources;
      if (!o.tasks && Array.isArray(given) && [...new Set(given)].sort().join('\n') !== [...new Set(sources)].sort().join('\n')) {
        throw new KensaError(
          'KENSA_ERR_INVALID_ARGUMENT',
          `Run ${o.resume} inspected ${JSON.stringify(given)}; resume it with the same sources (this call names ${JSON.stringify(sources)})`,
        );
      }
      before = { elapsedMs: previous.timings.elapsedMs ?? 0, processed: previous.timings.processed ?? 0 };
      run = await store.resumeRun(o.resume, { device });
      skip = await store.doneItemKeys(run.id);
    } else {
      run = await store.createRun({
        recipeName: loaded.recipe.name,
        recipe: JSON.parse(loaded.json) as Json,
        recipeHash: loaded.hash,
        device,
        options: { sources: [...sources], masks: o.masksDir ?? null, ...(o.tasks ? { tasks: o.tasks.description } : {}) },
      });
    }
    const runId = run.id;
    o.onStart?.({ run, resumed: o.resume !== undefined, scan });
    const writeBatch = o.writeBatch ?? 64;
    let pending: ItemResult[] = [];
    let processed = 0;
    let storeFailure: unknown = null;
    let lastFlush = performance.now();
    const flush = async () => {
      lastFlush = performance.now();
      if (pending.length === 0) return;
      const items = pending;
      pending = [];
      await o.sink?.write(items, o.onPause);
      await writeWithRetry(store, runId, items.map(toStored), o.storeRetryMs ?? 60_000, {
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.onPause ? { onPause: o.onPause } : {}),
      });
    };
    const local = new AbortController();
    const onAbort = () => local.abort();
    o.signal?.addEventListener('abort', onAbort);
    if (o.signal?.aborted) local.abort();
    try {
      for await (const r of inspect(sources, {
        backend,
        recipe: loaded,
        ...(o.batch ? { batch: o.batch } : {}),
        ...(o.decodeConcurrency ? { decodeConcurrency: o.decodeConcurrency } : {}),
        postWorkers,
        ...(o.jpegDecode ? { jpegDecode: o.jpegDecode } : {}),
        ...(o.maxImagePixels ? { maxImagePixels: o.maxImagePixels } : {}),
        ...(o.raw ? { raw: o.raw } : {}),
        ...(o.masksDir ? { masksDir: o.masksDir } : {}),
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
        ...(o.stdin ? { stdin: o.stdin } : {}),
        ...(o.tasks ? { items: o.tasks.items() } : {}),
        skip,
        total: scan.total,
        signal: local.signal,
      })) {
        pending.push(r);
        processed++;
        o.onItem?.(r);
        // after a failed write the rest drains unwritten (a resume redoes it): another write would wait out the database again
        if (storeFailure === null && (pending.length >= writeBatch || performance.now() - lastFlush >= FLUSH_INTERVAL_MS)) {
          try {
            await flush();
          } catch (e) {
            // stop taking input; what is in flight drains, then the run fails resumable
            storeFailure = e;
            local.abort();
          }
        }
      }
      if (!storeFailure) await flush();
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
    await backend.sync().catch(() => undefined);
    const elapsedMs = performance.now() - started;
    // an interrupt that came after the last item leaves nothing to resume: the run is done
    const complete = scan.total !== null && skip.size + processed >= scan.total;
    const interrupted = storeFailure !== null || ((o.signal?.aborted ?? false) && !complete);
    if (storeFailure) {
      // the database may still be away: record the failure if it can be, report the write error
      await store
        .finishRun(runId, 'failed', undefined, { elapsedMs: before.elapsedMs + elapsedMs, processed: before.processed + processed })
        .catch(() => undefined);
      throw storeFailure;
    }
    const finished = await store.finishRun(runId, interrupted ? 'interrupted' : 'done', undefined, {
      elapsedMs: before.elapsedMs + elapsedMs,
      processed: before.processed + processed,
    });
    return { run: finished, scan, processed, skipped: skip.size, elapsedMs, imagesPerSecond: processed / (elapsedMs / 1000), interrupted };
  } catch (e) {
    // whatever failed, a created run is left resumable rather than 'running' (a store that is away cannot record even this)
    if (run) {
      const status = await store.getRun(run.id).then(
        (r) => r?.status,
        () => undefined,
      );
      if (status === 'running') await store.finishRun(run.id, 'failed', undefined, { elapsedMs: performance.now() - started }).catch(() => undefined);
    }
    throw e;
  } finally {
    await Promise.all(models.map((m) => m.close()));
    template?.close();
    if (!o.backend) backend.close();
    if (!o.store) await store.close();
  }
}
