import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { gradientMagnitude, gradientPrograms } from '../../../src/ops/features/gradient.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

describe('gradientMagnitude', () => {
  test('CPU reference matches cv.magnitude of cv.Sobel / cv.Scharr derivatives (atol 1e-4 + rtol 1e-4)', async () => {
    const { cv } = await opencv();
    for (const border of BORDER_MODES) {
      for (const dtype of ['u8', 'f32'] as const) {
        const x = naturalImage([1, 1, 18, 21], dtype, 5);
        const src = toMat(cv, x);
        const cases = [
          ['sobel', 1],
          ['sobel', 3],
          ['sobel', 5],
          ['sobel', 7],
          ['scharr', 3],
          ['central', 3],
        ] as const;
        for (const [operator, ksize] of cases) {
          const gx = new cv.Mat();
          const gy = new cv.Mat();
          const mag = new cv.Mat();
          const b = cvBorder(cv, border);
          if (operator === 'scharr') {
            // cv.Scharr(src, gx, cv.CV_32F, 1, 0, 1, 0, border); cv.Scharr(src, gy, cv.CV_32F, 0, 1, 1, 0, border)
            cv.Scharr(src, gx, cv.CV_32F, 1, 0, 1, 0, b);
            cv.Scharr(src, gy, cv.CV_32F, 0, 1, 1, 0, b);
          } else {
            // central differences are Sobel ksize 1 ([-1 0 1], no smoothing) scaled by 1/2:
            // cv.Sobel(src, gx, cv.CV_32F, 1, 0, ksize, scale, 0, border); cv.Sobel(src, gy, cv.CV_32F, 0, 1, ksize, scale, 0, border)
            const [k, scale] = operator === 'central' ? [1, 0.5] : [ksize, 1];
            cv.Sobel(src, gx, cv.CV_32F, 1, 0, k, scale, 0, b);
            cv.Sobel(src, gy, cv.CV_32F, 0, 1, k, scale, 0, b);
          }
          // cv.magnitude(gx, gy, mag)
          cv.magnitude(gx, gy, mag);
          assertClose(
            gradientMagnitude(x, { operator, ksize, border }),
            fromMat(mag, 'f32'),
            { atol: 1e-4, rtol: 1e-4 },
            `${border} ${dtype} ${operator} k=${ksize}`,
          );
          gx.delete();
          gy.delete();
          mag.delete();
        }
        src.delete();
      }
    }
  });

  test('GPU matches the CPU reference: input dtypes, f32/f16 outputs, operators, borders, batches', { skip: gpuSkip(gpu) }, async () => {
    const shapes = [
      [[1, 1, 17, 23], 'u8'],
      [[3, 3, 9, 8], 'u8'],
      [[2, 1, 13, 7], 'u16'],
      [[2, 3, 11, 5], 'f32'],
      [[1, 1, 6, 33], 'f16'],
    ] as const;
    for (const [shape, dtype] of shapes) {
      const x = (shape[0] > 1 ? randomImage : naturalImage)(shape as unknown as [number, number, number, number], dtype, 3);
      for (const border of BORDER_MODES) {
        for (const operator of ['sobel', 'scharr', 'central'] as const) {
          for (const out of ['f32', 'f16'] as const) {
            await assertGpuMatchesCpu(
              gpu!,
              [x],
              (t) => gradientMagnitude(t, { operator, border, borderValue: 2, dtype: out }),
              {},
              `${dtype} ${border} ${operator} → ${out}`,
            );
          }
        }
      }
    }
  });

  test('GPU matches the CPU reference: Sobel ksize 1, 5, 7 and integer outputs', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([2, 1, 15, 19], 'u8', 11);
    for (const ksize of [1, 5, 7] as const) {
      for (const border of BORDER_MODES) {
        await assertGpuMatchesCpu(gpu!, [x], (t) => gradientMagnitude(t, { ksize, border, borderValue: 9 }), {}, `k=${ksize} ${border}`);
      }
    }
    await assertGpuMatchesCpu(gpu!, [x], (t) => gradientMagnitude(t, { dtype: 'u8' }), { int: 1 }, 'u8 out');
    await assertGpuMatchesCpu(gpu!, [x], (t) => gradientMagnitude(t, { ksize: 5, dtype: 'u16' }), { int: 1 }, 'u16 out');
  });

  test('tiled path and u8 strips: interior and rim tiles, every input dtype, operator and ksize, rows on 4 or 16 pixels or not', {
    skip: gpuSkip(gpu),
  }, async () => {
    for (const dtype of ['u8', 'u16', 'i32', 'f32', 'f16'] as const) {
      // 136 px: interior tiles (quad loads, 16-byte f32 stores); 138 px: every tile resolves
      // borders; 144 px: u8 3×3 operators take the strip (ksize 7 the tile)
      for (const w of dtype === 'u8' ? [136, 138, 144] : [136]) {
        const x = (dtype === 'u8' ? naturalImage : randomImage)([2, 1, 40, w], dtype, 21);
        for (const border of dtype === 'u8' ? BORDER_MODES : (['reflect101'] as const)) {
          for (const [operator, ksize] of [
            ['central', 3],
            ['sobel', 1],
            ['sobel', 3],
            ['sobel', 7],
            ['scharr', 3],
          ] as const) {
            for (const out of dtype === 'u8' ? (['f32', 'f16', 'u8'] as const) : (['f32'] as const)) {
              await assertGpuMatchesCpu(
                gpu!,
                [x],
                (t) => gradientMagnitude(t, { operator, ksize, border, borderValue: 3, dtype: out }),
                out === 'u8' ? { int: 1 } : {},
                `${dtype} w=${w} ${border} ${operator}${ksize} → ${out}`,
              );
            }
          }
        }
      }
    }
  });

  test('one fused dispatch per call, no intermediate tensors', { skip: gpuSkip(gpu) }, async () => {
    const x = await naturalImage([2, 1, 16, 16], 'u8', 2).toGpu(gpu!);
    for (const options of [{}, { operator: 'central' as const }, { ksize: 7 as const }]) {
      const before = gpu!.allStats();
      const y = gradientMagnitude(x, options);
      const after = gpu!.allStats();
      assert.equal(after.dispatches - before.dispatches, 1);
      assert.equal(after.submits, before.submits);
      y.dispose();
    }
    x.dispose();
  });

  test('a vertical step: Sobel 4·step, Scharr 16·step, central step/2', () => {
    const x = naturalImage([1, 1, 5, 6], 'f32', 1);
    const d = x.data as Float32Array;
    for (let i = 0; i < d.length; i++) d[i] = i % 6 >= 3 ? 10 : 0;
    assert.equal(gradientMagnitude(x).at(2 * 6 + 2), 40);
    assert.equal(gradientMagnitude(x, { operator: 'scharr' }).at(2 * 6 + 3), 160);
    assert.equal(gradientMagnitude(x, { operator: 'central' }).at(2 * 6 + 2), 5);
    assert.equal(gradientMagnitude(x).at(2 * 6), 0);
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of gradientPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => gradientMagnitude(x, { ksize: 4 as never }), /Expected odd integer between 1 and 7 for ksize but received 4 of type number/);
    assert.throws(() => gradientMagnitude(x, { ksize: 9 as never }), /Expected odd integer between 1 and 7 for ksize but received 9 of type number/);
    assert.throws(() => gradientMagnitude(x, { operator: 'scharr', ksize: 5 }), /Expected 3 with operator "scharr" for ksize but received 5 of type number/);
    assert.throws(
      () => gradientMagnitude(x, { operator: 'prewitt' as never }),
      /Expected one of "sobel", "scharr", "central" for operator but received "prewitt"/,
    );
    assert.throws(
      () => gradientMagnitude(x, { border: 'wrap' as never }),
      /Expected one of "reflect101", "replicate", "constant" for border but received "wrap"/,
    );
    assert.throws(() => gradientMagnitude(x, { dtype: 'f64' as never }), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "f64"/);
    assert.throws(() => gradientMagnitude(x.reshape([4, 4])), /Expected x of shape \[N, C, H, W\] but received \[4, 4\]/);
  });
});
