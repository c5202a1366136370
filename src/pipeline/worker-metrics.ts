/**
 * A queue worker's Prometheus metrics (prom-client), in a registry of the worker's own as
 * src/serve's are, so that two workers in one process (tests) never share counters: jobs done,
 * failed and retried (taken again after a failed try or a stall), items, items per second over
 * the last minute, the duration of each job, the jobs in hand, and the jobs waiting for a lost
 * database with the retries of their statements. `serveMetrics` answers
 * GET /metrics on a port for Prometheus to scrape.
 */
import { createServer, type Server } from 'node:http';
import client from 'prom-client';
import type { DatabasePause } from './retry.js';

/** The window of the items-per-second gauge. */
const RATE_WINDOW_MS = 60_000;

export class WorkerMetrics {
  readonly registry = new client.Registry();
  readonly jobs = new client.Counter({
    name: 'kensa_worker_jobs_total',
    help: 'Tries of jobs that ended, by outcome (done, failed: BullMQ tries it again until its attempts are spent)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly retried = new client.Counter({
    name: 'kensa_worker_jobs_retried_total',
    help: 'Jobs taken that had been tried before (a failed try, or a worker lost mid-job)',
    registers: [this.registry],
  });
  readonly items = new client.Counter({
    name: 'kensa_worker_items_total',
    help: 'Items inspected and stored, by status (ok, ng, error)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly duration = new client.Histogram({
    name: 'kensa_worker_job_duration_seconds',
    help: 'Time of each job that was done: inspection, write-back and store',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly active = new client.Gauge({
    name: 'kensa_worker_active_jobs',
    help: 'Jobs this worker holds now',
    registers: [this.registry],
  });
  readonly paused = new client.Gauge({
    name: 'kensa_worker_paused_jobs',
    help: 'Jobs this worker holds that wait for a lost database (store or task database)',
    registers: [this.registry],
  });
  readonly databaseRetries = new client.Counter({
    name: 'kensa_worker_database_retries_total',
    help: 'Retries of statements that failed on a lost database, a timeout or a deadlock (each one a pause of its job)',
    registers: [this.registry],
  });
  /** (time, items) of the jobs done in the last minute. */
  readonly #recent: { at: number; items: number }[] = [];
  readonly #started = performance.now();

  constructor() {
    const recent = this.#recent;
    const started = this.#started;
    new client.Gauge({
      name: 'kensa_worker_items_per_second',
      help: 'Items per second over the last minute (or since the worker started)',
      registers: [this.registry],
      collect() {
        const now = performance.now();
        while (recent.length > 0 && recent[0]!.at < now - RATE_WINDOW_MS) recent.shift();
        const seconds = Math.min(RATE_WINDOW_MS, now - started) / 1000;
        this.set(seconds > 0 ? recent.reduce((a, r) => a + r.items, 0) / seconds : 0);
      },
    });
  }

  /**
   * A job taken: `triedBefore` when it had been started before. Returns the calls that report its
   * database pauses (a retry, or null when it went through) and end it.
   */
  start(triedBefore: boolean): { pause(pause: DatabasePause | null): void; end(outcome: { statuses: readonly string[] } | 'failed'): void } {
    if (triedBefore) this.retried.inc();
    this.active.inc();
    const t = performance.now();
    let waiting = false;
    const pause = (p: DatabasePause | null) => {
      if (p) this.databaseRetries.inc();
      if ((p !== null) !== waiting) this.paused[waiting ? 'dec' : 'inc']();
      waiting = p !== null;
    };
    return {
      pause,
      end: (outcome) => {
        pause(null);
        this.active.dec();
        if (outcome === 'failed') {
          this.jobs.inc({ outcome: 'failed' });
          return;
        }
        this.jobs.inc({ outcome: 'done' });
        for (const status of outcome.statuses) this.items.inc({ status });
        this.duration.observe((performance.now() - t) / 1000);
        this.#recent.push({ at: performance.now(), items: outcome.statuses.length });
      },
    };
  }
}

/** Serves GET /metrics of `metrics` on `port` (0: any free port; `server.address()` tells which). */
export async function serveMetrics(metrics: WorkerMetrics, port: number, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
