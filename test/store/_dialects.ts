/**
 * Test setup shared by the store tests and bench/store (as Kysely's test-setup.ts): the dialects
 * to run (env KENSA_DIALECTS=sqlite,postgres filters) and a scratch database per test file.
 *
 * Servers (local and CI): PostgreSQL at KENSA_TEST_POSTGRES (default
 * postgres://postgres@127.0.0.1:5432/test) and MySQL/MariaDB at KENSA_TEST_MYSQL (default
 * mysql://root@127.0.0.1:3306/test). Each scratch database is `kensa_test_<random>`, created
 * through the admin URL and dropped afterwards, so runs never collide. An unreachable server
 * fails on CI (CI=true) and skips that dialect locally, with the reason.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createConnection } from 'mysql2/promise';
import { DIALECT_NAMES, type DialectName } from '../../src/store/dialect.js';

export const POSTGRES_ADMIN_URL = process.env.KENSA_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_ADMIN_URL = process.env.KENSA_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/test';

/** The dialects to test: all, or those listed in KENSA_DIALECTS. */
export const DIALECTS: readonly DialectName[] = (() => {
  const env = process.env.KENSA_DIALECTS;
  if (env === undefined || env.trim() === '') return DIALECT_NAMES;
  const wanted = env.split(',').map((s) => s.trim());
  for (const w of wanted)
    if (!DIALECT_NAMES.includes(w as DialectName)) throw new Error(`KENSA_DIALECTS: unknown dialect ${JSON.stringify(w)} (known: ${DIALECT_NAMES.join(', ')})`);
  return DIALECT_NAMES.filter((d) => wanted.includes(d));
})();

export interface Scratch {
  dialect: DialectName;
  /** The URL to open the scratch store with. */
  url: string;
  /** Drops the database (or deletes the SQLite file's folder). */
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs one admin statement against a server dialect. */
export async function adminSql(dialect: 'postgres' | 'mysql', statement: string): Promise<void> {
  if (dialect === 'postgres') {
    const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  } else {
    const conn = await createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 3000 });
    try {
      await conn.query(statement);
    } finally {
      await conn.end();
    }
  }
}

/**
 * A fresh, empty database for one dialect, or a string saying why it is skipped (server down,
 * not on CI). On CI an unreachable server throws.
 */
export async function scratchDatabase(dialect: DialectName): Promise<Scratch | string> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'kensa-store-'));
    return { dialect, url: join(dir, 'kensa.db'), drop: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })) };
  }
  const name = `kensa_test_${randomBytes(6).toString('hex')}`;
  const admin = dialect === 'postgres' ? POSTGRES_ADMIN_URL : MYSQL_ADMIN_URL;
  try {
    await adminSql(dialect, `create database ${name}`);
  } catch (e) {
    const reason = `${dialect} server at ${admin} unreachable: ${e instanceof Error ? e.message || String((e as { code?: unknown }).code) : String(e)}`;
    if (process.env.CI === 'true') throw new Error(reason, { cause: e });
    return reason;
  }
  const drop = () => adminSql(dialect, dialect === 'postgres' ? `drop database if exists ${name} with (force)` : `drop database if exists ${name}`);
  return { dialect, url: withDatabase(admin, name), drop };
}
