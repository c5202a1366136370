import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { overriding } from '../../src/kernels/tuning.js';

describe('kernel tuning overrides', () => {
  let current: Readonly<{ rows: number; wide: boolean }> = Object.freeze({ rows: 16, wide: false });
  const set = (t: typeof current) => (current = t);
  const defaults = current;

  test('apply inside the block, frozen, and end with it', () => {
    const seen = overriding(current, set, { rows: 8 }, () => current);
    assert.deepEqual(seen, { rows: 8, wide: false });
    assert.ok(Object.isFrozen(seen));
    assert.equal(current, defaults);
  });

  test('end when the block throws or rejects, and last through an awaited block', async () => {
    assert.throws(
      () =>
        overriding(current, set, { rows: 1 }, () => {
          throw new Error('x');
        }),
      /x/,
    );
    assert.equal(current, defaults);
    await assert.rejects(
      overriding(current, set, { wide: true }, async () => {
        await Promise.resolve();
        throw new Error('y');
      }),
      /y/,
    );
    assert.equal(current, defaults);
    const inside = await overriding(current, set, { wide: true }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      return current.wide;
    });
    assert.equal(inside, true);
    assert.equal(current, defaults);
  });
});
