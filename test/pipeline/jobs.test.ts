/**
 * Scale-out on a real Redis (KENSA_TEST_REDIS, default redis://127.0.0.1:6379, a random database
 * of it): queue URLs, and a worker's Prometheus metrics. Workers SIGKILLed mid-job: chaos.test.ts.
 * Redis down: fails on CI, skips locally.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';
import sharp from 'sharp';
import { run as inspect } from '../../src/cli/inspect.js';
import type { CliIO } from '../../src/cli/io.js';
import { runStatus, runWorker } from '../../src/cli/worker.js';
import { DEFAULT_RECIPE, parseRecipe } from '../../src/detect/recipe.js';
import { KensaError } from '../../src/errors.js';
import { enqueueRun, parseQueueUrl, QUEUE_NAME } from '../../src/pipeline/jobs.js';
import type { Json } from '../../src/store/schema.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';
import { writeFrames } from './_images.js';
import { scratchQueue } from './_redis.js';

test('--queue URLs are checked', () => {
  for (const bad of ['http://h', 'redis://', 'redis://h/x', 'h:6379'])
    assert.throws(
      () => parseQueueUrl(bad),
      (e: unknown) => e instanceof KensaError && /for --queue/.test(e.message),
    );
  assert.deepEqual(parseQueueUrl('redis://u:p%40@h:7000/3'), { host: 'h', port: 7000, db: 3, username: 'u', password: 'p@', maxRetriesPerRequest: null });
});

test('a --queue Redis that does not answer fails at once, naming it (worker, inspect --queue, status), and leaves no run behind', async () => {
  // a port nothing listens on: BullMQ's connections would retry it for ever
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  const queue = `redis://u:secret@127.0.0.1:${port}`;
  const dir = tempDir('kensa-queue-down-');
  await writeFrames(join(dir, 'frames'), 2, 32);
  const db = join(dir, 'kensa.db');
  const line = `redis queue redis://u:***@127.0.0.1:${port}: connect failed: connect ECONNREFUSED 127.0.0.1:${port} [KENSA_ERR_STORE]\n`;
  for (const [command, call] of [
    ['worker', (io: CliIO) => runWorker(['--queue', queue, '--db', db, '--device', 'cpu', '--post-workers', '0'], io)],
    ['inspect', (io: CliIO) => inspect([join(dir, 'frames'), '--queue', queue, '--db', db, '--device', 'cpu'], io)],
    ['status', (io: CliIO) => runStatus(['some-run', '--queue', queue, '--db', db, '--retry-failed'], io)],
  ] as const) {
    let err = '';
    const io: CliIO = { out: { write: () => true }, err: { write: (s: string) => (err += s) } };
    assert.equal(await call(io), 1, err);
    assert.equal(err, `kensa ${command}: ${line}`);
  }
  const store = await openStore(db);
  assert.deepEqual(await store.listRuns(), []);
  await store.close();
  // a --queue that is no Redis URL at all is refused before the worker opens a device or a store (the store's folder does not exist)
  let err = '';
  const io: CliIO = { out: { write: () => true }, err: { write: (s: string) => (err += s) } };
  assert.equal(await runWorker(['--queue', 'notaurl', '--db', join(dir, 'never', 'kensa.db'), '--device', 'cpu'], io), 1);
  assert.equal(err, 'kensa worker: Expected a redis://HOST[:PORT][/DB] URL for --queue but received "notaurl" [KENSA_ERR_INVALID_ARGUMENT]\n');
});

test('kensa worker --metrics-port serves Prometheus metrics: jobs done, failed, retried, items, items/s, durations, active', async (t) => {
  const redis = await scratchQueue();
  if (typeof redis === 'string') return t.skip(redis);
  const dir = tempDir('kensa-worker-metrics-');
  await writeFrames(join(dir, 'frames'), 4, 32);
  const db = join(dir, 'kensa.db');
  const store = await openStore(db);
  const items = (async function* () {
    for (let i = 0; i < 8; i++) yield { key: `item${i}`, path: join(dir, 'frames', `frame00${i % 4}.png`) };
  })();
  const { run } = await enqueueRun(items, { queue: redis.url, store, recipe: DEFAULT_RECIPE, source: { sources: [] }, total: 8, jobItems: 2 });
  // a job of a run the store does not hold fails each of its two tries: one failure, then a retried job failing again
  await redis.queue.add('inspect', { runId: 'no-such-run', items: [] }, { jobId: 'no-such-run/0', attempts: 2, removeOnFail: false });

  const err: string[] = [];
  const io = { out: { write: () => true }, err: { write: (s: string) => err.push(s) } } as unknown as CliIO;
  const stop = new AbortController();
  const exited = runWorker(['--queue', redis.url, '--db', db, '--device', 'cpu', '--post-workers', '0', '--metrics-port', '0'], io, stop.signal);
  try {
    let port: number | undefined;
    while (port === undefined) {
      port = Number(/metrics at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(err.join(''))?.[1]) || undefined;
      await sleep(50);
    }
    const deadline = Date.now() + 60_000;
    while (((await store.getRun(run.id))?.status !== 'done' || ((await redis.queue.getJobCounts('failed')).failed ?? 0) < 1) && Date.now() < deadline)
      await sleep(100);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const body = await res.text();
    const value = (name: string) => {
      const line = body.split('\n').find((l) => l.startsWith(`${name} `));
      assert.ok(line, `${name} in ${body}`);
      return Number(line.split(' ')[1]);
    };
    assert.equal(value('kensa_worker_jobs_total{outcome="done"}'), 4);
    assert.equal(value('kensa_worker_jobs_total{outcome="failed"}'), 2);
    assert.equal(value('kensa_worker_jobs_retried_total'), 1);
    const stored = await store.counts(run.id);
    assert.equal(value('kensa_worker_items_total{status="ok"}') + value('kensa_worker_items_total{status="ng"}'), 8);
    assert.equal(value('kensa_worker_items_total{status="ng"}'), stored.ng);
    assert.equal(value('kensa_worker_job_duration_seconds_count'), 4);
    assert.ok(value('kensa_worker_job_duration_seconds_sum') > 0);
    assert.equal(value('kensa_worker_active_jobs'), 0);
    assert.ok(value('kensa_worker_items_per_second') > 0);
    assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  } finally {
    stop.abort();
    assert.equal(await exited, 0);
    await store.close();
  }
});

test('kensa status shows an active job that waits for its database: stage, retry, and the error', async (t) => {
  const redis = await scratchQueue();
  if (typeof redis === 'string') return t.skip(redis);
  const db = join(tempDir('kensa-status-pause-'), 'runs.db');
  const store = await openStore(db);
  const run = await store.createRun({ recipeName: 'classic', recipe: DEFAULT_RECIPE as unknown as Json, device: 'cpu', options: { total: 4 } });
  await store.close();
  await redis.queue.add('inspect', { runId: run.id, items: [] }, { jobId: `${run.id}/0` });
  // a stand-in worker takes the job and reports a pause as kensa worker's store retries do, then holds the job
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  let reported = () => {};
  const paused = new Promise<void>((r) => (reported = r));
  const worker = new Worker(
    QUEUE_NAME,
    async (job) => {
      await job.updateProgress({ paused: { stage: 'storing 4 results', retry: 3, since: Date.now() - 5000, error: 'connect ECONNREFUSED' } });
      reported();
      await held;
      return { items: 0, errors: 0 };
    },
    { connection: parseQueueUrl(redis.url), name: 'w1' },
  );
  try {
    await paused;
    const out: string[] = [];
    const io = { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => out.push(s) } } as unknown as CliIO;
    const code = await runStatus([run.id, '--queue', redis.url, '--db', db], io);
    assert.equal(code, 0, out.join(''));
    assert.match(
      out.join(''),
      new RegExp(`job ${run.id}/0 on worker w1: paused: waiting for database \\(storing 4 results\\), retry 3, since .*\\(connect ECONNREFUSED\\)\\n`),
    );
  } finally {
    release();
    await worker.close();
  }
});

test("a golden-template run on queued workers: the stored recipe names the template's sha256, the worker opens its copy and judges by it", async (t) => {
  const redis = await scratchQueue();
  if (typeof redis === 'string') return t.skip(redis);
  const dir = tempDir('kensa-worker-template-');
  const { defective } = await writeFrames(join(dir, 'frames'), 6, 32);
  const path = join(dir, 'template.png');
  await sharp(new Uint8Array(32 * 32).fill(112), { raw: { width: 32, height: 32, channels: 1 } })
    .png()
    .toFile(path);
  const db = join(dir, 'kensa.db');
  const store = await openStore(db);
  const items = (async function* () {
    for (let i = 0; i < 6; i++) yield { key: `frame00${i}.png`, path: join(dir, 'frames', `frame00${i}.png`) };
  })();
  const recipe = parseRecipe({ gradient: { weight: 0 }, contrast: { background: 0 }, template: { path } });
  const { run } = await enqueueRun(items, { queue: redis.url, store, recipe, source: { sources: [] }, total: 6, jobItems: 3 });
  assert.equal((run.recipe as { template: { sha256: string } }).template.sha256, createHash('sha256').update(readFileSync(path)).digest('hex'));
  const io = { out: { write: () => true }, err: { write: () => true } } as unknown as CliIO;
  const stop = new AbortController();
  const exited = runWorker(['--queue', redis.url, '--db', db, '--device', 'cpu', '--post-workers', '0'], io, stop.signal);
  try {
    const deadline = Date.now() + 60_000;
    while ((await store.getRun(run.id))?.status !== 'done' && Date.now() < deadline) await sleep(100);
    assert.deepEqual(await store.counts(run.id), { total: 6, ok: 6 - defective.size, ng: defective.size, error: 0 });
  } finally {
    stop.abort();
    assert.equal(await exited, 0);
    await store.close();
  }
});
