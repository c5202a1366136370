import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batcher, type Geometry } from '../../src/pipeline/batcher.js';

const frame = (id: number, width = 100, height = 100): { id: number; geometry: Geometry } => ({ id, geometry: { width, height, channels: 1, dtype: 'u8' } });

test('batches close by count, by pixel budget and by waiting time, per geometry', () => {
  let now = 0;
  const b = new Batcher<ReturnType<typeof frame>>({ maxCount: 3, maxPixels: 25_000, maxWaitMs: 50 }, () => now);
  assert.deepEqual(b.add(frame(1)), []);
  assert.deepEqual(b.add(frame(2, 50, 50)), [], 'another size waits in its own group');
  assert.deepEqual(b.add(frame(3)), []);
  // 3 frames of 10k pixels would pass the 25k budget: the group closes before the third
  assert.deepEqual(
    b.add(frame(4)).map((g) => g.map((f) => f.id)),
    [[1, 3]],
  );
  assert.equal(b.waiting, 2);
  assert.equal(b.nextDueIn(), 50);
  now = 49;
  assert.deepEqual(b.due(), []);
  now = 50;
  assert.deepEqual(
    b
      .due()
      .map((g) => g.map((f) => f.id))
      .sort(),
    [[2], [4]],
  );
  const c = new Batcher<ReturnType<typeof frame>>({ maxCount: 2, maxPixels: 1e9, maxWaitMs: 1000 }, () => now);
  c.add(frame(5));
  assert.deepEqual(
    c.add(frame(6)).map((g) => g.map((f) => f.id)),
    [[5, 6]],
    'count closes the batch',
  );
  c.add(frame(7));
  assert.deepEqual(
    c.drain().map((g) => g.map((f) => f.id)),
    [[7]],
  );
  assert.equal(c.nextDueIn(), null);
});

test('takePreferred gives the oldest group its largest preferred size; the rest keep their arrival times', () => {
  let now = 0;
  const b = new Batcher<ReturnType<typeof frame>>({ maxCount: 16, maxPixels: 1e9, maxWaitMs: 100 }, () => now);
  for (let i = 1; i <= 5; i++) {
    now = i;
    b.add(frame(i));
  }
  now = 10;
  b.add(frame(9, 50, 50));
  assert.equal(b.takePreferred([8]), null, 'no group holds 8 frames');
  assert.deepEqual(
    b.takePreferred([2, 4, 8])?.map((f) => f.id),
    [1, 2, 3, 4],
  );
  assert.equal(b.waiting, 2);
  // frame 5 came at t = 5: it is due at 105, the 50×50 frame at 110
  assert.equal(b.nextDueIn(), 95);
  assert.deepEqual(
    b.takePreferred([1])?.map((f) => f.id),
    [5],
    'the older group first',
  );
});

test('remove takes a waiting frame back; a batched one is not waiting', () => {
  let now = 0;
  const b = new Batcher<ReturnType<typeof frame>>({ maxCount: 3, maxPixels: 1e9, maxWaitMs: 100 }, () => now);
  const first = frame(1);
  const second = frame(2);
  b.add(first);
  now = 30;
  b.add(second);
  assert.equal(b.remove(first), true);
  assert.equal(b.nextDueIn(), 100, 'the group is due 100 ms after its oldest frame left, frame 2 at t = 30');
  assert.equal(b.remove(first), false);
  b.add(frame(3));
  const [batch] = b.add(frame(4));
  assert.deepEqual(
    batch?.map((f) => f.id),
    [2, 3, 4],
  );
  assert.equal(b.remove(second), false);
  assert.equal(b.waiting, 0);
});
