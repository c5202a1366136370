/**
 * The seed's task table for the SQL-task tests: one row per panorama (sid), a score column per
 * position, its images; killing a scratch database's connections; and the exactly-once check of
 * the written-back scores against the store.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CompiledQuery, Kysely } from 'kysely';
import { createConnection } from 'mysql2/promise';
import { DEFAULT_RECIPE } from '../../src/detect/recipe.js';
import { enqueueRun } from '../../src/pipeline/jobs.js';
import { openSqlTasks } from '../../src/pipeline/sql-tasks.js';
import type { RunRecord } from '../../src/store/schema.js';
import { openDialect, parseStoreUrl, type DialectName } from '../../src/store/dialect.js';
import { openStore, type Store } from '../../src/store/store.js';
import { MYSQL_ADMIN_URL } from '../store/_dialects.js';
import { writeFrames } from './_images.js';

export const POSITIONS = ['xm', 'xp', 'zm', 'zp'] as const;
export const WRITE_BACK = 'UPDATE panoramas SET {position}_score = :score WHERE id = :id';

export async function execute(url: string, statements: readonly string[]): Promise<Record<string, unknown>[]> {
  const d = await openDialect(parseStoreUrl(url), { poolSize: 1, busyTimeoutMs: 5000 });
  const db = new Kysely<unknown>({ dialect: d.kysely });
  try {
    let rows: Record<string, unknown>[] = [];
    for (const s of statements) rows = (await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(s))).rows;
    return rows;
  } finally {
    await db.destroy();
  }
}

/** The seed's schema with `rows` panoramas, and their images (32 px frames) in `dir`/project. */
export async function seed(url: string, dir: string, rows: number): Promise<string> {
  const scores = POSITIONS.map((p) => `${p}_score DOUBLE PRECISION`).join(', ');
  const statements = [`CREATE TABLE panoramas (id INTEGER PRIMARY KEY, sid VARCHAR(32) NOT NULL, ${scores})`];
  for (let i = 0; i < rows; i += 500) {
    const values = Array.from({ length: Math.min(500, rows - i) }, (_, k) => `(${i + k + 1}, 'p${i + k + 1}')`).join(', ');
    statements.push(`INSERT INTO panoramas (id, sid) VALUES ${values}`);
  }
  await execute(url, statements);
  const frames = join(dir, 'frames');
  await writeFrames(frames, 6, 32);
  const project = join(dir, 'project');
  mkdirSync(project);
  for (let i = 0; i < rows; i++)
    for (const [j, p] of POSITIONS.entries()) copyFileSync(join(frames, `frame00${(i + j) % 6}.png`), join(project, `p${i + 1}_${p}.png`));
  return project;
}

/**
 * The seed's tasks (`seed`'s table at `url`, images under `project`, every position, written back
 * with WRITE_BACK) queued on `queue` in jobs of `jobItems` items as one run of the default recipe in `store`.
 */
export async function enqueueSeedRun(url: string, project: string, queue: string, store: Store, jobItems = 4): Promise<RunRecord> {
  const tasks = await openSqlTasks({
    url,
    query: 'SELECT id, sid FROM panoramas',
    path: join(project, '{sid}_{position}.png'),
    fanOut: 'position=xm,xp,zm,zp',
    writeBack: WRITE_BACK,
  });
  try {
    const { run } = await enqueueRun(tasks.items(), {
      queue,
      store,
      recipe: DEFAULT_RECIPE,
      source: { sources: [], tasks: tasks.description },
      total: tasks.total,
      jobItems,
    });
    return run;
  } finally {
    await tasks.close();
  }
}

/** Ends every connection of the scratch database (the run's pooled ones); returns how many. */
export async function killConnections(dialect: DialectName, url: string): Promise<number> {
  const name = new URL(url).pathname.slice(1);
  if (dialect === 'postgres') {
    const rows = await execute(url.replace(`/${name}`, '/test'), [
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`,
    ]);
    return rows.length;
  }
  const conn = await createConnection({ uri: MYSQL_ADMIN_URL });
  try {
    const [rows] = await conn.query(`SELECT id FROM information_schema.processlist WHERE db = '${name}' AND id <> connection_id()`);
    for (const r of rows as { id: number }[]) await conn.query(`KILL ${r.id}`).catch(() => undefined);
    return (rows as unknown[]).length;
  } finally {
    await conn.end();
  }
}

/** Every item of the run is in the store once, not an error, and its score is in its row's cell. */
export async function checkWrittenOnce(url: string, store: string | Store, runId: string, rows: number): Promise<void> {
  const table = await execute(url, ['SELECT * FROM panoramas ORDER BY id']);
  const opened = typeof store === 'string' ? await openStore(store) : store;
  try {
    const items = await opened.items(runId);
    assert.equal(items.length, rows * POSITIONS.length, 'every item stored (0 lost)');
    assert.equal(new Set(items.map((i) => i.itemKey)).size, items.length, 'no item stored twice');
    const byKey = new Map(items.map((i) => [i.itemKey, i]));
    for (const row of table)
      for (const p of POSITIONS) {
        const item = byKey.get(`${row.id}/${p}`);
        assert.ok(item, `item ${row.id}/${p} stored`);
        assert.equal(item.status === 'error', false, `${row.id}/${p}: ${item.error}`);
        assert.equal(Number(row[`${p}_score`]), item.score, `${row.id}/${p} written back`);
      }
  } finally {
    if (typeof store === 'string') await opened.close();
  }
}
