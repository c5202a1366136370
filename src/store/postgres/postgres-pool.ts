/**
 * A pg Pool seen through Kysely's `PostgresPool`, that never hands out a connection twice after it
 * failed. pg-pool puts a client back on `release()` while its socket still looks open, which is
 * the case just after the server terminated the backend (the FATAL message arrives before the
 * close): the next checkout would fail again (ECONNRESET). Here a client that saw any error while
 * checked out is released with that error, and pg-pool destroys it; the next checkout connects
 * afresh. A SQL error (a constraint, say) costs one reconnect, which is rare and cheap.
 * A new client gets its error listener on the pool's 'connect' event, synchronously: pg-pool drops
 * its own listener before the checkout's promise resolves, and a backend terminated just as it
 * started sends its FATAL in the same read as the ready message, which would reach a client
 * without listeners (an uncaught exception) before an `await` resumes.
 */
import type pg from 'pg';
import { KensaError } from '../../errors.js';
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';

class GuardedClient implements PostgresPoolClient {
  readonly #client: pg.PoolClient;
  #failure: Error | undefined;

  constructor(client: pg.PoolClient) {
    this.#client = client;
    // A checked-out client whose connection dies between queries emits 'error'; without a
    // listener that would be an uncaught exception.
    client.on('error', (e: Error) => {
      this.#failure = e;
    });
  }

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(sqlOrCursor: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string') return this.#client.query(sqlOrCursor as unknown as pg.Submittable) as unknown as PostgresCursor<R>;
    return (this.#client.query(sqlOrCursor, parameters as unknown[]) as unknown as Promise<PostgresQueryResult<R>>).catch((e: unknown) => {
      this.#failure = e instanceof Error ? e : new KensaError('KENSA_ERR_STORE', String(e));
      throw e;
    });
  }

  release(): void {
    this.#client.release(this.#failure);
    this.#failure = undefined;
  }
}

export class GuardedPool implements PostgresPool {
  readonly #pool: pg.Pool;
  readonly #clients = new WeakMap<pg.PoolClient, GuardedClient>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
    pool.on('connect', (client) => void this.#guard(client));
  }

  #guard(client: pg.PoolClient): GuardedClient {
    let guarded = this.#clients.get(client);
    if (guarded === undefined) {
      guarded = new GuardedClient(client);
      this.#clients.set(client, guarded);
    }
    return guarded;
  }

  async connect(): Promise<PostgresPoolClient> {
    return this.#guard(await this.#pool.connect());
  }

  end(): Promise<void> {
    return this.#pool.end();
  }
}
