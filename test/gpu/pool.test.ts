import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, sizeClass } from '../../src/gpu/pool.js';

/** Stand-in buffers: the pool only reads `size` and calls `destroy()`. */
function fakeBuffer(size: number, destroyed: number[]): GPUBuffer {
  return { size, destroy: () => destroyed.push(size) } as unknown as GPUBuffer;
}

test('pool: a freed buffer is reused by the next request of its size class', () => {
  const destroyed: number[] = [];
  const pool = new BufferPool({} as GPUDevice, 0);
  const create = (size: number) => fakeBuffer(size, destroyed);
  const a = pool.acquire(1000, create);
  pool.release(a);
  assert.equal(pool.acquire(1000, create), a);
  assert.deepEqual(
    { created: pool.stats.created, reused: pool.stats.reused, bytesInUse: pool.stats.bytesInUse },
    { created: 1, reused: 1, bytesInUse: sizeClass(1000) },
  );
});

test('pool: on an out-of-memory error it empties its cache and retries once', () => {
  const destroyed: number[] = [];
  const pool = new BufferPool({} as GPUDevice, 0);
  const ok = (size: number) => fakeBuffer(size, destroyed);
  pool.release(pool.acquire(4096, ok));
  pool.release(pool.acquire(8192, ok));
  assert.equal(pool.stats.bytesFree, 4096 + 8192);
  let calls = 0;
  const failsOnce = (size: number) => {
    if (calls++ === 0) throw new RangeError('out of memory');
    return fakeBuffer(size, destroyed);
  };
  const b = pool.acquire(100_000, failsOnce);
  assert.equal(calls, 2);
  assert.equal(b.size, sizeClass(100_000));
  assert.deepEqual(
    destroyed.sort((x, y) => x - y),
    [4096, 8192],
  );
  assert.equal(pool.stats.bytesFree, 0);
  assert.equal(pool.stats.bytesInUse, sizeClass(100_000));
});

test('pool: a second failure is thrown and leaves the accounting as it was', () => {
  const pool = new BufferPool({} as GPUDevice, 0);
  let calls = 0;
  const fails = () => {
    calls++;
    throw new RangeError('out of memory');
  };
  assert.throws(() => pool.acquire(1 << 20, fails), RangeError);
  assert.equal(calls, 2);
  assert.deepEqual({ created: pool.stats.created, bytesInUse: pool.stats.bytesInUse }, { created: 0, bytesInUse: 0 });
});
