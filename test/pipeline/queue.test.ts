import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedQueue } from '../../src/pipeline/queue.js';

test('push waits while the queue is full (backpressure) and pop drains in order', async () => {
  const q = new BoundedQueue<number>(2);
  await q.push(1);
  await q.push(2);
  let third = false;
  const p = q.push(3).then(() => (third = true));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(third, false, 'a third push waits for room');
  assert.equal(await q.pop(), 1);
  await p;
  assert.equal(third, true);
  q.close();
  const rest: number[] = [];
  for await (const v of q) rest.push(v);
  assert.deepEqual(rest, [2, 3]);
  assert.equal(await q.pop(), undefined);
});

test('a waiting consumer gets the next push; close wakes consumers with undefined', async () => {
  const q = new BoundedQueue<string>(1);
  const waiting = q.pop();
  await q.push('a');
  assert.equal(await waiting, 'a');
  const idle = q.pop();
  q.close();
  assert.equal(await idle, undefined);
  await assert.rejects(q.push('b'), /closed queue/);
  assert.throws(() => new BoundedQueue(0), /Expected integer ≥ 1 for capacity but received 0/);
});
