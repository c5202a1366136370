import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DType } from '../../../src/dtype.js';
import { BORDER_MODES, type BorderMode } from '../../../src/kernels/border.js';
import { warpAffine } from '../../../src/ops/geometry/warp-affine.js';
import { invertPerspective, warpPerspective, warpPerspectivePrograms } from '../../../src/ops/geometry/warp-perspective.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';
import { DTYPES, SHAPES } from './_exact.js';

const gpu = await testGpu();

/** A keystone: a mild projective map of a ~20 px image. */
const KEYSTONE = [0.9, 0.12, 1.5, -0.05, 1.05, 0.8, 0.004, -0.003, 1];

const CASES: [DType, BorderMode, (typeof SHAPES)[number]][] = DTYPES.map((d, i) => [d, BORDER_MODES[i % 3]!, SHAPES[i % SHAPES.length]!]);

describe('warpPerspective', () => {
  test('inverts the matrix (cv.invert)', () => {
    const inv = invertPerspective(KEYSTONE);
    for (const [x, y] of [
      [0, 0],
      [3, 7],
      [-2, 11],
    ] as const) {
      const w = KEYSTONE[6]! * x + KEYSTONE[7]! * y + KEYSTONE[8]!;
      const xd = (KEYSTONE[0]! * x + KEYSTONE[1]! * y + KEYSTONE[2]!) / w;
      const yd = (KEYSTONE[3]! * x + KEYSTONE[4]! * y + KEYSTONE[5]!) / w;
      const ws = inv[6]! * xd + inv[7]! * yd + inv[8]!;
      assert.ok(Math.abs((inv[0]! * xd + inv[1]! * yd + inv[2]!) / ws - x) < 1e-9);
      assert.ok(Math.abs((inv[3]! * xd + inv[4]! * yd + inv[5]!) / ws - y) < 1e-9);
    }
  });

  test('an affine matrix (last row 0, 0, 1) gives warpAffine bit for bit, both interpolations and every border', () => {
    const m = [0.8, -0.6, 9, 0.6, 0.8, -3];
    for (const [dtype, border, shape] of CASES) {
      const x = randomImage(shape, dtype, 4);
      for (const interpolation of ['nearest', 'bilinear'] as const) {
        const ours = warpPerspective(x, { matrix: [...m, 0, 0, 1], width: 15, height: 11, interpolation, border, borderValue: 7 });
        const affine = warpAffine(x, { matrix: m, width: 15, height: 11, interpolation, border, borderValue: 7 });
        assertClose(ours, affine, EXACT, `${dtype} ${border} ${interpolation}`);
      }
    }
  });

  test('CPU reference matches cv.warpPerspective: f32 bilinear within OpenCV 1/32-px quantisation, u8 nearest but at ties', async () => {
    // OpenCV's coordinate is rounded to 1/32 px (INTER_BITS), so bilinear values differ by up to ~(1/64)·local range per axis
    const { cv } = await opencv();
    for (const border of BORDER_MODES) {
      for (const [dtype, interpolation] of [
        ['f32', 'bilinear'],
        ['u8', 'nearest'],
      ] as const) {
        const x = (dtype === 'f32' ? naturalImage : randomImage)([1, 1, 21, 23], dtype, 2);
        const ours = warpPerspective(x, { matrix: KEYSTONE, interpolation, border, borderValue: 5 });
        const src = toMat(cv, x);
        const dst = new cv.Mat();
        const M = cv.matFromArray(3, 3, cv.CV_64FC1, KEYSTONE);
        // cv.warpPerspective(src, dst, M, new cv.Size(23, 21), flags, borderMode, new cv.Scalar(5))
        cv.warpPerspective(
          src,
          dst,
          M,
          new cv.Size(23, 21),
          interpolation === 'nearest' ? cv.INTER_NEAREST : cv.INTER_LINEAR,
          cvBorder(cv, border),
          new cv.Scalar(5, 5, 5, 5),
        );
        const theirs = fromMat(dst, dtype);
        src.delete();
        dst.delete();
        M.delete();
        let differ = 0;
        let sum = 0;
        for (let i = 0; i < ours.size; i++) {
          const d = Math.abs(ours.data[i]! - theirs.data[i]!);
          sum += d;
          if (d > 0) differ++;
        }
        if (interpolation === 'nearest') assert.ok(differ <= ours.size * 0.02, `${border}: ${differ} of ${ours.size} nearest pixels differ`);
        else assert.ok(sum / ours.size < 0.01, `${border}: mean difference ${sum / ours.size} (range of the image 1)`);
      }
    }
  });

  test('per-sample matrices: the batch equals each sample warped alone', () => {
    const x = randomImage([3, 2, 11, 13], 'u8', 8);
    const ms = [KEYSTONE, [1, 0, 0, 0, 1, 0, 0, 0, 1], [0.7, 0.1, 2, 0.1, 0.9, 1, -0.01, 0.002, 1]];
    for (const interpolation of ['nearest', 'bilinear'] as const) {
      const batch = warpPerspective(x, { matrix: ms, interpolation, border: 'replicate' });
      for (let n = 0; n < 3; n++) {
        const alone = warpPerspective(x.slice([[n, n + 1]]).contiguous(), { matrix: ms[n]!, interpolation, border: 'replicate' });
        assertClose(batch.slice([[n, n + 1]]).contiguous(), alone, EXACT, `${interpolation} sample ${n}`);
      }
    }
  });

  test('per-sample matrices come as arrays or a CPU tensor of shape [N, 3, 3]', () => {
    const x = randomImage([2, 1, 9, 10], 'f32', 2);
    const ms = [KEYSTONE, [1.1, 0, -1, 0, 0.9, 1, 0, 0, 1]].map((m) => m.map(Math.fround));
    const fromTensor = warpPerspective(x, { matrix: Tensor.fromArray(new Float32Array(ms.flat()), [2, 3, 3], 'f32') });
    assertClose(fromTensor, warpPerspective(x, { matrix: ms }), EXACT);
  });

  test('GPU matches the CPU: dtypes, borders, batches, per-sample matrices', { skip: gpuSkip(gpu) }, async () => {
    for (const [dtype, border, shape] of CASES) {
      const x = randomImage(shape, dtype, 3);
      for (const interpolation of ['nearest', 'bilinear'] as const) {
        await assertGpuMatchesCpu(
          gpu!,
          [x],
          (t) => warpPerspective(t, { matrix: KEYSTONE, width: 19, height: 14, interpolation, border, borderValue: 9 }),
          interpolation === 'nearest' ? EXACT : {},
          `${dtype} ${border} ${interpolation}`,
        );
      }
    }
    const ms = [KEYSTONE, [1, 0, 0, 0, 1, 0, 0, 0, 1]];
    await assertGpuMatchesCpu(gpu!, [naturalImage([2, 3, 12, 14], 'u16', 1)], (t) => warpPerspective(t, { matrix: ms }), {}, 'per sample');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of warpPerspectivePrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed values', () => {
    const x = randomImage([2, 1, 4, 4], 'u8');
    assert.throws(
      () => warpPerspective(x, { matrix: [1, 0, 0, 0, 1, 0] }),
      /Expected an array of 9 finite numbers for matrix but received \[1, 0, 0, 0, 1, 0\]/,
    );
    assert.throws(
      () => warpPerspective(x, { matrix: [1, 2, 0, 2, 4, 0, 0, 0, 1] }),
      /Expected an invertible 3×3 matrix \(determinant ≠ 0\) for matrix but received \[1, 2, 0, 2, 4, 0, 0, 0, 1\]/,
    );
    assert.throws(
      () => warpPerspective(x, { matrix: [KEYSTONE, KEYSTONE, KEYSTONE] }),
      /Expected a matrix \[m0, …, m8\] or one per sample \(2 matrices as an array or a CPU tensor\) for matrix but received an array of 3/,
    );
    assert.throws(() => warpPerspective(x, { matrix: KEYSTONE, width: 0 }), /Expected integer between 1 and 65535 for width but received 0 of type number/);
    assert.throws(() => warpPerspective(Tensor.zeros([4, 4], 'u8'), { matrix: KEYSTONE }), /Expected x of shape \[N, C, H, W\] but received \[4, 4\]/);
  });
});
