import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canny, cannyPrograms, cannyThresholds } from '../../../src/ops/analysis/canny.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

type Dims = [number, number, number, number];

/** A bright disc and a dim ring on a gradient: long closed edges (hysteresis chains) and weak parts. */
function shapes(shape: Dims): Tensor {
  const [N, , H, W] = shape;
  const d = new Uint8Array(N * H * W);
  for (let n = 0; n < N; n++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const r = Math.hypot(y - H / 2 + n, x - W / 2);
        let v = 40 + x;
        if (r < H / 4) v += 120;
        else if (Math.abs(r - H / 2.5) < 2) v += 25 + ((x * 7 + y * 3) % 11);
        d[(n * H + y) * W + x] = Math.min(255, v);
      }
  return Tensor.fromArray(d, shape, 'u8');
}

const SETTINGS = [
  { ksize: 3, l2gradient: false, low: 30, high: 90 },
  { ksize: 3, l2gradient: true, low: 20, high: 60 },
  { ksize: 5, l2gradient: false, low: 150, high: 400 },
  { ksize: 5, l2gradient: true, low: 100, high: 300 },
  { ksize: 7, l2gradient: false, low: 900, high: 2500 },
  { ksize: 7, l2gradient: true, low: 600, high: 1800 },
] as const;

describe('canny', () => {
  test('thresholds follow OpenCV: /16 for ksize 7, swap, clamp and square for L2, floor', () => {
    assert.deepEqual(cannyThresholds(50.7, 150.2, 3, false), [50, 150]);
    assert.deepEqual(cannyThresholds(150, 50, 3, false), [50, 150]);
    assert.deepEqual(cannyThresholds(10.5, 20, 5, true), [110, 400]);
    assert.deepEqual(cannyThresholds(160, 800, 7, false), [10, 50]);
    assert.deepEqual(cannyThresholds(40000, 50000, 3, true), [32767 * 32767, 32767 * 32767]);
  });

  test('CPU reference equals cv.Canny exactly (0 mismatches): ksize 3/5/7, L1/L2, natural and synthetic images', async () => {
    const { cv } = await opencv();
    const images: [string, Tensor][] = [
      ['natural 47×61', naturalImage([1, 1, 47, 61], 'u8', 5)],
      ['natural 64×64', naturalImage([1, 1, 64, 64], 'u8', 8)],
      ['shapes 40×52', shapes([1, 1, 40, 52])],
      ['noise 23×19', randomImage([1, 1, 23, 19], 'u8', 3)],
    ];
    for (const [what, x] of images) {
      for (const s of SETTINGS) {
        const ours = canny(x, s);
        const src = toMat(cv, x);
        const dst = new cv.Mat();
        // cv.Canny(src, dst, low, high, ksize, L2gradient)
        cv.Canny(src, dst, s.low, s.high, s.ksize, s.l2gradient);
        assertClose(ours, fromMat(dst, 'u8'), { int: 0 }, `${what} k${s.ksize} l2=${s.l2gradient}`);
        if (!what.startsWith('noise'))
          assert.ok(
            ours.data.some((v) => v === 255),
            `${what}: some edges`,
          );
        src.delete();
        dst.delete();
      }
    }
  });

  test('the output has edges and non-edges only, and hysteresis extends strong edges along weak ones', () => {
    const x = naturalImage([1, 1, 64, 64], 'u8', 8);
    const strongOnly = canny(x, { low: 90, high: 90 });
    const withWeak = canny(x, { low: 20, high: 90 });
    let a = 0;
    let b = 0;
    for (let i = 0; i < x.size; i++) {
      assert.ok(withWeak.data[i] === 0 || withWeak.data[i] === 255);
      if (strongOnly.data[i]) {
        a++;
        assert.equal(withWeak.data[i], 255, 'a strong edge stays an edge');
      }
      if (withWeak.data[i]) b++;
    }
    assert.ok(a > 0 && b > a, `strong ${a}, with weak ${b}`);
  });

  test('GPU equals the CPU reference exactly: every ksize and norm, batches, odd sizes', { skip: gpuSkip(gpu) }, async () => {
    const images: Tensor[] = [
      naturalImage([2, 1, 47, 61], 'u8', 5),
      shapes([3, 1, 33, 29]),
      randomImage([1, 1, 17, 23], 'u8', 2),
      naturalImage([1, 1, 1, 9], 'u8', 1),
      naturalImage([1, 1, 2, 2], 'u8', 1),
    ];
    for (const x of images) {
      for (const s of SETTINGS) await assertGpuMatchesCpu(gpu!, [x], (t) => canny(t, s), { int: 0 }, `[${x.shape.join(',')}] k${s.ksize} l2=${s.l2gradient}`);
    }
  });

  test('GPU hysteresis follows a long weak chain (a spiral edge) in one pass', { skip: gpuSkip(gpu) }, async () => {
    // a spiral ridge: one strong seed, the rest weak; every weak pixel is reachable only along the spiral
    const H = 48;
    const W = 48;
    const d = new Uint8Array(H * W).fill(0);
    let y = 1;
    let x = 1;
    let len = W - 3;
    const dirs = [
      [0, 1],
      [1, 0],
      [0, -1],
      [-1, 0],
    ] as const;
    for (let k = 0; len > 0; k++) {
      const [dy, dx] = dirs[k % 4]!;
      for (let i = 0; i < len; i++) {
        d[y * W + x] = 60;
        y += dy;
        x += dx;
      }
      if (k % 2 === 1) len -= 4;
    }
    d[1 * W + 1] = 255;
    const t = Tensor.fromArray(d, [1, 1, H, W], 'u8');
    await assertGpuMatchesCpu(gpu!, [t], (v) => canny(v, { low: 50, high: 400 }), { int: 0 }, 'spiral');
    const edges = canny(t, { low: 50, high: 400 });
    const weakOnly = canny(t, { low: 50, high: 2000 });
    assert.ok([...edges.data].filter((v) => v === 255).length > 200, 'hysteresis followed the spiral');
    assert.equal([...weakOnly.data].filter((v) => v !== 0).length, 0, 'without a strong seed nothing is an edge');
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of cannyPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed values', () => {
    const x = randomImage([1, 1, 8, 8], 'u8');
    assert.throws(() => canny(x, { low: 10, high: 20, ksize: 4 as never }), /Expected 3, 5 or 7 for ksize but received 4 of type number/);
    assert.throws(() => canny(x, { low: -1, high: 20 }), /Expected number between 0 and 1000000 for low but received -1 of type number/);
    assert.throws(() => canny(x, { low: 1, high: Number.NaN }), /Expected number between 0 and 1000000 for high but received NaN of type number/);
    assert.throws(() => canny(x, { low: 1, high: 2, l2gradient: 1 as never }), /Expected a boolean for l2gradient but received 1 of type number/);
    assert.throws(() => canny(randomImage([1, 1, 8, 8], 'f32'), { low: 1, high: 2 }), /Expected x of dtype u8 but received f32/);
    assert.throws(() => canny(randomImage([1, 3, 8, 8], 'u8'), { low: 1, high: 2 }), /Expected x with 1 channel but received 3/);
    assert.throws(() => canny(x.reshape([64]), { low: 1, high: 2 }), /Expected x of shape \[N, C, H, W\] but received \[64\]/);
  });
});
