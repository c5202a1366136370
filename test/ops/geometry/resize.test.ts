import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DType } from '../../../src/dtype.js';
import {
  INTERPOLATIONS,
  integerFactors,
  nearestIndex,
  nearestThreshold,
  resize,
  resizePrograms,
  type ResizeInterpolation,
} from '../../../src/ops/geometry/resize.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat, type CV } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';
import { assertExactEverywhere } from './_exact.js';

const gpu = await testGpu();

/** [srcW, srcH, dstW, dstH]: fractional and integer factors, up, down and mixed. */
const SIZES: readonly (readonly [number, number, number, number])[] = [
  [14, 26, 18, 10], // fractional up × fractional down; both axes have columns where OpenCV's double floor lands below
  [21, 30, 27, 26],
  [23, 19, 46, 38], // ×2 up
  [24, 21, 8, 7], // ×1/3 down
  [24, 20, 12, 10], // ×1/2 down (OpenCV turns bilinear into its fast area path)
  [23, 19, 10, 7], // fractional down
  [7, 9, 20, 31], // fractional up
  [17, 13, 5, 40], // down × up
];

function cvResize(cv: CV, x: Tensor, w: number, h: number, interpolation: ResizeInterpolation, dtype: DType): Tensor {
  const flags = { nearest: cv.INTER_NEAREST, bilinear: cv.INTER_LINEAR, area: cv.INTER_AREA }[interpolation];
  const src = toMat(cv, x);
  const dst = new cv.Mat();
  // cv.resize(src, dst, new cv.Size(w, h), 0, 0, flags)
  cv.resize(src, dst, new cv.Size(w, h), 0, 0, flags);
  const out = fromMat(dst, dtype);
  src.delete();
  dst.delete();
  return out;
}

describe('resize', () => {
  test('nearest index equals OpenCV floor(dx · (1 / (dw / sw))) in double, every size pair up to 160', () => {
    let ties = 0;
    for (let sw = 1; sw <= 160; sw++) {
      for (let dw = 1; dw <= 160; dw++) {
        const t = nearestThreshold(sw, dw);
        const ifx = 1 / (dw / sw);
        for (let x = 0; x < dw; x++) {
          const cv = Math.min(Math.floor(x * ifx), sw - 1);
          if (cv !== Math.min(Math.floor((x * sw) / dw), sw - 1)) ties++;
          if (nearestIndex(x, dw, sw, t) !== cv) assert.fail(`sw=${sw} dw=${dw} x=${x}: ${nearestIndex(x, dw, sw, t)} vs OpenCV ${cv}`);
        }
      }
    }
    assert.ok(ties > 100, `the double rounding matters (${ties} columns differ from exact division)`);
  });

  test('small worked examples', () => {
    const x = Tensor.fromArray(new Float32Array([0, 10, 20, 30]), [1, 1, 1, 4], 'f32');
    assert.deepEqual([...resize(x, { width: 2, height: 1, interpolation: 'nearest' }).data], [0, 20]);
    assert.deepEqual([...resize(x, { width: 2, height: 1, interpolation: 'area' }).data], [5, 25]);
    assert.deepEqual([...resize(x, { width: 2, height: 1 }).data], [5, 25]);
    // ×2 up: half-pixel centres, edges replicate
    assert.deepEqual([...resize(x, { width: 8, height: 1 }).data], [0, 2.5, 7.5, 12.5, 17.5, 22.5, 27.5, 30]);
    // area up ×2: each destination pixel lies inside one source pixel
    assert.deepEqual([...resize(x, { width: 8, height: 1, interpolation: 'area' }).data], [0, 0, 10, 10, 20, 20, 30, 30]);
    // area 4 → 3: [0 + 10/3·... ] each output averages 4/3 px
    const a = [...resize(x, { width: 3, height: 1, interpolation: 'area' }).data];
    const expected = [(0 * 1 + 10 / 3) / (4 / 3), (10 * (2 / 3) + 20 * (2 / 3)) / (4 / 3), (20 / 3 + 30) / (4 / 3)];
    for (const [i, v] of a.entries()) assert.ok(Math.abs(v - expected[i]!) < 1e-5, `${v} vs ${expected[i]}`);
  });

  test('CPU reference matches OpenCV resize: nearest exact (u8, u16, i32, f32)', async () => {
    const { cv } = await opencv();
    for (const dtype of ['u8', 'u16', 'i32', 'f32'] as const) {
      for (const [sw, sh, dw, dh] of SIZES) {
        const x = randomImage([1, 1, sh, sw], dtype, sw + sh);
        assertClose(
          resize(x, { width: dw, height: dh, interpolation: 'nearest' }),
          cvResize(cv, x, dw, dh, 'nearest', dtype),
          EXACT,
          `${dtype} ${sw}x${sh}→${dw}x${dh}`,
        );
      }
    }
  });

  test('CPU reference matches OpenCV resize: bilinear and area (u8 ±1 for OpenCV fixed point, f32 1e-4)', async () => {
    const { cv } = await opencv();
    for (const interpolation of ['bilinear', 'area'] as const) {
      for (const dtype of ['u8', 'f32'] as const) {
        for (const [sw, sh, dw, dh] of SIZES) {
          for (const make of [naturalImage, randomImage]) {
            const x = make([1, 1, sh, sw], dtype, 3);
            const what = `${interpolation} ${dtype} ${make.name} ${sw}x${sh}→${dw}x${dh}`;
            assertClose(
              resize(x, { width: dw, height: dh, interpolation }),
              cvResize(cv, x, dw, dh, interpolation, dtype),
              dtype === 'u8' ? { int: 1 } : { atol: 1e-4, rtol: 1e-4 },
              what,
            );
          }
        }
      }
    }
  });

  test('GPU nearest is bit-exact with the CPU: dtypes, batches, odd sizes, channels, special values', { skip: gpuSkip(gpu) }, async () => {
    for (const [, , dw, dh] of [SIZES[0]!, SIZES[2]!, SIZES[7]!]) {
      await assertExactEverywhere(gpu!, (t) => resize(t, { width: dw, height: dh, interpolation: 'nearest' }), `nearest ${dw}x${dh}`);
    }
    await assertGpuMatchesCpu(
      gpu!,
      [randomImage([2, 3, 13, 9], 'u8', 2)],
      (t) => resize(t, { width: 20, height: 7, interpolation: 'nearest', dtype: 'f16' }),
      EXACT,
      'u8 → f16',
    );
  });

  test('GPU matches the CPU for bilinear and area: dtypes, batches, odd sizes, channels, up/down/mixed', { skip: gpuSkip(gpu) }, async () => {
    const dtypes: DType[] = ['u8', 'u16', 'i32', 'f32', 'f16'];
    for (const interpolation of ['bilinear', 'area'] as const) {
      for (let i = 0; i < dtypes.length; i++) {
        const dtype = dtypes[i]!;
        const shape = (
          [
            [1, 1, 26, 14],
            [2, 3, 19, 23],
            [3, 1, 9, 7],
            [1, 3, 21, 24],
            [2, 1, 13, 17],
          ] as const
        )[i]!;
        const x = (shape[0] > 1 ? randomImage : naturalImage)(shape, dtype, 4);
        const targets = [
          [18, 10],
          [46, 38],
          [8, 7],
          [5, 40],
        ];
        // each dtype meets two of the targets (down, up, mixed all covered across dtypes)
        for (const [dw, dh] of [targets[i % 4]!, targets[(i + 1) % 4]!]) {
          await assertGpuMatchesCpu(gpu!, [x], (t) => resize(t, { width: dw!, height: dh!, interpolation }), {}, `${interpolation} ${dtype} → ${dw}x${dh}`);
        }
      }
      const x = naturalImage([2, 1, 23, 19], 'u8', 8);
      await assertGpuMatchesCpu(gpu!, [x], (t) => resize(t, { width: 11, height: 30, interpolation, dtype: 'f16' }), {}, `${interpolation} u8 → f16`);
      await assertGpuMatchesCpu(gpu!, [x], (t) => resize(t, { width: 7, height: 9, interpolation, dtype: 'f32' }), {}, `${interpolation} u8 → f32`);
    }
  });

  test('GPU bilinear with integer factors (dedicated kernels, u8 halving its own) is bit-exact with the CPU: dtypes, factors 1 to 4, batches, channels', {
    skip: gpuSkip(gpu),
  }, async () => {
    assert.deepEqual(integerFactors(24, 20, 12, 10), [2, 2]);
    assert.deepEqual(integerFactors(21, 20, 7, 20), [3, 1]);
    assert.equal(integerFactors(24, 20, 16, 10), null);
    assert.equal(integerFactors(12, 10, 24, 20), null);
    // [shape, dw, dh, input dtype, output dtype]
    const cases: [[number, number, number, number], number, number, DType, DType][] = [
      [[2, 1, 20, 24], 12, 10, 'u8', 'u8'],
      [[1, 3, 20, 24], 12, 10, 'u8', 'f32'],
      [[1, 1, 21, 24], 8, 7, 'u8', 'u8'],
      [[2, 1, 12, 16], 4, 3, 'u8', 'f16'],
      [[1, 1, 9, 8], 8, 9, 'u8', 'u8'], // factor 1: a copy through the same expression
      [[1, 2, 18, 10], 10, 6, 'u16', 'u16'],
      [[2, 1, 12, 9], 3, 6, 'f32', 'f32'],
      [[1, 1, 10, 12], 3, 5, 'i32', 'i32'],
      [[1, 1, 16, 12], 6, 4, 'f16', 'f16'],
      [[1, 1, 16, 12], 6, 4, 'f16', 'u8'], // u8 output width not a multiple of 4: general kernel
      // u8 halving with output quads: its own kernel, every output dtype
      [[2, 2, 14, 32], 16, 7, 'u8', 'f16'],
      [[1, 1, 8, 40], 20, 4, 'u8', 'i32'],
      [[3, 1, 6, 8], 4, 3, 'u8', 'u16'],
      [[1, 3, 10, 24], 12, 5, 'u8', 'f32'],
    ];
    for (const [shape, dw, dh, a, b] of cases) {
      const x = (shape[0] > 1 ? randomImage : naturalImage)(shape, a, 9);
      await assertGpuMatchesCpu(gpu!, [x], (t) => resize(t, { width: dw, height: dh, dtype: b }), EXACT, `${a} → ${b} [${shape}] → ${dw}x${dh}`);
    }
    // infinities and NaN travel the same (f = 0 multiplies the second tap)
    const special = Tensor.fromArray(new Float32Array([1, Infinity, -Infinity, 2, NaN, 3, 4, 5]), [1, 1, 2, 4], 'f32');
    for (const [dw, dh] of [
      [4, 2],
      [2, 1],
      [4, 1],
      [1, 2],
    ] as const) {
      await assertGpuMatchesCpu(gpu!, [special], (t) => resize(t, { width: dw, height: dh }), EXACT, `special → ${dw}x${dh}`);
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of resizePrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => resize(x, { width: 0, height: 2 }), /Expected integer between 1 and 65535 for width but received 0 of type number/);
    assert.throws(() => resize(x, { width: 2, height: -3 }), /Expected integer between 1 and 65535 for height but received -3 of type number/);
    assert.throws(() => resize(x, { width: 2.5, height: 2 }), /Expected integer between 1 and 65535 for width but received 2.5 of type number/);
    assert.throws(
      () => resize(x, { width: 2, height: 2, interpolation: 'cubic' as never }),
      /Expected one of "nearest", "bilinear", "area" for interpolation but received "cubic"/,
    );
    assert.throws(
      () => resize(x, { width: 2, height: 2, dtype: 'u4' as never }),
      /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "u4"/,
    );
    assert.throws(
      () => resize(randomImage([1, 1, 1, 70000], 'u8'), { width: 2, height: 2 }),
      /Expected an image of at most 65535×65535 pixels for x but received "70000×1" of type string/,
    );
    assert.throws(() => resize(x.reshape([16]), { width: 2, height: 2 }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
    assert.equal(INTERPOLATIONS.length, 3);
  });
});
