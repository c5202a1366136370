import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DType } from '../../../src/dtype.js';
import { BORDER_MODES, borderIndex, type BorderMode } from '../../../src/kernels/border.js';
import { invertAffine, warpAffine, warpAffinePrograms, type WarpInterpolation } from '../../../src/ops/geometry/warp-affine.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat, type CV } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';
import { DTYPES, SHAPES } from './_exact.js';

const gpu = await testGpu();

/** Every dtype (each with a border mode) and every border mode (on u8 and f32), over the shapes. */
const CASES: [DType, BorderMode, (typeof SHAPES)[number]][] = [
  ...DTYPES.map((d, i) => [d, BORDER_MODES[i % 3]!, SHAPES[i % SHAPES.length]!] as [DType, BorderMode, (typeof SHAPES)[number]]),
  ['u8', 'reflect101', SHAPES[1]!],
  ['f32', 'replicate', SHAPES[2]!],
  ['f32', 'constant', SHAPES[0]!],
];

/** cv.getRotationMatrix2D(center, angle, scale) */
function rotation(cx: number, cy: number, degrees: number, scale: number): number[] {
  const a = (degrees * Math.PI) / 180;
  const al = Math.cos(a) * scale;
  const be = Math.sin(a) * scale;
  return [al, be, (1 - al) * cx - be * cy, -be, al, be * cx + (1 - al) * cy];
}

function cvWarp(
  cv: CV,
  x: Tensor,
  m: readonly number[],
  w: number,
  h: number,
  interpolation: WarpInterpolation,
  border: BorderMode,
  value: number,
  dtype: DType,
): Tensor {
  const src = toMat(cv, x);
  const dst = new cv.Mat();
  const M = cv.matFromArray(2, 3, cv.CV_64FC1, [...m]);
  // cv.warpAffine(src, dst, M, new cv.Size(w, h), flags, borderMode, new cv.Scalar(value))
  cv.warpAffine(
    src,
    dst,
    M,
    new cv.Size(w, h),
    interpolation === 'nearest' ? cv.INTER_NEAREST : cv.INTER_LINEAR,
    cvBorder(cv, border),
    new cv.Scalar(value, value, value, value),
  );
  const out = fromMat(dst, dtype);
  src.delete();
  dst.delete();
  M.delete();
  return out;
}

describe('warpAffine', () => {
  test('inverts the matrix as cv.invertAffineTransform', () => {
    const m = [0.8, -0.6, 20, 0.6, 0.8, -5];
    const inv = invertAffine(m);
    for (const [x, y] of [
      [0, 0],
      [3, 7],
      [-2, 11],
    ] as const) {
      const xd = m[0]! * x + m[1]! * y + m[2]!;
      const yd = m[3]! * x + m[4]! * y + m[5]!;
      assert.ok(Math.abs(inv[0]! * xd + inv[1]! * yd + inv[2]! - x) < 1e-12);
      assert.ok(Math.abs(inv[3]! * xd + inv[4]! * yd + inv[5]! - y) < 1e-12);
    }
  });

  test('small worked examples: shift, half-pixel shift, constant border', () => {
    const x = Tensor.fromArray(new Float32Array([0, 10, 20, 30]), [1, 1, 1, 4], 'f32');
    assert.deepEqual([...warpAffine(x, { matrix: [1, 0, 1, 0, 1, 0], interpolation: 'nearest', borderValue: -1 }).data], [-1, 0, 10, 20]);
    assert.deepEqual([...warpAffine(x, { matrix: [1, 0, 0.5, 0, 1, 0], border: 'replicate' }).data], [0, 5, 15, 25]);
    assert.deepEqual([...warpAffine(x, { matrix: [1, 0, -0.5, 0, 1, 0], border: 'reflect101' }).data], [5, 15, 25, 25]);
  });

  test('CPU reference matches OpenCV on the 1/32 grid, f32 bilinear 1e-4, every border', async () => {
    // OpenCV quantises source coordinates to 1/32 px; where they fall on that grid both agree to float rounding
    const { cv } = await opencv();
    const x = naturalImage([1, 1, 19, 23], 'f32', 5);
    for (const m of [
      [0, 1, 2, 1, 0, -3], // transpose + integer shift
      [2, 0, -5, 0, 2, 1], // ×2 (source steps of 1/2)
      [0.5, 0, 3.25, 0, -0.5, 15.75], // ×1/2, flip, quarter-pixel shifts
      [-1, 0, 22.125, 0, 1, -0.375],
    ]) {
      for (const border of BORDER_MODES) {
        const ours = warpAffine(x, { matrix: m, width: 21, height: 17, border, borderValue: 0.5 });
        assertClose(ours, cvWarp(cv, x, m, 21, 17, 'bilinear', border, 0.5, 'f32'), { atol: 1e-4, rtol: 1e-4 }, `[${m}] ${border}`);
      }
    }
  });

  test('CPU reference matches OpenCV for rotation + scale, f32 bilinear, within OpenCV 1/32-px quantisation', async () => {
    // Tolerance: OpenCV's source coordinate is off the exact one by at most 1/64 px (INTER_BITS = 5 rounding) plus
    // ~1/1024 px (AB_BITS = 10 fixed point) per axis; bilinear interpolation is Lipschitz with constant ≤ the local
    // value range L of the 3×3 source neighbourhood per axis, so |ours − cv| ≤ 2·(1/64 + 2/1024)·L + 1e-5.
    const { cv } = await opencv();
    for (const make of [naturalImage, randomImage]) {
      for (const border of BORDER_MODES) {
        const x = make([1, 1, 37, 41], 'f32', 2);
        const m = rotation(20, 18, 30, 0.8);
        const ours = warpAffine(x, { matrix: m, border, borderValue: 0.25 });
        const theirs = cvWarp(cv, x, m, 41, 37, 'bilinear', border, 0.25, 'f32');
        const inv = invertAffine(m);
        const read = (yy: number, xx: number) => {
          const iy = borderIndex(yy, 37, border);
          const ix = borderIndex(xx, 41, border);
          return iy < 0 || ix < 0 ? 0.25 : x.data[iy * 41 + ix]!;
        };
        let sum = 0;
        for (let y = 0; y < 37; y++) {
          for (let xx = 0; xx < 41; xx++) {
            const X = Math.floor(inv[0]! * xx + inv[1]! * y + inv[2]!);
            const Y = Math.floor(inv[3]! * xx + inv[4]! * y + inv[5]!);
            let lo = Infinity;
            let hi = -Infinity;
            for (let dy = -1; dy <= 2; dy++)
              for (let dx = -1; dx <= 2; dx++) {
                const v = read(Y + dy, X + dx);
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
              }
            const d = Math.abs(ours.data[y * 41 + xx]! - theirs.data[y * 41 + xx]!);
            sum += d;
            assert.ok(
              d <= 2 * (1 / 64 + 2 / 1024) * (hi - lo) + 1e-5,
              `${make.name} ${border} (${xx}, ${y}): |${ours.data[y * 41 + xx]} − ${theirs.data[y * 41 + xx]}| beyond the quantisation bound`,
            );
          }
        }
        assert.ok(sum / ours.size < 4e-3, `${make.name} ${border}: mean difference ${sum / ours.size}`);
      }
    }
  });

  test('CPU reference matches OpenCV nearest on u8 (rotation + scale): differences only at half-pixel ties', async () => {
    // OpenCV rounds a 10-bit fixed-point coordinate; it can pick the other neighbour only within ~2/1024 px of a tie.
    const { cv } = await opencv();
    for (const border of BORDER_MODES) {
      for (const [m, w, h] of [
        [rotation(20, 18, 30, 0.8), 41, 37],
        [rotation(11, 9, -47, 1.7), 30, 33],
        [[0.5, 0, 0, 0, 0.5, 0], 20, 18], // exact ties at every other pixel: both round half up
      ] as const) {
        const x = randomImage([1, 1, 37, 41], 'u8', 12);
        const ours = warpAffine(x, { matrix: m, width: w, height: h, interpolation: 'nearest', border, borderValue: 77 });
        const theirs = cvWarp(cv, x, m, w, h, 'nearest', border, 77, 'u8');
        const inv = invertAffine(m);
        let bad = 0;
        for (let y = 0; y < h; y++) {
          for (let xx = 0; xx < w; xx++) {
            if (ours.data[y * w + xx] === theirs.data[y * w + xx]) continue;
            bad++;
            const X = inv[0]! * xx + inv[1]! * y + inv[2]!;
            const Y = inv[3]! * xx + inv[4]! * y + inv[5]!;
            const tie = Math.min(Math.abs(X - Math.floor(X) - 0.5), Math.abs(Y - Math.floor(Y) - 0.5));
            assert.ok(tie < 2 / 1024, `${border} (${xx}, ${y}) differs at source (${X}, ${Y}), not near a tie`);
          }
        }
        assert.ok(bad <= w * h * 0.01, `${border}: ${bad} differences`);
      }
    }
  });

  test('GPU nearest is bit-exact with the CPU: dtypes, borders, batches, odd sizes, channels', { skip: gpuSkip(gpu) }, async () => {
    const m = rotation(6, 5, 25, 1.3);
    for (const [dtype, border, shape] of CASES) {
      const x = (shape[0] > 1 ? randomImage : naturalImage)(shape, dtype, 3);
      await assertGpuMatchesCpu(
        gpu!,
        [x],
        (t) => warpAffine(t, { matrix: m, width: 19, height: 14, interpolation: 'nearest', border, borderValue: 9 }),
        EXACT,
        `${dtype} ${border}`,
      );
    }
    await assertGpuMatchesCpu(
      gpu!,
      [randomImage([2, 3, 9, 12], 'u8', 1)],
      (t) => warpAffine(t, { matrix: m, interpolation: 'nearest', dtype: 'f16' }),
      EXACT,
      'u8 → f16',
    );
  });

  test('GPU matches the CPU for bilinear: dtypes, borders, batches, odd sizes, channels', { skip: gpuSkip(gpu) }, async () => {
    const m = rotation(8, 6, -35, 0.9);
    for (const [dtype, border, shape] of CASES) {
      const x = (shape[0] > 1 ? randomImage : naturalImage)(shape, dtype, 6);
      await assertGpuMatchesCpu(gpu!, [x], (t) => warpAffine(t, { matrix: m, width: 21, height: 12, border, borderValue: 3 }), {}, `${dtype} ${border}`);
    }
    await assertGpuMatchesCpu(gpu!, [naturalImage([2, 1, 15, 18], 'u8', 1)], (t) => warpAffine(t, { matrix: m, dtype: 'f16' }), {}, 'u8 → f16');
    // far-away coordinates with reflect101 stay bounded (periodic wrap)
    await assertGpuMatchesCpu(
      gpu!,
      [naturalImage([1, 1, 9, 11], 'f32', 1)],
      (t) => warpAffine(t, { matrix: [1e-3, 0, 0, 0, 1e-3, 0], border: 'reflect101' }),
      {},
      'huge coordinates',
    );
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of warpAffinePrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed values', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    const m = [1, 0, 0, 0, 1, 0];
    assert.throws(
      () => warpAffine(x, { matrix: [1, 0, 0, 0, 1] }),
      /Expected an array of 6 finite numbers for matrix but received \[1, 0, 0, 0, 1\] of type object/,
    );
    assert.throws(
      () => warpAffine(x, { matrix: [1, 0, NaN, 0, 1, 0] }),
      /Expected an array of 6 finite numbers for matrix but received \[1, 0, NaN, 0, 1, 0\]/,
    );
    assert.throws(
      () => warpAffine(x, { matrix: [1, 2, 0, 2, 4, 0] }),
      /Expected an invertible affine matrix \(a·e − b·d ≠ 0\) for matrix but received \[1, 2, 0, 2, 4, 0\]/,
    );
    assert.throws(() => warpAffine(x, { matrix: m, width: 0 }), /Expected integer between 1 and 65535 for width but received 0 of type number/);
    assert.throws(() => warpAffine(x, { matrix: m, height: -2 }), /Expected integer between 1 and 65535 for height but received -2 of type number/);
    assert.throws(
      () => warpAffine(x, { matrix: m, interpolation: 'area' as never }),
      /Expected one of "nearest", "bilinear" for interpolation but received "area"/,
    );
    assert.throws(
      () => warpAffine(x, { matrix: m, border: 'wrap' as never }),
      /Expected one of "reflect101", "replicate", "constant" for border but received "wrap"/,
    );
    assert.throws(
      () => warpAffine(x, { matrix: m, borderValue: Infinity }),
      /Expected number between -1e\+30 and 1e\+30 for borderValue but received Infinity of type number/,
    );
    assert.throws(() => warpAffine(x.reshape([1, 16]), { matrix: m }), /Expected x of shape \[N, C, H, W\] but received \[1, 16\]/);
  });
});
