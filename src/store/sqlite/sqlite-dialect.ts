/**
 * SQLite through better-sqlite3: one connection, WAL journal, synchronous=NORMAL (durable at every
 * checkpoint, fast commits), foreign keys on. Prepared statements are cached by SQL text, so a
 * batch insert of a fixed row count is prepared once, not once per batch (Kysely's driver calls
 * `prepare()` for every query).
 */
import Database from 'better-sqlite3';
import { SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';
import type { DialectOptions, StoreDialect, StoreLocation } from '../dialect.js';

/** SQLite's default SQLITE_MAX_VARIABLE_NUMBER since 3.32. */
const SQLITE_MAX_PARAMETERS = 32766;
/** Statements kept prepared (the store issues a few dozen distinct ones). */
const STATEMENT_CACHE_SIZE = 64;

/** better-sqlite3's Database seen through Kysely's `SqliteDatabase`, with an LRU of statements. */
class CachingDatabase implements SqliteDatabase {
  readonly #db: Database.Database;
  readonly #cache = new Map<string, SqliteStatement>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  prepare(sql: string): SqliteStatement {
    const hit = this.#cache.get(sql);
    if (hit !== undefined) {
      this.#cache.delete(sql);
      this.#cache.set(sql, hit);
      return hit;
    }
    const stmt = this.#db.prepare(sql) as unknown as SqliteStatement;
    this.#cache.set(sql, stmt);
    if (this.#cache.size > STATEMENT_CACHE_SIZE) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    return stmt;
  }

  close(): void {
    this.#cache.clear();
    this.#db.close();
  }
}

export function createSqliteDialect(location: StoreLocation, options: DialectOptions): StoreDialect {
  const db = new Database(location.target, { timeout: options.busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (e) {
    db.close();
    throw e;
  }
  return {
    name: 'sqlite',
    display: location.display,
    kysely: new SqliteDialect({ database: new CachingDatabase(db) }),
    maxParameters: SQLITE_MAX_PARAMETERS,
    upsert: 'on-conflict',
    analyze: null,
  };
}
