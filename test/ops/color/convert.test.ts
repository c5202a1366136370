import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DTYPES, roundHalfEven, type DType } from '../../../src/dtype.js';
import { convert, convertPrograms } from '../../../src/ops/color/convert.js';
import { Tensor } from '../../../src/tensor.js';
import { arithmeticExact, assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { opencv, type CV } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

// opencv.js does not export CV_16F; its depth number is 7 (CV_8U 0, CV_16U 2, CV_32S 4, CV_32F 5).
const CV_DEPTH: Record<DType, number> = { u8: 0, u16: 2, i32: 4, f32: 5, f16: 7 };

/** Plane (n, c) as a one-channel Mat of any depth, f16 included (caller deletes it). */
function planeMat(cv: CV, t: Tensor, n = 0, c = 0): CV {
  const [, C, H, W] = t.shape as [number, number, number, number];
  const plane = t.data.subarray((n * C + c) * H * W, (n * C + c + 1) * H * W);
  const mat = new cv.Mat(H, W, CV_DEPTH[t.dtype]);
  (mat.data as Uint8Array).set(new Uint8Array(plane.buffer, plane.byteOffset, plane.byteLength));
  return mat;
}

function matTensor(mat: CV, dtype: DType): Tensor {
  const bytes = (mat.data as Uint8Array).slice();
  const n = mat.rows * mat.cols;
  const data =
    dtype === 'u8'
      ? bytes
      : dtype === 'u16' || dtype === 'f16'
        ? new Uint16Array(bytes.buffer, 0, n)
        : dtype === 'i32'
          ? new Int32Array(bytes.buffer, 0, n)
          : new Float32Array(bytes.buffer, 0, n);
  return Tensor.fromArray(data, [1, 1, mat.rows, mat.cols], dtype);
}

/** A scale/offset pair that spans the output's range from the input's, with some saturation. */
function paramsFor(from: DType, to: DType): { scale: number; offset: number }[] {
  const top = (d: DType) => (d === 'u8' ? 255 : d === 'u16' ? 65535 : d === 'i32' ? 1000 : 1);
  const ratio = top(to) / top(from);
  return [
    { scale: 1, offset: 0 },
    { scale: ratio * 1.13, offset: -0.07 * top(to) }, // both ends saturate for integer outputs
    { scale: -ratio * 0.6, offset: top(to) * 0.8 + 0.5 },
  ];
}

describe('convert', () => {
  test('CPU reference matches OpenCV Mat.convertTo for every dtype pair (integers exact but i32→i32 ±1, floats 1e-6 relative)', async () => {
    const { cv } = await opencv();
    for (const from of DTYPES) {
      const x = naturalImage([1, 1, 13, 17], from, 4);
      for (const to of DTYPES) {
        for (const { scale, offset } of paramsFor(from, to)) {
          const ours = convert(x, { dtype: to, scale, offset });
          const src = planeMat(cv, x);
          const dst = new cv.Mat();
          // src.convertTo(dst, CV_<to>, scale, offset)
          src.convertTo(dst, CV_DEPTH[to], scale, offset);
          // OpenCV's CV_32S → CV_32S path computes in double, ours in f32: a product landing on a
          // .5 tie in f32 but not in double rounds the other way, hence ±1 for that one pair.
          const int = from === 'i32' && to === 'i32' ? 1 : 0;
          assertClose(ours, matTensor(dst, to), { int, atol: 1e-6, rtol: 1e-6 }, `${from}→${to} ${scale} ${offset}`);
          src.delete();
          dst.delete();
        }
      }
    }
  });

  test('rounds half to even and saturates like saturate_cast', async () => {
    const { cv } = await opencv();
    const data = new Int32Array(64).map((_, i) => i * 9 - 40); // -40..527, odd and even
    const x = Tensor.fromArray(data, [1, 1, 4, 16], 'i32');
    const ours = convert(x, { dtype: 'u8', scale: 0.5 });
    for (let i = 0; i < 64; i++) assert.equal(ours.data[i], Math.min(255, Math.max(0, roundHalfEven(data[i]! * 0.5))), `element ${i}`);
    const src = planeMat(cv, x);
    const dst = new cv.Mat();
    // src.convertTo(dst, CV_8U, 0.5, 0)
    src.convertTo(dst, cv.CV_8U, 0.5, 0);
    assertClose(ours, matTensor(dst, 'u8'), { int: 0 }, 'ties');
    src.delete();
    dst.delete();
  });

  test('GPU matches the CPU reference: every dtype pair, batches, odd and 16-multiple sizes, 1 and 3 channels', { skip: gpuSkip(gpu) }, async () => {
    for (const from of DTYPES) {
      for (const to of DTYPES) {
        const { scale, offset } = paramsFor(from, to)[1]!;
        const a = naturalImage([1, 3, 9, 11], from, 2);
        const b = randomImage([3, 1, 8, 6], from, 3); // 16-element multiple: the vector program
        // integers bit for bit on lavapipe; ±1 at a rounding tie where the GPU fuses the multiply-add
        const tol = { int: arithmeticExact(gpu!).int };
        await assertGpuMatchesCpu(gpu!, [a], (t) => convert(t, { dtype: to, scale, offset }), tol, `${from}→${to} natural`);
        await assertGpuMatchesCpu(gpu!, [b], (t) => convert(t, { dtype: to, scale: -scale, offset: -offset }), tol, `${from}→${to} random`);
      }
    }
  });

  test('f16 outputs clamp to ±65504 on both backends', { skip: gpuSkip(gpu) }, async () => {
    const x = randomImage([2, 3, 5, 7], 'u16', 9);
    await assertGpuMatchesCpu(gpu!, [x], (t) => convert(t, { dtype: 'f16', scale: 3, offset: -70000 }), {}, 'f16 clamp');
    const y = convert(x, { dtype: 'f16', scale: 3, offset: -70000 });
    for (let i = 0; i < y.size; i++) assert.ok(Math.abs(y.at(i)) <= 65504, `element ${i} = ${y.at(i)}`);
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    const programs = convertPrograms();
    assert.equal(programs.length, 3 * DTYPES.length * DTYPES.length); // scalar and two vector layouts per dtype pair
    for (const p of programs) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => convert(x, {} as never), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received undefined of type undefined/);
    assert.throws(() => convert(x, { dtype: 'f64' as never }), /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "f64" of type string/);
    assert.throws(
      () => convert(x, { dtype: 'f32', scale: Number.NaN }),
      /Expected number between -1e\+30 and 1e\+30 for scale but received NaN of type number/,
    );
    assert.throws(
      () => convert(x, { dtype: 'f32', offset: Infinity }),
      /Expected number between -1e\+30 and 1e\+30 for offset but received Infinity of type number/,
    );
    assert.throws(() => convert(x.reshape([4, 4]), { dtype: 'f32' }), /Expected x of shape \[N, C, H, W\] but received \[4, 4\]/);
  });
});
