import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { f32ToF16Bits } from '../../../src/dtype.js';
import { histogram, histogramPrograms } from '../../../src/ops/analysis/histogram.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

/** Plain counting, independent of the op: value v of plane p falls in bin floor((v − lo)·bins/(hi − lo)). */
function naiveCounts(x: Tensor, bins: number, lo: number, hi: number): number[] {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const out = new Array<number>(N * C * bins).fill(0);
  for (let p = 0; p < N * C; p++)
    for (let j = 0; j < H * W; j++) {
      const v = x.at(p * H * W + j);
      if (v >= lo && v < hi) out[p * bins + Math.min(bins - 1, Math.floor(((v - lo) * bins) / (hi - lo)))]!++;
    }
  return out;
}

describe('histogram', () => {
  test('counts each plane separately; lo inclusive, hi exclusive, outside values ignored', () => {
    // two images × two channels, 2×3 pixels
    const x = Tensor.fromArray(
      new Uint8Array([0, 1, 2, 3, 255, 255, 10, 10, 10, 10, 10, 10, 4, 5, 6, 7, 8, 9, 100, 200, 250, 251, 252, 0]),
      [2, 2, 2, 3],
      'u8',
    );
    const h = histogram(x, { bins: 4, range: [0, 8] });
    assert.deepEqual([...h.shape], [2, 2, 4]);
    assert.equal(h.dtype, 'i32');
    assert.deepEqual([...h.data], [2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 1, 0, 0, 0]);
    const full = histogram(x);
    assert.deepEqual([...full.shape], [2, 2, 256]);
    assert.equal(full.data[255], 2);
    assert.equal(full.data[256 + 10], 6);
    // every pixel lands in the default range of u8
    assert.equal(
      [...full.data].reduce((a, b) => a + b, 0),
      x.size,
    );
  });

  test('CPU reference equals plain counting on u16 and f32', () => {
    const u16 = naturalImage([2, 3, 13, 11], 'u16', 4);
    assert.deepEqual([...histogram(u16, { bins: 64 }).data], naiveCounts(u16, 64, 0, 65536));
    const f32 = randomImage([1, 2, 9, 17], 'f32', 5);
    assert.deepEqual([...histogram(f32, { bins: 32, range: [0.25, 0.75] }).data], naiveCounts(f32, 32, 0.25, 0.75));
  });

  test('CPU reference matches OpenCV calcHist on u8 (exact)', async () => {
    const { cv } = await opencv();
    const x = naturalImage([1, 1, 37, 41], 'u8', 2);
    const noise = randomImage([1, 1, 37, 41], 'u8', 3);
    for (const img of [x, noise]) {
      for (const [bins, lo, hi] of [
        [256, 0, 256],
        [64, 0, 256],
        [16, 0, 256],
        [10, 0, 256],
        [32, 64, 192],
        [100, 0, 200],
        [7, 10, 200],
      ] as const) {
        const ours = histogram(img, { bins, range: [lo, hi] });
        const src = toMat(cv, img);
        const srcs = new cv.MatVector();
        srcs.push_back(src);
        const hist = new cv.Mat();
        const mask = new cv.Mat();
        // cv.calcHist([src], [0], mask, hist, [bins], [lo, hi]) → CV_32F bins×1
        cv.calcHist(srcs, [0], mask, hist, [bins], [lo, hi], false);
        const expected = Tensor.fromArray(Int32Array.from(hist.data32F as Float32Array), [1, 1, bins], 'i32');
        assertClose(ours, expected, { int: 0 }, `bins ${bins} [${lo}, ${hi})`);
        for (const m of [src, hist, mask, srcs]) m.delete();
      }
    }
  });

  test('GPU equals the CPU reference exactly: dtypes, batches, odd sizes, 1 and 3 channels, bin counts', { skip: gpuSkip(gpu) }, async () => {
    for (const [shape, dtype, opts] of [
      [[1, 1, 17, 23], 'u8', {}],
      [[3, 3, 9, 8], 'u8', { bins: 10 }],
      [[2, 1, 64, 64], 'u8', { bins: 7, range: [10, 200] }],
      [[2, 1, 13, 7], 'u16', { bins: 1000 }],
      [[1, 3, 11, 5], 'u16', {}],
      [[2, 3, 11, 5], 'f32', { bins: 50, range: [0.1, 0.9] }],
      [[1, 1, 6, 33], 'f16', { bins: 3000, range: [0, 1] }],
      [[2, 1, 5, 9], 'i32', { bins: 16, range: [-100, 900] }],
    ] as const) {
      for (const make of [randomImage, naturalImage]) {
        const x = make(shape as unknown as [number, number, number, number], dtype, 7);
        await assertGpuMatchesCpu(gpu!, [x], (t) => histogram(t, opts), { int: 0 }, `${dtype} ${JSON.stringify(opts)} ${make.name}`);
      }
    }
  });

  test('GPU: a plane of several workgroup chunks, a flat image, and values at the range ends', { skip: gpuSkip(gpu) }, async () => {
    // 64×64×... planes: 2 planes of 20000 px span two 16384-element chunks each
    const big = naturalImage([2, 1, 100, 200], 'u8', 9);
    await assertGpuMatchesCpu(gpu!, [big], (t) => histogram(t, { bins: 33 }), { int: 0 }, 'two chunks');
    // u8 planes of a multiple of 16 pixels take the vec4 kernel: 69632 px span two of its 65536-pixel
    // chunks, the first whole (batched loads), the second partial
    const wide = naturalImage([2, 1, 256, 272], 'u8', 10);
    for (const opts of [{}, { bins: 33 }, { bins: 7, range: [10, 200] as const }, { bins: 4096 }]) {
      await assertGpuMatchesCpu(gpu!, [wide], (t) => histogram(t, opts), { int: 0 }, `vec4 kernel ${JSON.stringify(opts)}`);
    }
    // flat planes, every pixel on one counter of each copy: a partial chunk and a whole one
    for (const side of [40, 256]) {
      const flat = Tensor.fromArray(new Uint8Array(side * side).fill(77), [1, 1, side, side], 'u8');
      const h = await histogram(await flat.toGpu(gpu!)).toCpu();
      assert.equal(h.data[77], side * side, `flat ${side}×${side}`);
    }
    const edges = Tensor.fromArray(new Float32Array([0, 1, 0.5, -0.001, 0.999, 1.5, NaN, 0.25]), [1, 1, 2, 4], 'f32');
    const g = await histogram(await edges.toGpu(gpu!), { bins: 4, range: [0, 1] }).toCpu();
    assert.deepEqual([...g.data], [1, 1, 1, 1]);
    assert.deepEqual([...histogram(edges, { bins: 4, range: [0, 1] }).data], [1, 1, 1, 1]);
    const half = Tensor.fromArray(new Uint16Array([0.5, 0.75, 2].map(f32ToF16Bits)), [1, 1, 1, 3], 'f16');
    assert.deepEqual([...(await histogram(await half.toGpu(gpu!), { bins: 2, range: [0.5, 1] }).toCpu()).data], [1, 1]);
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of histogramPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => histogram(x, { bins: 0 }), /Expected integer between 1 and 4096 for bins but received 0 of type number/);
    assert.throws(() => histogram(x, { bins: 5000 }), /Expected integer between 1 and 4096 for bins but received 5000 of type number/);
    assert.throws(() => histogram(x, { bins: 2.5 }), /Expected integer between 1 and 4096 for bins but received 2.5 of type number/);
    assert.throws(
      () => histogram(x, { range: [10, 5] }),
      /Expected an array \[lo, hi\] of finite numbers with lo < hi for range but received \[10, 5\] of type object/,
    );
    assert.throws(
      () => histogram(x, { range: [0, NaN] }),
      /Expected an array \[lo, hi\] of finite numbers with lo < hi for range but received \[0, NaN\] of type object/,
    );
    assert.throws(
      () => histogram(randomImage([1, 1, 4, 4], 'f32'), {}),
      /Expected an array \[lo, hi\] \(required for f32 input\) for range but received undefined of type undefined/,
    );
    assert.throws(() => histogram(x.reshape([16])), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
  });
});
