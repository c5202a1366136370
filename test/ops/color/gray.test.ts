import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DTYPES, type DType } from '../../../src/dtype.js';
import { rgbToGray, rgbToGrayPrograms } from '../../../src/ops/color/gray.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, type CV } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

const IO_DTYPES: readonly DType[] = ['u8', 'u16', 'f32', 'f16'];

/** Image n of a planar N×3×H×W CPU tensor as an interleaved 3-channel Mat (caller deletes it). */
function rgbMat(cv: CV, t: Tensor, n = 0): CV {
  const [, C, H, W] = t.shape as [number, number, number, number];
  assert.equal(C, 3);
  const type = t.dtype === 'u8' ? cv.CV_8UC3 : t.dtype === 'u16' ? cv.CV_16UC3 : cv.CV_32FC3;
  const mat = new cv.Mat(H, W, type);
  const dst: Uint8Array | Uint16Array | Float32Array = t.dtype === 'u8' ? mat.data : t.dtype === 'u16' ? mat.data16U : mat.data32F;
  const plane = H * W;
  const base = n * 3 * plane;
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) dst[p * 3 + c] = t.data[base + c * plane + p]!;
  return mat;
}

describe('rgbToGray', () => {
  test('CPU reference matches OpenCV cvtColor RGB2GRAY (u8/u16 ±1: OpenCV uses fixed point; f32 1e-6)', async () => {
    const { cv } = await opencv();
    for (const dtype of ['u8', 'u16', 'f32'] as const) {
      for (const make of [naturalImage, randomImage]) {
        const x = make([2, 3, 17, 23], dtype, 5);
        const ours = rgbToGray(x);
        assert.deepEqual([...ours.shape], [2, 1, 17, 23]);
        for (let n = 0; n < 2; n++) {
          const src = rgbMat(cv, x, n);
          const dst = new cv.Mat();
          // cv.cvtColor(src, dst, cv.COLOR_RGB2GRAY)
          cv.cvtColor(src, dst, cv.COLOR_RGB2GRAY);
          const plane = 17 * 23;
          const mine = Tensor.fromArray(ours.data.slice(n * plane, (n + 1) * plane), [1, 1, 17, 23], dtype);
          assertClose(mine, fromMat(dst, dtype), { int: 1, atol: 1e-6, rtol: 1e-6 }, `${dtype} ${make.name} n=${n}`);
          src.delete();
          dst.delete();
        }
      }
    }
  });

  test('grey of a grey image is itself (u8 exact, f32 1e-4)', () => {
    const g = naturalImage([1, 1, 6, 7], 'u8', 2);
    const planes = new Uint8Array(3 * g.size);
    for (let c = 0; c < 3; c++) planes.set(g.data as Uint8Array, c * g.size);
    const x = Tensor.fromArray(planes, [1, 3, 6, 7], 'u8');
    assert.deepEqual([...rgbToGray(x).data], [...g.data]);
    const f = rgbToGray(x, { dtype: 'f32' });
    for (let i = 0; i < g.size; i++) assert.ok(Math.abs(f.at(i) - g.data[i]!) < 1e-4, `element ${i}`);
  });

  test('GPU matches the CPU reference: u8/u16/f32/f16 in and out, batches, odd sizes', { skip: gpuSkip(gpu) }, async () => {
    for (const from of IO_DTYPES) {
      for (const to of [undefined, ...IO_DTYPES]) {
        const a = naturalImage([1, 3, 11, 9], from, 2);
        const b = randomImage([3, 3, 5, 13], from, 3);
        await assertGpuMatchesCpu(gpu!, [a], (t) => rgbToGray(t, { dtype: to }), { int: 0 }, `${from}→${to} natural`);
        await assertGpuMatchesCpu(gpu!, [b], (t) => rgbToGray(t, { dtype: to }), { int: 0 }, `${from}→${to} random`);
      }
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    const programs = rgbToGrayPrograms();
    assert.equal(programs.length, DTYPES.length * DTYPES.length);
    for (const p of programs) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    assert.throws(() => rgbToGray(randomImage([1, 1, 4, 4], 'u8')), /Expected x with 3 channels but received 1 \(shape \[1, 1, 4, 4\]\)/);
    assert.throws(() => rgbToGray(randomImage([2, 4, 4, 4], 'u8')), /Expected x with 3 channels but received 4 \(shape \[2, 4, 4, 4\]\)/);
    assert.throws(
      () => rgbToGray(randomImage([1, 3, 4, 4], 'u8'), { dtype: 'rgb' as never }),
      /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "rgb" of type string/,
    );
    assert.throws(() => rgbToGray(randomImage([1, 3, 4, 4], 'u8').reshape([3, 16])), /Expected x of shape \[N, C, H, W\] but received \[3, 16\]/);
  });
});
