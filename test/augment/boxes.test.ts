/**
 * Boxes and keypoints follow the pixels: after every geometric transform, and after a composition
 * of all of them, each pixel of a sample's drawn object (mask label 1) has its centre inside the
 * sample's box (within 1e-3 px, plus the example's stated slack), and keypoints at the object's
 * corner pixel centres land on object pixels. CPU (the GPU gives the same masks, gpu.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Affine,
  augment,
  CenterCrop,
  Compose,
  HorizontalFlip,
  PadIfNeeded,
  Perspective,
  RandomCrop,
  RandomResizedCrop,
  RandomRotate90,
  registeredTransforms,
  Resize,
  ShiftScaleRotate,
  Transpose,
  VerticalFlip,
  type AugmentBatch,
  type Transform,
} from '../../src/augment/index.js';
import { batchOf, example } from './_cases.js';

const N = 6;

/** Checks every sample's object pixels against its one box; returns how many object pixels were seen. */
function assertEnclosed(b: AugmentBatch, slack: number, what: string): number {
  const [n, , h, w] = b.image.shape as [number, number, number, number];
  const mask = b.mask!.data;
  let seen = 0;
  for (let s = 0; s < n; s++) {
    const boxes = b.boxes![s]!;
    let count = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (mask[(s * h + y) * w + x] === 1) count++;
    seen += count;
    if (count === 0) continue;
    assert.equal(boxes.length, 1, `${what} sample ${s}: its object is visible but its box was dropped`);
    const box = boxes[0]!;
    const tol = 1e-3 + slack;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (mask[(s * h + y) * w + x] !== 1) continue;
        const inside = x + 0.5 >= box.x0 - tol && x + 0.5 <= box.x1 + tol && y + 0.5 >= box.y0 - tol && y + 0.5 <= box.y1 + tol;
        assert.ok(inside, `${what} sample ${s}: object pixel (${x}, ${y}) outside box ${JSON.stringify(box)}`);
      }
    }
  }
  return seen;
}

/** Keypoints still on the image sit on object pixels (nearest sampling: within half a pixel of one, plus `slack`). */
function assertKeypointsOnObject(b: AugmentBatch, slack: number, what: string): void {
  const reach = [-0.5 - slack, 0, 0.5 + slack];
  const [n, , h, w] = b.image.shape as [number, number, number, number];
  for (let s = 0; s < n; s++) {
    for (const k of b.keypoints![s]!) {
      const near = reach.some((dy) =>
        reach.some((dx) => {
          const x = Math.floor(k.x + dx);
          const y = Math.floor(k.y + dy);
          return x >= 0 && y >= 0 && x < w && y < h && b.mask!.data[(s * h + y) * w + x] === 1;
        }),
      );
      assert.ok(near, `${what} sample ${s}: keypoint (${k.x}, ${k.y}) is not on the object`);
    }
  }
}

describe('boxes and keypoints', () => {
  for (const name of registeredTransforms()) {
    const e = example(name);
    if (!e.geometric) continue;
    test(`${name}: each drawn box still encloses its object, keypoints stay on it`, () => {
      for (const seed of [1, 2, 3]) {
        const r = augment(e.make(1), batchOf(N), { seed });
        assert.ok(assertEnclosed(r.batch, e.boxSlack ?? 0, `${name} seed ${seed}`) > 0);
        assertKeypointsOnObject(r.batch, e.boxSlack ?? 0, `${name} seed ${seed}`);
      }
    });
  }

  test('a composition of every geometric transform, fused and not', () => {
    const pipeline = (resized: boolean): Transform =>
      Compose({
        transforms: [
          PadIfNeeded({ minWidth: 30, minHeight: 30 }),
          RandomRotate90({ p: 0.5 }),
          HorizontalFlip({ p: 0.5 }),
          VerticalFlip({ p: 0.5 }),
          Transpose({ p: 0.5 }),
          Affine({ p: 0.7, rotate: [-25, 25], scale: [0.9, 1.1] }),
          ShiftScaleRotate({ p: 0.5, rotateLimit: 15, shiftLimit: 0.05 }),
          Perspective({ p: 0.5, scale: [0.02, 0.06] }),
          CenterCrop({ width: 28, height: 28 }),
          RandomCrop({ width: 26, height: 26 }),
          ...(resized ? [RandomResizedCrop({ width: 24, height: 24, scale: [0.7, 1] }), Resize({ width: 32, height: 32 })] : []),
        ],
      });
    for (const seed of [4, 5, 6]) {
      // one resampling of the mask (fused): exact enclosure
      const fused = augment(pipeline(false), batchOf(N), { seed });
      assert.ok(assertEnclosed(fused.batch, 0, `fused seed ${seed}`) > 0);
      // the chain resamples the mask nearest up to three times (Affine, ShiftScaleRotate, Perspective), each by up to half a pixel
      const chain = augment(pipeline(false), batchOf(N), { seed, fuse: false });
      assert.ok(assertEnclosed(chain.batch, 1, `chain seed ${seed}`) > 0);
      assert.deepEqual(chain.batch.boxes, fused.batch.boxes, 'boxes move transform by transform, fused or not');
      // the fused warp, then two nearest resizes of the mask: each may put a pixel half a destination pixel beyond
      // (OpenCV's nearest index), the first's scaled by the second (≤ 1.45 here)
      const resized = augment(pipeline(true), batchOf(N), { seed });
      assert.ok(assertEnclosed(resized.batch, 1.5, `with resizes seed ${seed}`) > 0);
    }
  });

  test('a crop keeps boxes above minVisibility, clipped, and drops the others and keypoints off the image', () => {
    const batch: AugmentBatch = {
      ...batchOf(1),
      boxes: [
        [
          { x0: 0, y0: 0, x1: 4, y1: 4, label: 'gone' },
          { x0: 6, y0: 6, x1: 14, y1: 14, label: 'half' },
          { x0: 12, y0: 12, x1: 20, y1: 20, label: 'whole' },
        ],
      ],
      keypoints: [
        [
          { x: 1, y: 1 },
          { x: 15, y: 15 },
        ],
      ],
    };
    // CenterCrop 12×12 of 24×24 keeps [6, 18)²; RandomCrop 8×12 then keeps [x, x + 8) of that
    const pipeline = Compose({ transforms: [CenterCrop({ width: 12, height: 12 }), RandomCrop({ width: 8, height: 12 })], minVisibility: 0.7 });
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 24; seed++) {
      const r = augment(pipeline, batch, { seed });
      const x = (r.params[0] as [unknown, { x: number }])[1].x;
      const kept = r.batch.boxes![0]!.map((b) => b.label);
      assert.ok(!kept.includes('gone'));
      for (const b of r.batch.boxes![0]!) assert.ok(b.x0 >= 0 && b.x1 <= 8 && b.y0 >= 0 && b.y1 <= 12);
      // 'half' spans [0, 8) of the first crop, so (8 − x) / 8 of it stays visible
      assert.equal(kept.includes('half'), (8 - x) / 8 >= 0.7, `seed ${seed}, x ${x}`);
      // the keypoint (15, 15) is at (9 − x, 9) after both crops: on the 8-wide image when x ≥ 2
      assert.deepEqual(r.batch.keypoints![0], x >= 2 ? [{ x: 9 - x, y: 9 }] : []);
      outcomes.add(`${kept.includes('half')} ${x >= 2}`);
    }
    assert.ok(outcomes.size >= 3, `seeds cover too few cases: ${[...outcomes]}`);
  });
});
