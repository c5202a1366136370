/**
 * MySQL and MariaDB through a mysql2 pool (the callback API, as Kysely's MysqlDialect expects).
 * utf8mb4 throughout; BIGINT values come back as numbers (mysql2's default without
 * supportBigNumbers), exact below 2^53.
 */
import { createPool } from 'mysql2';
import { MysqlDialect } from 'kysely';
import type { DialectOptions, StoreDialect, StoreLocation } from '../dialect.js';

const CONNECT_TIMEOUT_MS = 10_000;

export function createMysqlDialect(location: StoreLocation, options: DialectOptions): StoreDialect {
  const pool = createPool({
    uri: location.target,
    connectionLimit: options.poolSize,
    charset: 'utf8mb4',
    connectTimeout: CONNECT_TIMEOUT_MS,
  });
  return {
    name: 'mysql',
    display: location.display,
    kysely: new MysqlDialect({ pool }),
    maxParameters: 65535,
    upsert: 'on-duplicate-key',
    analyze: null,
  };
}
