import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { benchOps, crackKernel } from '../../src/cli/bench-ops.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import { borderIndex } from '../../src/kernels/border.js';
import type { Tensor } from '../../src/tensor.js';
import { assertClose } from '../_kit/compare.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { naturalImage, randomImage } from '../_kit/images.js';
import { assertGpuMatchesCpu } from '../_kit/parity.js';

const gpu = await testGpu();

/** Independent crack reference: reflect101 indices, halved central differences, Math.hypot. */
function crackReference(t: Tensor, threshold: number): number[] {
  const [N, C, H, W] = t.shape as [number, number, number, number];
  const v = (n: number, c: number, y: number, x: number) => t.data[((n * C + c) * H + borderIndex(y, H, 'reflect101')) * W + borderIndex(x, W, 'reflect101')]!;
  const out: number[] = [];
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          out.push(Math.hypot((v(n, c, y, x + 1) - v(n, c, y, x - 1)) / 2, (v(n, c, y + 1, x) - v(n, c, y - 1, x)) / 2) > threshold ? 255 : 0);
  return out;
}

describe('bench ops', () => {
  test('the registry starts with gaussian and crack', () => {
    assert.deepEqual(Object.keys(benchOps).slice(0, 2), ['gaussian', 'crack']);
    const x = naturalImage([1, 1, 12, 10], 'u8', 2);
    assert.deepEqual([...benchOps.gaussian!(x).data], [...gaussianBlur(x, { sigma: 2 }).data]);
    assert.deepEqual([...benchOps.crack!(x).data], crackReference(x, 20));
  });

  test('crack kernel CPU path equals an independent implementation (u8 and u16)', () => {
    const a = naturalImage([2, 3, 13, 11], 'u8', 4);
    const ours = crackKernel(a, { uniforms: { threshold: 20 } });
    assert.deepEqual([...ours.data], crackReference(a, 20));
    assert.ok(ours.data.includes(255) && ours.data.includes(0));
    const b = randomImage([1, 1, 9, 7], 'u16', 5);
    assert.deepEqual([...crackKernel(b, { uniforms: { threshold: 9000 }, dtype: 'u8' }).data], crackReference(b, 9000));
  });

  test('every registered op runs on the GPU as on the CPU', { skip: gpuSkip(gpu) }, async () => {
    for (const [name, op] of Object.entries(benchOps)) {
      for (const dtype of ['u8', 'f32'] as const) {
        const x = (dtype === 'u8' ? naturalImage : randomImage)([2, 1, 15, 13], dtype, 6);
        await assertGpuMatchesCpu(gpu!, [x], op, name === 'crack' ? { int: 0 } : {}, `${name} ${dtype}`);
      }
    }
    const x = naturalImage([1, 3, 9, 9], 'u8', 1);
    const expected = crackKernel(x, { uniforms: { threshold: 20 } });
    const g = await x.toGpu(gpu!);
    const r = crackKernel(g, { uniforms: { threshold: 20 } });
    assertClose(await r.toCpu(), expected, { int: 0 }, 'crack 3 channels');
    r.dispose();
    g.dispose();
  });
});
