/**
 * PostgreSQL through a pg Pool. int8 values (bigint columns, count(*)) are parsed as numbers
 * (exact below 2^53: byte sizes and pixel areas). A pooled client whose connection dies while idle
 * is dropped by the pool (the 'error' listener keeps that from crashing the process); one that
 * fails while checked out is destroyed on release (GuardedPool), so a query on a dead connection
 * fails once with KENSA_ERR_STORE and the next one gets a fresh connection.
 *
 * Statistics: the foreign-key checks of a defects insert run a plan that PostgreSQL caches per
 * connection; planned while `items` was empty it is a sequential scan, and inserts then slow down
 * linearly with the table (measured: 2k rows/s after 80k rows, 15k rows/s after ANALYZE).
 * Autovacuum fixes that within minutes; the Store runs `analyze` on a doubling schedule meanwhile.
 */
import pg from 'pg';
import { PostgresDialect } from 'kysely';
import type { DialectOptions, StoreDialect, StoreLocation } from '../dialect.js';
import { GuardedPool } from './postgres-pool.js';

const INT8_OID = 20;
/** Wait at most this long for a connection (pg's default is forever). */
const CONNECT_TIMEOUT_MS = 10_000;

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export function createPostgresDialect(location: StoreLocation, options: DialectOptions): StoreDialect {
  const pool = new pg.Pool({
    connectionString: location.target,
    max: options.poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    types,
  });
  // An idle client whose server connection is terminated emits 'error' on the pool; the pool
  // removes that client. Without a listener Node would treat the event as an uncaught exception.
  pool.on('error', () => {});
  return {
    name: 'postgres',
    display: location.display,
    kysely: new PostgresDialect({ pool: new GuardedPool(pool) }),
    maxParameters: 65535,
    upsert: 'on-conflict',
    analyze: 'analyze items, defects',
  };
}
