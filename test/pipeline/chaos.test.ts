/**
 * The chaos test, on each server dialect (the shared store and the task table in one database)
 * and a real Redis: three `kensa worker` processes share a queued `--tasks … --write-back` run
 * while, at random moments, a worker holding a job is SIGKILLed (and replaced) or every
 * connection of the database is killed (pg_terminate_backend, MariaDB KILL) — at least 20 kills,
 * at least 8 of each kind. Every item still ends in the store exactly once (0 lost, 0
 * duplicated, its defects once) and every score is written back once; no job is left failed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { queueStatus } from '../../src/pipeline/jobs.js';
import { mulberry32 } from '../../src/rng.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';
import { DIALECTS, scratchDatabase } from '../store/_dialects.js';
import { scratchQueue } from './_redis.js';
import { checkWrittenOnce, enqueueSeedRun, killConnections, POSITIONS, seed } from './_tasks.js';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const ROWS = 120;
const WORKERS = 3;
const KILLS = 20;
/** Of each kind (worker SIGKILLs, connection kills) at least this many. */
const EACH = 8;

describe('chaos: workers SIGKILLed mid-job and database connections killed', () => {
  for (const dialect of DIALECTS.filter((d) => d !== 'sqlite')) {
    test(`${dialect}: ${KILLS}+ kills during one run, every item stored once and written back once`, async (t) => {
      const redis = await scratchQueue();
      if (typeof redis === 'string') return t.skip(redis);
      const scratch = await scratchDatabase(dialect);
      if (typeof scratch === 'string') return t.skip(scratch);
      after(() => scratch.drop());
      const dir = tempDir('kensa-chaos-');
      const project = await seed(scratch.url, dir, ROWS);
      const store = await openStore(scratch.url);
      const items = ROWS * POSITIONS.length;
      const run = await enqueueSeedRun(scratch.url, project, redis.url, store);

      const live = new Map<number, ChildProcess>();
      const startWorker = () => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            MAIN,
            'worker',
            '--queue',
            redis.url,
            '--db',
            scratch.url,
            '--tasks',
            scratch.url,
            '--device',
            'cpu',
            '--post-workers',
            '0',
            '--lock-ms',
            '2000',
          ],
          { stdio: ['ignore', 'ignore', process.env.CHAOS_LOG ? 'inherit' : 'ignore'] },
        );
        live.set(child.pid!, child);
        child.on('exit', () => live.delete(child.pid!));
      };
      for (let i = 0; i < WORKERS; i++) startWorker();
      after(() => {
        for (const child of live.values()) child.kill('SIGKILL');
      });
      // the test's own connections are killed too: a failed poll is polled again
      const doneCount = () =>
        store.counts(run.id).then(
          (c) => c.total,
          () => 0,
        );

      const random = mulberry32(19);
      let workerKills = 0;
      let connectionKills = 0;
      // no clock decides how many kills there are: the chaos goes on until the counts are reached (a guard ends a hung run)
      const guard = Date.now() + 240_000;
      const enough = () => workerKills >= EACH && connectionKills >= EACH && workerKills + connectionKills >= KILLS;
      while (!enough() && Date.now() < guard && (await doneCount()) < items) {
        await sleep(100 + random() * 300);
        const needWorker = workerKills < EACH;
        const needConnection = connectionKills < EACH;
        const worker = needWorker === needConnection ? random() < 0.5 : needWorker;
        if (worker) {
          // a worker holding an active job: killing it leaves that job stalled for another to finish
          const active = await redis.queue.getJobs(['active']);
          const holders = active.map((j) => Number(j.processedBy?.split(':').pop())).filter((pid) => live.has(pid));
          if (holders.length === 0) continue;
          const victim = holders[Math.floor(random() * holders.length)]!;
          live.get(victim)!.kill('SIGKILL');
          live.delete(victim);
          workerKills++;
          startWorker();
        } else if ((await killConnections(dialect, scratch.url)) > 0) connectionKills++;
      }
      t.diagnostic(`${workerKills} workers SIGKILLed mid-job, ${connectionKills} rounds of database connections killed`);
      // then the survivors finish (a stalled job waits one lock period before it is handed on)
      while ((await store.getRun(run.id).catch(() => undefined))?.status !== 'done' && Date.now() < guard) await sleep(250);

      assert.ok(enough(), `${workerKills} + ${connectionKills} kills`);
      const status = await queueStatus(run.id, { queue: redis.url, store });
      assert.equal(status.run.status, 'done');
      assert.deepEqual([status.done, status.total, status.errors, status.failed.length], [items, items, 0, 0]);
      await checkWrittenOnce(scratch.url, store, run.id, ROWS);
      // a result written twice would have its defects twice: items of one frame have equal defect counts
      const defectsPerFrame = new Map<number, number>();
      for (const item of await store.items(run.id)) {
        const [id, position] = item.itemKey.split('/');
        const frame = (Number(id) - 1 + POSITIONS.indexOf(position as (typeof POSITIONS)[number])) % 6;
        const n = (await store.defects(run.id, item.itemKey)).length;
        if (!defectsPerFrame.has(frame)) defectsPerFrame.set(frame, n);
        assert.equal(n, defectsPerFrame.get(frame), `defects of ${item.itemKey}`);
      }
      assert.ok(
        [...defectsPerFrame.values()].some((n) => n > 0),
        'some frames have defects',
      );
      await store.close();
    });
  }
});
