import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { gradientMagnitude } from '../../../src/ops/features/gradient.js';
import { multiScaleFeatures, pyrDown, pyramidPrograms } from '../../../src/ops/features/pyramid.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

/** Plane (n, c) of a CPU tensor as a 1×1×H×W tensor. */
function plane(t: Tensor, n: number, c: number): Tensor {
  const [, C, H, W] = t.shape as [number, number, number, number];
  const data = t.data.slice((n * C + c) * H * W, (n * C + c + 1) * H * W);
  return Tensor.fromArray(data, [1, 1, H, W], t.dtype);
}

describe('pyrDown', () => {
  test('output size is ((W + 1) / 2, (H + 1) / 2)', () => {
    assert.deepEqual(pyrDown(randomImage([2, 3, 17, 10], 'u8')).shape, [2, 3, 9, 5]);
    assert.deepEqual(pyrDown(randomImage([1, 1, 1, 1], 'f32')).shape, [1, 1, 1, 1]);
    assert.deepEqual(pyrDown(randomImage([1, 1, 2, 3], 'f32')).shape, [1, 1, 1, 2]);
  });

  test('CPU reference matches OpenCV pyrDown (u8, u16 exact; f32 atol 1e-5 + rtol 1e-5)', async () => {
    const { cv } = await opencv();
    for (const border of ['reflect101', 'replicate'] as const) {
      for (const dtype of ['u8', 'u16', 'f32'] as const) {
        for (const [h, w] of [
          [19, 23],
          [16, 16],
          [5, 4],
          [2, 7],
        ] as const) {
          const x = naturalImage([1, 1, h, w], dtype, h + w);
          const src = toMat(cv, x);
          const dst = new cv.Mat();
          // cv.pyrDown(src, dst, new cv.Size(0, 0), border)   (OpenCV rejects BORDER_CONSTANT)
          cv.pyrDown(src, dst, new cv.Size(0, 0), cvBorder(cv, border));
          assertClose(pyrDown(x, { border }), fromMat(dst, dtype), dtype === 'f32' ? { atol: 1e-5, rtol: 1e-5 } : { int: 0 }, `${border} ${dtype} ${h}x${w}`);
          src.delete();
          dst.delete();
        }
      }
    }
  });

  test('integer outputs round half up as OpenCV (sum 128 / 256 → 1)', () => {
    // An impulse of 128 at (2, 2) of a 7×7 zero image: output (1, 1) has it at its window centre
    // (weight 36 → 128·36/256 = 18), output (2, 2) at a window corner (weight 1 → 0.5 → 1, where
    // half-to-even would give 0).
    const data = new Uint8Array(7 * 7);
    data[2 * 7 + 2] = 128;
    const out = pyrDown(Tensor.fromArray(data, [1, 1, 7, 7], 'u8'));
    assert.equal(out.at(1 * 4 + 1), 18);
    assert.equal(out.at(2 * 4 + 2), 1);
  });

  test('GPU matches the CPU reference: dtypes, borders, batches, odd sizes, 1 and 3 channels', { skip: gpuSkip(gpu) }, async () => {
    const cases = [
      [[1, 1, 17, 23], 'u8'],
      [[3, 3, 9, 8], 'u8'],
      [[2, 1, 13, 7], 'u16'],
      [[2, 3, 11, 5], 'f32'],
      [[1, 1, 6, 33], 'f16'],
    ] as const;
    for (const [shape, dtype] of cases) {
      const x = (shape[0] > 1 ? randomImage : naturalImage)(shape as unknown as [number, number, number, number], dtype, 21);
      for (const border of BORDER_MODES) {
        await assertGpuMatchesCpu(gpu!, [x], (t) => pyrDown(t, { border, borderValue: 7 }), { int: 0 }, `${dtype} ${border}`);
      }
    }
    const x = naturalImage([2, 1, 15, 12], 'u8', 4);
    await assertGpuMatchesCpu(gpu!, [x], (t) => pyrDown(t, { dtype: 'f32' }), {}, 'u8 → f32');
    await assertGpuMatchesCpu(gpu!, [x], (t) => pyrDown(t, { dtype: 'f16' }), {}, 'u8 → f16');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of pyramidPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => pyrDown(x, { border: 'wrap' as never }), /Expected one of "reflect101", "replicate", "constant" for border but received "wrap"/);
    assert.throws(() => pyrDown(x, { dtype: 'f64' as never }), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "f64"/);
    assert.throws(() => pyrDown(x.reshape([16])), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
  });
});

describe('multiScaleFeatures', () => {
  test('is gradientMagnitude of pyrDown levels, at 1, 1/2, 1/4', () => {
    const x = naturalImage([2, 3, 21, 18], 'u8', 6);
    const [f0, f1, f2] = multiScaleFeatures(x, { operator: 'scharr' });
    const l1 = pyrDown(x);
    const l2 = pyrDown(l1);
    assert.equal(l1.dtype, 'u8');
    assertClose(f0!, gradientMagnitude(x, { operator: 'scharr' }), { atol: 0, rtol: 0 }, 'scale 1');
    assertClose(f1!, gradientMagnitude(l1, { operator: 'scharr' }), { atol: 0, rtol: 0 }, 'scale 1/2');
    assertClose(f2!, gradientMagnitude(l2, { operator: 'scharr' }), { atol: 0, rtol: 0 }, 'scale 1/4');
    assert.deepEqual(
      [f0!.shape, f1!.shape, f2!.shape],
      [
        [2, 3, 21, 18],
        [2, 3, 11, 9],
        [2, 3, 6, 5],
      ],
    );
    assert.equal(multiScaleFeatures(x, { scales: 1 }).length, 1);
    assert.equal(multiScaleFeatures(x, { scales: 2, dtype: 'f16' })[1]!.dtype, 'f16');
  });

  test('matches OpenCV: cv.pyrDown levels, cv.magnitude of cv.Sobel (atol 1e-4 + rtol 1e-4)', async () => {
    const { cv } = await opencv();
    const x = naturalImage([2, 1, 24, 19], 'u8', 3);
    const feats = multiScaleFeatures(x);
    for (let n = 0; n < 2; n++) {
      let level = toMat(cv, x, n, 0);
      for (let s = 0; s < 3; s++) {
        if (s > 0) {
          const next = new cv.Mat();
          // cv.pyrDown(level, next)
          cv.pyrDown(level, next, new cv.Size(0, 0), cv.BORDER_REFLECT_101);
          level.delete();
          level = next;
        }
        const [gx, gy, mag] = [new cv.Mat(), new cv.Mat(), new cv.Mat()];
        // cv.Sobel(level, gx, cv.CV_32F, 1, 0); cv.Sobel(level, gy, cv.CV_32F, 0, 1); cv.magnitude(gx, gy, mag)
        cv.Sobel(level, gx, cv.CV_32F, 1, 0, 3, 1, 0, cv.BORDER_REFLECT_101);
        cv.Sobel(level, gy, cv.CV_32F, 0, 1, 3, 1, 0, cv.BORDER_REFLECT_101);
        cv.magnitude(gx, gy, mag);
        assertClose(plane(feats[s]!, n, 0), fromMat(mag, 'f32'), { atol: 1e-4, rtol: 1e-4 }, `n=${n} scale ${s}`);
        for (const m of [gx, gy, mag]) m.delete();
      }
      level.delete();
    }
  });

  test('GPU matches the CPU reference at every scale; one stream of 2·scales − 1 dispatches, no sync', { skip: gpuSkip(gpu) }, async () => {
    for (const [shape, dtype, operator] of [
      [[3, 1, 33, 27], 'u8', 'sobel'],
      [[2, 3, 16, 20], 'f16', 'central'],
      [[2, 1, 19, 9], 'u16', 'scharr'],
      [[1, 2, 13, 31], 'f32', 'sobel'],
    ] as const) {
      const x = randomImage(shape as unknown as [number, number, number, number], dtype, 17);
      for (const out of ['f32', 'f16'] as const) {
        const expected = multiScaleFeatures(x, { operator, dtype: out });
        const xg = await x.toGpu(gpu!);
        const before = gpu!.allStats();
        const got = multiScaleFeatures(xg, { operator, dtype: out });
        const after = gpu!.allStats();
        assert.equal(after.dispatches - before.dispatches, 5, 'dispatches');
        assert.equal(after.submits, before.submits, 'no submission while recording');
        // uniforms are written with every dispatch; uploads and read-backs are what must not happen
        const { uniformBytes: _a, ...moved } = after.transfers;
        const { uniformBytes: _b, ...was } = before.transfers;
        assert.deepEqual(moved, was, 'no uploads or read-backs');
        for (let s = 0; s < 3; s++) {
          assertClose(await got[s]!.toCpu(), expected[s]!, {}, `${dtype} ${operator} → ${out} scale ${s}`);
          got[s]!.dispose();
        }
        xg.dispose();
      }
    }
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => multiScaleFeatures(x, { scales: 4 as never }), /Expected integer between 1 and 3 for scales but received 4 of type number/);
    assert.throws(() => multiScaleFeatures(x, { scales: 0 as never }), /Expected integer between 1 and 3 for scales but received 0 of type number/);
    assert.throws(
      () => multiScaleFeatures(x, { operator: 'canny' as never }),
      /Expected one of "sobel", "scharr", "central" for operator but received "canny"/,
    );
    assert.throws(() => multiScaleFeatures(x, { dtype: 'f64' as never }), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "f64"/);
  });
});
