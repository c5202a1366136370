/**
 * The small interface between the Store and a database backend (after Kysely's own `Dialect`):
 * how a URL names a backend, and what the Store needs to know about each one. The drivers are
 * imported lazily, so a SQLite user never loads pg or mysql2.
 *
 * URLs:
 * - a path (`kensa.db`, `/data/runs.db`), `sqlite:PATH`, `sqlite:///abs/path`, `:memory:` → SQLite
 *   (better-sqlite3; WAL, synchronous=NORMAL);
 * - `postgres://user:pass@host:port/db` or `postgresql://…` → PostgreSQL (pg Pool);
 * - `mysql://user:pass@host:port/db` or `mariadb://…` → MySQL/MariaDB (mysql2 pool).
 */
import type { Dialect } from 'kysely';
import { invalidParameter } from '../validate.js';

export type DialectName = 'sqlite' | 'postgres' | 'mysql';
export const DIALECT_NAMES: readonly DialectName[] = ['sqlite', 'postgres', 'mysql'];

/** Where a store lives, parsed from its URL. */
export interface StoreLocation {
  dialect: DialectName;
  /** SQLite: the file path (or `:memory:`); servers: the connection URL for the driver. */
  target: string;
  /** The URL with any password masked, for messages. */
  display: string;
}

/** Backend settings the Store passes down (validated by openStore). */
export interface DialectOptions {
  /** Connections in the pool (PostgreSQL, MySQL). */
  poolSize: number;
  /** How long a SQLite write waits for another writer's lock before failing (ms). */
  busyTimeoutMs: number;
}

/** What the Store needs from a backend. */
export interface StoreDialect {
  readonly name: DialectName;
  /** The URL with any password masked. */
  readonly display: string;
  /** The Kysely dialect that talks to the backend. */
  readonly kysely: Dialect;
  /** Most bound parameters one statement may carry. */
  readonly maxParameters: number;
  /** How the backend spells "insert, or update the row with this key". */
  readonly upsert: 'on-conflict' | 'on-duplicate-key';
  /**
   * A statement that refreshes the planner's statistics, run by the Store after its first 1k, 2k,
   * 4k … defect rows (up to 1M; autovacuum takes over), or null where none is needed.
   */
  readonly analyze: string | null;
}

const URL_EXPECTED = 'a file path, sqlite:PATH, postgres://… or mysql://… URL';

/** Masks the password of a server URL (`postgres://u:***@h/db`, `redis://u:***@h`). */
export function maskPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

/**
 * Parses a store URL (see the module comment).
 * @throws KENSA_ERR_INVALID_ARGUMENT when `url` is not a non-empty string or names an unknown scheme.
 */
export function parseStoreUrl(url: unknown): StoreLocation {
  if (typeof url !== 'string' || url.trim() === '') throw invalidParameter('url', URL_EXPECTED, url);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw invalidParameter('url', URL_EXPECTED, url);
    return { dialect: 'sqlite', target: path, display: `sqlite:${path}` };
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    return { dialect: 'postgres', target: url, display: maskPassword(url) };
  }
  if (scheme === 'mysql' || scheme === 'mariadb') {
    const target = `mysql:${url.slice(scheme.length + 1)}`;
    return { dialect: 'mysql', target, display: maskPassword(target) };
  }
  // Anything else with "scheme://" is a URL we do not know; the rest is a path (C:\… included).
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw invalidParameter('url', URL_EXPECTED, url);
  return { dialect: 'sqlite', target: url, display: `sqlite:${url}` };
}

/** Opens the backend's driver (lazily imported). Connecting happens on the first query. */
export async function openDialect(location: StoreLocation, options: DialectOptions): Promise<StoreDialect> {
  switch (location.dialect) {
    case 'sqlite':
      return (await import('./sqlite/sqlite-dialect.js')).createSqliteDialect(location, options);
    case 'postgres':
      return (await import('./postgres/postgres-dialect.js')).createPostgresDialect(location, options);
    case 'mysql':
      return (await import('./mysql/mysql-dialect.js')).createMysqlDialect(location, options);
  }
}
