/**
 * Scale-out on a BullMQ queue in Redis. `enqueueRun` creates a run in the shared store and turns
 * its items into jobs of a few items each, with deterministic ids (`<run>/<batch index>`), so
 * enqueueing twice adds nothing. A worker (one per GPU, on any machine) takes jobs, inspects their
 * items through the same `inspect()` pipeline as a local run and writes the results to the
 * shared store. BullMQ delivers at least once: a worker killed mid-job leaves a stalled job that
 * another worker runs again, so the store's writes, keyed by (run, item) and idempotent, make
 * every item end exactly once. A job that fails `attempts` times stays in the failed set with its
 * error. The last job of a run marks it done. `queueStatus` reads done/total from the store and
 * queue depths, per-worker throughput (from the completed jobs) and the jobs waiting for a lost
 * database (their progress) from Redis.
 */
import { hostname } from 'node:os';
import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Backend } from '../backend.js';
import { parseRecipe, type LoadedRecipe } from '../detect/recipe.js';
import { KensaError } from '../errors.js';
import { maskPassword } from '../store/dialect.js';
import type { Store } from '../store/store.js';
import type { Json, RunRecord } from '../store/schema.js';
import { integerInRange } from '../validate.js';
import { inspect, type ItemResult } from './inspect.js';
import { toStored, writeWithRetry } from './run.js';
import { type DatabasePause, DB_RETRY_S, isStoreFailure, retryTransient } from './retry.js';
import type { SourceItem } from './source.js';
import type { WorkerMetrics } from './worker-metrics.js';
import { resolvePostWorkers, WorkerPool } from './workers.js';
import { openSqlTasks, type SqlTasks } from './sql-tasks.js';
import { keepTemplateOpen, openRecipeTemplate } from './template.js';

export const QUEUE_NAME = 'kensa-inspect';
/** How often a job may be found stalled (its worker gone) and handed on before it fails. */
const MAX_STALLS = 20;

/** A job: a few items of one run. */
export interface InspectJob {
  runId: string;
  items: SourceItem[];
}

/** What a finished job reports, for per-worker throughput. */
export interface JobOutcome {
  items: number;
  errors: number;
}

/**
 * The connection of a `redis://[user:password@]host[:port][/db]` URL.
 * @throws KENSA_ERR_INVALID_ARGUMENT naming --queue.
 */
export function parseQueueUrl(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    u = new URL('invalid:');
  }
  const db = u.pathname.replace(/^\//, '');
  if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || u.hostname === '' || !/^\d*$/.test(db))
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected a redis://HOST[:PORT][/DB] URL for --queue but received ${JSON.stringify(url)}`);
  return {
    host: u.hostname,
    port: u.port === '' ? 6379 : Number(u.port),
    db: db === '' ? 0 : Number(db),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ's workers block on Redis; their commands must wait out a reconnect rather than fail
    maxRetriesPerRequest: null,
  };
}

/** How long {@link checkQueue} waits for Redis to answer. */
const QUEUE_CONNECT_MS = 5000;

/**
 * Fails fast when the queue's Redis does not answer: BullMQ's own connections retry for ever
 * (`maxRetriesPerRequest: null`), so a wrong host or port would otherwise hang without a word.
 * @throws KENSA_ERR_STORE naming the URL (password masked) and the cause.
 */
export async function checkQueue(url: string): Promise<void> {
  const client = new Redis({
    ...parseQueueUrl(url),
    lazyConnect: true,
    connectTimeout: QUEUE_CONNECT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // the socket's error (ECONNREFUSED, ENOTFOUND, ETIMEDOUT) says more than connect()'s "Connection is closed."
  let socketError: Error | null = null;
  client.on('error', (e: Error) => {
    socketError ??= e;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    const cause = (socketError as Error | null) ?? (e as Error);
    throw new KensaError('KENSA_ERR_STORE', `redis queue ${maskPassword(url)}: connect failed: ${cause.message}`, { cause });
  } finally {
    client.disconnect();
  }
}

export interface EnqueueOptions {
  queue: string;
  store: Store;
  recipe: LoadedRecipe;
  /** What the run records as its source (its sources or task query). */
  source: Json;
  /** How many items `items` yields (the source scan's count): the last job compares against it. */
  total: number;
  /** Items per job, 1–10000 (default 16). */
  jobItems?: number;
  /** Tries of a job before it goes to the failed set, 1–100 (default 3). */
  attempts?: number;
}

/** Creates a run and enqueues its items as jobs; returns the run and how many items and jobs. */
export async function enqueueRun(items: AsyncIterable<SourceItem>, o: EnqueueOptions): Promise<{ run: RunRecord; items: number; jobs: number }> {
  const jobItems = integerInRange('jobItems', o.jobItems ?? 16, 1, 10_000);
  const attempts = integerInRange('attempts', o.attempts ?? 3, 1, 100);
  // the stored recipe names its template's sha256, so every worker checks its copy against it
  const template = await openRecipeTemplate(o.recipe);
  template.close();
  const recipe = template.loaded;
  // before the run is created: an unreachable queue leaves no run behind
  await checkQueue(o.queue);
  const queue = new Queue<InspectJob, JobOutcome>(QUEUE_NAME, { connection: parseQueueUrl(o.queue) });
  try {
    const run = await o.store.createRun({
      recipeName: recipe.recipe.name,
      recipe: JSON.parse(recipe.json) as Json,
      recipeHash: recipe.hash,
      device: 'queued workers',
      options: { ...(o.source as Record<string, Json>), total: o.total, queued: true },
    });
    const opts = { attempts, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: false };
    let count = 0;
    let jobs = 0;
    let batch: SourceItem[] = [];
    const addBatch = async () => {
      await queue.add('inspect', { runId: run.id, items: batch }, { ...opts, jobId: `${run.id}/${jobs}` });
      jobs++;
      batch = [];
    };
    for await (const item of items) {
      batch.push(item);
      count++;
      if (batch.length === jobItems) await addBatch();
    }
    if (batch.length > 0) await addBatch();
    return { run, items: count, jobs };
  } finally {
    await queue.close();
  }
}

export interface WorkerOptions {
  queue: string;
  store: Store;
  backend: Backend;
  /** Jobs taken at once, 1–64 (default 1). */
  concurrency?: number;
  /** Worker threads for CPU detection stages (see InspectOptions.postWorkers). */
  postWorkers?: number;
  /** How long a job's lock lasts without renewal, ms (default 60 s; above the longest batch). */
  lockMs?: number;
  /** How long a job waits for a lost database (store or task database) before its try fails, ms (default 60 s). */
  retryMs?: number;
  /** The task database of runs made from `--tasks` with a write-back (its URL holds credentials, so the run does not). */
  tasks?: string;
  /** The worker's name in status (default host:pid). */
  name?: string;
  onJob?: (job: InspectJob, outcome: JobOutcome) => void;
  /** Where the worker counts its jobs (Prometheus metrics). */
  metrics?: WorkerMetrics;
  /** Called when a try of a job failed (BullMQ tries it again until its attempts are spent). */
  onFailed?: (job: InspectJob, error: Error) => void;
  /** Called when a job's write waits for its database (each retry), and with null when it went through. */
  onPause?: (job: InspectJob, pause: DatabasePause | null) => void;
}

/** A worker taking jobs until `close()`. */
export interface RunningWorker {
  readonly name: string;
  close(): Promise<void>;
}

/** Starts a worker: each job's items are inspected and written to the store (idempotent per item). */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  await checkQueue(o.queue);
  const name = o.name ?? `${hostname()}:${process.pid}`;
  const lockMs = integerInRange('lockMs', o.lockMs ?? 60_000, 1000, 3_600_000);
  // BullMQ renews the job's lock through Redis while it waits for its database: the wait may outlast lockMs
  const retryMs = integerInRange('retryMs', o.retryMs ?? DB_RETRY_S.fallback * 1000, DB_RETRY_S.min * 1000, DB_RETRY_S.max * 1000);
  const giveUp = 'the job is tried again while it has attempts left';
  const recipes = new Map<string, { recipe: LoadedRecipe; total: number | null; sink: SqlTasks | null }>();
  // one set of threads for the worker's life: starting them per job would cost more than a small job
  const threads = resolvePostWorkers(o.postWorkers);
  const pool = threads > 0 ? new WorkerPool(threads) : null;
  const runOf = async (runId: string) => {
    const known = recipes.get(runId);
    if (known && known.total !== null) return known;
    const run = await o.store.getRun(runId);
    if (!run) throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected a run in the store for job run but received ${JSON.stringify(runId)}`);
    const total = typeof run.options.total === 'number' ? run.options.total : null;
    const entry = { recipe: known?.recipe ?? parseRecipe(run.recipe, `recipe of run ${runId}`), total, sink: known?.sink ?? (await writeBackOf(run)) };
    // this worker's copy of the run's template, checked against the sha256 the run stored
    await keepTemplateOpen(entry.recipe.recipe);
    recipes.set(runId, entry);
    return entry;
  };
  /** The write-back of a run made from a task table, through this worker's --tasks URL. */
  const writeBackOf = async (run: RunRecord): Promise<SqlTasks | null> => {
    const t = run.options.tasks as { query?: string; path?: string; fanOut?: string | null; writeBack?: string | null } | undefined;
    if (!t?.writeBack || !t.query || !t.path) return null;
    if (o.tasks === undefined)
      throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected --tasks DB_URL for worker: run ${run.id} writes its results back to a task database`);
    return openSqlTasks({ url: o.tasks, query: t.query, path: t.path, writeBack: t.writeBack, ...(t.fanOut ? { fanOut: t.fanOut } : {}), retryMs, giveUp });
  };
  const processJob = async (job: Job<InspectJob, JobOutcome>): Promise<JobOutcome> => {
    const tracked = o.metrics?.start(job.attemptsStarted > 1 || job.attemptsMade > 0);
    try {
      const results = await inspectJob(job, tracked?.pause);
      tracked?.end({ statuses: results.map((r) => r.status) });
      const outcome = { items: results.length, errors: results.filter((r) => r.status === 'error').length };
      o.onJob?.(job.data, outcome);
      return outcome;
    } catch (e) {
      tracked?.end('failed');
      throw e;
    }
  };
  /** A job's items inspected, written back and stored; the results. `metricsPause` counts its database pauses. */
  const inspectJob = async (job: Job<InspectJob, JobOutcome>, metricsPause?: (pause: DatabasePause | null) => void): Promise<ItemResult[]> => {
    const { runId, items } = job.data;
    // a stage waiting for its database shows in the job's progress (kensa status), the worker's log and metrics
    const onPause = (paused: DatabasePause | null) => {
      job.updateProgress(paused ? { paused } : {}).catch(() => undefined);
      metricsPause?.(paused);
      o.onPause?.(job.data, paused);
    };
    // the store's reads wait out a lost database as its writes do
    const stored = <T>(stage: string, fn: () => Promise<T>) => retryTransient(stage, fn, { retryMs, transient: isStoreFailure, onPause, giveUp });
    const { recipe, sink } = await stored(`reading run ${runId}`, () => runOf(runId));
    const results: ItemResult[] = [];
    for await (const r of inspect([], {
      backend: o.backend,
      recipe,
      items: (async function* () {
        yield* items;
      })(),
      pool,
    }))
      results.push(r);
    // the write-back first: a job run again after a crash redoes what the store missed
    await sink?.write(results, onPause);
    await writeWithRetry(o.store, runId, results.map(toStored), retryMs, { onPause, giveUp });
    await stored(`finishing run ${runId}`, async () => {
      const { total } = await runOf(runId);
      if (total !== null && (await o.store.counts(runId)).total >= total) {
        const run = await o.store.getRun(runId);
        if (run?.status === 'running') await o.store.finishRun(runId, 'done');
      }
    });
    return results;
  };
  const worker = new Worker<InspectJob, JobOutcome>(QUEUE_NAME, processJob, {
    connection: parseQueueUrl(o.queue),
    name,
    concurrency: integerInRange('concurrency', o.concurrency ?? 1, 1, 64),
    lockDuration: lockMs,
    stalledInterval: lockMs,
    maxStalledCount: MAX_STALLS,
  });
  // a lost Redis connection is retried by the client; the event only needs a listener
  worker.on('error', () => {});
  worker.on('failed', (job, error) => {
    if (job) o.onFailed?.(job.data, error);
  });
  try {
    await worker.waitUntilReady();
  } catch (e) {
    await pool?.destroy();
    throw e;
  }
  return {
    name,
    close: async () => {
      await worker.close();
      await pool?.destroy();
      for (const { sink } of recipes.values()) await sink?.close();
    },
  };
}

export interface WorkerThroughput {
  name: string;
  items: number;
  jobs: number;
  imagesPerSecond: number;
}

export interface QueueStatus {
  run: RunRecord;
  done: number;
  total: number | null;
  errors: number;
  queue: { waiting: number; active: number; delayed: number; failed: number; completed: number };
  workers: WorkerThroughput[];
  /** Seconds left at the workers' combined rate; null when unknown. */
  etaSeconds: number | null;
  /** Failed jobs of this run: id and reason. */
  failed: { id: string; reason: string }[];
  /** Active jobs of this run waiting for a database: job id, worker and the pause. */
  paused: { id: string; worker: string; pause: DatabasePause }[];
}

/** done/total, errors, queue depths and per-worker throughput of run `runId`. */
export async function queueStatus(runId: string, o: { queue: string; store: Store }): Promise<QueueStatus> {
  const run = await o.store.getRun(runId);
  if (!run) throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected the id of a run in the store for RUN but received ${JSON.stringify(runId)}`);
  const counts = await o.store.counts(runId);
  await checkQueue(o.queue);
  const queue = new Queue<InspectJob, JobOutcome>(QUEUE_NAME, { connection: parseQueueUrl(o.queue) });
  try {
    const depth = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
    const mine = (job: Job<InspectJob, JobOutcome> | undefined) => job?.data.runId === runId;
    const completed = (await queue.getJobs(['completed'])).filter(mine);
    const perWorker = new Map<string, { items: number; jobs: number; first: number; last: number }>();
    for (const job of completed) {
      const w = job.processedBy ?? 'unknown';
      const s = perWorker.get(w) ?? { items: 0, jobs: 0, first: Number.POSITIVE_INFINITY, last: 0 };
      s.items += job.returnvalue?.items ?? 0;
      s.jobs++;
      s.first = Math.min(s.first, job.processedOn ?? Number.POSITIVE_INFINITY);
      s.last = Math.max(s.last, job.finishedOn ?? 0);
      perWorker.set(w, s);
    }
    const workers = [...perWorker].map(([name, s]) => ({
      name,
      items: s.items,
      jobs: s.jobs,
      imagesPerSecond: s.last > s.first ? s.items / ((s.last - s.first) / 1000) : 0,
    }));
    const total = typeof run.options.total === 'number' ? run.options.total : null;
    const rate = workers.reduce((a, w) => a + w.imagesPerSecond, 0);
    const failedJobs = (await queue.getJobs(['failed'])).filter(mine);
    const paused = (await queue.getJobs(['active'])).filter(mine).flatMap((j) => {
      const pause = (j.progress as { paused?: DatabasePause } | undefined)?.paused;
      return pause ? [{ id: j.id ?? '?', worker: j.processedBy ?? 'unknown', pause }] : [];
    });
    return {
      run,
      done: counts.total,
      total,
      errors: counts.error,
      queue: {
        waiting: depth.waiting ?? 0,
        active: depth.active ?? 0,
        delayed: depth.delayed ?? 0,
        failed: depth.failed ?? 0,
        completed: depth.completed ?? 0,
      },
      workers,
      etaSeconds: total !== null && rate > 0 ? Math.max(0, total - counts.total) / rate : null,
      failed: failedJobs.map((j) => ({ id: j.id ?? '?', reason: j.failedReason ?? '' })),
      paused,
    };
  } finally {
    await queue.close();
  }
}

/** Moves the failed jobs of run `runId` back to the queue; returns how many. */
export async function retryFailed(runId: string, o: { queue: string }): Promise<number> {
  await checkQueue(o.queue);
  const queue = new Queue<InspectJob, JobOutcome>(QUEUE_NAME, { connection: parseQueueUrl(o.queue) });
  try {
    const failed = (await queue.getJobs(['failed'])).filter((j) => j?.data.runId === runId);
    for (const job of failed) await job.retry('failed');
    return failed.length;
  } finally {
    await queue.close();
  }
}
