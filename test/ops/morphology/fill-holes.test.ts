import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fillHoles, fillHolesPrograms, type FillHolesOptions } from '../../../src/ops/morphology/fill-holes.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { maskFrom, randomImage, rng } from '../../_kit/images.js';
import { fromMat, opencv, toMat, type CV } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();
type Dims = [number, number, number, number];

/** Thresholded noise: at density 0.55 the background breaks into holes of every size, some touching the border. */
function noiseMask(shape: Dims, seed: number, p = 0.55): Tensor {
  const r = rng(seed);
  return maskFrom(shape, () => r() < p);
}

/** Rings of radius 2 … 9 (holes of 1 … ~200 px), one cut open, one on the border, and a 1-px diagonal gap. */
function rings(shape: Dims): Tensor {
  const [, , , W] = shape;
  const centres = [
    [8, 8, 2],
    [10, 24, 5],
    [28, 12, 7],
    [30, 34, 9],
    [0, W - 6, 4],
  ];
  return maskFrom(shape, (n, y, x) => {
    if (y === 20 + n && x > 40 && x < 44) return true;
    if (x === 44 && y === 21 + n) return true; // joins the bar diagonally only
    for (const [cy, cx, r] of centres) {
      const d = Math.hypot(y - cy!, x - cx!);
      if (Math.abs(d - r!) < 0.7 && !(r === 7 && y === cy && x > cx!)) return true;
    }
    return false;
  });
}

/**
 * The OpenCV way of filling holes: label the background (cv.connectedComponentsWithStats on the
 * inverted mask, with the background's connectivity); a component whose bbox does not touch the
 * border is a hole; fill it when its area is at most maxArea.
 */
function cvFill(cv: CV, x: Tensor, o: FillHolesOptions): Tensor {
  const src = toMat(cv, x);
  const inv = new cv.Mat();
  cv.threshold(src, inv, 0, 255, cv.THRESH_BINARY_INV);
  const labels = new cv.Mat();
  const stats = new cv.Mat();
  const centroids = new cv.Mat();
  const k: number = cv.connectedComponentsWithStats(inv, labels, stats, centroids, o.connectivity ?? 4, cv.CV_32S);
  const H: number = src.rows;
  const W: number = src.cols;
  const fill = new Uint8Array(k);
  const s = stats.data32S as Int32Array;
  for (let i = 1; i < k; i++) {
    const [left, top, w, h, area] = [s[i * 5]!, s[i * 5 + 1]!, s[i * 5 + 2]!, s[i * 5 + 3]!, s[i * 5 + 4]!];
    const inside = left > 0 && top > 0 && left + w < W && top + h < H;
    fill[i] = inside && area <= (o.maxArea ?? Infinity) ? 1 : 0;
  }
  const out = new cv.Mat(H, W, cv.CV_8UC1);
  const l = labels.data32S as Int32Array;
  const m = src.data as Uint8Array;
  for (let p = 0; p < H * W; p++) (out.data as Uint8Array)[p] = m[p] !== 0 || fill[l[p]!] ? 255 : 0;
  const t = fromMat(out, 'u8');
  for (const mat of [src, inv, labels, stats, centroids, out]) mat.delete();
  return t;
}

const OPTIONS: FillHolesOptions[] = [{}, { connectivity: 8 }, { maxArea: 1 }, { maxArea: 12 }, { maxArea: 60, connectivity: 8 }];

describe('fillHoles', () => {
  test('CPU reference equals the OpenCV composition (connectedComponentsWithStats of the background) exactly', async () => {
    const { cv } = await opencv();
    const images: [string, Tensor][] = [
      ['noise 37×45', noiseMask([1, 1, 37, 45], 3)],
      ['noise 64×64', noiseMask([1, 1, 64, 64], 5, 0.5)],
      ['rings 40×48', rings([1, 1, 40, 48])],
    ];
    for (const [what, x] of images) for (const o of OPTIONS) assertClose(fillHoles(x, o), cvFill(cv, x, o), EXACT, `${what} ${JSON.stringify(o)}`);
  });

  test('a closed ring becomes a disc; an open ring, one on the border and a diagonal gap (4-connected background) do not', () => {
    const x = maskFrom([1, 1, 9, 9], (_n, y, x) => Math.max(Math.abs(y - 4), Math.abs(x - 4)) === 3);
    const filled = fillHoles(x).data;
    for (let y = 1; y < 8; y++) for (let xx = 1; xx < 8; xx++) assert.equal(filled[y * 9 + xx], 255, `(${y}, ${xx}) is filled`);
    const open = maskFrom([1, 1, 9, 9], (_n, y, x) => Math.max(Math.abs(y - 4), Math.abs(x - 4)) === 3 && !(y === 4 && x === 7));
    assert.equal(fillHoles(open).data[4 * 9 + 4], 0);
    const border = maskFrom([1, 1, 5, 5], (_n, y, x) => x === 2 || y === 2);
    assert.deepEqual(fillHoles(border).data, border.data, 'every background pixel touches the border');
    // a diamond: its inside reaches the outside only diagonally through its corners
    const diamond = maskFrom([1, 1, 7, 7], (_n, y, x) => Math.abs(y - 3) + Math.abs(x - 3) === 2);
    assert.equal(fillHoles(diamond).data[3 * 7 + 3], 255, '4-connected background: the centre is a hole');
    assert.equal(fillHoles(diamond, { connectivity: 8 }).data[3 * 7 + 3], 0, '8-connected background: it leaks out between the ring pixels');
    const cross = maskFrom([1, 1, 5, 5], (_n, y, x) => (y + x) % 2 === 1);
    assert.equal(fillHoles(cross).data[2 * 5 + 2], 255, 'a checkerboard pixel enclosed by its 4 neighbours');
    assert.equal(fillHoles(cross, { connectivity: 8 }).data[2 * 5 + 2], 0, 'with 8-connectivity it reaches the border diagonally');
  });

  test('maxArea fills small holes only; values other than 255 become 255', () => {
    const x = maskFrom([1, 1, 12, 20], (_n, y, x) => y === 0 || y === 11 || x === 0 || x === 19 || x === 4 || x === 10);
    // holes: columns 1–3 (30 px), 5–9 (50 px), 11–18 (80 px)
    const count = (t: Tensor) => (t.data as Uint8Array).reduce((a, v) => a + (v ? 1 : 0), 0);
    const ones = count(x);
    assert.equal(count(fillHoles(x, { maxArea: 29 })), ones);
    assert.equal(count(fillHoles(x, { maxArea: 30 })), ones + 30);
    assert.equal(count(fillHoles(x, { maxArea: 79 })), ones + 80);
    assert.equal(count(fillHoles(x)), 12 * 20);
    const one = Tensor.fromArray(new Uint8Array([0, 1, 0, 1, 0, 1, 0, 1, 0]), [1, 1, 3, 3], 'u8');
    assert.deepEqual([...fillHoles(one).data], [0, 255, 0, 255, 255, 255, 0, 255, 0]);
  });

  test('GPU equals the CPU reference: noise and rings, batches, odd sizes, both connectivities, maxArea', { skip: gpuSkip(gpu) }, async () => {
    const cases: [string, Tensor][] = [
      ['noise 3×37×45', noiseMask([3, 1, 37, 45], 7)],
      ['noise 2×64×130', noiseMask([2, 1, 64, 130], 8, 0.5)],
      ['noise 1×1×33', noiseMask([1, 1, 1, 33], 9)],
      ['noise 1×31×1', noiseMask([1, 1, 31, 1], 10)],
      ['rings 2×40×48', rings([2, 1, 40, 48])],
      ['all foreground', maskFrom([1, 1, 5, 7], () => true)],
      ['all background', maskFrom([2, 1, 6, 3], () => false)],
      ['1×1 background', maskFrom([1, 1, 1, 1], () => false)],
    ];
    for (const [what, x] of cases) for (const o of OPTIONS) await assertGpuMatchesCpu(gpu!, [x], (m) => fillHoles(m, o), EXACT, `${what} ${JSON.stringify(o)}`);
  });

  test('GPU: one hole of 60k pixels is counted exactly (saturating area) and the border background adds nothing', { skip: gpuSkip(gpu) }, async () => {
    const x = maskFrom([1, 1, 256, 300], (_n, y, x) => y === 3 || y === 252 || x === 3 || x === 296);
    for (const maxArea of [248 * 292 - 1, 248 * 292]) await assertGpuMatchesCpu(gpu!, [x], (m) => fillHoles(m, { maxArea }), EXACT, `maxArea ${maxArea}`);
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of fillHolesPrograms()) await gpu!.compile(p);
  });

  test('bad arguments: one sentence naming the argument', () => {
    const m = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => fillHoles(m, { connectivity: 6 as never }), /Expected 4 or 8 for connectivity but received 6 of type number/);
    assert.throws(() => fillHoles(m, { maxArea: 0 }), /Expected integer between 1 and 1073741823 for maxArea but received 0 of type number/);
    assert.throws(() => fillHoles(m, { maxArea: 2.5 }), /for maxArea but received 2.5/);
    assert.throws(() => fillHoles(randomImage([1, 1, 4, 4], 'f32')), /Expected mask of dtype u8 but received f32/);
    assert.throws(() => fillHoles(randomImage([1, 2, 4, 4], 'u8')), /Expected mask with 1 channel but received 2/);
    assert.throws(() => fillHoles(m.reshape([16])), /Expected mask of shape \[N, C, H, W\] but received \[16\]/);
  });
});
