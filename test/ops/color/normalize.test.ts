import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DTYPES, roundHalfEven, type DType } from '../../../src/dtype.js';
import { normalize, normalizePrograms } from '../../../src/ops/color/normalize.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

const IO_DTYPES: readonly DType[] = ['u8', 'u16', 'f32', 'f16'];
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

describe('normalize', () => {
  test('follows (x · scale − mean[c]) / std[c] in double precision to 1e-6 (ImageNet constants on u8)', () => {
    const x = naturalImage([2, 3, 9, 7], 'u8', 3);
    const y = normalize(x, { ...IMAGENET, scale: 1 / 255 });
    assert.equal(y.dtype, 'f32');
    assert.deepEqual([...y.shape], [2, 3, 9, 7]);
    const plane = 9 * 7;
    for (let i = 0; i < x.size; i++) {
      const c = Math.floor(i / plane) % 3;
      const want = (x.data[i]! / 255 - IMAGENET.mean[c]!) / IMAGENET.std[c]!;
      assert.ok(Math.abs(y.at(i) - want) <= 1e-6 * Math.max(1, Math.abs(want)), `element ${i}: ${y.at(i)} vs ${want}`);
    }
  });

  test('a single mean/std broadcasts over channels; integer outputs round half to even and saturate', () => {
    const x = randomImage([1, 4, 3, 5], 'u8', 8);
    const one = normalize(x, { mean: [127.5], std: [127.5] });
    const four = normalize(x, { mean: [127.5, 127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5, 127.5] });
    assert.deepEqual([...one.data], [...four.data]);
    const y = normalize(x, { mean: [100], std: [2], dtype: 'u8' });
    for (let i = 0; i < x.size; i++) {
      const v = (x.data[i]! - 100) / 2;
      assert.equal(y.data[i], Math.min(255, Math.max(0, roundHalfEven(v))), `element ${i}`);
    }
  });

  test('GPU matches the CPU reference: u8/u16/f32/f16 in and out, batches, odd and 16-multiple sizes, 1 and 3 channels', { skip: gpuSkip(gpu) }, async () => {
    for (const from of IO_DTYPES) {
      const top = from === 'u8' ? 255 : from === 'u16' ? 65535 : 1;
      for (const to of [undefined, ...IO_DTYPES]) {
        const a = naturalImage([1, 3, 11, 9], from, 2);
        const b = randomImage([3, 1, 5, 13], from, 3);
        // integer outputs get a range where rounding matters: (x − mean) / std with mean, std in pixel units
        const intOut = to !== undefined && to !== 'f32' && to !== 'f16';
        const opts3 = intOut ? { mean: [0.2 * top, 0.1 * top, 0.3 * top], std: [0.004 * top, 0.003 * top, 0.005 * top] } : { ...IMAGENET, scale: 1 / top };
        const opts1 = intOut ? { mean: [0.1 * top], std: [0.0031 * top] } : { mean: [0.5], std: [0.25], scale: 1 / top };
        await assertGpuMatchesCpu(gpu!, [a], (t) => normalize(t, { ...opts3, dtype: to }), { int: 0 }, `${from}→${to} natural`);
        await assertGpuMatchesCpu(gpu!, [b], (t) => normalize(t, { ...opts1, dtype: to }), { int: 0 }, `${from}→${to} random`);
        // planes of 32 elements: the vector program, with channel indices
        await assertGpuMatchesCpu(gpu!, [randomImage([2, 3, 4, 8], from, 4)], (t) => normalize(t, { ...opts3, dtype: to }), { int: 0 }, `${from}→${to} vector`);
      }
    }
  });

  test('many channels: per-channel values up to 64, broadcast values for any count', { skip: gpuSkip(gpu) }, async () => {
    const x = randomImage([2, 64, 3, 3], 'f32', 4);
    const mean = Array.from({ length: 64 }, (_, c) => c / 64);
    const std = Array.from({ length: 64 }, (_, c) => 0.5 + c / 32);
    await assertGpuMatchesCpu(gpu!, [x], (t) => normalize(t, { mean, std }), {}, '64 channels');
    const y = randomImage([1, 70, 2, 3], 'u8', 4);
    await assertGpuMatchesCpu(gpu!, [y], (t) => normalize(t, { mean: [3], std: [7], dtype: 'f16' }), {}, '70 channels broadcast');
    const z = normalize(x, { mean, std });
    for (let i = 0; i < x.size; i++) {
      const c = Math.floor(i / 9) % 64;
      assert.ok(Math.abs(z.at(i) - (x.at(i) - mean[c]!) / std[c]!) < 1e-5, `element ${i}`);
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    const programs = normalizePrograms();
    assert.equal(programs.length, 3 * DTYPES.length * DTYPES.length); // scalar and two vector layouts per dtype pair
    for (const p of programs) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 3, 4, 4], 'u8');
    assert.throws(
      () => normalize(x, { mean: [0.1, 0.2], std: [1] }),
      /Expected an array of 1 or 3 finite numbers for mean but received \[0.1, 0.2\] of type object/,
    );
    assert.throws(
      () => normalize(x, { mean: [0.1], std: [1, 0, 1] }),
      /Expected an array of 1 or 3 numbers above 0 for std but received \[1, 0, 1\] of type object/,
    );
    assert.throws(() => normalize(x, { mean: [0], std: [-1] }), /Expected an array of 1 or 3 numbers above 0 for std but received \[-1\] of type object/);
    assert.throws(
      () => normalize(x, { mean: [Number.NaN], std: [1] }),
      /Expected an array of 1 or 3 finite numbers for mean but received \[NaN\] of type object/,
    );
    assert.throws(() => normalize(x, { std: [1] } as never), /Expected an array of 1 or 3 finite numbers for mean but received undefined of type undefined/);
    assert.throws(
      () => normalize(x, { mean: [0], std: [1], scale: Infinity }),
      /Expected number between -1e\+30 and 1e\+30 for scale but received Infinity of type number/,
    );
    assert.throws(
      () => normalize(x, { mean: [0], std: [1], dtype: 'f64' as never }),
      /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "f64" of type string/,
    );
    const wide = randomImage([1, 65, 1, 1], 'u8');
    const many = Array.from({ length: 65 }, (_, i) => i);
    assert.throws(
      () => normalize(wide, { mean: many, std: [1] }),
      /Expected x with at most 64 channels for per-channel mean and std but received 65 \(shape \[1, 65, 1, 1\]\)/,
    );
  });
});
