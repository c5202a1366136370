/**
 * Probabilities are honoured: over many per-sample draws (no pixels: `draw` alone), each count is
 * within 5 standard deviations of its binomial expectation (a false failure has odds below 1e-6,
 * and the seeds are fixed). CPU.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Compose, draw, HorizontalFlip, OneOf, Sequential, SomeOf, VerticalFlip, type Json, type SampleContext } from '../../src/augment/index.js';

const DRAWS = 4000;
const CTX: SampleContext = { width: 32, height: 32, channels: 3, dtype: 'u8' };

function assertBinomial(count: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(count - n * p) <= 5 * sd + 1e-9, `${what}: ${count} of ${n}, expected ${n * p} ± ${5 * sd}`);
}

describe('probabilities', () => {
  test('a transform with p runs on a share p of the samples (several p)', () => {
    for (const p of [0.05, 0.3, 0.5, 0.9]) {
      const params = draw(HorizontalFlip({ p }), DRAWS, CTX, { seed: 1 });
      assertBinomial(params.filter((q) => q !== null).length, DRAWS, p, `p ${p}`);
    }
  });

  test('p 0 never runs, p 1 always', () => {
    assert.ok(draw(HorizontalFlip({ p: 0 }), DRAWS, CTX, { seed: 2 }).every((q) => q === null));
    assert.ok(draw(HorizontalFlip({ p: 1 }), DRAWS, CTX, { seed: 2 }).every((q) => q === true));
  });

  test('nested chances multiply; the children of Sequential draw independently', () => {
    const params = draw(Compose({ transforms: [Sequential({ transforms: [HorizontalFlip({ p: 0.5 }), VerticalFlip({ p: 0.4 })], p: 0.6 })] }), DRAWS, CTX, {
      seed: 3,
    });
    const inner = params.map((q) => (q as Json[])[0] as Json[] | null);
    const h = inner.filter((s) => s !== null && s[0] !== null).length;
    const v = inner.filter((s) => s !== null && s[1] !== null).length;
    const both = inner.filter((s) => s !== null && s[0] !== null && s[1] !== null).length;
    assertBinomial(h, DRAWS, 0.3, 'HorizontalFlip inside p 0.6');
    assertBinomial(v, DRAWS, 0.24, 'VerticalFlip inside p 0.6');
    assertBinomial(both, DRAWS, 0.12, 'both');
  });

  test('OneOf picks a child with weights proportional to their p, and the pick runs', () => {
    const params = draw(OneOf({ transforms: [HorizontalFlip({ p: 0.2 }), VerticalFlip({ p: 0.6 })], p: 0.8 }), DRAWS, CTX, { seed: 4 });
    const first = params.filter((q) => q !== null && (q as Json[])[0] !== null).length;
    const second = params.filter((q) => q !== null && (q as Json[])[1] !== null).length;
    assert.ok(params.every((q) => q === null || (q as Json[]).filter((c) => c !== null).length === 1));
    assertBinomial(first, DRAWS, 0.8 * 0.25, 'first child');
    assertBinomial(second, DRAWS, 0.8 * 0.75, 'second child');
  });

  test('SomeOf picks n distinct children uniformly, each then runs with its p', () => {
    const children = [HorizontalFlip({ p: 1 }), VerticalFlip({ p: 1 }), HorizontalFlip({ p: 0.5 }), VerticalFlip({ p: 1 })];
    const params = draw(SomeOf({ transforms: children, n: 2 }), DRAWS, CTX, { seed: 5 });
    const runs = [0, 1, 2, 3].map((k) => params.filter((q) => (q as Json[])[k] !== null).length);
    for (const k of [0, 1, 3]) assertBinomial(runs[k]!, DRAWS, 0.5, `child ${k}`);
    assertBinomial(runs[2]!, DRAWS, 0.25, 'child 2 (p 0.5)');
    assert.ok(params.every((q) => (q as Json[]).filter((c) => c !== null).length <= 2));
  });
});
