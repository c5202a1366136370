/**
 * GuardedPool without a server: a fake pg-pool that acts as pg-pool does when a backend is
 * terminated just as it started (the 'connect' event, then the client's 'error' before the
 * checkout's promise resolves). The error must meet a listener, and the client must go back to
 * the pool with it (so pg-pool destroys it).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type pg from 'pg';
import { GuardedPool } from '../../src/store/postgres/postgres-pool.js';

class FakeClient extends EventEmitter {
  released: (Error | undefined)[] = [];
  release(err?: Error): void {
    this.released.push(err);
  }
}

class FakePool extends EventEmitter {
  readonly client = new FakeClient();
  failOnConnect: Error | null = null;
  connect(): Promise<FakeClient> {
    // pg-pool: 'connect' for a new client, then its own idle listener dropped, then the callback
    this.emit('connect', this.client);
    if (this.failOnConnect) this.client.emit('error', this.failOnConnect);
    return Promise.resolve(this.client);
  }
}

test('a client terminated as it starts: its error meets a listener, and it is released with it', async () => {
  const fake = new FakePool();
  const pool = new GuardedPool(fake as unknown as pg.Pool);
  const fatal = new Error('terminating connection due to administrator command');
  fake.failOnConnect = fatal;
  const client = await pool.connect();
  client.release();
  assert.deepEqual(fake.client.released, [fatal], 'released with the error: pg-pool destroys it');
  fake.failOnConnect = null;
  const again = await pool.connect();
  again.release();
  assert.deepEqual(fake.client.released, [fatal, undefined], 'a later checkout without errors is released clean');
});
