import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { filter2d } from '../../../src/ops/filters/filter2d.js';
import { motionBlur, motionBlurPrograms, motionKernelCells } from '../../../src/ops/filters/motion-blur.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

/** The kernel as a dense ksize × ksize matrix of weights 1 / cells. */
function dense(ksize: number, angle: number, direction: number): number[][] {
  const cells = motionKernelCells(ksize, angle, direction);
  const h = Math.floor(ksize / 2);
  const k = Array.from({ length: ksize }, () => new Array<number>(ksize).fill(0));
  for (const [dx, dy] of cells) k[dy + h]![dx + h] = 1 / cells.length;
  return k;
}

describe('motionBlur', () => {
  test('kernels are Albumentations’ lines: horizontal, vertical, diagonal, one-sided', () => {
    assert.deepEqual(motionKernelCells(5, 0, 0), [
      [-2, 0],
      [-1, 0],
      [0, 0],
      [1, 0],
      [2, 0],
    ]);
    assert.deepEqual(motionKernelCells(3, 90, 0), [
      [0, -1],
      [0, 0],
      [0, 1],
    ]);
    assert.deepEqual(motionKernelCells(3, 45, 0), [
      [-1, -1],
      [0, 0],
      [1, 1],
    ]);
    // direction 1: t + h clipped to [−h, h], so the line starts at the centre and goes ahead
    assert.deepEqual(motionKernelCells(5, 180, 1), [
      [-2, 0],
      [-1, 0],
      [0, 0],
    ]);
  });

  test('CPU equals filter2d with the dense kernel (f32 1e-5)', () => {
    const x = naturalImage([1, 2, 12, 14], 'f32', 3);
    for (const [k, a, dir] of [
      [5, 30, 0],
      [7, 200, -0.5],
      [3, 90, 1],
    ] as const)
      for (const border of BORDER_MODES)
        assertClose(
          motionBlur(x, { ksize: k, angle: a, direction: dir, border, borderValue: 0.5 }),
          filter2d(x, { kernel: dense(k, a, dir), border, borderValue: 0.5 }),
          { atol: 1e-5, rtol: 1e-5 },
          `${k} ${a} ${dir} ${border}`,
        );
  });

  test('GPU matches the CPU (u8 ±1, floats 1e-4), per-sample kernels, every border; a batch equals its samples alone', { skip: gpuSkip(gpu) }, async () => {
    const o = { ksize: [3, 7, 1], angle: [0, 33, -120], direction: [0, 0.7, -1] };
    for (const dtype of ['u8', 'u16', 'f32', 'f16'] as const) {
      const x = naturalImage([3, 3, 11, 13], dtype, 5);
      for (const border of BORDER_MODES) await assertGpuMatchesCpu(gpu!, [x], (t) => motionBlur(t, { ...o, border, borderValue: 4 }), {}, `${dtype} ${border}`);
    }
    const x = naturalImage([3, 1, 9, 10], 'u8', 6);
    const batch = motionBlur(x, o);
    for (let n = 0; n < 3; n++) {
      const item = Tensor.fromArray(x.data.slice(n * 90, (n + 1) * 90), [1, 1, 9, 10], 'u8');
      const alone = motionBlur(item, { ksize: o.ksize[n]!, angle: o.angle[n]!, direction: o.direction[n]! });
      assert.deepEqual([...batch.data.slice(n * 90, (n + 1) * 90)], [...alone.data], `sample ${n}`);
    }
  });

  test('ksize 1 is the identity', () => {
    const x = naturalImage([2, 3, 6, 7], 'u8', 2);
    assertClose(motionBlur(x, { ksize: 1, angle: 40 }), x, { int: 0 }, 'ksize 1');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of motionBlurPrograms()) await gpu!.compile(p);
  });

  test('bad parameters are refused with one sentence naming them', () => {
    const x = naturalImage([2, 1, 4, 4], 'u8', 1);
    assert.throws(() => motionBlur(x, { ksize: 4, angle: 0 }), /Expected odd integer between 1 and 255 for ksize but received 4 of type number/);
    assert.throws(() => motionBlur(x, { ksize: 3, angle: [0, 400] }), /Expected number between -360 and 360 for angle\[1\] but received 400/);
    assert.throws(() => motionBlur(x, { ksize: 3, angle: 0, direction: 2 }), /Expected number between -1 and 1 for direction but received 2/);
    assert.throws(() => motionBlur(x, { angle: 0 } as never), /for ksize but received undefined/);
  });
});
