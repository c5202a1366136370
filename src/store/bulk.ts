/**
 * Bulk statements for `writeResults`, built by Kysely once per (statement, row count) and reused
 * with fresh parameters. Building a 500-row insert through Kysely's builder (parse every value,
 * compile the tree) costs about as much as SQLite takes to execute it; reusing the compiled SQL
 * text leaves only the parameter array to fill, and lets the SQLite statement cache hit.
 *
 * Row counts are split into full chunks of `max` rows and a remainder in powers of two
 * (1000 → 512 + 256 + 128 + 64 + 32 + 8), so each table has at most ⌈log2 max⌉ + 1 shapes.
 */
import { CompiledQuery, sql, type Compilable } from 'kysely';
import { KensaError } from '../errors.js';
import type { DialectName } from './dialect.js';
import type { DefectsTable, ItemsTable, KensaDb } from './schema.js';

/** Column order of the bound parameters of one items row. */
export const ITEM_COLUMNS = [
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
] as const satisfies readonly (keyof ItemsTable)[];

/** Column order of the bound parameters of one defects row. */
export const DEFECT_COLUMNS = [
  'run_id',
  'item_key',
  'idx',
  'x',
  'y',
  'w',
  'h',
  'area',
  'score',
  'mean_gradient',
  'class',
  'mask_rle',
] as const satisfies readonly (keyof DefectsTable)[];

/** The columns an upsert overwrites (all but the key). */
const UPDATED = ITEM_COLUMNS.filter((c) => c !== 'run_id' && c !== 'item_key');

/** Chunk sizes covering `n` rows: full chunks of `max`, then the remainder in powers of two. */
export function chunkSizes(n: number, max: number): number[] {
  const sizes: number[] = [];
  let left = n;
  while (left >= max) {
    sizes.push(max);
    left -= max;
  }
  for (let p = 1 << Math.floor(Math.log2(Math.max(1, max))); p >= 1; p >>= 1) {
    if (left >= p) {
      sizes.push(p);
      left -= p;
    }
  }
  return sizes;
}

/** A placeholder row whose every value is a distinct string (to check parameter order). */
function marker<T extends string>(columns: readonly T[], row: number): Record<T, string> {
  return Object.fromEntries(columns.map((c) => [c, `${row}:${c}`])) as Record<T, string>;
}

/** Compiles `query` and checks that its parameters are exactly `expected`, in order. */
function compileChecked(query: Compilable, expected: readonly string[]): string {
  const compiled = query.compile();
  const ok = compiled.parameters.length === expected.length && compiled.parameters.every((p, i) => p === expected[i]);
  if (!ok) throw new KensaError('KENSA_ERR_INTERNAL', `kensa store: unexpected parameter order in ${compiled.sql.slice(0, 80)}…`);
  return compiled.sql;
}

/** The compiled SQL of the bulk statements, cached by statement and row count. */
export class BulkStatements {
  readonly #db: KensaDb;
  readonly #dialect: DialectName;
  readonly #cache = new Map<string, string>();

  constructor(db: KensaDb, dialect: DialectName) {
    this.#db = db;
    this.#dialect = dialect;
  }

  #get(key: string, build: () => string): string {
    let text = this.#cache.get(key);
    if (text === undefined) {
      text = build();
      this.#cache.set(key, text);
    }
    return text;
  }

  /** Insert `n` items rows, updating rows whose (run_id, item_key) exists. */
  upsertItems(n: number): string {
    return this.#get(`items:${n}`, () => {
      const rows = Array.from({ length: n }, (_, r) => marker(ITEM_COLUMNS, r));
      const insert = this.#db.insertInto('items').values(rows as unknown as ItemsTable[]);
      const query =
        this.#dialect === 'mysql'
          ? insert.onDuplicateKeyUpdate(Object.fromEntries(UPDATED.map((c) => [c, sql`values(${sql.ref(c)})`])))
          : insert.onConflict((oc) => oc.columns(['run_id', 'item_key']).doUpdateSet(Object.fromEntries(UPDATED.map((c) => [c, sql.ref(`excluded.${c}`)]))));
      return compileChecked(
        query,
        rows.flatMap((row) => ITEM_COLUMNS.map((c) => row[c])),
      );
    });
  }

  /** Delete the defects of `n` items of one run: parameters (run_id, key1 … keyN). */
  deleteDefects(n: number): string {
    return this.#get(`delete:${n}`, () => {
      const keys = Array.from({ length: n }, (_, r) => `${r}:item_key`);
      const query = this.#db.deleteFrom('defects').where('run_id', '=', 'run_id').where('item_key', 'in', keys);
      return compileChecked(query, ['run_id', ...keys]);
    });
  }

  /** Insert `n` defects rows. */
  insertDefects(n: number): string {
    return this.#get(`defects:${n}`, () => {
      const rows = Array.from({ length: n }, (_, r) => marker(DEFECT_COLUMNS, r));
      const query = this.#db.insertInto('defects').values(rows as unknown as DefectsTable[]);
      return compileChecked(
        query,
        rows.flatMap((row) => DEFECT_COLUMNS.map((c) => row[c])),
      );
    });
  }
}

/** A compiled statement with its parameters, ready for `executeQuery`. */
export function bound(text: string, parameters: unknown[]): CompiledQuery {
  return CompiledQuery.raw(text, parameters);
}
