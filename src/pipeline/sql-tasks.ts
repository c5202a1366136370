/**
 * Tasks from a user's SQL table and results written back to it. The user's query is read page by
 * page, keyed on its first column (keyset pagination: each page is its own short statement
 * through the pool, so no cursor or transaction lives across the run and a dropped connection
 * costs one retried page). Each row is expanded by the fan-out (`position=xm,xp,zm,zp` gives four
 * items per row) and its image path built from the template (`./project/{sid}_{position}.jpg`).
 * Results go back through the write-back statement (`UPDATE panoramas SET {position}_score =
 * :score WHERE id = :id`), a batch per transaction; a batch that fails on a lost connection, a
 * timeout or a deadlock is retried with backoff. The statement sets values (it does not add to
 * them), so a retried batch changes nothing twice.
 */
import { CompiledQuery, Kysely } from 'kysely';
import { resolve } from 'node:path';
import { KensaError } from '../errors.js';
import { integerInRange } from '../validate.js';
import { openDialect, parseStoreUrl, type DialectName } from '../store/dialect.js';
import type { Json } from '../store/schema.js';
import type { ItemResult } from './inspect.js';
import { type DatabasePause, type RetryOptions, retryTransient } from './retry.js';
import type { ResultSink, TaskSource } from './run.js';
import type { SourceItem } from './source.js';

export type TaskValue = string | number | null;

export interface SqlTaskOptions {
  /** The task database: a SQLite path, postgres://… or mysql://… URL. */
  url: string;
  /** A SELECT whose first column is a unique key (the pagination key). */
  query: string;
  /** Image path template: `{column}` of the query or `{name}` of the fan-out. */
  path: string;
  /** `name=v1,v2,…`: each row becomes one item per value. */
  fanOut?: string;
  /** Statement run for each result: `{name}` of the fan-out, `:param` of the row, the fan-out and the result (score, verdict, status). */
  writeBack?: string;
  /** How long failing statements are retried before the run fails (default 60 s). */
  retryMs?: number;
  /** What the error of a statement that failed for `retryMs` tells to do (see RetryOptions.giveUp). */
  giveUp?: string;
  /** Rows per page of the query, 1–100000 (default 500). */
  pageRows?: number;
  /** Called when a statement starts waiting for the database (each retry), and with null when it went through. */
  onPause?: (pause: DatabasePause | null) => void;
}

/** The fan-out of `name=v1,v2`: identifier-safe values, since they may name columns in the write-back. */
export function parseFanOut(spec: string | undefined): { name: string; values: string[] } | null {
  if (spec === undefined) return null;
  const m = /^([A-Za-z_]\w*)=([A-Za-z0-9_]+(?:,[A-Za-z0-9_]+)*)$/.exec(spec);
  if (!m)
    throw new KensaError(
      'KENSA_ERR_INVALID_ARGUMENT',
      `Expected NAME=V1,V2,… (letters, digits, underscores) for --fan-out but received ${JSON.stringify(spec)}`,
    );
  return { name: m[1]!, values: m[2]!.split(',') };
}

/** The `{name}` placeholders of a template, in order. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!);
}

/** Fills `{name}` placeholders; every name must be in `values` (checked before the run). */
export function fillTemplate(template: string, values: Readonly<Record<string, TaskValue>>): string {
  return template.replace(/\{([^{}]*)\}/g, (_, name: string) => String(values[name]));
}

function checkPlaceholders(flag: string, names: readonly string[], known: readonly string[]): void {
  for (const name of names)
    if (!known.includes(name))
      throw new KensaError(
        'KENSA_ERR_INVALID_ARGUMENT',
        `Expected placeholders among ${known.map((k) => `{${k}}`).join(', ')} for ${flag} but received {${name}}`,
      );
}

/** `:name` parameters of a statement (not `::type` casts), in order. */
function namedParameters(statement: string): string[] {
  return [...statement.matchAll(/(?<![:\w]):([A-Za-z_]\w*)/g)].map((m) => m[1]!);
}

function quoteIdentifier(dialect: DialectName, name: string): string {
  return dialect === 'mysql' ? `\`${name.replaceAll('`', '``')}\`` : `"${name.replaceAll('"', '""')}"`;
}

/** A statement with `:name` parameters compiled for the dialect: `$1…` on PostgreSQL, `?` elsewhere. */
function compileNamed(dialect: DialectName, statement: string): { sql: string; names: string[] } {
  const names: string[] = [];
  const sql = statement.replace(/(?<![:\w]):([A-Za-z_]\w*)/g, (_, name: string) => {
    names.push(name);
    return dialect === 'postgres' ? `$${names.length}` : '?';
  });
  return { sql, names };
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CONNECTION_KILLED',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  // PostgreSQL: serialization failure, deadlock, admin shutdown (pg_terminate_backend), crash shutdown, cannot connect now
  '40001',
  '40P01',
  '57P01',
  '57P02',
  '57P03',
]);

/** Whether a failed statement may succeed when tried again: a lost connection, a timeout, a deadlock. */
export function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (RETRYABLE_CODES.has(code) || code.startsWith('08'))) return true;
  const message = e instanceof Error ? e.message : String(e);
  return /connection (terminated|lost|closed|reset)|terminating connection|timeout|Cannot enqueue|closed state|not queryable/i.test(message);
}

/** `fn` retried through an outage (see retryTransient); any failure ends as a KENSA_ERR_STORE naming `what`. */
async function withRetry<T>(what: string, fn: () => Promise<T>, o: Omit<RetryOptions, 'transient'>): Promise<T> {
  try {
    return await retryTransient(what, fn, { ...o, transient: isTransient });
  } catch (e) {
    if (e instanceof KensaError) throw e;
    throw new KensaError('KENSA_ERR_STORE', `${what} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** A task database opened for one run: its items, and the sink of its results. */
export class SqlTasks implements TaskSource, ResultSink {
  readonly #db: Kysely<unknown>;
  readonly #dialect: DialectName;
  readonly #options: SqlTaskOptions;
  readonly #fanOut: { name: string; values: string[] } | null;
  readonly #retryMs: number;
  readonly #pageRows: number;
  #key = '';
  #columns: string[] = [];
  #writeBack: { sql: string; names: string[] } | null = null;
  /** Rows of the query times the fan-out. */
  total = 0;
  /** What a run records as its source (the URL without its password). */
  readonly description: Json;
  /** Statements retried after a transient failure (a visible status of lost connections). */
  retries = 0;
  /** Where the pauses of this task database go, unless a write names its own. */
  readonly #onPause: ((pause: DatabasePause | null) => void) | undefined;

  /** @internal use {@link openSqlTasks}. */
  constructor(db: Kysely<unknown>, dialect: DialectName, display: string, options: SqlTaskOptions) {
    this.#db = db;
    this.#dialect = dialect;
    this.#options = options;
    this.#fanOut = parseFanOut(options.fanOut);
    this.#retryMs = options.retryMs ?? 60_000;
    this.#pageRows = integerInRange('pageRows', options.pageRows ?? 500, 1, 100_000);
    this.#onPause = options.onPause;
    this.description = {
      url: display,
      query: options.query,
      path: options.path,
      fanOut: options.fanOut ?? null,
      writeBack: options.writeBack ?? null,
    };
  }

  async #rows(statement: string, parameters: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    const result = await this.#db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(statement, [...parameters]));
    return result.rows;
  }

  #paged(after: boolean): string {
    const q = this.#options.query.trim().replace(/;\s*$/, '');
    const key = quoteIdentifier(this.#dialect, this.#key);
    const where = after ? ` WHERE kensa_tasks.${key} > ${this.#dialect === 'postgres' ? '$1' : '?'}` : '';
    return `SELECT * FROM (${q}) kensa_tasks${where} ORDER BY kensa_tasks.${key} LIMIT ${this.#pageRows}`;
  }

  /** Checks the query, the templates and the write-back against the query's columns; counts the items. */
  async prepare(): Promise<void> {
    const q = this.#options.query.trim().replace(/;\s*$/, '');
    let probe: Record<string, unknown>[];
    try {
      probe = await withRetry('--query', () => this.#rows(`SELECT * FROM (${q}) kensa_tasks LIMIT 1`), { retryMs: Math.min(this.#retryMs, 5000) });
    } catch (e) {
      const cause = (e as Error).cause;
      if (isTransient(cause))
        throw new KensaError(
          'KENSA_ERR_INVALID_ARGUMENT',
          `Expected a reachable database for --tasks but received ${JSON.stringify(this.#options.url)}: ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      throw new KensaError(
        'KENSA_ERR_INVALID_ARGUMENT',
        `Expected a SELECT the task database runs for --query but received ${JSON.stringify(q)}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    if (probe.length === 0) return;
    this.#columns = Object.keys(probe[0]!);
    this.#key = this.#columns[0]!;
    const fan = this.#fanOut ? [this.#fanOut.name] : [];
    checkPlaceholders('--path', placeholders(this.#options.path), [...this.#columns, ...fan]);
    if (this.#options.writeBack !== undefined) {
      checkPlaceholders('--write-back', placeholders(this.#options.writeBack), fan);
      this.#writeBack = compileNamed(this.#dialect, this.#options.writeBack);
      const known = [...this.#columns, ...fan, 'score', 'verdict', 'status'];
      for (const name of namedParameters(this.#options.writeBack))
        if (!known.includes(name))
          throw new KensaError(
            'KENSA_ERR_INVALID_ARGUMENT',
            `Expected parameters among ${known.map((k) => `:${k}`).join(', ')} for --write-back but received :${name}`,
          );
    }
    const [count] = await withRetry('counting --query', () => this.#rows(`SELECT COUNT(*) AS n FROM (${q}) kensa_tasks`), this.#retry());
    this.total = Number(count!.n) * (this.#fanOut?.values.length ?? 1);
  }

  /** The items, page by page in key order; each page is one statement, retried on a lost connection. */
  async *items(): AsyncGenerator<SourceItem> {
    if (this.#key === '') return;
    let after: unknown;
    for (;;) {
      const page = await withRetry('reading a page of --query', () => this.#rows(this.#paged(after !== undefined), after !== undefined ? [after] : []), {
        ...this.#retry(),
        onPause: (p) => this.#paused(p),
      });
      for (const row of page) {
        const fields: Record<string, TaskValue> = {};
        for (const c of this.#columns) {
          const v = row[c];
          fields[c] = v === null || v === undefined ? null : typeof v === 'number' || typeof v === 'string' ? v : typeof v === 'bigint' ? Number(v) : String(v);
        }
        for (const value of this.#fanOut?.values ?? [null]) {
          const all = this.#fanOut && value !== null ? { ...fields, [this.#fanOut.name]: value } : fields;
          yield {
            key: value === null ? String(fields[this.#key]) : `${fields[this.#key]}/${value}`,
            path: resolve(fillTemplate(this.#options.path, all)),
            fields: all,
          };
        }
      }
      if (page.length < this.#pageRows) return;
      after = page[page.length - 1]![this.#key];
    }
  }

  /** Writes a batch of results back in one transaction (items without a score are left alone); pauses go to `onPause`. */
  async write(results: readonly ItemResult[], onPause = this.#onPause): Promise<void> {
    const statement = this.#writeBack;
    if (statement === null) return;
    const scored = results.filter((r) => r.score !== undefined && r.fields !== undefined);
    if (scored.length === 0) return;
    await withRetry(
      `writing ${scored.length} results back`,
      () =>
        this.#db.transaction().execute(async (trx) => {
          for (const r of scored) {
            const values: Record<string, unknown> = { ...r.fields, score: r.score, verdict: r.verdict ?? null, status: r.status };
            await trx.executeQuery(
              CompiledQuery.raw(
                fillTemplate(statement.sql, r.fields!),
                statement.names.map((n) => values[n]),
              ),
            );
          }
        }),
      { ...this.#retry(), onPause: (p) => this.#paused(p, onPause) },
    );
  }

  /** The retry budget of a statement, and what its error says once spent. */
  #retry(): Omit<RetryOptions, 'transient'> {
    return { retryMs: this.#retryMs, ...(this.#options.giveUp !== undefined ? { giveUp: this.#options.giveUp } : {}) };
  }

  #paused(pause: DatabasePause | null, onPause = this.#onPause): void {
    if (pause) this.retries++;
    onPause?.(pause);
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }
}

/**
 * Opens the task database and checks the query and templates against it.
 * @throws KENSA_ERR_INVALID_ARGUMENT naming --tasks, --query, --path, --fan-out or --write-back.
 */
export async function openSqlTasks(options: SqlTaskOptions): Promise<SqlTasks> {
  let location: ReturnType<typeof parseStoreUrl>;
  try {
    location = parseStoreUrl(options.url);
  } catch {
    throw new KensaError(
      'KENSA_ERR_INVALID_ARGUMENT',
      `Expected a SQLite path, postgres://… or mysql://… URL for --tasks but received ${JSON.stringify(options.url)}`,
    );
  }
  if (!/^\s*(select|with)\b/i.test(options.query))
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected a SELECT statement for --query but received ${JSON.stringify(options.query)}`);
  const dialect = await openDialect(location, { poolSize: 4, busyTimeoutMs: 5000 });
  const tasks = new SqlTasks(new Kysely<unknown>({ dialect: dialect.kysely }), location.dialect, location.display, options);
  try {
    await tasks.prepare();
  } catch (e) {
    await tasks.close();
    throw e;
  }
  return tasks;
}
