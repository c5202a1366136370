/**
 * The results database: runs, items and defects, on SQLite (default, a file), PostgreSQL or
 * MySQL/MariaDB, through Kysely.
 *
 * @example
 * const store = await openStore('kensa.db');
 * const run = await store.createRun({ recipeName: 'classic', recipe, device: 'cpu' });
 * const done = await store.doneItemKeys(run.id);            // what a resume skips
 * await store.writeResults(run.id, batch);                   // one transaction per batch, idempotent
 * await store.finishRun(run.id, 'done');                     // counts computed from the items
 * await store.close();
 *
 * Writes are idempotent per (run, item): writing an item again (a crash, then a resume) updates
 * its row and replaces its defects, in the same transaction. A failed write throws
 * KENSA_ERR_STORE naming the backend and the operation; the transaction is rolled back, and
 * retrying the same batch once the database is reachable again is safe.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CompiledQuery, Kysely, sql, type Transaction } from 'kysely';
import { KensaError } from '../errors.js';
import { describe, integerInRange, invalidParameter, is, oneOf } from '../validate.js';
import { openDialect, parseStoreUrl, type DialectName, type StoreDialect } from './dialect.js';
import { BulkStatements, bound, chunkSizes, DEFECT_COLUMNS, ITEM_COLUMNS } from './bulk.js';
import { migrateToLatest } from './migrations.js';
import {
  DEFECT_CLASSES,
  ITEM_STATUSES,
  MAX_ITEM_KEY_LENGTH,
  MAX_RUN_ID_LENGTH,
  RUN_STATUSES,
  type Database,
  type Defect,
  type DefectRecord,
  type DefectsTable,
  type ItemRecord,
  type ItemResult,
  type ItemsTable,
  type ItemStatus,
  type Json,
  type KensaDb,
  type NewRun,
  type RunCounts,
  type RunRecord,
  type RunSession,
  type RunsTable,
  type RunStatus,
} from './schema.js';

export interface OpenStoreOptions {
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
  /** Pooled connections for PostgreSQL/MySQL, 1–64 (default 4). */
  poolSize?: number;
  /** SQLite: how long a write waits for another process's lock, 0–600000 ms (default 5000). */
  busyTimeoutMs?: number;
}

/** Options of {@link Store.items}. */
export interface ItemQuery {
  status?: ItemStatus;
  /** At most this many items (ordered by item key). */
  limit?: number;
  /** Only items whose key sorts after this one (keyset pagination: pass the last key you got); order 'key' only. */
  after?: string;
  /** 'key' (default), or 'score': highest score first, items without a score last, ties by key. */
  order?: 'key' | 'score';
  /** Skip this many items first (with `limit`): the pagination of order 'score'. */
  offset?: number;
}

/** What one {@link Store.writeResults} call stored. */
export interface WriteSummary {
  items: number;
  defects: number;
}

/** Rows per statement, whatever the parameter limit allows. */
const MAX_ROWS_PER_STATEMENT = 512;
const INT32_MAX = 2 ** 31 - 1;
const RUN_ID_PATTERN = /^[A-Za-z0-9._-]+$/;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const FINISHED: readonly RunStatus[] = RUN_STATUSES.filter((s) => s !== 'running');

/** JSON with object keys sorted at every level (stable across key order). */
export function canonicalJson(value: Json): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** sha256 hex of a recipe's canonical JSON: what `runs.recipe_hash` holds unless the caller gives one. */
export function recipeHash(recipe: Json): string {
  return createHash('sha256').update(canonicalJson(recipe)).digest('hex');
}

/** A fresh run id, `YYYYMMDD-HHMMSS-xxxxxx` (UTC time + 3 random bytes). */
export function newRunId(now = new Date()): string {
  const iso = now.toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}-${randomBytes(3).toString('hex')}`;
}

// ---- boundary checks ------------------------------------------------------------------------

function checkRunId(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_RUN_ID_LENGTH || !RUN_ID_PATTERN.test(v)) {
    throw invalidParameter(name, `a run id of 1 to ${MAX_RUN_ID_LENGTH} letters, digits, ".", "_" or "-"`, v);
  }
  return v;
}

function checkString(name: string, v: unknown, maxLength: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) {
    throw invalidParameter(name, `a string of 1 to ${maxLength} characters`, v);
  }
  return v;
}

function checkOptionalString(name: string, v: unknown, maxLength = Number.MAX_SAFE_INTEGER): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > maxLength) throw invalidParameter(name, `a string of at most ${maxLength} characters or null`, v);
  return v;
}

function checkNullableInteger(name: string, v: unknown, hi: number): number | null {
  if (v === null || v === undefined) return null;
  if (!is.integer(v) || !is.inRange(v, 0, hi)) throw invalidParameter(name, `integer between 0 and ${hi} or null`, v);
  return v;
}

function checkFinite(name: string, v: unknown): number {
  if (!is.number(v)) throw invalidParameter(name, 'finite number', v);
  return v;
}

function checkJson(name: string, v: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch {
    text = undefined;
  }
  if (text === undefined) throw invalidParameter(name, 'a JSON value', v);
  return text;
}

function checkTimings(name: string, v: unknown): string {
  if (v === undefined || v === null) return '{}';
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidParameter(name, 'an object of stage name → milliseconds', v);
  for (const [k, ms] of Object.entries(v)) {
    if (!is.number(ms) || ms < 0) throw invalidParameter(`${name}.${k}`, 'finite number of milliseconds ≥ 0', ms);
  }
  return JSON.stringify(v);
}

function checkCounts(name: string, v: unknown): RunCounts {
  if (v === null || typeof v !== 'object') throw invalidParameter(name, 'an object {total, ok, ng, error}', v);
  const c = v as Record<string, unknown>;
  return {
    total: integerInRange(`${name}.total`, c.total, 0, INT32_MAX),
    ok: integerInRange(`${name}.ok`, c.ok, 0, INT32_MAX),
    ng: integerInRange(`${name}.ng`, c.ng, 0, INT32_MAX),
    error: integerInRange(`${name}.error`, c.error, 0, INT32_MAX),
  };
}

function toDefectRow(runId: string, itemKey: string, d: Defect, idx: number, name: string): DefectsTable {
  if (d === null || typeof d !== 'object') throw invalidParameter(name, 'a defect object', d);
  return {
    run_id: runId,
    item_key: itemKey,
    idx,
    x: integerInRange(`${name}.x`, d.x, 0, INT32_MAX),
    y: integerInRange(`${name}.y`, d.y, 0, INT32_MAX),
    w: integerInRange(`${name}.w`, d.w, 0, INT32_MAX),
    h: integerInRange(`${name}.h`, d.h, 0, INT32_MAX),
    area: integerInRange(`${name}.area`, d.area, 0, Number.MAX_SAFE_INTEGER),
    score: checkFinite(`${name}.score`, d.score),
    mean_gradient: checkFinite(`${name}.meanGradient`, d.meanGradient),
    class: oneOf(`${name}.class`, d.class, DEFECT_CLASSES),
    mask_rle: checkOptionalString(`${name}.maskRle`, d.maskRle),
  };
}

/** Validates a batch and turns it into rows; throws KENSA_ERR_INVALID_ARGUMENT before anything is written. */
function toRows(runId: string, results: readonly ItemResult[], now: string): { items: ItemsTable[]; defects: DefectsTable[] } {
  const items: ItemsTable[] = [];
  const defects: DefectsTable[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    const name = `results[${i}]`;
    if (r === null || typeof r !== 'object') throw invalidParameter(name, 'an item result object', r);
    const itemKey = checkString(`${name}.itemKey`, r.itemKey, MAX_ITEM_KEY_LENGTH);
    const first = seen.get(itemKey);
    if (first !== undefined) throw invalidParameter(`${name}.itemKey`, `a key not already in this batch (results[${first}] has it)`, itemKey);
    seen.set(itemKey, i);
    if (r.contentHash !== null && (typeof r.contentHash !== 'string' || !SHA256_PATTERN.test(r.contentHash))) {
      throw invalidParameter(`${name}.contentHash`, '64 lowercase hex digits (sha256) or null', r.contentHash);
    }
    const score = r.score === undefined || r.score === null ? null : checkFinite(`${name}.score`, r.score);
    items.push({
      run_id: runId,
      item_key: itemKey,
      path: checkString(`${name}.path`, r.path, Number.MAX_SAFE_INTEGER),
      content_hash: r.contentHash,
      size_bytes: checkNullableInteger(`${name}.sizeBytes`, r.sizeBytes, Number.MAX_SAFE_INTEGER),
      width: checkNullableInteger(`${name}.width`, r.width, INT32_MAX),
      height: checkNullableInteger(`${name}.height`, r.height, INT32_MAX),
      status: oneOf(`${name}.status`, r.status, ITEM_STATUSES),
      error: checkOptionalString(`${name}.error`, r.error),
      verdict: checkOptionalString(`${name}.verdict`, r.verdict, 64),
      score,
      stage_timings_json: checkTimings(`${name}.stageTimings`, r.stageTimings),
      created_at: now,
    });
    const list = r.defects ?? [];
    if (!Array.isArray(list)) throw invalidParameter(`${name}.defects`, 'an array of defects', list);
    for (let j = 0; j < list.length; j++) defects.push(toDefectRow(runId, itemKey, list[j] as Defect, j, `${name}.defects[${j}]`));
  }
  return { items, defects };
}

// ---- row ↔ record ---------------------------------------------------------------------------

function toRunRecord(r: RunsTable): RunRecord {
  return {
    id: r.id,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    status: r.status,
    recipeName: r.recipe_name,
    recipeHash: r.recipe_hash,
    recipe: JSON.parse(r.recipe_json) as Json,
    device: r.device,
    options: JSON.parse(r.options_json) as { [key: string]: Json },
    counts: { total: Number(r.count_total), ok: Number(r.count_ok), ng: Number(r.count_ng), error: Number(r.count_error) },
    timings: JSON.parse(r.timings_json) as Record<string, number>,
  };
}

function toItemRecord(r: ItemsTable): ItemRecord {
  return {
    runId: r.run_id,
    itemKey: r.item_key,
    path: r.path,
    contentHash: r.content_hash,
    sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
    width: r.width,
    height: r.height,
    status: r.status,
    error: r.error,
    verdict: r.verdict,
    score: r.score,
    stageTimings: JSON.parse(r.stage_timings_json) as Record<string, number>,
    createdAt: r.created_at,
  };
}

function toDefectRecord(r: DefectsTable): DefectRecord {
  return {
    runId: r.run_id,
    itemKey: r.item_key,
    idx: r.idx,
    x: r.x,
    y: r.y,
    w: r.w,
    h: r.h,
    area: Number(r.area),
    score: r.score,
    meanGradient: r.mean_gradient,
    class: r.class,
    maskRle: r.mask_rle,
  };
}

function errorText(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return e.errors.map(errorText).join('; ');
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return e.message !== '' ? e.message : typeof code === 'string' ? code : e.name;
  }
  return describe(e);
}

// ---- the store ------------------------------------------------------------------------------

/** An open results database. Create with {@link openStore}. */
export class Store {
  /** The backend: 'sqlite', 'postgres' or 'mysql'. */
  readonly dialect: DialectName;
  /** The store's URL with any password masked. */
  readonly url: string;
  /** The Kysely instance, for read queries the API does not cover (reports). Write through the API. */
  readonly db: KensaDb;
  readonly #itemsPerStatement: number;
  readonly #defectsPerStatement: number;
  readonly #bulk: BulkStatements;
  readonly #knownRuns = new Set<string>();
  readonly #analyze: string | null;
  #defectsWritten = 0;
  #analyzeAt = 1000;
  #closed = false;

  /** @internal use {@link openStore}. */
  constructor(dialect: StoreDialect, db: KensaDb) {
    this.dialect = dialect.name;
    this.url = dialect.display;
    this.db = db;
    this.#bulk = new BulkStatements(db, dialect.name);
    this.#analyze = dialect.analyze;
    this.#itemsPerStatement = Math.min(MAX_ROWS_PER_STATEMENT, Math.floor(dialect.maxParameters / ITEM_COLUMNS.length));
    this.#defectsPerStatement = Math.min(MAX_ROWS_PER_STATEMENT, Math.floor(dialect.maxParameters / DEFECT_COLUMNS.length));
  }

  /** Runs one database operation; any failure becomes KENSA_ERR_STORE naming backend and operation. */
  async #op<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new KensaError('KENSA_ERR_STORE', `${this.dialect} store ${this.url}: ${operation} called after close()`);
    try {
      return await fn();
    } catch (e) {
      if (e instanceof KensaError) throw e;
      throw new KensaError('KENSA_ERR_STORE', `${this.dialect} store ${this.url}: ${operation} failed: ${errorText(e)}`, { cause: e });
    }
  }

  /** Starts a run (status 'running'). Throws KENSA_ERR_INVALID_ARGUMENT when the id is taken. */
  async createRun(run: NewRun): Promise<RunRecord> {
    if (run === null || typeof run !== 'object') throw invalidParameter('run', 'an object {recipeName, recipe, device, …}', run);
    const id = run.id === undefined ? newRunId() : checkRunId('run.id', run.id);
    const recipeName = checkString('run.recipeName', run.recipeName, 255);
    const recipeJson = checkJson('run.recipe', run.recipe);
    const hash = run.recipeHash === undefined ? recipeHash(run.recipe) : checkString('run.recipeHash', run.recipeHash, 128);
    const device = checkString('run.device', run.device, 255);
    if (run.options !== undefined && (run.options === null || typeof run.options !== 'object' || Array.isArray(run.options))) {
      throw invalidParameter('run.options', 'an object', run.options);
    }
    const optionsJson = run.options === undefined ? '{}' : checkJson('run.options', run.options);
    if ((await this.getRun(id)) !== undefined) throw invalidParameter('run.id', 'an id no run has yet', id);
    const row: RunsTable = {
      id,
      created_at: new Date().toISOString(),
      finished_at: null,
      status: 'running',
      recipe_name: recipeName,
      recipe_hash: hash,
      recipe_json: recipeJson,
      device,
      options_json: optionsJson,
      count_total: 0,
      count_ok: 0,
      count_ng: 0,
      count_error: 0,
      timings_json: '{}',
    };
    await this.#op(`createRun ${id}`, () =>
      this.db.transaction().execute(async (trx) => {
        await trx.insertInto('runs').values(row).execute();
        await trx.insertInto('run_sessions').values({ run_id: id, idx: 0, started_at: row.created_at, device }).execute();
      }),
    );
    this.#knownRuns.add(id);
    return toRunRecord(row);
  }

  /** The run with this id, or undefined. */
  async getRun(id: string): Promise<RunRecord | undefined> {
    checkRunId('id', id);
    const row = await this.#op(`getRun ${id}`, () => this.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst());
    return row === undefined ? undefined : toRunRecord(row);
  }

  /** Every run, newest first (at most `limit`). */
  async listRuns(options: { limit?: number } = {}): Promise<RunRecord[]> {
    const limit = options.limit === undefined ? undefined : integerInRange('options.limit', options.limit, 1, INT32_MAX);
    const rows = await this.#op('listRuns', () => {
      let q = this.db.selectFrom('runs').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc');
      if (limit !== undefined) q = q.limit(limit);
      return q.execute();
    });
    return rows.map(toRunRecord);
  }

  async #requireRun(name: string, id: string): Promise<void> {
    if (this.#knownRuns.has(id)) return;
    const row = await this.#op(`find run ${id}`, () => this.db.selectFrom('runs').select('id').where('id', '=', id).executeTakeFirst());
    if (row === undefined) throw invalidParameter(name, 'the id of an existing run', id);
    this.#knownRuns.add(id);
  }

  /**
   * Marks a run as running again (for `--resume`): status 'running', no finish time, and a new
   * session with the device this resume computes on (default: the run's device so far), which
   * becomes the run's device. Pair it with {@link doneItemKeys} to skip what the run already stored.
   */
  async resumeRun(id: string, options: { device?: string } = {}): Promise<RunRecord> {
    checkRunId('id', id);
    if (options === null || typeof options !== 'object') throw invalidParameter('options', 'an object {device?}', options);
    const given = options.device === undefined ? undefined : checkString('options.device', options.device, 255);
    await this.#requireRun('id', id);
    await this.#op(`resumeRun ${id}`, () =>
      this.db.transaction().execute(async (trx) => {
        const run = await trx.selectFrom('runs').select('device').where('id', '=', id).executeTakeFirstOrThrow();
        const last = await trx
          .selectFrom('run_sessions')
          .select((eb) => eb.fn.max('idx').as('idx'))
          .where('run_id', '=', id)
          .executeTakeFirst();
        const idx = last?.idx === null || last?.idx === undefined ? 0 : Number(last.idx) + 1;
        const device = given ?? run.device;
        await trx.insertInto('run_sessions').values({ run_id: id, idx, started_at: new Date().toISOString(), device }).execute();
        await trx.updateTable('runs').set({ status: 'running', finished_at: null, device }).where('id', '=', id).execute();
      }),
    );
    return (await this.getRun(id))!;
  }

  /** Each start and resume of a run, in order, with the device it computed on. */
  async sessions(runId: string): Promise<RunSession[]> {
    checkRunId('runId', runId);
    const rows = await this.#op(`sessions ${runId}`, () =>
      this.db.selectFrom('run_sessions').select(['started_at', 'device']).where('run_id', '=', runId).orderBy('idx').execute(),
    );
    return rows.map((r) => ({ startedAt: r.started_at, device: r.device }));
  }

  /** Replaces a run's options (a training run adds its final metrics when it ends). */
  async updateRunOptions(id: string, options: { [key: string]: Json }): Promise<RunRecord> {
    checkRunId('id', id);
    if (options === null || typeof options !== 'object' || Array.isArray(options)) throw invalidParameter('options', 'an object', options);
    const optionsJson = checkJson('options', options);
    await this.#requireRun('id', id);
    await this.#op(`updateRunOptions ${id}`, () => this.db.updateTable('runs').set({ options_json: optionsJson }).where('id', '=', id).execute());
    return (await this.getRun(id))!;
  }

  /**
   * Ends a run: its status ('done', 'interrupted' or 'failed'), its counts (default: counted from
   * its items now) and stage timings (stage → ms), and the finish time.
   */
  async finishRun(id: string, status: Exclude<RunStatus, 'running'>, counts?: RunCounts, timings?: Record<string, number>): Promise<RunRecord> {
    checkRunId('id', id);
    oneOf('status', status, FINISHED);
    const given = counts === undefined ? undefined : checkCounts('counts', counts);
    const timingsJson = checkTimings('timings', timings);
    await this.#requireRun('id', id);
    const c = given ?? (await this.counts(id));
    await this.#op(`finishRun ${id}`, () =>
      this.db
        .updateTable('runs')
        .set({
          status,
          finished_at: new Date().toISOString(),
          count_total: c.total,
          count_ok: c.ok,
          count_ng: c.ng,
          count_error: c.error,
          timings_json: timingsJson,
        })
        .where('id', '=', id)
        .execute(),
    );
    return (await this.getRun(id))!;
  }

  /**
   * Stores a batch of item results in ONE transaction. Idempotent per (run, item): an item written
   * again has its row updated and its defects replaced, never duplicated. The batch is validated
   * first (KENSA_ERR_INVALID_ARGUMENT names the bad field, nothing is written); a database failure
   * throws KENSA_ERR_STORE after the transaction rolled back, and the same batch can be retried.
   */
  async writeResults(runId: string, results: readonly ItemResult[]): Promise<WriteSummary> {
    checkRunId('runId', runId);
    if (!Array.isArray(results)) throw invalidParameter('results', 'an array of item results', results);
    const rows = toRows(runId, results, new Date().toISOString());
    if (rows.items.length === 0) return { items: 0, defects: 0 };
    await this.#requireRun('runId', runId);
    const what = `writeResults (run ${runId}, ${rows.items.length} items, ${rows.defects.length} defects; rolled back, the batch can be retried)`;
    await this.#op(what, () => this.db.transaction().execute((trx) => this.#write(trx, runId, rows.items, rows.defects)));
    this.#defectsWritten += rows.defects.length;
    if (this.#analyze !== null && this.#defectsWritten >= this.#analyzeAt && this.#analyzeAt <= 1_000_000) {
      this.#analyzeAt *= 2;
      // Statistics only: a failure here loses nothing and must not fail the write.
      await this.db.executeQuery(CompiledQuery.raw(this.#analyze)).catch(() => {});
    }
    return { items: rows.items.length, defects: rows.defects.length };
  }

  async #write(trx: Transaction<Database>, runId: string, items: ItemsTable[], defects: DefectsTable[]): Promise<void> {
    let at = 0;
    for (const n of chunkSizes(items.length, this.#itemsPerStatement)) {
      const params: unknown[] = [];
      const keys: unknown[] = [runId];
      for (let i = at; i < at + n; i++) {
        const row = items[i]!;
        for (const c of ITEM_COLUMNS) params.push(row[c]);
        keys.push(row.item_key);
      }
      at += n;
      await trx.executeQuery(bound(this.#bulk.upsertItems(n), params));
      await trx.executeQuery(bound(this.#bulk.deleteDefects(n), keys));
    }
    at = 0;
    for (const n of chunkSizes(defects.length, this.#defectsPerStatement)) {
      const params: unknown[] = [];
      for (let i = at; i < at + n; i++) {
        const row = defects[i]!;
        for (const c of DEFECT_COLUMNS) params.push(row[c]);
      }
      at += n;
      await trx.executeQuery(bound(this.#bulk.insertDefects(n), params));
    }
  }

  /** Keys of every item the run has stored (any status): what a resume skips. */
  async doneItemKeys(runId: string): Promise<Set<string>> {
    checkRunId('runId', runId);
    const rows = await this.#op(`doneItemKeys ${runId}`, () => this.db.selectFrom('items').select('item_key').where('run_id', '=', runId).execute());
    return new Set(rows.map((r) => r.item_key));
  }

  /**
   * The run's items ordered by key (or by score, highest first), optionally of one status, a page
   * at a time (`limit` with `after` for key order, with `offset` for score order).
   */
  async items(runId: string, query: ItemQuery = {}): Promise<ItemRecord[]> {
    checkRunId('runId', runId);
    const status = query.status === undefined ? undefined : oneOf('query.status', query.status, ITEM_STATUSES);
    const limit = query.limit === undefined ? undefined : integerInRange('query.limit', query.limit, 1, INT32_MAX);
    const order = query.order === undefined ? 'key' : oneOf('query.order', query.order, ['key', 'score'] as const);
    const after = query.after === undefined ? undefined : checkString('query.after', query.after, MAX_ITEM_KEY_LENGTH);
    if (after !== undefined && order !== 'key') throw invalidParameter('query.after', "undefined with order 'score' (page with offset)", after);
    const offset = query.offset === undefined ? undefined : integerInRange('query.offset', query.offset, 0, Number.MAX_SAFE_INTEGER);
    if (offset !== undefined && limit === undefined) throw invalidParameter('query.limit', 'a limit when offset is given', limit);
    const rows = await this.#op(`items ${runId}`, () => {
      let q = this.db.selectFrom('items').selectAll().where('run_id', '=', runId);
      if (status !== undefined) q = q.where('status', '=', status);
      if (after !== undefined) q = q.where('item_key', '>', after);
      // dialects disagree on where NULL sorts; a score is never below -1e300
      if (order === 'score') q = q.orderBy(sql`coalesce(score, -1e300)`, 'desc');
      q = q.orderBy('item_key');
      if (limit !== undefined) q = q.limit(limit);
      if (offset !== undefined) q = q.offset(offset);
      return q.execute();
    });
    return rows.map(toItemRecord);
  }

  /** The run's defects (of one item when `itemKey` is given), ordered by item key and index. */
  async defects(runId: string, itemKey?: string): Promise<DefectRecord[]> {
    checkRunId('runId', runId);
    if (itemKey !== undefined) checkString('itemKey', itemKey, MAX_ITEM_KEY_LENGTH);
    const rows = await this.#op(`defects ${runId}`, () => {
      let q = this.db.selectFrom('defects').selectAll().where('run_id', '=', runId);
      if (itemKey !== undefined) q = q.where('item_key', '=', itemKey);
      return q.orderBy('item_key').orderBy('idx').execute();
    });
    return rows.map(toDefectRecord);
  }

  /** Items per status, counted from the stored items now. */
  async counts(runId: string): Promise<RunCounts> {
    checkRunId('runId', runId);
    const rows = await this.#op(`counts ${runId}`, () =>
      this.db
        .selectFrom('items')
        .select((eb) => ['status', eb.fn.countAll().as('n')])
        .where('run_id', '=', runId)
        .groupBy('status')
        .execute(),
    );
    const c: RunCounts = { total: 0, ok: 0, ng: 0, error: 0 };
    for (const r of rows) {
      const n = Number(r.n);
      c[r.status] += n;
      c.total += n;
    }
    return c;
  }

  /** Closes the connection(s). Idempotent; any later call throws KENSA_ERR_STORE. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.db.destroy();
  }
}

function checkOptions(options: unknown): Required<OpenStoreOptions> {
  if (options === null || typeof options !== 'object') throw invalidParameter('options', 'an object', options);
  const o = options as OpenStoreOptions;
  if (o.migrate !== undefined && typeof o.migrate !== 'boolean') throw invalidParameter('options.migrate', 'a boolean', o.migrate);
  return {
    migrate: o.migrate ?? true,
    poolSize: o.poolSize === undefined ? 4 : integerInRange('options.poolSize', o.poolSize, 1, 64),
    busyTimeoutMs: o.busyTimeoutMs === undefined ? 5000 : integerInRange('options.busyTimeoutMs', o.busyTimeoutMs, 0, 600_000),
  };
}

/**
 * Opens (and by default migrates) the store a URL names: a path or `sqlite:PATH` → SQLite (the
 * default is the file `kensa.db`), `postgres://…` → PostgreSQL, `mysql://…` → MySQL/MariaDB.
 * @throws KENSA_ERR_INVALID_ARGUMENT for a bad URL or option; KENSA_ERR_STORE when the database
 *   cannot be opened, reached or migrated.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const location = parseStoreUrl(url);
  const opts = checkOptions(options);
  const fail = (operation: string, e: unknown) =>
    new KensaError('KENSA_ERR_STORE', `${location.dialect} store ${location.display}: ${operation} failed: ${errorText(e)}`, { cause: e });
  let dialect: StoreDialect;
  try {
    dialect = await openDialect(location, { poolSize: opts.poolSize, busyTimeoutMs: opts.busyTimeoutMs });
  } catch (e) {
    throw fail('open', e);
  }
  const db = new Kysely<Database>({ dialect: dialect.kysely });
  if (opts.migrate) {
    let error: unknown;
    try {
      error = (await migrateToLatest(db, dialect.name)).error;
    } catch (e) {
      error = e;
    }
    if (error !== undefined) {
      await db.destroy().catch(() => {});
      throw fail('open (migrate)', error);
    }
  }
  return new Store(dialect, db);
}
