import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openBackend } from '../../src/backend.js';
import { run as inspectCli } from '../../src/cli/inspect.js';
import type { CliIO } from '../../src/cli/io.js';
import { KensaError } from '../../src/errors.js';
import { runInspection } from '../../src/pipeline/run.js';
import { openSqlTasks, parseFanOut } from '../../src/pipeline/sql-tasks.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';
import { DIALECTS, scratchDatabase } from '../store/_dialects.js';
import { checkWrittenOnce, enqueueSeedRun, execute, killConnections, POSITIONS, seed, WRITE_BACK } from './_tasks.js';
import { scratchQueue } from './_redis.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RunningWorker, startWorker } from '../../src/pipeline/jobs.js';

const ROWS = 10;

describe('tasks from SQL, results written back', () => {
  for (const dialect of DIALECTS) {
    test(`${dialect}: every row's four scores are written back once, also when the connections are killed mid-run`, async (t) => {
      const scratch = await scratchDatabase(dialect);
      if (typeof scratch === 'string') return t.skip(scratch);
      after(() => scratch.drop());
      const dir = tempDir('kensa-sql-tasks-');
      const project = await seed(scratch.url, dir, ROWS);
      const tasks = await openSqlTasks({
        url: scratch.url,
        query: 'SELECT id, sid FROM panoramas WHERE id > 0',
        path: join(project, '{sid}_{position}.png'),
        fanOut: 'position=xm,xp,zm,zp',
        writeBack: WRITE_BACK,
        retryMs: 20_000,
        pageRows: 3,
      });
      assert.equal(tasks.total, ROWS * POSITIONS.length);
      const backend = await openBackend({ device: 'cpu' });
      let killed = 0;
      let seen = 0;
      const kills: Promise<void>[] = [];
      try {
        const storePath = join(dir, 'kensa.db');
        const summary = await runInspection([], {
          db: storePath,
          backend,
          tasks,
          sink: tasks,
          postWorkers: 0,
          writeBatch: 4,
          batch: { maxCount: 4 },
          onItem: () => {
            seen++;
            if (dialect !== 'sqlite' && (seen === 8 || seen === 24)) kills.push(killConnections(dialect, scratch.url).then((n) => void (killed += n)));
          },
        });
        await Promise.all(kills);
        assert.equal(summary.run.status, 'done');
        assert.equal(summary.processed, ROWS * POSITIONS.length);
        if (dialect !== 'sqlite') assert.ok(killed > 0, 'connections were killed mid-run');
        await checkWrittenOnce(scratch.url, storePath, summary.run.id, ROWS);
      } finally {
        backend.close();
        await tasks.close();
      }
    });
  }
});

describe('bad task arguments name the field', () => {
  test('fan-out, URL, query, path and write-back placeholders', async () => {
    const dir = tempDir('kensa-sql-bad-');
    const url = join(dir, 'tasks.db');
    await execute(url, ['CREATE TABLE panoramas (id INTEGER PRIMARY KEY, sid TEXT)', "INSERT INTO panoramas VALUES (1, 'a')"]);
    const base = { url, query: 'SELECT id, sid FROM panoramas', path: '{sid}_{position}.png', fanOut: 'position=xm,xp' };
    const fails = async (over: Partial<typeof base> & { writeBack?: string }, field: RegExp) => {
      await assert.rejects(
        openSqlTasks({ ...base, ...over }),
        (e: unknown) => e instanceof KensaError && e.code === 'KENSA_ERR_INVALID_ARGUMENT' && field.test(e.message),
      );
    };
    assert.throws(() => parseFanOut('position'), /--fan-out/);
    assert.throws(() => parseFanOut('position=x m'), /--fan-out/);
    await fails({ url: 'redis://host/0' }, /for --tasks/);
    await fails({ query: 'DELETE FROM panoramas' }, /for --query/);
    await fails({ query: 'SELECT nope FROM panoramas' }, /for --query/);
    await fails({ path: '{sid}_{angle}.png' }, /for --path but received \{angle\}/);
    await fails({ writeBack: 'UPDATE panoramas SET {side}_score = :score WHERE id = :id' }, /for --write-back but received \{side\}/);
    await fails({ writeBack: 'UPDATE panoramas SET {position}_score = :scor WHERE id = :id' }, /for --write-back but received :scor/);
    await assert.rejects(
      openSqlTasks({ ...base, url: 'postgres://nobody@127.0.0.1:1/none', retryMs: 300 }),
      (e: unknown) => e instanceof KensaError && /for --tasks/.test(e.message),
    );
  });
});

test('kensa inspect --tasks … --write-back runs the seed workflow from the command line', async () => {
  const dir = tempDir('kensa-sql-cli-');
  const url = join(dir, 'tasks.db');
  const project = await seed(url, dir, ROWS);
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } } as unknown as CliIO;
  const storePath = join(dir, 'kensa.db');
  const code = await inspectCli(
    [
      '--tasks',
      url,
      '--query',
      'SELECT id, sid FROM panoramas',
      '--path',
      join(project, '{sid}_{position}.png'),
      '--fan-out',
      'position=xm,xp,zm,zp',
      '--write-back',
      WRITE_BACK,
      '--db',
      storePath,
      '--device',
      'cpu',
      '--post-workers',
      '0',
      '--progress',
      'none',
      '--json',
    ],
    io,
  );
  assert.equal(code, 0, err.join(''));
  const summary = JSON.parse(out.join('')) as { run: string; processed: number };
  assert.equal(summary.processed, ROWS * POSITIONS.length);
  await checkWrittenOnce(url, storePath, summary.run, ROWS);
  const usage = await inspectCli(['--query', 'SELECT 1'], io);
  assert.equal(usage, 2);
  assert.match(err.join(''), /--query needs --tasks/);
});

test('a queued --tasks run: two workers write every score back once', async (t) => {
  const redis = await scratchQueue();
  if (typeof redis === 'string') return t.skip(redis);
  const dir = tempDir('kensa-sql-queue-');
  const url = join(dir, 'tasks.db');
  const project = await seed(url, dir, ROWS);
  const storePath = join(dir, 'kensa.db');
  const store = await openStore(storePath);
  const backend = await openBackend({ device: 'cpu' });
  const workers: RunningWorker[] = [];
  try {
    const run = await enqueueSeedRun(url, project, redis.url, store, 6);
    for (const name of ['a', 'b']) workers.push(await startWorker({ queue: redis.url, store, backend, tasks: url, postWorkers: 0, name }));
    const deadline = Date.now() + 120_000;
    while ((await store.getRun(run.id))?.status !== 'done' && Date.now() < deadline) await sleep(100);
    await checkWrittenOnce(url, storePath, run.id, ROWS);
  } finally {
    for (const w of workers) await w.close();
    backend.close();
    await store.close();
  }
});
