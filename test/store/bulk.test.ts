import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kysely, SqliteDialect, MysqlDialect, PostgresDialect, type Dialect } from 'kysely';
import { BulkStatements, chunkSizes, DEFECT_COLUMNS, ITEM_COLUMNS } from '../../src/store/bulk.js';
import type { DialectName } from '../../src/store/dialect.js';
import type { Database } from '../../src/store/schema.js';

test('chunkSizes: full chunks, then the remainder in powers of two; they sum to n', () => {
  assert.deepEqual(chunkSizes(0, 512), []);
  assert.deepEqual(chunkSizes(1, 512), [1]);
  assert.deepEqual(chunkSizes(1000, 512), [512, 256, 128, 64, 32, 8]);
  assert.deepEqual(chunkSizes(1024, 512), [512, 512]);
  assert.deepEqual(chunkSizes(7, 4), [4, 2, 1]);
  assert.deepEqual(chunkSizes(2520, 2520), [2520]);
  for (let n = 0; n < 3000; n += 37) {
    const sizes = chunkSizes(n, 512);
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      n,
    );
    assert.ok(sizes.every((s) => s === 512 || (s < 512 && (s & (s - 1)) === 0)));
  }
});

// Compiling needs no connection: Kysely builds SQL from the dialect's query compiler alone.
const never = () => Promise.reject(new Error('no connection in this test'));
const DIALECTS: Record<DialectName, Dialect> = {
  sqlite: new SqliteDialect({ database: never }),
  postgres: new PostgresDialect({ pool: never }),
  mysql: new MysqlDialect({ pool: never }),
};

test('bulk statements compile once per shape, with one placeholder per column and row', () => {
  for (const [name, dialect] of Object.entries(DIALECTS) as [DialectName, Dialect][]) {
    const bulk = new BulkStatements(new Kysely<Database>({ dialect }), name);
    const placeholders = (text: string) => (name === 'postgres' ? (text.match(/\$\d+/g) ?? []).length : (text.match(/\?/g) ?? []).length);
    assert.equal(placeholders(bulk.insertDefects(4)), 4 * DEFECT_COLUMNS.length);
    assert.equal(placeholders(bulk.upsertItems(3)), 3 * ITEM_COLUMNS.length);
    assert.equal(placeholders(bulk.deleteDefects(5)), 6);
    assert.equal(bulk.insertDefects(4), bulk.insertDefects(4));
    const upsert = bulk.upsertItems(2);
    if (name === 'mysql') assert.match(upsert, /on duplicate key update `path` = values\(`path`\)/);
    else assert.match(upsert, /on conflict \("run_id", "item_key"\) do update set "path" = "excluded"."path"/);
  }
});
