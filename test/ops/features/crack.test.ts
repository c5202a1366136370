import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { crackMask, crackPrograms } from '../../../src/ops/features/crack.js';
import { gradientMagnitude } from '../../../src/ops/features/gradient.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

describe('crackMask', () => {
  test('equals thresholding the central-difference magnitude (its definition)', () => {
    for (const border of BORDER_MODES) {
      for (const [dtype, threshold] of [
        ['u8', 10.3],
        ['u16', 900],
        ['f32', 0.021],
      ] as const) {
        const x = naturalImage([2, 1, 19, 17], dtype, 5);
        const mask = crackMask(x, { threshold, border, borderValue: 1 });
        const mag = gradientMagnitude(x, { operator: 'central', border, borderValue: 1 });
        const expected = new Uint8Array(mag.size);
        for (let i = 0; i < mag.size; i++) expected[i] = mag.at(i) > threshold ? 255 : 0;
        assertClose(mask, Tensor.fromArray(expected, mag.shape, 'u8'), { int: 0 }, `${dtype} ${border}`);
        const marked = expected.reduce((s, v) => s + (v ? 1 : 0), 0);
        assert.ok(marked > 0 && marked < expected.length, `${dtype} ${border}: threshold splits the image (${marked} marked)`);
      }
    }
  });

  test('matches OpenCV: threshold of magnitude of Sobel ksize 1 / 2 (exact)', async () => {
    const { cv } = await opencv();
    const x = naturalImage([1, 1, 21, 18], 'u8', 8);
    const src = toMat(cv, x);
    for (const border of BORDER_MODES) {
      const [gx, gy, mag, dst] = [new cv.Mat(), new cv.Mat(), new cv.Mat(), new cv.Mat()];
      // cv.Sobel(src, gx, cv.CV_32F, 1, 0, 1, 0.5, 0, border); cv.Sobel(src, gy, cv.CV_32F, 0, 1, 1, 0.5, 0, border)
      cv.Sobel(src, gx, cv.CV_32F, 1, 0, 1, 0.5, 0, cvBorder(cv, border));
      cv.Sobel(src, gy, cv.CV_32F, 0, 1, 1, 0.5, 0, cvBorder(cv, border));
      // cv.magnitude(gx, gy, mag); cv.threshold(mag, dst, 7.5, 255, cv.THRESH_BINARY); dst.convertTo(dst, cv.CV_8U)
      cv.magnitude(gx, gy, mag);
      cv.threshold(mag, dst, 7.5, 255, cv.THRESH_BINARY);
      dst.convertTo(dst, cv.CV_8U);
      assertClose(crackMask(x, { threshold: 7.5, border }), fromMat(dst, 'u8'), { int: 0 }, border);
      for (const m of [gx, gy, mag, dst]) m.delete();
    }
    src.delete();
  });

  test('a negative threshold marks everything; a flat image nothing', () => {
    const x = randomImage([1, 2, 5, 7], 'u8', 2);
    assert.ok([...crackMask(x, { threshold: -1 }).data].every((v) => v === 255));
    const flat = Tensor.fromArray(new Float32Array(35).fill(3), [1, 1, 5, 7], 'f32');
    assert.ok([...crackMask(flat, { threshold: 0 }).data].every((v) => v === 0));
    // constant border with a different value makes the frame pixels edges
    const framed = crackMask(flat, { threshold: 0, border: 'constant', borderValue: 0 });
    assert.equal(framed.at(0), 255);
    assert.equal(framed.at(2 * 7 + 3), 0);
  });

  test('GPU matches the CPU reference: u8, u16, f32, f16, borders, batches, odd sizes, 1 and 3 channels', { skip: gpuSkip(gpu) }, async () => {
    const cases = [
      [[1, 1, 17, 23], 'u8', 9.5],
      [[3, 3, 9, 8], 'u8', 120],
      // rows of whole words (the tile): one word per row, one row, integer threshold (ties stay unmarked)
      [[2, 1, 5, 4], 'u8', 3],
      [[2, 1, 1, 12], 'u8', 2],
      // rows of a multiple of 16 pixels (the strip): one strip per row, several strips and a partial row block
      [[2, 1, 5, 16], 'u8', 3],
      [[1, 3, 37, 144], 'u8', 9.5],
      [[2, 1, 13, 7], 'u16', 20000.5],
      [[2, 3, 11, 5], 'f32', 0.3],
      [[1, 1, 6, 33], 'f16', 0.05],
    ] as const;
    for (const [shape, dtype, threshold] of cases) {
      const x = (shape[0] > 1 ? randomImage : naturalImage)(shape as unknown as [number, number, number, number], dtype, 13);
      for (const border of BORDER_MODES) {
        await assertGpuMatchesCpu(gpu!, [x], (t) => crackMask(t, { threshold, border, borderValue: 0.5 }), { int: 0 }, `${dtype} ${border}`);
      }
    }
  });

  test('tiled path (every dtype, rows of 136 px) and the u8 strip (rows of 144 px): interior and rim tiles, every border', { skip: gpuSkip(gpu) }, async () => {
    for (const [dtype, threshold, w] of [
      ['u8', 9.5, 136],
      ['u8', 9.5, 144],
      ['u16', 20000.5, 136],
      ['i32', 1e4, 136],
      ['f32', 0.3, 136],
      ['f16', 0.05, 136],
    ] as const) {
      const x = (dtype === 'u8' ? naturalImage : randomImage)([2, 1, 40, w], dtype, 17);
      for (const border of BORDER_MODES) {
        await assertGpuMatchesCpu(gpu!, [x], (t) => crackMask(t, { threshold, border, borderValue: 0.5 }), { int: 0 }, `${dtype} W=${w} ${border}`);
      }
    }
  });

  test('one dispatch per call', { skip: gpuSkip(gpu) }, async () => {
    const x = await naturalImage([2, 1, 16, 16], 'u8', 2).toGpu(gpu!);
    const before = gpu!.allStats().dispatches;
    const y = crackMask(x, { threshold: 4 });
    assert.equal(gpu!.allStats().dispatches - before, 1);
    assert.equal(y.dtype, 'u8');
    y.dispose();
    x.dispose();
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of crackPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => crackMask(x, {} as never), /Expected number between -1e\+30 and 1e\+30 for threshold but received undefined of type undefined/);
    assert.throws(() => crackMask(x, { threshold: NaN }), /Expected number between -1e\+30 and 1e\+30 for threshold but received NaN of type number/);
    assert.throws(() => crackMask(x, undefined as never), /Expected an object with threshold for options but received undefined of type undefined/);
    assert.throws(
      () => crackMask(x, { threshold: 1, border: 'wrap' as never }),
      /Expected one of "reflect101", "replicate", "constant" for border but received "wrap"/,
    );
    assert.throws(() => crackMask(x.reshape([1, 16]), { threshold: 1 }), /Expected x of shape \[N, C, H, W\] but received \[1, 16\]/);
  });
});
