import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DTYPES, type DType } from '../../../src/dtype.js';
import { brightnessContrast, brightnessContrastPrograms } from '../../../src/ops/color/brightness-contrast.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

const IN_DTYPES: readonly DType[] = ['u8', 'u16', 'f32', 'f16'];

describe('brightnessContrast', () => {
  test('CPU reference matches OpenCV convertTo(dst, -1, alpha, beta) (u8/u16 exact, f32 1e-6)', async () => {
    const { cv } = await opencv();
    for (const dtype of ['u8', 'u16', 'f32'] as const) {
      const top = dtype === 'u8' ? 255 : dtype === 'u16' ? 65535 : 1;
      const x = naturalImage([1, 1, 15, 21], dtype, 6);
      for (const [alpha, beta] of [
        [1, 0],
        [1.35, -0.2 * top],
        [0.5, 0.25 * top],
        [2.5, 0.1 * top], // saturates the bright part of integer images
      ] as const) {
        const ours = brightnessContrast(x, { alpha, beta });
        const src = toMat(cv, x);
        const dst = new cv.Mat();
        // src.convertTo(dst, -1, alpha, beta)
        src.convertTo(dst, -1, alpha, beta);
        assertClose(ours, fromMat(dst, dtype), { int: 0, atol: 1e-6, rtol: 1e-6 }, `${dtype} ${alpha} ${beta}`);
        src.delete();
        dst.delete();
      }
    }
  });

  test('defaults leave the image unchanged; beta is in pixel units', () => {
    const x = naturalImage([2, 3, 5, 7], 'u8', 1);
    assert.deepEqual([...brightnessContrast(x).data], [...x.data]);
    const y = brightnessContrast(x, { beta: 20 });
    for (let i = 0; i < x.size; i++) assert.equal(y.data[i], Math.min(255, x.data[i]! + 20), `element ${i}`);
  });

  test('GPU matches the CPU reference: u8/u16/f32/f16 in and out, batches, odd and 16-multiple sizes, 1 and 3 channels', { skip: gpuSkip(gpu) }, async () => {
    for (const from of IN_DTYPES) {
      const top = from === 'u8' ? 255 : from === 'u16' ? 65535 : 1;
      for (const to of [undefined, ...IN_DTYPES]) {
        const a = naturalImage([1, 3, 11, 9], from, 2);
        const b = randomImage([4, 1, 4, 12], from, 3); // 16-element multiple: the vector program
        await assertGpuMatchesCpu(gpu!, [a], (t) => brightnessContrast(t, { alpha: 1.4, beta: -0.15 * top, dtype: to }), { int: 0 }, `${from}→${to} natural`);
        await assertGpuMatchesCpu(gpu!, [b], (t) => brightnessContrast(t, { alpha: 0.7, beta: 0.2 * top, dtype: to }), { int: 0 }, `${from}→${to} random`);
      }
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    const programs = brightnessContrastPrograms();
    assert.equal(programs.length, 3 * DTYPES.length * DTYPES.length); // scalar and two vector layouts per dtype pair
    for (const p of programs) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => brightnessContrast(x, { alpha: -0.5 }), /Expected number between 0 and 1000 for alpha but received -0.5 of type number/);
    assert.throws(() => brightnessContrast(x, { alpha: '2' as never }), /Expected number between 0 and 1000 for alpha but received "2" of type string/);
    assert.throws(
      () => brightnessContrast(x, { beta: 2e9 }),
      /Expected number between -1000000000 and 1000000000 for beta but received 2000000000 of type number/,
    );
    assert.throws(
      () => brightnessContrast(x, { dtype: 'u32' as never }),
      /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "u32" of type string/,
    );
    assert.throws(() => brightnessContrast(x.reshape([1, 16])), /Expected x of shape \[N, C, H, W\] but received \[1, 16\]/);
  });
});
