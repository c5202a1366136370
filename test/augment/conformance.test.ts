/**
 * Every registered transform (Kornia's CommonTests, Albumentations' serialization test): p = 0 is
 * the identity, p = 1 applies, the batch equals each item alone, replay equals the draw, the same
 * seed gives the same bytes, and JSON and YAML round trips give the same image and mask. CPU.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Affine,
  augment,
  Compose,
  HorizontalFlip,
  Perspective,
  RandomCrop,
  fromJSON,
  fromYAML,
  registeredTransforms,
  replay,
  toJSON,
  toYAML,
} from '../../src/augment/index.js';
import type { AugmentBatch, Transform } from '../../src/augment/index.js';
import { liveTensors } from '../../src/tensor.js';
import { assertClose } from '../_kit/compare.js';
import { batchOf, EXAMPLES, example, sampleOf } from './_cases.js';

const EXACT = { int: 0, atol: 0, rtol: 0 };
const N = 4;

function assertSameBatch(actual: AugmentBatch, expected: AugmentBatch, what: string): void {
  assertClose(actual.image, expected.image, EXACT, `${what} image`);
  if (expected.mask) assertClose(actual.mask!, expected.mask, EXACT, `${what} mask`);
  assert.deepEqual(actual.boxes, expected.boxes, `${what} boxes`);
  assert.deepEqual(actual.keypoints, expected.keypoints, `${what} keypoints`);
}

function differs(a: AugmentBatch, b: AugmentBatch): boolean {
  if (a.image.shape.join() !== b.image.shape.join()) return true;
  return a.image.data.some((v, i) => v !== b.image.data[i]);
}

describe('every registered transform', () => {
  const names = registeredTransforms();

  test('has an example in test/augment/_cases.ts', () => {
    assert.ok(names.length >= Object.keys(EXAMPLES).length);
    for (const name of names) assert.ok(EXAMPLES[name], `no example for ${name}`);
  });

  for (const name of names) {
    test(`${name}: p = 0 is the identity; p = 1 draws every sample and changes the image`, () => {
      const e = example(name);
      const batch = batchOf(N);
      const off = e.setsSize ? Compose({ transforms: [e.make(0)], p: 0 }) : e.make(0);
      const r0 = augment(off, batch, { seed: 3 });
      assert.ok(r0.params.every((p) => p === null));
      assertSameBatch(r0.batch, batch, 'p = 0');
      const r1 = augment(e.make(1), batch, { seed: 3 });
      assert.ok(
        r1.params.every((p) => p !== null),
        `params ${JSON.stringify(r1.params)}`,
      );
      assert.ok(differs(r1.batch, batch), 'the image is unchanged');
    });

    test(`${name}: the batch equals each item augmented alone; replay and the same seed give the same bytes`, () => {
      const e = example(name);
      const t = e.make(0.7);
      const batch = batchOf(N);
      const r = augment(t, batch, { seed: 11 });
      assertSameBatch(replay(t, batch, r.params), r.batch, 'replay');
      assertSameBatch(augment(t, batch, { seed: 11 }).batch, r.batch, 'same seed');
      if (!e.deterministic) assert.notDeepEqual(augment(t, batch, { seed: 12 }).params, r.params, 'another seed draws the same');
      for (let n = 0; n < N; n++) {
        const item: AugmentBatch = {
          image: sampleOf(batch.image, n),
          mask: sampleOf(batch.mask!, n),
          boxes: [batch.boxes![n]!],
          keypoints: [batch.keypoints![n]!],
        };
        const alone = augment(t, item, { seed: 11, indices: [n] });
        assert.deepEqual(alone.params, [r.params[n]], `sample ${n} params`);
        assertSameBatch(
          alone.batch,
          { image: sampleOf(r.batch.image, n), mask: sampleOf(r.batch.mask!, n), boxes: [r.batch.boxes![n]!], keypoints: [r.batch.keypoints![n]!] },
          `sample ${n}`,
        );
      }
    });

    test(`${name}: u16 and f32 images (those it takes) keep their dtype`, () => {
      for (const dtype of (example(name).dtypes ?? ['u8', 'u16', 'f32']).filter((d) => d !== 'u8')) {
        const b = batchOf(2, dtype);
        const r = augment(example(name).make(1), b, { seed: 2 });
        assert.equal(r.batch.image.dtype, dtype);
        assert.equal(r.batch.mask!.dtype, 'u8');
        assert.ok(differs(r.batch, b), `${dtype}: the image is unchanged`);
      }
    });

    test(`${name}: JSON and YAML round trips give the same image and mask under one seed`, () => {
      const t: Transform = example(name).make(0.8);
      const batch = batchOf(2);
      const r = augment(t, batch, { seed: 5 });
      const viaJson = fromJSON(JSON.parse(JSON.stringify(toJSON(t))));
      const viaYaml = fromYAML(toYAML(t));
      assert.deepEqual(toJSON(viaJson), toJSON(t));
      for (const [what, u] of [
        ['JSON', viaJson],
        ['YAML', viaYaml],
      ] as const) {
        const again = augment(u, batch, { seed: 5 });
        assert.deepEqual(again.params, r.params, `${what} params`);
        assertSameBatch(again.batch, r.batch, what);
      }
    });
  }

  test('augment and replay keep only their results: intermediates are disposed', () => {
    const pipeline = Compose({
      transforms: [HorizontalFlip({ p: 1 }), Affine({ p: 1, rotate: [5, 9] }), RandomCrop({ width: 20, height: 20 }), Perspective({ p: 1 })],
    });
    const b = batchOf(2);
    for (const fuse of [true, false]) {
      const before = liveTensors();
      const r = augment(pipeline, b, { seed: 1, fuse });
      assert.equal(liveTensors(), before + 2, `fuse ${fuse}: the image and the mask`);
      const again = replay(pipeline, b, r.params, { fuse });
      assert.equal(liveTensors(), before + 4);
      for (const t of [r.batch.image, r.batch.mask!, again.image, again.mask!]) t.dispose();
    }
  });
});
