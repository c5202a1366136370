/**
 * A lost database during a run, on each server dialect: the task table and the store are reached
 * through a TCP proxy that cuts every connection and refuses new ones (a network outage). A
 * short outage pauses the run with a visible status and it goes on; one longer than --db-retry
 * ends it resumably with an error that says how to resume, and the resumed run finishes. The
 * same for a `kensa worker` of a queued run (a real Redis): a short outage pauses its job (in
 * `kensa status`, its log and its metrics) and the job finishes; a longer one fails the job's try
 * with KENSA_ERR_STORE and BullMQ's next try finishes it. All leave every score written back once
 * and every item stored once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { run as inspectCli } from '../../src/cli/inspect.js';
import type { CliIO } from '../../src/cli/io.js';
import { runStatus, runWorker } from '../../src/cli/worker.js';
import { formatProgressLine, ProgressMeter } from '../../src/pipeline/progress.js';
import type { DatabasePause } from '../../src/pipeline/retry.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';
import { DIALECTS, scratchDatabase } from '../store/_dialects.js';
import { type DatabaseProxy, startProxy } from './_proxy.js';
import { scratchQueue } from './_redis.js';
import { checkWrittenOnce, enqueueSeedRun, seed, WRITE_BACK } from './_tasks.js';

const ROWS = 60;

test('the progress line shows a pause: what waits, the retry and since when', () => {
  const pause: DatabasePause = { stage: 'storing 64 results of run r', retry: 3, since: Date.UTC(2026, 11, 6, 12, 0, 3), error: 'ECONNREFUSED' };
  const line = formatProgressLine({ ...new ProgressMeter(10).snapshot({ decoded: 0, batches: 0, batching: 0 }), paused: pause });
  assert.match(line, / · paused: waiting for database \(storing 64 results of run r\), retry 3, since 12:00:03 UTC$/);
});

interface Events {
  pauses: DatabasePause[];
  resumed: number;
  text: string;
}

/** `kensa inspect --tasks … --write-back …` through the proxy; `onFirstProgress` runs once, when an item is done. */
async function inspectThrough(
  proxy: DatabaseProxy,
  project: string,
  extra: string[],
  onFirstProgress: () => void,
): Promise<{ code: number; runId: string | null; events: Events; argv: string[] }> {
  const events: Events = { pauses: [], resumed: 0, text: '' };
  let fired = false;
  let runId: string | null = null;
  const io = {
    out: { write: () => true },
    err: {
      write: (s: string) => {
        events.text += s;
        for (const line of s.split('\n')) {
          if (!line.startsWith('{')) {
            runId ??= /run (\S+) started/.exec(line)?.[1] ?? null;
            continue;
          }
          const p = JSON.parse(line) as { done: number; paused?: DatabasePause | null };
          if (p.paused) events.pauses.push(p.paused);
          else if (p.paused === null) events.resumed++;
          if (!fired && p.done > 0) {
            fired = true;
            onFirstProgress();
          }
        }
        return true;
      },
    },
  } as unknown as CliIO;
  const argv = [
    '--tasks',
    proxy.url,
    '--query',
    'SELECT id, sid FROM panoramas',
    '--path',
    join(project, '{sid}_{position}.png'),
    '--fan-out',
    'position=xm,xp,zm,zp',
    '--write-back',
    WRITE_BACK,
    '--db',
    proxy.url,
    '--device',
    'cpu',
    '--post-workers',
    '0',
    '--batch',
    '4',
    '--progress',
    'json',
    ...extra,
  ];
  const code = await inspectCli(argv, io);
  return { code, runId, events, argv };
}

describe('a lost database pauses the run', () => {
  for (const dialect of DIALECTS.filter((d) => d !== 'sqlite')) {
    test(`${dialect}: cut off for 2 s, the run shows it paused, reconnects and writes everything once`, async (t) => {
      const scratch = await scratchDatabase(dialect);
      if (typeof scratch === 'string') return t.skip(scratch);
      after(() => scratch.drop());
      const dir = tempDir('kensa-outage-');
      const project = await seed(scratch.url, dir, ROWS);
      const proxy = await startProxy(scratch.url);
      after(() => proxy.close());
      let outage: Promise<void> = Promise.resolve();
      const { code, runId, events } = await inspectThrough(proxy, project, [], () => {
        outage = proxy.block().then(() => sleep(2000).then(() => proxy.unblock()));
      });
      await outage;
      assert.equal(code, 0, events.text.slice(-2000));
      assert.ok(events.pauses.length > 0, 'the progress showed a pause');
      const last = events.pauses.at(-1)!;
      assert.match(last.stage, /results/);
      assert.ok(Math.max(...events.pauses.map((p) => p.retry)) >= 2, 'retried more than once during the outage');
      assert.ok(events.resumed > 0, 'the pause ended in the progress');
      assert.ok(runId, 'the run id was printed');
      await checkWrittenOnce(scratch.url, scratch.url, runId, ROWS);
    });

    test(`${dialect}: away longer than --db-retry, the run stops resumably with a clear error, and the resume finishes it`, async (t) => {
      const scratch = await scratchDatabase(dialect);
      if (typeof scratch === 'string') return t.skip(scratch);
      after(() => scratch.drop());
      const dir = tempDir('kensa-outage-long-');
      const project = await seed(scratch.url, dir, ROWS);
      const proxy = await startProxy(scratch.url);
      after(() => proxy.close());
      const first = await inspectThrough(proxy, project, ['--db-retry', '2'], () => void proxy.block());
      assert.equal(first.code, 1);
      assert.match(
        first.events.text,
        /failed \(retried for \d+ s; resume the run once the database is back\): .*; resume with: kensa inspect .* --resume \S+ \[KENSA_ERR_STORE\]/,
      );
      const resume = /resume with: kensa inspect .* --resume (\S+) \[KENSA_ERR_STORE\]/.exec(first.events.text)![1]!;
      assert.equal(resume, first.runId);
      await proxy.unblock();
      const second = await inspectThrough(proxy, project, ['--resume', resume], () => undefined);
      assert.equal(second.code, 0, second.events.text.slice(-2000));
      await checkWrittenOnce(scratch.url, scratch.url, resume, ROWS);
    });
  }
});

test('--db-retry is checked alike by inspect and worker', async () => {
  for (const [command, argv] of [
    [inspectCli, ['some.png']],
    [runWorker, ['--queue', 'redis://127.0.0.1', '--db', 'kensa.db']],
  ] as const)
    for (const bad of ['0', '86401', '1.5', 'x']) {
      let err = '';
      const io = { out: { write: () => true }, err: { write: (s: string) => (err += s) } } as unknown as CliIO;
      assert.equal(await command([...argv, '--db-retry', bad], io), 2, err);
      assert.match(err, new RegExp(`: --db-retry expects an integer between 1 and 86400 but received '${bad.replace('.', '\\.')}'\n`));
    }
});

/** A condition polled until it holds; a guard ends a hung test (not a timing assertion). */
async function until(what: string, cond: () => boolean | Promise<boolean>, guardMs = 120_000): Promise<void> {
  const guard = Date.now() + guardMs;
  while (!(await cond())) {
    if (Date.now() > guard) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

interface WorkerLog {
  jobs: number;
  pauses: DatabasePause[];
  resumed: number;
  failed: { code?: string; error: string }[];
  text: string;
}

/**
 * A queued `--tasks … --write-back …` run (enqueued straight on the database) and a `kensa worker`
 * reaching the store and the task table through the proxy; `stop()` ends the worker and returns its exit code.
 */
async function queuedRun(dbUrl: string, proxy: DatabaseProxy, project: string, extra: string[]) {
  const redis = await scratchQueue();
  if (typeof redis === 'string') return redis;
  const store = await openStore(dbUrl);
  after(() => store.close());
  const run = await enqueueSeedRun(dbUrl, project, redis.url, store);
  const log: WorkerLog = { jobs: 0, pauses: [], resumed: 0, failed: [], text: '' };
  const io = {
    out: { write: () => true },
    err: {
      write: (s: string) => {
        log.text += s;
        for (const line of s.split('\n').filter((l) => l.startsWith('{'))) {
          const e = JSON.parse(line) as { type: string; paused?: DatabasePause | null; code?: string; error?: string };
          if (e.type === 'job') log.jobs++;
          else if (e.type === 'paused' && e.paused) log.pauses.push(e.paused);
          else if (e.type === 'paused') log.resumed++;
          else if (e.type === 'failed') log.failed.push({ ...(e.code ? { code: e.code } : {}), error: e.error ?? '' });
        }
        return true;
      },
    },
  } as unknown as CliIO;
  const stopper = new AbortController();
  const argv = ['--queue', redis.url, '--db', proxy.url, '--tasks', proxy.url, '--device', 'cpu', '--post-workers', '0', '--metrics-port', '0', ...extra];
  const exited = runWorker(argv, io, stopper.signal);
  after(() => stopper.abort());
  let exitCode: number | undefined;
  void exited.then((code) => (exitCode = code));
  await until('the worker to serve its metrics', () => {
    assert.equal(exitCode, undefined, `the worker ended: ${log.text}`);
    return /metrics at http/.test(log.text);
  });
  const port = Number(/metrics at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(log.text)![1]);
  /** A metric's value (0 when it has no sample yet). */
  const metric = async (name: string) => {
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = body.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  };
  /** `kensa status RUN`, reading the store straight (not through the proxy), as another machine would. */
  const status = async () => {
    let out = '';
    const statusIo = { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (out += s) } } as unknown as CliIO;
    assert.equal(await runStatus([run.id, '--queue', redis.url, '--db', dbUrl], statusIo), 0, out);
    return out;
  };
  const done = async () => (await store.getRun(run.id))?.status === 'done';
  const stop = async () => {
    stopper.abort();
    return exited;
  };
  return { redis, store, run, log, metric, status, done, stop };
}

describe("a lost database pauses a worker's job", () => {
  for (const dialect of DIALECTS.filter((d) => d !== 'sqlite')) {
    test(`${dialect}: cut off, the job shows its pause in kensa status, the log and the metrics, reconnects and finishes`, async (t) => {
      const scratch = await scratchDatabase(dialect);
      if (typeof scratch === 'string') return t.skip(scratch);
      after(() => scratch.drop());
      const project = await seed(scratch.url, tempDir('kensa-worker-outage-'), ROWS);
      const proxy = await startProxy(scratch.url);
      after(() => proxy.close());
      const q = await queuedRun(scratch.url, proxy, project, []);
      if (typeof q === 'string') return t.skip(q);
      await until('a job done', () => q.log.jobs > 0);
      await proxy.block();
      // the outage lasts until every view shows the pause
      await until('kensa status to show the pause', async () =>
        / on worker \S+: paused: waiting for database \(.+\), retry \d+, since \d\d:\d\d:\d\d UTC \(/.test(await q.status()),
      );
      await until('the log to show a second retry', () => q.log.pauses.some((p) => p.retry >= 2));
      assert.equal(await q.metric('kensa_worker_paused_jobs'), 1);
      await proxy.unblock();
      await until('the run to be done', () => q.done());
      assert.deepEqual(q.log.failed, []);
      assert.ok((await q.metric('kensa_worker_database_retries_total')) >= 2, 'the retries are counted');
      assert.equal(await q.metric('kensa_worker_paused_jobs'), 0);
      assert.equal(await q.metric('kensa_worker_jobs_total{outcome="failed"}'), 0);
      assert.equal(await q.stop(), 0);
      assert.ok(q.log.resumed > 0, 'the log shows the pause ended');
      assert.doesNotMatch(await q.status(), /paused/);
      await checkWrittenOnce(scratch.url, q.store, q.run.id, ROWS);
    });

    test(`${dialect}: away longer than --db-retry, the job's try fails with KENSA_ERR_STORE and BullMQ's next try finishes it`, async (t) => {
      const scratch = await scratchDatabase(dialect);
      if (typeof scratch === 'string') return t.skip(scratch);
      after(() => scratch.drop());
      const project = await seed(scratch.url, tempDir('kensa-worker-outage-long-'), ROWS);
      const proxy = await startProxy(scratch.url);
      after(() => proxy.close());
      const q = await queuedRun(scratch.url, proxy, project, ['--db-retry', '2']);
      if (typeof q === 'string') return t.skip(q);
      await until('a job done', () => q.log.jobs > 0);
      await proxy.block();
      await until("a job's try to fail", () => q.log.failed.length > 0);
      await proxy.unblock();
      assert.equal(q.log.failed[0]!.code, 'KENSA_ERR_STORE');
      assert.match(q.log.failed[0]!.error, / failed \(retried for \d+ s; the job is tried again while it has attempts left\): /);
      await until('the run to be done', () => q.done());
      assert.ok((await q.metric('kensa_worker_jobs_total{outcome="failed"}')) >= 1);
      assert.ok((await q.metric('kensa_worker_jobs_retried_total')) >= 1, 'the failed job was taken again');
      assert.equal(await q.stop(), 0);
      assert.equal((await q.redis.queue.getJobCounts('failed')).failed, 0);
      await checkWrittenOnce(scratch.url, q.store, q.run.id, ROWS);
    });
  }
});
