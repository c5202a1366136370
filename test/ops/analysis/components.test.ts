import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectedComponents, connectedComponentsPrograms, type ComponentStats, type ConnectedComponentsResult } from '../../../src/ops/analysis/components.js';
import { Tensor } from '../../../src/tensor.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { maskFrom, naturalImage, randomImage, rng } from '../../_kit/images.js';
import { opencv } from '../../_kit/opencv.js';

const gpu = await testGpu();

type Dims = [number, number, number, number];

/** Random blobs: thresholded noise with density p (different per image). */
function noiseMask(shape: Dims, seed: number, p: (n: number) => number): Tensor {
  const r = rng(seed);
  return maskFrom(shape, (n) => r() < p(n));
}

/** A one-pixel-wide square spiral with one-pixel gaps (turtle walk): one long snake component. */
function spiral(H: number, W: number): (y: number, x: number) => boolean {
  const g = new Uint8Array(H * W);
  const dirs = [
    [0, 1],
    [1, 0],
    [0, -1],
    [-1, 0],
  ] as const;
  const inside = (y: number, x: number) => y >= 0 && x >= 0 && y < H && x < W;
  let y = 0;
  let x = 0;
  let d = 0;
  let turns = 0;
  g[0] = 1;
  while (turns < 2) {
    const [dy, dx] = dirs[d]!;
    const ay = y + 2 * dy;
    const ax = x + 2 * dx;
    if (inside(y + dy, x + dx) && !(inside(ay, ax) && g[ay * W + ax] === 1)) {
      y += dy;
      x += dx;
      g[y * W + x] = 1;
      turns = 0;
    } else {
      d = (d + 1) % 4;
      turns++;
    }
  }
  return (yy, xx) => g[yy * W + xx] === 1;
}

/** Serpentine: rows joined alternately at the right and left ends (worst case for label propagation). */
function snake(y: number, x: number, W: number): boolean {
  if (y % 2 === 0) return true;
  return (y % 4 === 1 && x === W - 1) || (y % 4 === 3 && x === 0);
}

function assertSameResult(a: ConnectedComponentsResult, b: ConnectedComponentsResult, withMean: boolean, meanRtol: number, what: string): void {
  assert.deepEqual(a.count, b.count, `${what}: counts`);
  assert.deepEqual(a.labels.data, b.labels.data, `${what}: labels`);
  for (let n = 0; n < a.count.length; n++) {
    const s = a.stats[n]!;
    const t = b.stats[n]!;
    for (const k of ['area', 'x', 'y', 'w', 'h', 'cx', 'cy'] as const) assert.deepEqual(s[k], t[k], `${what}: image ${n} ${k}`);
    if (withMean) {
      for (let i = 0; i < a.count[n]!; i++) {
        const d = Math.abs(s.mean![i]! - t.mean![i]!);
        assert.ok(d <= meanRtol * Math.abs(t.mean![i]!) + 1e-9, `${what}: image ${n} mean ${i}: ${s.mean![i]} vs ${t.mean![i]}`);
      }
    } else assert.equal(s.mean, undefined);
  }
}

async function gpuVsCpu(mask: Tensor, connectivity: 4 | 8, values: Tensor | undefined, what: string): Promise<ConnectedComponentsResult> {
  const cpu = await connectedComponents(mask, { connectivity, values });
  const gm = await mask.toGpu(gpu!);
  const gv = values ? await values.toGpu(gpu!) : undefined;
  const res = await connectedComponents(gm, { connectivity, values: gv });
  const labels = await res.labels.toCpu();
  res.labels.dispose();
  gm.dispose();
  gv?.dispose();
  // f32 values are summed in f32 on the GPU (order-dependent): relative 1e-5; integer values exact
  const rtol = values && (values.dtype === 'f32' || values.dtype === 'f16') ? 1e-5 : 0;
  assertSameResult({ ...res, labels }, cpu, values !== undefined, rtol, what);
  return cpu;
}

/** CPU reference vs cv.connectedComponentsWithStats, plane by plane. */
async function assertMatchesOpenCV(mask: Tensor, connectivity: 4 | 8, what: string): Promise<void> {
  const { cv } = await opencv();
  const ours = await connectedComponents(mask, { connectivity });
  const [N, , H, W] = mask.shape as Dims;
  for (let n = 0; n < N; n++) {
    const src = new cv.Mat(H, W, cv.CV_8UC1);
    (src.data as Uint8Array).set(mask.data.subarray(n * H * W, (n + 1) * H * W));
    const labels = new cv.Mat();
    const stats = new cv.Mat();
    const centroids = new cv.Mat();
    // cv.connectedComponentsWithStats(src, labels, stats, centroids, connectivity, CV_32S)  (ccltype CCL_DEFAULT)
    const k: number = cv.connectedComponentsWithStats(src, labels, stats, centroids, connectivity, cv.CV_32S);
    assert.equal(ours.count[n], k - 1, `${what} image ${n}: count`);
    assert.deepEqual(ours.labels.data.subarray(n * H * W, (n + 1) * H * W), new Int32Array(labels.data32S), `${what} image ${n}: labels`);
    const s: ComponentStats = ours.stats[n]!;
    const st = stats.data32S as Int32Array;
    const ce = centroids.data64F as Float64Array;
    for (let i = 0; i < k - 1; i++) {
      const r = (i + 1) * 5; // row 0 is the background
      assert.deepEqual(
        [s.x[i], s.y[i], s.w[i], s.h[i], s.area[i]],
        [st[r], st[r + 1], st[r + 2], st[r + 3], st[r + 4]],
        `${what} image ${n} component ${i + 1}: bbox/area`,
      );
      // centroids within 1e-4
      assert.ok(
        Math.abs(s.cx[i]! - ce[(i + 1) * 2]!) < 1e-4 && Math.abs(s.cy[i]! - ce[(i + 1) * 2 + 1]!) < 1e-4,
        `${what} image ${n} component ${i + 1}: centroid`,
      );
    }
    for (const m of [src, labels, stats, centroids]) m.delete();
  }
}

const SPIRAL = spiral(63, 57);
const NATURAL = naturalImage([1, 1, 64, 64], 'u8', 4);

describe('connectedComponents', () => {
  const cases: [string, Tensor][] = [
    ['noise 61×47 batch 3 (different densities)', noiseMask([3, 1, 47, 61], 11, (n) => [0.3, 0.45, 0.6][n]!)],
    ['natural threshold 64×64', maskFrom([1, 1, 64, 64], (_n, y, x) => NATURAL.data[y * 64 + x]! > 120)],
    ['spiral 63×57', maskFrom([1, 1, 63, 57], (_n, y, x) => SPIRAL(y, x))],
    ['snake 41×37', maskFrom([1, 1, 41, 37], (_n, y, x) => snake(y, x, 37))],
    ['checkerboard 9×10', maskFrom([1, 1, 9, 10], (_n, y, x) => (x + y) % 2 === 0)],
    ['full foreground 13×7', maskFrom([1, 1, 13, 7], () => true)],
    ['empty 5×6', maskFrom([1, 1, 5, 6], () => false)],
    ['single pixel 1×1', maskFrom([1, 1, 1, 1], () => true)],
    ['single pixel in 7×9', maskFrom([1, 1, 7, 9], (_n, y, x) => y === 5 && x === 8)],
    ['block-order trap 4×8', maskFrom([1, 1, 4, 8], (_n, y, x) => (y === 1 && x === 0) || (y === 0 && x === 5))],
    ['one row 1×33', noiseMask([1, 1, 1, 33], 5, () => 0.5)],
    ['one column 29×1', noiseMask([1, 1, 29, 1], 6, () => 0.5)],
  ];

  test('CPU reference equals cv.connectedComponentsWithStats: labels, area, bbox exact, centroids within 1e-4 (4 and 8)', async () => {
    for (const [what, mask] of cases) for (const conn of [4, 8] as const) await assertMatchesOpenCV(mask, conn, `${what} c${conn}`);
  });

  test('8-connectivity numbers components in 2×2-block raster order (OpenCV), 4 in pixel raster order', async () => {
    const mask = cases.find((c) => c[0].startsWith('block-order'))![1];
    const at = (r: ConnectedComponentsResult, y: number, x: number) => r.labels.data[y * 8 + x];
    const c8 = await connectedComponents(mask, { connectivity: 8 });
    const c4 = await connectedComponents(mask, { connectivity: 4 });
    assert.deepEqual([at(c8, 1, 0), at(c8, 0, 5)], [1, 2]);
    assert.deepEqual([at(c4, 1, 0), at(c4, 0, 5)], [2, 1]);
  });

  test('snake and spiral are one component each; checkerboard splits by connectivity', async () => {
    const get = (name: string) => cases.find((c) => c[0].startsWith(name))![1];
    for (const conn of [4, 8] as const) {
      assert.deepEqual((await connectedComponents(get('snake'), { connectivity: conn })).count, [1]);
      assert.deepEqual((await connectedComponents(get('spiral'), { connectivity: conn })).count, [1]);
      assert.deepEqual((await connectedComponents(get('empty'), { connectivity: conn })).count, [0]);
    }
    assert.deepEqual((await connectedComponents(get('checkerboard'), { connectivity: 8 })).count, [1]);
    assert.deepEqual((await connectedComponents(get('checkerboard'), { connectivity: 4 })).count, [45]);
  });

  test('CPU mean of values and centroids on a hand-checked mask', async () => {
    const mask = maskFrom([1, 1, 3, 4], (_n, y, x) => x < 2 || (y === 2 && x === 3));
    const v = Tensor.fromArray(new Float32Array([1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0, 7.5]), [1, 1, 3, 4], 'f32');
    const r = await connectedComponents(mask, { connectivity: 4, values: v });
    assert.deepEqual(r.count, [2]);
    assert.deepEqual([...r.stats[0]!.mean!], [3.5, 7.5]);
    assert.deepEqual([...r.stats[0]!.cx!], [0.5, 3]);
  });

  test('GPU equals the CPU reference exactly (labels, counts, stats): 4 and 8, batches, odd sizes, worst cases', { skip: gpuSkip(gpu) }, async () => {
    for (const [what, mask] of cases) for (const conn of [4, 8] as const) await gpuVsCpu(mask, conn, undefined, `${what} c${conn}`);
  });

  test('GPU mean of values equals the CPU: u8, u16 exact; f32, f16 within 1e-5 relative', { skip: gpuSkip(gpu) }, async () => {
    const shape: Dims = [2, 1, 37, 45];
    const mask = noiseMask(shape, 21, (n) => (n === 0 ? 0.55 : 0.7));
    for (const dt of ['u8', 'u16', 'f32', 'f16'] as const) {
      for (const conn of [4, 8] as const) await gpuVsCpu(mask, conn, randomImage(shape, dt, 9), `values ${dt} c${conn}`);
    }
  });

  test('GPU: f32 mean over one 1024² component within 5e-5 relative (runs merged before the atomics)', { skip: gpuSkip(gpu) }, async () => {
    const shape: Dims = [1, 1, 1024, 1024];
    using mask = await maskFrom(shape, () => true).toGpu(gpu!);
    using values = await Tensor.fromArray(new Float32Array(1024 * 1024).fill(0.7), shape, 'f32').toGpu(gpu!);
    const r = await connectedComponents(mask, { connectivity: 8, values });
    r.labels.dispose();
    assert.deepEqual(r.count, [1]);
    assert.equal(r.stats[0]!.area[0], 1024 * 1024);
    assert.ok(Math.abs(r.stats[0]!.mean![0]! - 0.7) < 0.7 * 5e-5, `mean ${r.stats[0]!.mean![0]}`);
  });

  test('GPU equals the CPU across tile borders: several tiles, partial tiles, trees spanning tiles (4 and 8)', { skip: gpuSkip(gpu) }, async () => {
    // tiles are 32×32 blocks: 32×64 pixels for 4-connectivity, 64×64 for 8
    const SP = spiral(139, 150);
    const big: [string, Tensor][] = [
      ['noise 150×201 batch 2', noiseMask([2, 1, 150, 201], 23, (n) => [0.5, 0.62][n]!)],
      ['spiral 139×150', maskFrom([1, 1, 139, 150], (_n, y, x) => SP(y, x))],
      ['snake 97×133', maskFrom([1, 1, 97, 133], (_n, y, x) => snake(y, x, 133))],
      ['diagonal stripes 130×131', maskFrom([1, 1, 130, 131], (_n, y, x) => (x + y) % 5 === 0 || (x - y + 300) % 7 === 0)],
    ];
    for (const [what, mask] of big) for (const conn of [4, 8] as const) await gpuVsCpu(mask, conn, undefined, `${what} c${conn}`);
  });

  test('GPU: centroid sums beyond 32 bits (packed readback overflow list) and images 65536 wide (unpacked readback)', { skip: gpuSkip(gpu) }, async () => {
    // a 2090×2100 block: Σ(x − minx) = 2090·2089/2·2100 > 2^32; and a single pixel right of it
    const H = 2100;
    const W = 2100;
    const m = new Uint8Array(H * W);
    for (let y = 0; y < H; y++) m.fill(1, y * W, y * W + 2090);
    m[5 * W + 2095] = 1;
    const g = await Tensor.fromArray(m, [1, 1, H, W], 'u8').toGpu(gpu!);
    for (const conn of [4, 8] as const) {
      const r = await connectedComponents(g, { connectivity: conn });
      r.labels.dispose();
      assert.deepEqual(r.count, [2]);
      const s = r.stats[0]!;
      assert.deepEqual([s.area[0], s.x[0], s.y[0], s.w[0], s.h[0], s.cx[0], s.cy[0]], [H * 2090, 0, 0, 2090, H, 2089 / 2, (H - 1) / 2], `c${conn}`);
      assert.deepEqual([s.area[1], s.x[1], s.y[1], s.w[1], s.h[1], s.cx[1], s.cy[1]], [1, 2095, 5, 1, 1, 2095, 5], `c${conn}`);
    }
    g.dispose();
    await gpuVsCpu(
      noiseMask([1, 1, 2, 65536], 31, () => 0.5),
      4,
      undefined,
      'wide 2×65536 c4',
    );
    await gpuVsCpu(
      noiseMask([1, 1, 3, 65540], 32, () => 0.6),
      8,
      randomImage([1, 1, 3, 65540], 'u16', 3),
      'wide 3×65540 c8 values',
    );
  });

  test('GPU: a batch with more components than the first readback holds', { skip: gpuSkip(gpu) }, async () => {
    // 4-connected checkerboard: 2048 components per image, 6144 in all (the first read holds 4096)
    const mask = maskFrom([3, 1, 64, 64], (n, y, x) => (x + y + n) % 2 === 0);
    const r = await gpuVsCpu(mask, 4, undefined, 'many components');
    assert.equal(
      r.count.reduce((a, b) => a + b, 0),
      3 * 2048,
    );
  });

  test('stats: false gives the same labels and counts and no statistics (GPU and CPU)', { skip: gpuSkip(gpu) }, async () => {
    const mask = noiseMask([2, 1, 31, 45], 17, (n) => (n === 0 ? 0.5 : 0.65));
    for (const conn of [4, 8] as const) {
      const full = await connectedComponents(mask, { connectivity: conn });
      const cpu = await connectedComponents(mask, { connectivity: conn, stats: false });
      const g = await connectedComponents(await mask.toGpu(gpu!), { connectivity: conn, stats: false });
      assert.deepEqual(cpu.stats, []);
      assert.deepEqual(g.stats, []);
      assert.deepEqual(g.count, full.count);
      assert.deepEqual(cpu.count, full.count);
      assert.deepEqual((await g.labels.toCpu()).data, full.labels.data);
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of connectedComponentsPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed values', async () => {
    const m = maskFrom([1, 1, 4, 4], () => true);
    await assert.rejects(connectedComponents(m, { connectivity: 6 as never }), /Expected 4 or 8 for connectivity but received 6 of type number/);
    await assert.rejects(connectedComponents(randomImage([1, 1, 4, 4], 'f32')), /Expected mask of dtype u8 but received f32/);
    await assert.rejects(connectedComponents(randomImage([1, 3, 4, 4], 'u8')), /Expected mask with 1 channel but received 3/);
    await assert.rejects(connectedComponents(m.reshape([16])), /Expected mask of shape \[N, C, H, W\] but received \[16\]/);
    await assert.rejects(
      connectedComponents(m, { values: randomImage([1, 1, 4, 5], 'u8') }),
      /Expected values of the shape of mask \[1, 1, 4, 4\] but received \[1, 1, 4, 5\]/,
    );
    await assert.rejects(connectedComponents(m, { stats: 'no' as never }), /Expected a boolean for stats but received "no" of type string/);
    await assert.rejects(connectedComponents(m, { values: randomImage([1, 1, 4, 4], 'i32') }), /Expected values of dtype u8, u16, f32, f16 but received i32/);
  });
});
