import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { isKensaError } from '../../src/errors.js';
import { canonicalJson, newRunId, openStore, recipeHash, type Store } from '../../src/store/store.js';
import type { Defect, ItemResult } from '../../src/store/schema.js';
import { DIALECTS, MYSQL_ADMIN_URL, POSTGRES_ADMIN_URL, scratchDatabase } from './_dialects.js';
import { createConnection } from 'mysql2/promise';

const CLASSES = ['crack', 'scratch', 'spot'] as const;

function defects(n: number, seed = 0): Defect[] {
  return Array.from({ length: n }, (_, j) => ({
    x: j + seed,
    y: 2 * j,
    w: 3 + j,
    h: 1 + (j % 4),
    area: 10 + j + seed,
    score: 0.25 + j / 8,
    meanGradient: 12.5 + seed,
    class: CLASSES[j % 3]!,
    maskRle: j % 2 === 0 ? `rle:${seed}:${j}` : null,
  }));
}

function item(key: string, nDefects: number, seed = 0): ItemResult {
  return {
    itemKey: key,
    path: `/data/${key}`,
    contentHash: (seed + 1).toString(16).padStart(64, 'a'),
    sizeBytes: 1000 + seed,
    width: 640,
    height: 480,
    status: nDefects > 0 ? 'ng' : 'ok',
    verdict: nDefects > 0 ? 'NG' : 'OK',
    score: nDefects / 10,
    stageTimings: { decode: 1.5, gpu: 0.25 },
    defects: defects(nDefects, seed),
  };
}

const errorItem = (key: string): ItemResult => ({
  itemKey: key,
  path: `/data/${key}`,
  contentHash: null,
  sizeBytes: 0,
  width: null,
  height: null,
  status: 'error',
  error: 'empty file',
});

const ADMIN_URL = { postgres: POSTGRES_ADMIN_URL, mysql: MYSQL_ADMIN_URL };

/** A second session on a server: kills the store's connections, or holds a lock on defects. */
async function serverSession(dialect: 'postgres' | 'mysql', url: string, database: string) {
  if (dialect === 'postgres') {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const others = `datname = $1 and pid <> pg_backend_pid()`;
    return {
      kill: async (waitingOnly: boolean) =>
        Number(
          (
            await c.query<{ n: string }>(
              `select count(pg_terminate_backend(pid)) as n from pg_stat_activity where ${others} ${waitingOnly ? "and wait_event_type = 'Lock'" : ''}`,
              [database],
            )
          ).rows[0]!.n,
        ),
      waiting: async () => (await c.query(`select pid from pg_stat_activity where ${others} and wait_event_type = 'Lock'`, [database])).rowCount,
      lockDefects: async () => void (await c.query('begin; lock table defects in access exclusive mode')),
      end: () => c.end(),
    };
  }
  const c = await createConnection({ uri: url });
  const ids = async (waitingOnly: boolean) => {
    const [rows] = await c.query(
      `select id from information_schema.processlist where db = ? and id <> connection_id() ${waitingOnly ? "and state like 'Waiting for table%lock'" : ''}`,
      [database],
    );
    return (rows as { id: number }[]).map((r) => r.id);
  };
  return {
    kill: async (waitingOnly: boolean) => {
      const list = await ids(waitingOnly);
      for (const id of list) await c.query(`kill ${Number(id)}`);
      return list.length;
    },
    waiting: async () => (await ids(true)).length,
    lockDefects: async () => void (await c.query('lock tables defects write')),
    end: () => c.end(),
  };
}

const newRun = { recipeName: 'classic', recipe: { threshold: 0.5, sigma: [1, 2] }, device: 'cpu', options: { batch: 16 } };

for (const dialect of DIALECTS) {
  const scratch = await scratchDatabase(dialect);
  const skip = typeof scratch === 'string' ? scratch : false;

  describe(`store on ${dialect}`, { skip }, () => {
    let store: Store;
    before(async () => {
      if (typeof scratch === 'string') return;
      store = await openStore(scratch.url);
    });
    after(async () => {
      if (typeof scratch === 'string') return;
      await store?.close();
      await scratch.drop();
    });

    test('createRun stores the recipe, its hash, device and options; getRun and listRuns read them back', async () => {
      const run = await store.createRun(newRun);
      assert.equal(run.status, 'running');
      assert.equal(run.finishedAt, null);
      assert.equal(run.recipeHash, recipeHash(newRun.recipe));
      assert.deepEqual(await store.getRun(run.id), run);
      assert.deepEqual(run.recipe, newRun.recipe);
      assert.deepEqual(run.options, { batch: 16 });
      assert.deepEqual(run.counts, { total: 0, ok: 0, ng: 0, error: 0 });
      assert.equal(await store.getRun('no-such-run'), undefined);
      const later = await store.createRun({ ...newRun, id: `${run.id}-b` });
      const ids = (await store.listRuns()).map((r) => r.id);
      assert.ok(ids.indexOf(later.id) < ids.indexOf(run.id), 'newest first');
      assert.deepEqual((await store.listRuns({ limit: 1 })).length, 1);
      await assert.rejects(store.createRun({ ...newRun, id: run.id }), {
        code: 'KENSA_ERR_INVALID_ARGUMENT',
        message: `Expected an id no run has yet for run.id but received "${run.id}" of type string`,
      });
    });

    test('a classification label round-trips with its item; items without one read null; a bad one is refused naming it', async () => {
      const run = await store.createRun(newRun);
      const labelled = { ...item('c/1.png', 0, 7), label: { name: 'stain', score: 0.875 } };
      await store.writeResults(run.id, [labelled, item('c/2.png', 0, 8)]);
      assert.deepEqual(
        (await store.items(run.id)).map((i) => [i.itemKey, i.label]),
        [
          ['c/1.png', { name: 'stain', score: 0.875 }],
          ['c/2.png', null],
        ],
      );
      await assert.rejects(store.writeResults(run.id, [{ ...item('c/3.png', 0), label: { name: 'x'.repeat(256), score: 1 } }]), {
        code: 'KENSA_ERR_INVALID_ARGUMENT',
        message: /results\[0\]\.label/,
      });
    });

    test('writeResults stores items and defects; items(), defects() and counts() read them back exactly', async () => {
      const run = await store.createRun(newRun);
      const batch = [item('a/1.png', 3, 1), item('a/2.png', 0, 2), errorItem('a/3.png')];
      assert.deepEqual(await store.writeResults(run.id, batch), { items: 3, defects: 3 });
      const items = await store.items(run.id);
      assert.deepEqual(
        items.map((i) => [i.itemKey, i.status, i.verdict, i.score, i.error, i.width, i.sizeBytes]),
        [
          ['a/1.png', 'ng', 'NG', 0.3, null, 640, 1001],
          ['a/2.png', 'ok', 'OK', 0, null, 640, 1002],
          ['a/3.png', 'error', null, null, 'empty file', null, 0],
        ],
      );
      assert.deepEqual(items[0]!.stageTimings, { decode: 1.5, gpu: 0.25 });
      assert.equal(items[0]!.contentHash, batch[0]!.contentHash);
      const stored = await store.defects(run.id, 'a/1.png');
      assert.deepEqual(
        stored.map(({ runId, itemKey, idx, ...d }) => {
          assert.equal(runId, run.id);
          assert.equal(itemKey, 'a/1.png');
          return [idx, d];
        }),
        defects(3, 1).map((d, i) => [i, { ...d, maskRle: d.maskRle ?? null }]),
      );
      assert.deepEqual(await store.counts(run.id), { total: 3, ok: 1, ng: 1, error: 1 });
      assert.deepEqual(
        (await store.items(run.id, { status: 'ng' })).map((i) => i.itemKey),
        ['a/1.png'],
      );
      assert.deepEqual(
        (await store.items(run.id, { limit: 2 })).map((i) => i.itemKey),
        ['a/1.png', 'a/2.png'],
      );
      assert.deepEqual(
        (await store.items(run.id, { after: 'a/2.png' })).map((i) => i.itemKey),
        ['a/3.png'],
      );
      assert.deepEqual(await store.doneItemKeys(run.id), new Set(['a/1.png', 'a/2.png', 'a/3.png']));
    });

    test('writing an item again replaces its row and its defects: never duplicated (crash, then resume)', async () => {
      const run = await store.createRun(newRun);
      await store.writeResults(run.id, [item('x.png', 5, 1), item('y.png', 2, 1)]);
      // The same items again (a resume that re-ran them), now with fewer / other defects.
      await store.writeResults(run.id, [item('x.png', 2, 7), item('y.png', 4, 7), item('z.png', 1, 7)]);
      await store.writeResults(run.id, [item('x.png', 2, 7)]);
      assert.deepEqual(await store.counts(run.id), { total: 3, ok: 0, ng: 3, error: 0 });
      const all = await store.defects(run.id);
      assert.deepEqual(
        all.map((d) => [d.itemKey, d.idx, d.x]),
        [
          ['x.png', 0, 7],
          ['x.png', 1, 8],
          ['y.png', 0, 7],
          ['y.png', 1, 8],
          ['y.png', 2, 9],
          ['y.png', 3, 10],
          ['z.png', 0, 7],
        ],
      );
      assert.equal((await store.items(run.id)).find((i) => i.itemKey === 'x.png')!.sizeBytes, 1007);
      // An item that had defects and now has none loses them.
      await store.writeResults(run.id, [item('y.png', 0, 9)]);
      assert.deepEqual(await store.defects(run.id, 'y.png'), []);
      assert.equal((await store.items(run.id, { status: 'ok' }))[0]!.itemKey, 'y.png');
    });

    test('a killed run resumed with doneItemKeys ends with every item exactly once', async () => {
      const keys = Array.from({ length: 40 }, (_, i) => `img-${String(i).padStart(3, '0')}.png`);
      const nDefects = (k: string) => keys.indexOf(k) % 3;
      const run = await store.createRun(newRun);
      // First attempt: batches of 8; "killed" after 3 batches, the 3rd of which was written twice.
      for (let b = 0; b < 3; b++)
        await store.writeResults(
          run.id,
          keys.slice(b * 8, b * 8 + 8).map((k) => item(k, nDefects(k))),
        );
      await store.writeResults(
        run.id,
        keys.slice(16, 24).map((k) => item(k, nDefects(k))),
      );
      await store.finishRun(run.id, 'interrupted');
      assert.equal((await store.getRun(run.id))!.counts.total, 24);
      assert.equal((await store.getRun(run.id))!.status, 'interrupted');
      const resumed = await store.resumeRun(run.id);
      assert.equal(resumed.status, 'running');
      assert.equal(resumed.finishedAt, null);
      const done = await store.doneItemKeys(run.id);
      const todo = keys.filter((k) => !done.has(k));
      assert.deepEqual(todo, keys.slice(24));
      // The resume re-sends one done item too (in flight at the kill): still once.
      await store.writeResults(
        run.id,
        [keys[23]!, ...todo].map((k) => item(k, nDefects(k))),
      );
      const finished = await store.finishRun(run.id, 'done', undefined, { decode: 100, gpu: 20 });
      const ok = keys.filter((k) => nDefects(k) === 0).length;
      assert.deepEqual(finished.counts, { total: 40, ok, ng: 40 - ok, error: 0 });
      assert.equal(finished.status, 'done');
      assert.deepEqual(finished.timings, { decode: 100, gpu: 20 });
      assert.ok(finished.finishedAt !== null && finished.finishedAt >= finished.createdAt);
      assert.deepEqual(
        (await store.items(run.id)).map((i) => i.itemKey),
        keys,
      );
      assert.equal(
        (await store.defects(run.id)).length,
        keys.reduce((s, k) => s + nDefects(k), 0),
      );
    });

    test('each resume records its device: the run shows the latest, sessions() every one', async () => {
      const run = await store.createRun({ ...newRun, device: 'NVIDIA H100 (webgpu)' });
      await store.finishRun(run.id, 'interrupted');
      const resumed = await store.resumeRun(run.id, { device: 'cpu (cpu)' });
      assert.equal(resumed.device, 'cpu (cpu)');
      await store.finishRun(run.id, 'interrupted');
      assert.equal((await store.resumeRun(run.id)).device, 'cpu (cpu)', 'no device given: the run keeps its latest');
      const sessions = await store.sessions(run.id);
      assert.deepEqual(
        sessions.map((x) => x.device),
        ['NVIDIA H100 (webgpu)', 'cpu (cpu)', 'cpu (cpu)'],
      );
      assert.equal(sessions[0]!.startedAt, run.createdAt);
      assert.ok(sessions[1]!.startedAt >= sessions[0]!.startedAt && sessions[2]!.startedAt >= sessions[1]!.startedAt);
      await assert.rejects(store.resumeRun(run.id, { device: '' }), {
        message: 'Expected a string of 1 to 255 characters for options.device but received "" of type string',
      });
    });

    test('updateRunOptions replaces the options (a training run adds its metrics when it ends)', async () => {
      const run = await store.createRun({ ...newRun, options: { kind: 'train' } });
      const updated = await store.updateRunOptions(run.id, { kind: 'train', metrics: { iou: 0.5 } });
      assert.deepEqual(updated.options, { kind: 'train', metrics: { iou: 0.5 } });
      assert.deepEqual((await store.getRun(run.id))!.options, updated.options);
      await assert.rejects(store.updateRunOptions(run.id, [] as never), { message: /for options but received/ });
      await assert.rejects(store.updateRunOptions('no-such-run', {}), { message: /the id of an existing run for id/ });
    });

    test('items by score: highest first, no score last on every dialect, ties by key; paged with offset', async () => {
      const run = await store.createRun(newRun);
      const scored = (key: string, score: number | null) => ({ ...item(key, 1), score });
      await store.writeResults(run.id, [scored('a', 0.2), scored('b', null), scored('c', 0.9), scored('d', 0.2), scored('e', 0)]);
      assert.deepEqual(
        (await store.items(run.id, { order: 'score' })).map((i) => i.itemKey),
        ['c', 'a', 'd', 'e', 'b'],
      );
      assert.deepEqual(
        (await store.items(run.id, { order: 'score', limit: 2, offset: 2 })).map((i) => i.itemKey),
        ['d', 'e'],
      );
      await assert.rejects(store.items(run.id, { order: 'score', after: 'a' }), /for query\.after/);
      await assert.rejects(store.items(run.id, { offset: 1 }), {
        message: 'Expected a limit when offset is given for query.limit but received undefined of type undefined',
      });
    });

    test('a large batch spans several statements (chunks of 512 rows and powers of two) and stores every row once', async () => {
      const run = await store.createRun(newRun);
      const batch = Array.from({ length: 700 }, (_, i) => item(`big/${i}.png`, i % 5, i));
      const total = batch.reduce((s, r) => s + r.defects!.length, 0);
      assert.deepEqual(await store.writeResults(run.id, batch), { items: 700, defects: total });
      assert.deepEqual(await store.writeResults(run.id, batch), { items: 700, defects: total });
      assert.equal((await store.counts(run.id)).total, 700);
      const stored = await store.defects(run.id);
      assert.equal(stored.length, total);
      const d = stored.find((x) => x.itemKey === 'big/699.png' && x.idx === 3)!;
      assert.deepEqual([d.x, d.area, d.meanGradient], [3 + 699, 10 + 3 + 699, 12.5 + 699]);
    });

    test('item keys are compared exactly (case and Unicode), and runs do not share items', async () => {
      const a = await store.createRun(newRun);
      const b = await store.createRun(newRun);
      await store.writeResults(a.id, [item('Scan.png', 1), item('scan.png', 2), item('naïve/検査.png', 1)]);
      await store.writeResults(b.id, [item('scan.png', 0)]);
      assert.deepEqual([...(await store.doneItemKeys(a.id))].sort(), ['Scan.png', 'naïve/検査.png', 'scan.png']);
      assert.deepEqual(await store.counts(b.id), { total: 1, ok: 1, ng: 0, error: 0 });
      assert.equal((await store.defects(a.id)).length, 4);
    });

    test('a bad batch is refused before anything is written, with one sentence naming the field; the store goes on', async () => {
      const run = await store.createRun(newRun);
      const bad: [unknown, string][] = [
        [
          [item('ok.png', 1), { ...item('b.png', 1), status: 'maybe' }],
          'Expected one of "ok", "ng", "error" for results[1].status but received "maybe" of type string',
        ],
        [
          [{ ...item('b.png', 0), contentHash: 'xyz' }],
          'Expected 64 lowercase hex digits (sha256) or null for results[0].contentHash but received "xyz" of type string',
        ],
        [[{ ...item('b.png', 0), itemKey: '' }], 'Expected a string of 1 to 700 characters for results[0].itemKey but received "" of type string'],
        [[{ ...item('b.png', 0), width: -1 }], 'Expected integer between 0 and 2147483647 or null for results[0].width but received -1 of type number'],
        [[{ ...item('b.png', 0), score: Number.NaN }], 'Expected finite number for results[0].score but received NaN of type number'],
        [
          [{ ...item('b.png', 0), defects: [{ ...defects(1)[0]!, class: 'dent' }] }],
          'Expected one of "crack", "scratch", "spot" for results[0].defects[0].class but received "dent" of type string',
        ],
        [
          [{ ...item('b.png', 0), defects: [{ ...defects(1)[0]!, area: 1.5 }] }],
          'Expected integer between 0 and 9007199254740991 for results[0].defects[0].area but received 1.5 of type number',
        ],
        [
          [item('d.png', 0), item('d.png', 1)],
          'Expected a key not already in this batch (results[0] has it) for results[1].itemKey but received "d.png" of type string',
        ],
        [
          [{ ...item('b.png', 0), stageTimings: { gpu: -2 } }],
          'Expected finite number of milliseconds ≥ 0 for results[0].stageTimings.gpu but received -2 of type number',
        ],
        ['not an array', 'Expected an array of item results for results but received "not an array" of type string'],
      ];
      for (const [results, message] of bad) {
        await assert.rejects(store.writeResults(run.id, results as ItemResult[]), { code: 'KENSA_ERR_INVALID_ARGUMENT', message });
      }
      assert.deepEqual(await store.counts(run.id), { total: 0, ok: 0, ng: 0, error: 0 });
      await assert.rejects(store.writeResults('nope', [item('a.png', 0)]), {
        code: 'KENSA_ERR_INVALID_ARGUMENT',
        message: 'Expected the id of an existing run for runId but received "nope" of type string',
      });
      await assert.rejects(store.writeResults('bad id!', []), {
        code: 'KENSA_ERR_INVALID_ARGUMENT',
        message: 'Expected a run id of 1 to 64 letters, digits, ".", "_" or "-" for runId but received "bad id!" of type string',
      });
      await assert.rejects(store.finishRun(run.id, 'running' as 'done'), {
        message: 'Expected one of "interrupted", "done", "failed" for status but received "running" of type string',
      });
      await assert.rejects(store.finishRun(run.id, 'done', { total: 1, ok: 1, ng: 0, error: -1 }), {
        message: 'Expected integer between 0 and 2147483647 for counts.error but received -1 of type number',
      });
      await assert.rejects(store.createRun({ ...newRun, recipeName: '' }), {
        message: 'Expected a string of 1 to 255 characters for run.recipeName but received "" of type string',
      });
      await assert.rejects(store.createRun({ ...newRun, options: [1] as never }), {
        message: 'Expected an object for run.options but received [1] of type object',
      });
      await assert.rejects(store.createRun({ ...newRun, recipe: 1n as never }), {
        message: 'Expected a JSON value for run.recipe but received 1 of type bigint',
      });
      await assert.rejects(store.resumeRun('gone'), { message: 'Expected the id of an existing run for id but received "gone" of type string' });
      // The store still works.
      assert.deepEqual(await store.writeResults(run.id, [item('after.png', 2)]), { items: 1, defects: 2 });
      assert.deepEqual(await store.counts(run.id), { total: 1, ok: 0, ng: 1, error: 0 });
      assert.deepEqual(await store.writeResults(run.id, []), { items: 0, defects: 0 });
    });
  });
}

describe('opening stores', () => {
  test('bad URLs and options are argument errors naming what is allowed', async () => {
    await assert.rejects(openStore('redis://localhost/0'), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: 'Expected a file path, sqlite:PATH, postgres://… or mysql://… URL for url but received "redis://localhost/0" of type string',
    });
    await assert.rejects(openStore(':memory:', { poolSize: 0 }), {
      message: 'Expected integer between 1 and 64 for options.poolSize but received 0 of type number',
    });
    await assert.rejects(openStore(':memory:', { busyTimeoutMs: -1 }), {
      message: 'Expected integer between 0 and 600000 for options.busyTimeoutMs but received -1 of type number',
    });
  });

  test('an unreachable server or an unopenable file is KENSA_ERR_STORE naming the backend and the operation', async () => {
    await assert.rejects(openStore('postgres://kensa:secret@127.0.0.1:1/none'), (e: unknown) => {
      assert.ok(isKensaError(e, 'KENSA_ERR_STORE'));
      assert.match(e.message, /^postgres store postgres:\/\/kensa:\*\*\*@127\.0\.0\.1:1\/none: open \(migrate\) failed: .*ECONNREFUSED/);
      assert.ok(!e.message.includes('secret'));
      return true;
    });
    await assert.rejects(openStore('mysql://root@127.0.0.1:1/none'), (e: unknown) => {
      assert.ok(isKensaError(e, 'KENSA_ERR_STORE'));
      assert.match(e.message, /^mysql store mysql:\/\/root@127\.0\.0\.1:1\/none: open \(migrate\) failed: .*ECONNREFUSED/);
      return true;
    });
    await assert.rejects(openStore('sqlite:/nonexistent-dir/sub/kensa.db'), (e: unknown) => {
      assert.ok(isKensaError(e, 'KENSA_ERR_STORE'));
      assert.match(e.message, /^sqlite store sqlite:\/nonexistent-dir\/sub\/kensa\.db: open failed: /);
      return true;
    });
  });

  test('a closed store refuses calls with KENSA_ERR_STORE; close is idempotent', async () => {
    const store = await openStore(':memory:');
    const run = await store.createRun(newRun);
    await store.close();
    await store.close();
    await assert.rejects(store.counts(run.id), { code: 'KENSA_ERR_STORE', message: `sqlite store sqlite::memory:: counts ${run.id} called after close()` });
  });

  test('run ids, canonical JSON and recipe hashes', () => {
    assert.match(newRunId(new Date('2026-11-24T10:15:30Z')), /^20261124-101530-[0-9a-f]{6}$/);
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}');
    assert.equal(recipeHash({ a: 1, b: 2 }), recipeHash({ b: 2, a: 1 }));
    assert.notEqual(recipeHash({ a: 1 }), recipeHash({ a: 2 }));
    assert.match(recipeHash({}), /^[0-9a-f]{64}$/);
  });
});

describe('failed writes', () => {
  test('sqlite: a write blocked by another writer fails with KENSA_ERR_STORE, nothing half-written; the retry succeeds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kensa-store-'));
    const file = join(dir, 'kensa.db');
    const store = await openStore(file, { busyTimeoutMs: 50 });
    try {
      const run = await store.createRun(newRun);
      await store.writeResults(run.id, [item('first.png', 2)]);
      const other = new Database(file);
      other.exec('begin immediate');
      const batch = [item('second.png', 3), item('first.png', 1)];
      await assert.rejects(store.writeResults(run.id, batch), (e: unknown) => {
        assert.ok(isKensaError(e, 'KENSA_ERR_STORE'));
        assert.match(
          e.message,
          new RegExp(
            `^sqlite store sqlite:.*kensa\\.db: writeResults \\(run ${run.id}, 2 items, 4 defects; rolled back, the batch can be retried\\) failed: database is locked`,
          ),
        );
        return true;
      });
      other.exec('rollback');
      other.close();
      assert.deepEqual(await store.counts(run.id), { total: 1, ok: 0, ng: 1, error: 0 });
      assert.equal((await store.defects(run.id, 'first.png')).length, 2);
      await store.writeResults(run.id, batch);
      assert.deepEqual(await store.counts(run.id), { total: 2, ok: 0, ng: 2, error: 0 });
      assert.equal((await store.defects(run.id)).length, 4);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const dialect of (['postgres', 'mysql'] as const).filter((d) => DIALECTS.includes(d))) {
    test(`${dialect}: killed connections fail one write with KENSA_ERR_STORE, rolled back; the pool reconnects and the retry succeeds`, async (t) => {
      const scratch = await scratchDatabase(dialect);
      if (typeof scratch === 'string') return t.skip(scratch);
      const store = await openStore(scratch.url, { poolSize: 1 });
      const admin = await serverSession(dialect, ADMIN_URL[dialect], new URL(scratch.url).pathname.slice(1));
      try {
        const run = await store.createRun(newRun);
        await store.writeResults(run.id, [item('b0.png', 2)]);

        // 1. Killed between batches: the next write either fails once with KENSA_ERR_STORE (the
        //    pool handed out the dead connection) or already runs on a fresh one; a retry succeeds.
        assert.equal(await admin.kill(false), 1);
        const batch1 = [item('b1.png', 3)];
        let failures = 0;
        for (;;) {
          try {
            await store.writeResults(run.id, batch1);
            break;
          } catch (e) {
            assert.ok(isKensaError(e, 'KENSA_ERR_STORE'), String(e));
            assert.match(
              e.message,
              new RegExp(`^${dialect} store ${dialect}://.*: writeResults \\(run .*, 1 items, 3 defects; rolled back, the batch can be retried\\) failed: `),
            );
            assert.ok(++failures <= 1, 'a second attempt must reach a fresh connection');
          }
        }
        assert.deepEqual(await store.counts(run.id), { total: 2, ok: 0, ng: 2, error: 0 });

        // 2. Killed inside the transaction: a second session locks the defects table, so the write
        //    stops after its items upsert; its connection is killed there. Nothing of it may stay.
        const locker = await serverSession(dialect, scratch.url, '');
        await locker.lockDefects();
        const batch2 = [item('b2.png', 2), item('b0.png', 5, 9)];
        const write = store.writeResults(run.id, batch2);
        write.catch(() => {});
        for (let i = 0; (await admin.waiting()) !== 1; i++) {
          assert.ok(i < 300, 'the write never blocked on the lock');
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(await admin.kill(true), 1);
        await assert.rejects(
          write,
          (e: unknown) => isKensaError(e, 'KENSA_ERR_STORE') && /writeResults \(run .*, 2 items, 7 defects; rolled back/.test(e.message),
        );
        await locker.end();
        assert.deepEqual(await store.counts(run.id), { total: 2, ok: 0, ng: 2, error: 0 }, 'b2.png must not be half-written');
        assert.equal((await store.defects(run.id, 'b0.png')).length, 2, 'b0.png keeps its old defects');
        await store.writeResults(run.id, batch2);
        assert.deepEqual(await store.counts(run.id), { total: 3, ok: 0, ng: 3, error: 0 });
        assert.equal((await store.defects(run.id)).map((d) => d.itemKey).join(','), 'b0.png,b0.png,b0.png,b0.png,b0.png,b1.png,b1.png,b1.png,b2.png,b2.png');
      } finally {
        await admin.end();
        await store.close();
        await scratch.drop();
      }
    });
  }
});
