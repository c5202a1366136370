/**
 * `kensa worker --queue redis://HOST --db URL`: takes inspection jobs from the queue until
 * SIGINT/SIGTERM, inspects them on this machine's device and writes to the shared store.
 * `kensa status RUN --queue redis://HOST --db URL`: a queued run's progress; `--retry-failed`
 * moves its failed jobs back to the queue.
 */
import { parseArgs } from 'node:util';
import { DEVICES, openBackend, type DeviceChoice } from '../backend.js';
import { KensaError } from '../errors.js';
import { parseQueueUrl, queueStatus, retryFailed, startWorker } from '../pipeline/jobs.js';
import { formatPause } from '../pipeline/retry.js';
import { serveMetrics, WorkerMetrics } from '../pipeline/worker-metrics.js';
import type { AddressInfo } from 'node:net';
import { MAX_POST_WORKERS } from '../pipeline/workers.js';
import { openStore } from '../store/store.js';
import { adapterFlag, choiceFlag, dbRetryFlag, EXIT_OK, guard, intFlag, parseFlags, UsageError, type CliIO } from './io.js';

export const WORKER_HELP = `Usage: kensa worker --queue redis://HOST[:PORT][/DB] --db URL [options]

Takes jobs of queued runs (kensa inspect … --queue) until SIGINT/SIGTERM, inspects their images
and writes the results to the shared store. Run one per GPU, on any number of machines.

Options:
  --queue URL           the Redis of the queue
  --db URL              the shared results database: postgres://…, mysql://… or a SQLite file
  --tasks URL           the task database, for runs enqueued from --tasks with --write-back
  --concurrency C       jobs taken at once (default 1)
  --device D            auto | cpu | gpu (default auto, or KENSA_DEVICE)
  --adapter A           GPU adapter index or name substring (kensa doctor lists them)
  --post-workers N      worker threads for CPU detection work (see kensa inspect --help)
  --lock-ms MS          a job's lock without renewal, above the longest batch (default 60000)
  --db-retry S          how long a lost database (--db, --tasks) is waited for, the job paused,
                        before its try fails with KENSA_ERR_STORE and BullMQ tries it again later
                        (default 60 s)
  --metrics-port P      serve Prometheus metrics at http://HOST:P/metrics (jobs done, failed,
                        retried, items, items/s, job duration, active jobs); 0: a free port
  -h, --help            show this help
`;

export const STATUS_HELP = `Usage: kensa status RUN --queue redis://HOST --db URL [--json] [--retry-failed]

A queued run: done/total, errors, ETA, queue depths, throughput per worker, failed jobs.
--retry-failed moves the run's failed jobs back to the queue.
`;

export async function runWorker(argv: readonly string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  return guard('worker', io, async () => {
    const { values } = parseFlags(() =>
      parseArgs({
        args: [...argv],
        strict: true,
        options: {
          queue: { type: 'string' },
          db: { type: 'string' },
          tasks: { type: 'string' },
          concurrency: { type: 'string' },
          device: { type: 'string' },
          adapter: { type: 'string' },
          'post-workers': { type: 'string' },
          'lock-ms': { type: 'string' },
          'db-retry': { type: 'string' },
          'metrics-port': { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }),
    );
    if (values.help) {
      io.out.write(WORKER_HELP);
      return EXIT_OK;
    }
    if (values.queue === undefined) throw new UsageError('needs --queue redis://HOST');
    if (values.db === undefined) throw new UsageError('needs --db URL (the shared results database)');
    // before the GPU opens: a bad URL is the first thing to say
    parseQueueUrl(values.queue);
    const device: DeviceChoice = choiceFlag('device', values.device ?? process.env.KENSA_DEVICE, 'auto', DEVICES);
    const adapter = adapterFlag(values.adapter);
    const concurrency = intFlag('concurrency', values.concurrency, 1, 1, 64);
    const lockMs = intFlag('lock-ms', values['lock-ms'], 60_000, 1000, 3_600_000);
    const retryMs = dbRetryFlag(values['db-retry']);
    const postWorkers = values['post-workers'] !== undefined ? intFlag('post-workers', values['post-workers'], 0, 0, MAX_POST_WORKERS) : undefined;
    const metricsPort = values['metrics-port'] !== undefined ? intFlag('metrics-port', values['metrics-port'], 0, 0, 65535) : undefined;
    const store = await openStore(values.db);
    const backend = await openBackend({ device, ...(adapter !== undefined ? { adapter } : {}) });
    const metrics = metricsPort !== undefined ? new WorkerMetrics() : undefined;
    const server = metrics ? await serveMetrics(metrics, metricsPort!) : undefined;
    try {
      if (server) io.err.write(`kensa worker: metrics at http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics\n`);
      const worker = await startWorker({
        ...(metrics ? { metrics } : {}),
        queue: values.queue,
        store,
        backend,
        concurrency,
        lockMs,
        retryMs,
        ...(values.tasks !== undefined ? { tasks: values.tasks } : {}),
        ...(postWorkers !== undefined ? { postWorkers } : {}),
        onJob: (job, outcome) => io.err.write(`${JSON.stringify({ type: 'job', run: job.runId, items: outcome.items, errors: outcome.errors })}\n`),
        onFailed: (job, error) =>
          io.err.write(
            `${JSON.stringify({ type: 'failed', run: job.runId, ...(error instanceof KensaError ? { code: error.code } : {}), error: error.message })}\n`,
          ),
        onPause: (job, paused) => io.err.write(`${JSON.stringify({ type: 'paused', run: job.runId, paused })}\n`),
      });
      io.err.write(`kensa worker ${worker.name}: taking jobs from ${values.queue} on ${backend.name}\n`);
      await new Promise<void>((resolve) => {
        if (signal?.aborted) resolve();
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
      await worker.close();
      return EXIT_OK;
    } finally {
      server?.close();
      backend.close();
      await store.close();
    }
  });
}

export async function runStatus(argv: readonly string[], io: CliIO): Promise<number> {
  return guard('status', io, async () => {
    const { values, positionals } = parseFlags(() =>
      parseArgs({
        args: [...argv],
        allowPositionals: true,
        strict: true,
        options: {
          queue: { type: 'string' },
          db: { type: 'string' },
          json: { type: 'boolean', default: false },
          'retry-failed': { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }),
    );
    if (values.help) {
      io.out.write(STATUS_HELP);
      return EXIT_OK;
    }
    const [runId] = positionals;
    if (runId === undefined || positionals.length > 1) throw new UsageError('expects one RUN id');
    if (values.queue === undefined) throw new UsageError('needs --queue redis://HOST');
    const store = await openStore(values.db ?? 'kensa.db');
    try {
      if (values['retry-failed']) {
        const n = await retryFailed(runId, { queue: values.queue });
        io.out.write(`${n} failed jobs of run ${runId} queued again\n`);
        return EXIT_OK;
      }
      const s = await queueStatus(runId, { queue: values.queue, store });
      if (values.json) {
        io.out.write(`${JSON.stringify({ ...s, run: { id: s.run.id, status: s.run.status } })}\n`);
        return EXIT_OK;
      }
      const q = s.queue;
      io.out.write(`run ${s.run.id} (${s.run.status}): ${s.done}/${s.total ?? '?'} done, ${s.errors} errors`);
      io.out.write(s.etaSeconds !== null ? `, ETA ${Math.round(s.etaSeconds)} s\n` : '\n');
      io.out.write(`queue: ${q.waiting} waiting · ${q.active} active · ${q.delayed} delayed · ${q.failed} failed · ${q.completed} completed\n`);
      for (const w of s.workers) io.out.write(`  worker ${w.name}: ${w.items} items in ${w.jobs} jobs, ${w.imagesPerSecond.toFixed(1)} img/s\n`);
      for (const p of s.paused) io.out.write(`  job ${p.id} on worker ${p.worker}: ${formatPause(p.pause)} (${p.pause.error})\n`);
      for (const f of s.failed) io.out.write(`  failed job ${f.id}: ${f.reason}\n`);
      return EXIT_OK;
    } finally {
      await store.close();
    }
  });
}
