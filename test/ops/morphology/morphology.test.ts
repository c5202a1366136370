import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allocTyped, type DType } from '../../../src/dtype.js';
import type { BorderMode } from '../../../src/kernels/border.js';
import { STENCIL_WIDE_RADIUS, stencilTileFits } from '../../../src/kernels/stencil-tile.js';
import { structuringElement, type ElementShape } from '../../../src/ops/morphology/element.js';
import {
  dilate,
  erode,
  morphologyEx,
  morphologyPrograms,
  rectStripSpec,
  slidingExtremum,
  type MorphOp,
  type MorphologyExOptions,
  type MorphologyOptions,
  withMorphTuning,
} from '../../../src/ops/morphology/morphology.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { cvBorder, fromMat, opencv, toMat, type CV } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();
const OPS: MorphOp[] = ['erode', 'dilate', 'open', 'close', 'gradient', 'tophat', 'blackhat'];
const SHAPES: ElementShape[] = ['rect', 'ellipse', 'cross'];
type Shape = [number, number, number, number];

/** OpenCV's result for one plane: cv.morphologyEx(src, dst, op, kernel, anchor(-1,-1), iterations, border, borderValue). */
function cvMorph(cv: CV, x: Tensor, op: MorphOp, kernel: number[][], o: MorphologyOptions): Tensor {
  const src = toMat(cv, x);
  const dst = new cv.Mat();
  const k = cv.matFromArray(kernel.length, kernel[0]!.length, cv.CV_8U, kernel.flat());
  const code = {
    erode: cv.MORPH_ERODE,
    dilate: cv.MORPH_DILATE,
    open: cv.MORPH_OPEN,
    close: cv.MORPH_CLOSE,
    gradient: cv.MORPH_GRADIENT,
    tophat: cv.MORPH_TOPHAT,
    blackhat: cv.MORPH_BLACKHAT,
  }[op];
  const border = o.border ?? 'constant';
  const value = o.borderValue === undefined ? cv.morphologyDefaultBorderValue() : new cv.Scalar(o.borderValue, o.borderValue, o.borderValue, o.borderValue);
  cv.morphologyEx(src, dst, code, k, new cv.Point(-1, -1), o.iterations ?? 1, cvBorder(cv, border), value);
  const out = fromMat(dst, x.dtype);
  for (const m of [src, dst, k]) m.delete();
  return out;
}

describe('erode, dilate, morphologyEx', () => {
  test('CPU reference equals OpenCV morphologyEx exactly: every op × element shape (u8, default border)', async () => {
    const { cv } = await opencv();
    const x = naturalImage([1, 1, 23, 29], 'u8', 3);
    for (const op of OPS) {
      for (const shape of SHAPES) {
        for (const ksize of [
          [3, 3],
          [5, 5],
          [7, 4],
        ] as [number, number][]) {
          const o: MorphologyOptions = { element: shape, ksize };
          assertClose(morphologyEx(x, { op, ...o }), cvMorph(cv, x, op, structuringElement(shape, ksize), o), EXACT, `${op} ${shape} ${ksize}`);
        }
      }
    }
  });

  test('CPU reference equals OpenCV: borders, border values, iterations, custom elements, u16 and f32', async () => {
    const { cv } = await opencv();
    const custom = [
      [1, 0, 1, 1],
      [0, 0, 1, 0],
      [1, 1, 0, 1],
    ];
    const cases: [DType, MorphOp, number[][], MorphologyOptions][] = [];
    for (const border of ['reflect101', 'replicate', 'constant'] as BorderMode[]) {
      for (const op of ['erode', 'dilate', 'gradient'] as MorphOp[]) {
        cases.push(['u8', op, structuringElement('rect', [5, 3]), { element: 'rect', ksize: [5, 3], border, iterations: 3 }]);
        cases.push([
          'u8',
          op,
          structuringElement('ellipse', [7, 7]),
          { element: 'ellipse', ksize: 7, border, iterations: 2, ...(border === 'constant' ? { borderValue: 100 } : {}) },
        ]);
        cases.push(['u8', op, custom, { element: custom, border }]);
      }
    }
    cases.push(['u8', 'erode', structuringElement('rect', [4, 4]), { ksize: 4, iterations: 2 }]);
    cases.push(['u8', 'dilate', structuringElement('cross', [6, 5]), { element: 'cross', ksize: [6, 5], iterations: 3 }]);
    cases.push(['u8', 'tophat', structuringElement('ellipse', [9, 9]), { element: 'ellipse', ksize: 9, iterations: 2 }]);
    cases.push(['u8', 'close', custom, { element: custom, iterations: 2 }]);
    cases.push(['u16', 'open', structuringElement('ellipse', [5, 5]), { element: 'ellipse', ksize: 5 }]);
    cases.push(['u16', 'blackhat', structuringElement('rect', [3, 5]), { ksize: [3, 5], border: 'reflect101' }]);
    cases.push(['f32', 'gradient', structuringElement('cross', [5, 5]), { element: 'cross', ksize: 5 }]);
    cases.push(['f32', 'erode', structuringElement('rect', [3, 3]), { iterations: 2, border: 'replicate' }]);
    cases.push(['f32', 'tophat', custom, { element: custom, border: 'constant', borderValue: 0.5 }]);
    for (const [dtype, op, kernel, o] of cases) {
      const x = naturalImage([1, 1, 19, 24], dtype, 5);
      assertClose(morphologyEx(x, { op, ...o }), cvMorph(cv, x, op, kernel, o), EXACT, `${dtype} ${op} ${JSON.stringify(o)}`);
    }
  });

  test('CPU rectangles up to and beyond the image (the running extremum) equal OpenCV, every border and dtype', async () => {
    const { cv } = await opencv();
    const ksizes: [number, number][] = [
      [1, 9],
      [8, 8],
      [23, 6],
      [41, 61],
    ];
    for (const [dtype, border] of [
      ['u8', 'constant'],
      ['u8', 'reflect101'],
      ['u16', 'replicate'],
      ['f32', 'constant'],
    ] as [DType, BorderMode][]) {
      // two planes, so that each plane's lines are found
      const planes = [7, 8].map((seed) => naturalImage([1, 1, 29, 35], dtype, seed));
      const both = (a: ArrayLike<number>, b: ArrayLike<number>) => {
        const data = allocTyped(dtype, a.length + b.length);
        data.set(a);
        data.set(b, a.length);
        return Tensor.fromArray(data, [1, 2, 29, 35], dtype);
      };
      const x = both(planes[0]!.data, planes[1]!.data);
      for (const ksize of ksizes)
        for (const op of ['erode', 'dilate', 'blackhat'] as MorphOp[]) {
          const o: MorphologyOptions = { ksize, border };
          const [a, b] = planes.map((plane) => cvMorph(cv, plane, op, structuringElement('rect', ksize), o).data);
          assertClose(morphologyEx(x, { op, ...o }), both(a!, b!), EXACT, `${dtype} ${border} ${op} ${ksize}`);
        }
    }
  });

  test('slidingExtremum equals the extremum of every window, any size against any line length', () => {
    for (const op of ['min', 'max'] as const)
      for (let size = 1; size <= 9; size++)
        for (let length = size; length <= size + 20; length++) {
          const line = Float64Array.from({ length }, (_, i) => ((i * 7919 + size * 31) % 23) - 11);
          const out = new Float64Array(2 * (length - size + 1));
          slidingExtremum(line, size, op, out, 1, 2);
          for (let i = 0; i + size <= length; i++) {
            const window = [...line.subarray(i, i + size)];
            assert.equal(out[1 + 2 * i], op === 'min' ? Math.min(...window) : Math.max(...window), `${op} size ${size} length ${length} at ${i}`);
          }
        }
  });

  test('erode / dilate equal morphologyEx erode / dilate; iterations 0 and 1×1 copy', () => {
    const x = naturalImage([2, 3, 9, 11], 'u8', 2);
    assert.deepEqual([...erode(x, { element: 'ellipse', ksize: 5 }).data], [...morphologyEx(x, { op: 'erode', element: 'ellipse', ksize: 5 }).data]);
    assert.deepEqual([...dilate(x, { ksize: [3, 5] }).data], [...morphologyEx(x, { op: 'dilate', ksize: [3, 5] }).data]);
    assert.deepEqual([...erode(x, { iterations: 0 }).data], [...x.data]);
    assert.deepEqual([...dilate(x, { element: [[0]] }).data], [...x.data]);
    // the default border never wins: eroding a constant image keeps it
    const flat = Tensor.fromArray(new Uint8Array(20).fill(9), [1, 1, 4, 5], 'u8');
    assert.deepEqual([...erode(flat, { ksize: 5 }).data], new Array(20).fill(9));
    assert.deepEqual([...erode(flat, { ksize: 3, border: 'constant', borderValue: 0 }).data.subarray(0, 5)], [0, 0, 0, 0, 0]);
  });

  test('GPU matches the CPU reference exactly: ops, element shapes, borders, dtypes, batches, odd sizes, 1 and 3 channels', {
    skip: gpuSkip(gpu),
  }, async () => {
    const custom = [
      [0, 1, 1],
      [1, 0, 0],
      [1, 1, 1],
      [0, 0, 1],
    ];
    const cases: [Shape, DType, MorphologyExOptions][] = [
      [[1, 1, 17, 23], 'u8', { op: 'erode', element: 'rect', ksize: [5, 3] }],
      [[1, 1, 17, 23], 'u8', { op: 'dilate', element: 'ellipse', ksize: 7 }],
      [[2, 3, 9, 7], 'u8', { op: 'open', element: 'cross', ksize: 3, border: 'reflect101' }],
      [[2, 1, 13, 10], 'u8', { op: 'close', element: custom, border: 'replicate', iterations: 2 }],
      [[1, 3, 11, 13], 'u8', { op: 'gradient', element: 'ellipse', ksize: [5, 7], border: 'constant', borderValue: 40 }],
      [[2, 1, 15, 9], 'u8', { op: 'tophat', element: 'rect', ksize: 4, iterations: 2 }],
      [[1, 1, 16, 16], 'u8', { op: 'blackhat', element: 'ellipse', ksize: 5, border: 'replicate' }],
      [[2, 1, 13, 7], 'u16', { op: 'erode', element: 'ellipse', ksize: 5 }],
      [[2, 1, 13, 7], 'u16', { op: 'gradient', element: 'rect', ksize: 3, border: 'reflect101' }],
      [[2, 3, 11, 5], 'f32', { op: 'dilate', element: 'cross', ksize: 5 }],
      [[2, 3, 11, 5], 'f32', { op: 'tophat', element: 'rect', ksize: 3, border: 'replicate' }],
      [[1, 1, 6, 33], 'f16', { op: 'erode', element: 'rect', ksize: 3 }],
      [[1, 1, 6, 33], 'f16', { op: 'blackhat', element: custom }],
      [[1, 1, 5, 4], 'u8', { op: 'dilate', element: 'ellipse', ksize: 9, border: 'reflect101' }],
      // the recipe's largest hats (95 px, f32 as the classic detector runs them): separable passes, windows past the image
      [[1, 1, 70, 101], 'f32', { op: 'blackhat', element: 'rect', ksize: 95 }],
      [[2, 1, 37, 50], 'f32', { op: 'tophat', element: 'rect', ksize: 63 }],
    ];
    for (const [shape, dtype, o] of cases) {
      const x = (shape[0] > 1 ? randomImage : naturalImage)(shape, dtype, 7);
      await assertGpuMatchesCpu(gpu!, [x], (t) => morphologyEx(t, o), EXACT, `${dtype} [${shape}] ${JSON.stringify(o)}`);
    }
    await assertGpuMatchesCpu(
      gpu!,
      [naturalImage([1, 1, 9, 9], 'u8')],
      (t) => erode(t, { element: 'ellipse', ksize: 3, iterations: 3 }),
      EXACT,
      'erode iterations',
    );
    await assertGpuMatchesCpu(gpu!, [naturalImage([1, 1, 9, 9], 'u8')], (t) => dilate(t, { ksize: 1 }), EXACT, 'dilate 1×1');
  });

  test('GPU u8 rectangles on widths that are multiples of 4 (stencil strip, one-pass row and tiled kernels) match the CPU exactly', {
    skip: gpuSkip(gpu),
  }, async () => {
    // row kernel: 16 rows per thread, 64 per workgroup; tile = 128 × 32 pixels: sizes below, at
    // and across those edges; kernels wider than the image; windows beyond the row kernel's
    const cases: [Shape, MorphologyExOptions][] = [
      [[1, 1, 17, 24], { op: 'dilate', ksize: 3 }],
      [[1, 1, 17, 24], { op: 'erode', ksize: 3 }],
      [[2, 3, 37, 136], { op: 'dilate', ksize: 3 }],
      [[1, 2, 33, 132], { op: 'erode', ksize: [5, 3], border: 'reflect101' }],
      [[1, 1, 40, 8], { op: 'dilate', ksize: [4, 6], border: 'replicate' }],
      [[2, 1, 9, 12], { op: 'erode', ksize: [9, 1], border: 'constant', borderValue: 40 }],
      [[1, 1, 9, 12], { op: 'dilate', ksize: [1, 7], border: 'constant', borderValue: 300 }],
      [[1, 1, 9, 12], { op: 'erode', ksize: [2, 2], border: 'constant', borderValue: -5 }],
      [[1, 1, 3, 4], { op: 'dilate', ksize: [11, 9], border: 'reflect101' }],
      [[1, 1, 1, 4], { op: 'erode', ksize: [7, 5], border: 'reflect101' }],
      [[1, 1, 2, 4], { op: 'dilate', ksize: [17, 17], border: 'replicate' }],
      [[2, 1, 35, 20], { op: 'gradient', ksize: 3, border: 'reflect101' }],
      [[1, 1, 21, 16], { op: 'open', ksize: 3, iterations: 3 }],
      [[1, 1, 21, 16], { op: 'blackhat', ksize: [5, 5], border: 'replicate' }],
      [[1, 1, 70, 12], { op: 'dilate', ksize: [3, 5], border: 'reflect101' }],
      // up to 3×3 on widths of a multiple of 16: the stencil strips (default, constant, other borders, 2×2 anchors)
      [[2, 3, 37, 144], { op: 'dilate', ksize: 3 }],
      [[1, 1, 21, 16], { op: 'erode', ksize: 3, border: 'constant', borderValue: 40 }],
      [[1, 2, 19, 32], { op: 'erode', ksize: [2, 2], border: 'reflect101' }],
      [[1, 1, 9, 48], { op: 'close', ksize: 3, border: 'replicate' }],
      [[1, 1, 17, 64], { op: 'dilate', ksize: [3, 1] }],
      [[2, 3, 37, 136], { op: 'dilate', ksize: [11, 3] }], // tiled kernel from here
      [[1, 1, 40, 136], { op: 'erode', ksize: [3, 13], border: 'reflect101' }],
      [[1, 1, 36, 20], { op: 'erode', ksize: [10, 4], border: 'constant', borderValue: 77 }],
      [[1, 1, 12, 16], { op: 'tophat', ksize: [3, 40] }], // too tall for one tile: a chain of two
      [[1, 1, 60, 100], { op: 'blackhat', ksize: 95 }], // halo 47 each way: a chain of two in both directions
    ];
    for (const [shape, o] of cases) {
      const x = (shape[0] > 1 ? randomImage : naturalImage)(shape, 'u8', 11);
      await assertGpuMatchesCpu(gpu!, [x], (t) => morphologyEx(t, o), EXACT, `u8 [${shape}] ${JSON.stringify(o)}`);
    }
    // the strips' cases through the stencil tile too
    await withMorphTuning({ strip: false }, async () => {
      for (const [shape, o] of cases.filter(([s]) => s[3] % 16 === 0)) {
        const x = (shape[0] > 1 ? randomImage : naturalImage)(shape, 'u8', 13);
        await assertGpuMatchesCpu(gpu!, [x], (t) => morphologyEx(t, o), EXACT, `tile u8 [${shape}] ${JSON.stringify(o)}`);
      }
    });
    // a random image where every byte value meets every other (the SWAR byte compare)
    await assertGpuMatchesCpu(gpu!, [randomImage([1, 1, 64, 64], 'u8', 12)], (t) => dilate(t, { ksize: 5 }), EXACT, 'dilate 5×5 64²');
    await assertGpuMatchesCpu(gpu!, [randomImage([1, 1, 64, 64], 'u8', 13)], (t) => erode(t, { ksize: 5 }), EXACT, 'erode 5×5 64²');
    // the tile is what runs: one dispatch instead of the separable pair
    assert.ok(stencilTileFits(rectStripSpec('max', 'constant', { x0: -1, x1: 1, y0: -1, y1: 1 }), [1, 1, 8, 8], STENCIL_WIDE_RADIUS));
    assert.ok(!stencilTileFits(rectStripSpec('max', 'constant', { x0: -1, x1: 1, y0: -25, y1: 24 }), [1, 1, 8, 8], STENCIL_WIDE_RADIUS));
    const x = await randomImage([1, 1, 8, 8], 'u8').toGpu(gpu!);
    const before = gpu!.stats.dispatches;
    const y = dilate(x, { ksize: 3 });
    assert.equal(gpu!.stats.dispatches - before, 1);
    y.dispose();
    x.dispose();
  });

  test('GPU u8 rectangles 11×11, 15×3, 3×21, 31×31 on the shared engines match the CPU exactly, every border', { skip: gpuSkip(gpu) }, async () => {
    // widths: a multiple of 16 (strips for halo ≤ 4, else the tile), of 4 only (the tile), of neither (separable passes)
    const borders: MorphologyOptions[] = [{}, { border: 'constant', borderValue: 90 }, { border: 'reflect101' }, { border: 'replicate' }];
    const sizes: [number, number][] = [
      [11, 11],
      [15, 3],
      [3, 21],
      [31, 31],
    ];
    for (const [i, ksize] of sizes.entries()) {
      for (const [j, b] of borders.entries()) {
        for (const [w, dispatches] of [
          [64, 1],
          [36, 1],
          [30, 2],
        ] as const) {
          const op: MorphOp = (i + j) % 2 ? 'erode' : 'dilate';
          const x = randomImage([2, 1, 37, w], 'u8', 31 + i);
          await assertGpuMatchesCpu(gpu!, [x], (t) => morphologyEx(t, { op, ksize, ...b }), EXACT, `${op} ${ksize} w=${w} ${JSON.stringify(b)}`);
          const g = await x.toGpu(gpu!);
          const before = gpu!.stats.dispatches;
          const y = morphologyEx(g, { op, ksize, ...b });
          assert.equal(gpu!.stats.dispatches - before, dispatches, `${op} ${ksize} w=${w}: one pass on the tile, two separable`);
          y.dispose();
          g.dispose();
        }
      }
    }
  });

  test('GPU u8 rectangles wider than the tile run as a chain of tile passes (constant, replicate) and match the CPU exactly', {
    skip: gpuSkip(gpu),
  }, async () => {
    // 99 wide = three windows of halo ≤ 24; reflect101 does not decompose and takes the separable pair
    const borders: [MorphologyOptions, number][] = [
      [{}, 3],
      [{ border: 'constant', borderValue: 90 }, 3],
      [{ border: 'replicate' }, 3],
      [{ border: 'reflect101' }, 2],
    ];
    for (const ksize of [
      [99, 3],
      [4, 60],
    ] as [number, number][]) {
      for (const [j, [b, passes]] of borders.entries()) {
        const op: MorphOp = j % 2 ? 'erode' : 'dilate';
        const x = randomImage([1, 2, 29, 108], 'u8', 41 + j);
        await assertGpuMatchesCpu(gpu!, [x], (t) => morphologyEx(t, { op, ksize, ...b }), EXACT, `${op} ${ksize} ${JSON.stringify(b)}`);
        const g = await x.toGpu(gpu!);
        const before = gpu!.stats.dispatches;
        const y = morphologyEx(g, { op, ksize, ...b });
        const expected = ksize[0] === 99 ? passes : 2; // 4×60: halo 30 → two tile passes, or the separable pair
        assert.equal(gpu!.stats.dispatches - before, expected, `${op} ${ksize} ${JSON.stringify(b)}`);
        y.dispose();
        g.dispose();
      }
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of morphologyPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 8, 8], 'u8');
    assert.throws(() => erode(x, { ksize: 0 }), /Expected integer between 1 and 255 for ksize but received 0 of type number/);
    assert.throws(() => erode(x, { ksize: [3, 256] }), /Expected integer between 1 and 255 for ksize\[1\] but received 256 of type number/);
    assert.throws(() => dilate(x, { element: 'disk' as never }), /Expected one of "rect", "ellipse", "cross" for element but received "disk" of type string/);
    assert.throws(
      () => dilate(x, { element: [[1, 0], [1]] }),
      /Expected one of "rect", "ellipse", "cross" or rows of equal length \(1 to 255\) of numbers for element but received \[\[1, 0\], \[1\]\] of type object/,
    );
    assert.throws(() => dilate(x, { element: [] }), /for element but received \[\] of type object/);
    assert.throws(
      () =>
        dilate(x, {
          element: [
            [0, 0],
            [0, 0],
          ],
        }),
      /Expected an element with at least one nonzero entry for element but received \[\[0, 0\], \[0, 0\]\] of type object/,
    );
    assert.throws(() => erode(x, { iterations: -1 }), /Expected integer between 0 and 1000 for iterations but received -1 of type number/);
    assert.throws(() => erode(x, { iterations: 1.5 }), /Expected integer between 0 and 1000 for iterations but received 1.5 of type number/);
    assert.throws(
      () => erode(x, { border: 'wrap' as never }),
      /Expected one of "reflect101", "replicate", "constant" for border but received "wrap" of type string/,
    );
    assert.throws(() => erode(x, { borderValue: NaN }), /Expected number between -3.4e\+38 and 3.4e\+38 for borderValue but received NaN of type number/);
    assert.throws(
      () => morphologyEx(x, { op: 'hitmiss' as never }),
      /Expected one of "erode", "dilate", "open", "close", "gradient", "tophat", "blackhat" for op but received "hitmiss" of type string/,
    );
    assert.throws(() => erode(randomImage([1, 1, 4, 4], 'i32')), /Expected x of dtype u8, u16, f32, f16 but received i32/);
    assert.throws(() => erode(x.reshape([64])), /Expected x of shape \[N, C, H, W\] but received \[64\]/);
  });
});
