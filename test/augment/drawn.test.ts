/**
 * Blurs run on the samples that drew them only (src/augment/pixel/drawn.ts): the batch equals the
 * blur op on the whole batch with an identity kernel for the others, on both backends, also where
 * samples are not on a storage word (that case takes the whole-batch path).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { augment, GaussianBlur, MotionBlur } from '../../src/augment/index.js';
import type { GaussianBlurParams, MotionBlurParams } from '../../src/augment/pixel/blur.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import { motionBlur } from '../../src/ops/filters/motion-blur.js';
import type { Tensor } from '../../src/tensor.js';
import { assertClose, EXACT } from '../_kit/compare.js';
import { BACKENDS, testGpu } from '../_kit/gpu.js';
import { naturalImage } from '../_kit/images.js';

const gpu = await testGpu();

async function on(backend: 'cpu' | 'gpu', x: Tensor): Promise<Tensor> {
  return backend === 'cpu' ? x : x.toGpu(gpu!);
}

describe('blurs on the drawn samples only', () => {
  for (const backend of BACKENDS) {
    test(`${backend}: GaussianBlur and MotionBlur equal the whole-batch op with identity kernels for the undrawn`, {
      skip: backend === 'gpu' && !gpu,
    }, async () => {
      // 3×8×12 u8 samples lie on words; 3×7×9 do not
      for (const shape of [
        [8, 3, 8, 12],
        [8, 3, 7, 9],
      ] as const) {
        const x = await on(backend, naturalImage(shape, 'u8', 4));
        const g = augment(GaussianBlur({ p: 0.4, blurLimit: [3, 7] }), { image: x }, { seed: 11 });
        const gp = g.params as readonly (GaussianBlurParams | null)[];
        const drawn = gp.filter((p) => p !== null).length;
        assert.ok(drawn > 0 && drawn < gp.length, `some samples drew the blur (${drawn} of ${gp.length})`);
        const gWhole = gaussianBlur(x, { ksize: gp.map((p) => [p?.ksize ?? 1, p?.ksize ?? 1] as const), sigma: gp.map((p) => p?.sigma ?? 0) });
        assertClose(await g.batch.image.toCpu(), await gWhole.toCpu(), EXACT, `GaussianBlur [${shape}]`);
        const m = augment(MotionBlur({ p: 0.4, blurLimit: [3, 9] }), { image: x }, { seed: 12 });
        const mp = m.params as readonly (MotionBlurParams | null)[];
        const mWhole = motionBlur(x, { ksize: mp.map((p) => p?.ksize ?? 1), angle: mp.map((p) => p?.angle ?? 0), direction: mp.map((p) => p?.direction ?? 0) });
        assertClose(await m.batch.image.toCpu(), await mWhole.toCpu(), EXACT, `MotionBlur [${shape}]`);
        for (const t of [g.batch.image, gWhole, m.batch.image, mWhole]) t.dispose();
      }
    });
  }
});
