/**
 * Scale-out on a real Redis (KENSA_TEST_REDIS, default redis://127.0.0.1:6379, a random database
 * of it): three worker processes share a queued run and are SIGKILLed mid-job repeatedly; every
 * item still ends in the store exactly once. Redis down: fails on CI, skips locally.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KensaError } from '../../src/errors.js';
import { enqueueRun, parseQueueUrl, queueStatus } from '../../src/pipeline/jobs.js';
import { DEFAULT_RECIPE } from '../../src/detect/recipe.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';
import { writeFrames } from './_images.js';
import { scratchQueue } from './_redis.js';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const ITEMS = 400;
const WORKERS = 3;
/** The chaos phase: kill until this many kills or this long, whichever comes first. */
const MAX_KILLS = 20;
const CHAOS_MS = 60_000;

test('--queue URLs are checked', () => {
  for (const bad of ['http://h', 'redis://', 'redis://h/x', 'h:6379'])
    assert.throws(
      () => parseQueueUrl(bad),
      (e: unknown) => e instanceof KensaError && /for --queue/.test(e.message),
    );
  assert.deepEqual(parseQueueUrl('redis://u:p%40@h:7000/3'), { host: 'h', port: 7000, db: 3, username: 'u', password: 'p@', maxRetriesPerRequest: null });
});

test('three workers, SIGKILLed mid-job again and again, end every item exactly once', async (t) => {
  const redis = await scratchQueue();
  if (typeof redis === 'string') return t.skip(redis);
  const { url, queue } = redis;
  const dir = tempDir('kensa-jobs-');
  await writeFrames(join(dir, 'frames'), 6, 32);
  const db = join(dir, 'kensa.db');
  const store = await openStore(db);
  const items = (async function* () {
    for (let i = 0; i < ITEMS; i++) yield { key: `item${String(i).padStart(4, '0')}`, path: join(dir, 'frames', `frame00${i % 6}.png`) };
  })();
  const { run, jobs } = await enqueueRun(items, { queue: url, store, recipe: DEFAULT_RECIPE, source: { sources: [] }, total: ITEMS, jobItems: 4 });
  assert.equal(jobs, ITEMS / 4);

  const live = new Map<number, ChildProcess>();
  let delivered = 0;
  const startWorker = () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'worker', '--queue', url, '--db', db, '--device', 'cpu', '--post-workers', '0', '--lock-ms', '2000'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.startsWith('{"type":"job"')) delivered += (JSON.parse(line) as { items: number }).items;
    });
    live.set(child.pid!, child);
    child.on('exit', () => live.delete(child.pid!));
  };
  for (let i = 0; i < WORKERS; i++) startWorker();
  after(() => {
    for (const child of live.values()) child.kill('SIGKILL');
  });

  let kills = 0;
  const chaosEnd = Date.now() + CHAOS_MS;
  while (kills < MAX_KILLS && Date.now() < chaosEnd && (await store.counts(run.id)).total < ITEMS) {
    // a worker holding an active job: killing it leaves that job stalled for another to finish
    const active = await queue.getJobs(['active']);
    const victim = active.map((j) => Number(j.processedBy?.split(':').pop())).find((pid) => live.has(pid));
    if (victim !== undefined) {
      live.get(victim)!.kill('SIGKILL');
      live.delete(victim);
      kills++;
      startWorker();
      await sleep(300);
    } else await sleep(50);
  }
  // then the survivors finish (a stalled job waits one lock period before it is handed on)
  const finishEnd = Date.now() + 120_000;
  while ((await store.getRun(run.id))?.status !== 'done' && Date.now() < finishEnd) await sleep(250);
  t.diagnostic(`${kills} workers SIGKILLed mid-job; ${delivered} item deliveries reported for ${ITEMS} items`);

  const status = await queueStatus(run.id, { queue: url, store });
  assert.ok(kills > 0, 'at least one worker was killed mid-job');
  assert.equal(status.run.status, 'done');
  assert.deepEqual([status.done, status.total, status.errors, status.failed.length], [ITEMS, ITEMS, 0, 0]);
  const stored = await store.items(run.id);
  assert.equal(stored.length, ITEMS, '0 lost');
  assert.equal(new Set(stored.map((i) => i.itemKey)).size, ITEMS, '0 duplicated');
  // a result written twice would have its defects twice: items of one frame have equal defect counts
  const defectsPerFrame = new Map<string, number>();
  for (const item of stored) {
    const n = (await store.defects(run.id, item.itemKey)).length;
    const frame = item.path.slice(-12);
    if (!defectsPerFrame.has(frame)) defectsPerFrame.set(frame, n);
    assert.equal(n, defectsPerFrame.get(frame), `defects of ${item.itemKey}`);
  }
  assert.ok(
    [...defectsPerFrame.values()].some((n) => n > 0),
    'some frames have defects',
  );
  await store.close();
});
