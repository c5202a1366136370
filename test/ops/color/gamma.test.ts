import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DTYPES, type DType } from '../../../src/dtype.js';
import { gamma, gammaPrograms } from '../../../src/ops/color/gamma.js';
import { Tensor } from '../../../src/tensor.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

const IO_DTYPES: readonly DType[] = ['u8', 'u16', 'f32', 'f16'];

describe('gamma', () => {
  test('integer inputs: gain · (x / max)^gamma · max, to ±1 of the double-precision value (u8, u16)', () => {
    for (const [dtype, max] of [
      ['u8', 255],
      ['u16', 65535],
    ] as const) {
      const x = naturalImage([2, 3, 7, 9], dtype, 3);
      for (const [g, gain] of [
        [0.45, 1],
        [2.2, 1.3],
        [1, 1],
      ] as const) {
        const y = gamma(x, { gamma: g, gain });
        assert.equal(y.dtype, dtype);
        for (let i = 0; i < x.size; i++) {
          const want = Math.min(max, gain * (x.data[i]! / max) ** g * max);
          assert.ok(Math.abs(y.data[i]! - want) <= 1, `${dtype} γ=${g} element ${i}: ${y.data[i]} vs ${want}`);
        }
      }
    }
  });

  test('float inputs: gain · x^gamma (f32 1e-5 relative); the output keeps the input scale for other dtypes', () => {
    const x = randomImage([1, 3, 5, 6], 'f32', 2);
    const y = gamma(x, { gamma: 2.2, gain: 0.9 });
    for (let i = 0; i < x.size; i++) {
      const want = 0.9 * x.at(i) ** 2.2;
      assert.ok(Math.abs(y.at(i) - want) <= 1e-5 * Math.max(want, 1e-3), `element ${i}: ${y.at(i)} vs ${want}`);
    }
    const u = naturalImage([1, 1, 4, 5], 'u8', 1);
    const f = gamma(u, { gamma: 0.5, dtype: 'f32' });
    for (let i = 0; i < u.size; i++) assert.ok(Math.abs(f.at(i) - Math.sqrt(u.data[i]! / 255) * 255) < 1e-3, `u8→f32 element ${i}`);
  });

  test('negative and NaN inputs clamp to 0 (no NaN output) on both backends', { skip: gpuSkip(gpu) }, async () => {
    const data = Float32Array.from({ length: 30 }, (_, i) => (i - 12) / 8);
    data[3] = Number.NaN;
    data[4] = -Infinity;
    const x = Tensor.fromArray(data, [1, 1, 5, 6], 'f32');
    const y = gamma(x, { gamma: 0.7 });
    for (let i = 0; i < x.size; i++) {
      assert.ok(!Number.isNaN(y.at(i)), `element ${i} is NaN`);
      if (!(data[i]! > 0)) assert.equal(y.at(i), 0, `element ${i}`);
    }
    await assertGpuMatchesCpu(gpu!, [x], (t) => gamma(t, { gamma: 0.7 }), {}, 'f32 negatives');
    const neg = Tensor.fromArray(
      Int32Array.from({ length: 12 }, (_, i) => (i - 6) * 300000000),
      [1, 1, 3, 4],
      'i32',
    );
    const z = gamma(neg, { gamma: 1.5 });
    for (let i = 0; i < 7; i++) assert.equal(z.data[i], 0, `i32 element ${i}`);
    await assertGpuMatchesCpu(gpu!, [neg], (t) => gamma(t, { gamma: 1.5, dtype: 'f32' }), {}, 'i32 negatives');
  });

  test('GPU matches the CPU reference (integers ±1: WGSL pow is exp2·log2; f32 1e-4; f16 1e-3): dtypes, batches, odd and 16-multiple sizes, 1 and 3 channels', {
    skip: gpuSkip(gpu),
  }, async () => {
    for (const from of IO_DTYPES) {
      for (const to of [undefined, ...IO_DTYPES]) {
        const a = naturalImage([1, 3, 11, 9], from, 2);
        const b = randomImage([3, 1, 4, 12], from, 3); // 16-element multiple: the vector program
        await assertGpuMatchesCpu(gpu!, [a], (t) => gamma(t, { gamma: 0.45, dtype: to }), { int: 1 }, `${from}→${to} natural`);
        await assertGpuMatchesCpu(gpu!, [b], (t) => gamma(t, { gamma: 2.2, gain: 1.2, dtype: to }), { int: 1 }, `${from}→${to} random`);
      }
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    const programs = gammaPrograms();
    assert.equal(programs.length, 3 * DTYPES.length * DTYPES.length); // scalar and two vector layouts per dtype pair
    for (const p of programs) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => gamma(x, { gamma: 0 }), /Expected number above 0 and at most 100 for gamma but received 0 of type number/);
    assert.throws(() => gamma(x, { gamma: 101 }), /Expected number above 0 and at most 100 for gamma but received 101 of type number/);
    assert.throws(() => gamma(x, {} as never), /Expected number above 0 and at most 100 for gamma but received undefined of type undefined/);
    assert.throws(() => gamma(x, { gamma: 1, gain: -1 }), /Expected number between 0 and 1000 for gain but received -1 of type number/);
    assert.throws(
      () => gamma(x, { gamma: 1, dtype: 'f64' as never }),
      /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "f64" of type string/,
    );
    assert.throws(() => gamma(x.reshape([16]), { gamma: 1 }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
  });
});
