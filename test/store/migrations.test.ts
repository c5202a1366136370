import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Kysely } from 'kysely';
import { isKensaError } from '../../src/errors.js';
import { openDialect, parseStoreUrl } from '../../src/store/dialect.js';
import { MIGRATION_TABLE, migrateToLatest, migrations, migrator } from '../../src/store/migrations.js';
import type { Database } from '../../src/store/schema.js';
import { openStore } from '../../src/store/store.js';
import { DIALECTS, scratchDatabase } from './_dialects.js';

const TABLES = {
  runs: [
    'id',
    'created_at',
    'finished_at',
    'status',
    'recipe_name',
    'recipe_hash',
    'recipe_json',
    'device',
    'options_json',
    'count_total',
    'count_ok',
    'count_ng',
    'count_error',
    'timings_json',
  ],
  items: [
    'run_id',
    'item_key',
    'path',
    'content_hash',
    'size_bytes',
    'width',
    'height',
    'status',
    'error',
    'verdict',
    'score',
    'stage_timings_json',
    'created_at',
    'label',
    'label_score',
  ],
  defects: ['run_id', 'item_key', 'idx', 'x', 'y', 'w', 'h', 'area', 'score', 'mean_gradient', 'class', 'mask_rle'],
};

for (const dialect of DIALECTS) {
  const scratch = await scratchDatabase(dialect);
  describe(`migrations on ${dialect}`, { skip: typeof scratch === 'string' ? scratch : false }, () => {
    after(async () => {
      if (typeof scratch !== 'string') await scratch.drop();
    });

    test('a fresh database gets the three tables; a second open applies nothing; down and up again round-trip', async () => {
      if (typeof scratch === 'string') return;
      const unmigrated = await openStore(scratch.url, { migrate: false });
      await assert.rejects(
        unmigrated.listRuns(),
        (e: unknown) => isKensaError(e, 'KENSA_ERR_STORE') && e.message.startsWith(`${dialect} store `) && e.message.includes('listRuns failed'),
      );
      await unmigrated.close();

      const store = await openStore(scratch.url);
      await store.close();
      const d = await openDialect(parseStoreUrl(scratch.url), { poolSize: 1, busyTimeoutMs: 1000 });
      const db = new Kysely<Database>({ dialect: d.kysely });
      try {
        const tables = await db.introspection.getTables();
        const columns = Object.fromEntries(tables.filter((t) => t.name in TABLES).map((t) => [t.name, t.columns.map((c) => c.name)]));
        assert.deepEqual(columns, TABLES);
        assert.ok(tables.some((t) => t.name === MIGRATION_TABLE));
        assert.deepEqual(await migrateToLatest(db, dialect), { results: [] });
        const names = Object.keys(migrations(dialect));
        assert.deepEqual(
          (await migrator(db, dialect).getMigrations()).map((m) => [m.name, m.executedAt !== undefined]),
          names.map((n) => [n, true]),
        );

        // the later migrations first, so that the initial one's round trip is what is checked below
        assert.equal((await migrator(db, dialect).migrateTo('0001_initial')).error, undefined);
        const down = await migrator(db, dialect).migrateDown();
        assert.equal(down.error, undefined);
        assert.deepEqual(
          down.results?.map((r) => [r.migrationName, r.direction, r.status]),
          [['0001_initial', 'Down', 'Success']],
        );
        assert.deepEqual(
          (await db.introspection.getTables()).filter((t) => t.name in TABLES),
          [],
        );
        const up = await migrator(db, dialect).migrateTo('0001_initial');
        assert.deepEqual(
          up.results?.map((r) => [r.migrationName, r.status]),
          [['0001_initial', 'Success']],
        );
        assert.deepEqual(
          (await migrateToLatest(db, dialect)).results?.map((r) => [r.migrationName, r.status]),
          [
            ['0002_run_sessions', 'Success'],
            ['0003_item_labels', 'Success'],
          ],
        );
      } finally {
        await db.destroy();
      }
    });

    test('0002 gives each run made before it a first session with its device', async () => {
      if (typeof scratch === 'string') return;
      const d = await openDialect(parseStoreUrl(scratch.url), { poolSize: 1, busyTimeoutMs: 1000 });
      const db = new Kysely<Database>({ dialect: d.kysely });
      try {
        await migrator(db, dialect).migrateTo('0001_initial');
        const row = {
          id: 'old-run',
          created_at: '2026-11-01T10:00:00.000Z',
          finished_at: null,
          status: 'interrupted' as const,
          recipe_name: 'classic',
          recipe_hash: 'h',
          recipe_json: '{}',
          device: 'llvmpipe (webgpu)',
          options_json: '{}',
          count_total: 0,
          count_ok: 0,
          count_ng: 0,
          count_error: 0,
          timings_json: '{}',
        };
        await db.insertInto('runs').values(row).execute();
        assert.equal((await migrateToLatest(db, dialect)).error, undefined);
      } finally {
        await db.destroy();
      }
      const store = await openStore(scratch.url);
      try {
        assert.deepEqual(await store.sessions('old-run'), [{ startedAt: '2026-11-01T10:00:00.000Z', device: 'llvmpipe (webgpu)' }]);
        await store.resumeRun('old-run', { device: 'cpu (cpu)' });
        assert.deepEqual(
          (await store.sessions('old-run')).map((s) => s.device),
          ['llvmpipe (webgpu)', 'cpu (cpu)'],
        );
      } finally {
        await store.close();
      }
    });
  });
}
