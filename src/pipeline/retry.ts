/**
 * Retrying a database statement through an outage. A stage whose statement fails on a lost
 * connection, a timeout or a deadlock pauses (its caller awaits, so the pipeline behind it holds
 * back), reports the pause (what waits, the retry count, since when) and tries again with
 * backoff; the first success ends the pause. An outage longer than the retry budget ends with a
 * KENSA_ERR_STORE that says what to do next (resume the run; a queue worker's job is tried again).
 */
import { KensaError } from '../errors.js';

/** Longest wait between two retries of a failed statement. */
const MAX_BACKOFF_MS = 2000;

/** `--db-retry S` of inspect, worker and job files: the default and the range, in seconds. */
export const DB_RETRY_S = { fallback: 60, min: 1, max: 86_400 } as const;

/** A stage waiting for its database: what the progress line and `kensa status` show. */
export interface DatabasePause {
  /** What waits: "writing 12 results back", "storing 64 results", … */
  stage: string;
  /** Retries so far (1 at the first). */
  retry: number;
  /** When the first failure of this outage happened, ms since the epoch. */
  since: number;
  /** The last failure's message. */
  error: string;
}

export interface RetryOptions {
  /** How long failures are retried before giving up, ms. */
  retryMs: number;
  /** Whether a failure may pass when tried again; any other failure is rethrown at once. */
  transient: (e: unknown) => boolean;
  /** Called with the pause at each retry, and with null when a retry succeeded. */
  onPause?: (pause: DatabasePause | null) => void;
  /** Aborted: give up after a few retries rather than the whole budget (the run is stopping). */
  signal?: AbortSignal;
  /** What the error of a spent budget tells to do (default: resume the run once the database is back). */
  giveUp?: string;
}

/** A store operation that failed on its database (KENSA_ERR_STORE): worth another try. */
export function isStoreFailure(e: unknown): boolean {
  return e instanceof KensaError && e.code === 'KENSA_ERR_STORE';
}

/** The text of a pause: `paused: waiting for database (stage), retry n, since 12:00:03`. */
export function formatPause(p: DatabasePause): string {
  return `paused: waiting for database (${p.stage}), retry ${p.retry}, since ${new Date(p.since).toISOString().slice(11, 19)} UTC`;
}

/**
 * Runs `fn` until it succeeds, a failure that is not transient (rethrown as is), or `retryMs`
 * has passed (KENSA_ERR_STORE naming `stage`); backoff 0.1 s doubling to 2 s.
 */
export async function retryTransient<T>(stage: string, fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const started = Date.now();
  let since = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      const value = await fn();
      if (attempt > 0) o.onPause?.(null);
      return value;
    } catch (e) {
      if (!o.transient(e)) throw e;
      const text = e instanceof Error ? e.message : String(e);
      if (Date.now() - started >= o.retryMs || (o.signal?.aborted && attempt > 2)) {
        if (attempt > 0) o.onPause?.(null);
        throw new KensaError(
          'KENSA_ERR_STORE',
          `${stage} failed (retried for ${Math.round((Date.now() - started) / 1000)} s; ${o.giveUp ?? 'resume the run once the database is back'}): ${text}`,
          { cause: e },
        );
      }
      if (attempt === 0) since = Date.now();
      o.onPause?.({ stage, retry: attempt + 1, since, error: text });
      await new Promise((r) => setTimeout(r, Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt)));
    }
  }
}
