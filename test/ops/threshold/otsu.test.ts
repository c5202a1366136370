import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { otsuLevel, otsuPrograms, otsuThreshold } from '../../../src/ops/threshold/otsu.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage, rng } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';

const gpu = await testGpu();
type Shape = [number, number, number, number];

/** Two noisy populations (a dark background, a bright part), with empty bins between and around them. */
function bimodal(shape: Shape, seed: number): Tensor {
  const r = rng(seed);
  const data = new Uint8Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = r() < 0.3 ? 180 + Math.floor(r() * 40) : 30 + Math.floor(r() * 50);
  return Tensor.fromArray(data, shape, 'u8');
}

/** A few grey levels only: long plateaus of empty bins (where doubles' rounding decides ties). */
function fewLevels(shape: Shape, seed: number): Tensor {
  const r = rng(seed);
  const levels = [12, 40, 41, 97, 200, 201, 250];
  const data = new Uint8Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = levels[Math.floor(r() * r() * levels.length)]!;
  return Tensor.fromArray(data, shape, 'u8');
}

function images(): [string, Tensor][] {
  return [
    ['natural 29×37', naturalImage([1, 1, 29, 37], 'u8', 1)],
    ['natural 64×64', naturalImage([1, 1, 64, 64], 'u8', 2)],
    ['natural 17×9', naturalImage([1, 1, 17, 9], 'u8', 3)],
    ['random 23×31', randomImage([1, 1, 23, 31], 'u8', 4)],
    ['bimodal 40×33', bimodal([1, 1, 40, 33], 5)],
    ['few levels 25×25', fewLevels([1, 1, 25, 25], 6)],
    ['few levels 7×5', fewLevels([1, 1, 7, 5], 7)],
    ['constant', Tensor.fromArray(new Uint8Array(35).fill(77), [1, 1, 5, 7], 'u8')],
    ['two values', Tensor.fromArray(new Uint8Array([0, 255, 0, 255, 0, 0]), [1, 1, 2, 3], 'u8')],
  ];
}

describe('otsuThreshold', () => {
  test('CPU reference equals OpenCV THRESH_OTSU: same level, identical mask', async () => {
    const { cv } = await opencv();
    for (const [name, x] of images()) {
      for (const type of ['binary', 'binary_inv'] as const) {
        const ours = otsuThreshold(x, { type, maxval: 200 });
        const src = toMat(cv, x);
        const dst = new cv.Mat();
        // level = cv.threshold(src, dst, 0, 200, THRESH_BINARY | THRESH_OTSU)  (or THRESH_BINARY_INV | THRESH_OTSU)
        const level = cv.threshold(src, dst, 0, 200, (type === 'binary' ? cv.THRESH_BINARY : cv.THRESH_BINARY_INV) | cv.THRESH_OTSU);
        assert.equal(ours.thresholds.data[0], level, `${name} level`);
        assertClose(ours.mask, fromMat(dst, 'u8'), EXACT, `${name} ${type} mask`);
        src.delete();
        dst.delete();
      }
    }
  });

  test('each plane gets its own level; thresholds are an f32 [N, C] tensor', () => {
    const a = naturalImage([1, 1, 19, 21], 'u8', 1);
    const b = fewLevels([1, 1, 19, 21], 2);
    const both = Tensor.fromArray(new Uint8Array([...a.data, ...b.data]), [1, 2, 19, 21], 'u8');
    const r = otsuThreshold(both);
    assert.deepEqual([...r.thresholds.shape], [1, 2]);
    assert.equal(r.thresholds.dtype, 'f32');
    assert.deepEqual([...r.thresholds.data], [otsuThreshold(a).thresholds.data[0], otsuThreshold(b).thresholds.data[0]]);
    assert.notEqual(r.thresholds.data[0], r.thresholds.data[1]);
  });

  test('otsuLevel: histograms with a single level or two levels', () => {
    const h = new Array<number>(256).fill(0);
    h[77] = 10;
    assert.equal(otsuLevel(h, 10), 0);
    h[200] = 10;
    assert.equal(otsuLevel(h, 20), 77);
  });

  test('GPU equals the CPU reference exactly (levels and masks), without host synchronisation', { skip: gpuSkip(gpu) }, async () => {
    const cases: Tensor[] = images().map(([, x]) => x);
    // batches with 1 and 3 channels, odd sizes, mixed content
    const batch = (shape: Shape, parts: Tensor[]): Tensor => {
      const data = new Uint8Array(shape.reduce((p, q) => p * q, 1));
      let o = 0;
      for (const t of parts) {
        data.set(t.data as Uint8Array, o);
        o += t.size;
      }
      return Tensor.fromArray(data, shape, 'u8');
    };
    const s: Shape = [1, 1, 21, 13];
    cases.push(
      batch([2, 3, 21, 13], [naturalImage(s, 'u8', 1), bimodal(s, 2), fewLevels(s, 3), randomImage(s, 'u8', 4), naturalImage(s, 'u8', 5), bimodal(s, 6)]),
    );
    cases.push(batch([3, 1, 64, 64], [bimodal([1, 1, 64, 64], 7), naturalImage([1, 1, 64, 64], 'u8', 8), fewLevels([1, 1, 64, 64], 9)]));
    for (const [i, x] of cases.entries()) {
      {
        const type = i % 2 === 0 ? 'binary' : 'binary_inv';
        const expected = otsuThreshold(x, { type });
        const xg = await x.toGpu(gpu!);
        const submits = gpu!.stats.submits;
        const r = otsuThreshold(xg, { type });
        assert.equal(gpu!.stats.submits, submits, 'no submission while recording');
        assertClose(await r.thresholds.toCpu(), expected.thresholds, EXACT, `levels [${x.shape}]`);
        assertClose(await r.mask.toCpu(), expected.mask, EXACT, `mask [${x.shape}] ${type}`);
        for (const t of [xg, r.mask, r.thresholds]) t.dispose();
      }
    }
  });

  test('histogram spans several workgroups per plane', { skip: gpuSkip(gpu) }, async () => {
    // 2 planes of 160×128 = 20480 pixels: more than one 16384-pixel chunk each
    const x = Tensor.fromArray(new Uint8Array([...bimodal([1, 1, 160, 128], 3).data, ...naturalImage([1, 1, 160, 128], 'u8', 4).data]), [2, 1, 160, 128], 'u8');
    const expected = otsuThreshold(x);
    const xg = await x.toGpu(gpu!);
    const r = otsuThreshold(xg);
    assertClose(await r.thresholds.toCpu(), expected.thresholds, EXACT, 'levels');
    assertClose(await r.mask.toCpu(), expected.mask, EXACT, 'mask');
    for (const t of [xg, r.mask, r.thresholds]) t.dispose();
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of otsuPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => otsuThreshold(randomImage([1, 1, 4, 4], 'u16')), /Expected x of dtype u8 but received u16/);
    assert.throws(() => otsuThreshold(randomImage([1, 1, 4, 4], 'f32')), /Expected x of dtype u8 but received f32/);
    assert.throws(() => otsuThreshold(x, { maxval: NaN }), /Expected number between -3.4e\+38 and 3.4e\+38 for maxval but received NaN of type number/);
    assert.throws(
      () => otsuThreshold(x, { type: 'triangle' as never }),
      /Expected one of "binary", "binary_inv" for type but received "triangle" of type string/,
    );
    assert.throws(() => otsuThreshold(x.reshape([4, 4])), /Expected x of shape \[N, C, H, W\] but received \[4, 4\]/);
  });
});
