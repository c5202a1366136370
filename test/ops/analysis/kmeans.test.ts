import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kmeans, kmeansPrograms, type KMeansOptions } from '../../../src/ops/analysis/kmeans.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage, rng } from '../../_kit/images.js';

const gpu = await testGpu();

/** Three intensity classes (≈20, ≈120, ≈220) with a little noise, in blocks. */
function threeLevels(n: number, h: number, w: number, seed = 1): Tensor {
  const r = rng(seed);
  const data = new Uint8Array(n * h * w);
  for (let i = 0; i < data.length; i++) {
    const x = i % w;
    const level = x < w / 3 ? 120 : x < (2 * w) / 3 ? 220 : 20;
    data[i] = level + Math.round((r() - 0.5) * 10);
  }
  return Tensor.fromArray(data, [n, 1, h, w], 'u8');
}

async function compare(x: Tensor, opts: KMeansOptions, what: string): Promise<number> {
  const cpu = kmeans(x, opts);
  const g = await x.toGpu(gpu!);
  const res = kmeans(g, opts);
  assert.equal(res.labels.device, 'gpu');
  const labels = await res.labels.toCpu();
  const centers = await res.centers.toCpu();
  // Centres: f32 tree sums on the GPU vs f64 sums on the CPU.
  assertClose(centers, cpu.centers, { rtol: 1e-3, atol: 1e-6 }, `${what} centers`);
  // Labels: identical except pixels (almost) exactly halfway between two centres, which the
  // ~1e-7 relative difference between the backends' centres can tip either way (0.5% allowed).
  assertClose(labels, cpu.labels, { int: 0, outliers: 0.005 }, `${what} labels`);
  let diff = 0;
  for (let i = 0; i < labels.size; i++) if (labels.data[i] !== cpu.labels.data[i]) diff++;
  res.labels.dispose();
  res.centers.dispose();
  g.dispose();
  return diff;
}

describe('kmeans', () => {
  test('finds three intensity classes, labels sorted by centre', () => {
    const x = threeLevels(2, 12, 18);
    const { labels, centers } = kmeans(x, { k: 3 });
    assert.deepEqual([...labels.shape], [2, 1, 12, 18]);
    assert.equal(labels.dtype, 'u8');
    assert.deepEqual([...centers.shape], [2, 3]);
    assert.equal(centers.dtype, 'f32');
    for (let n = 0; n < 2; n++) {
      const c = [...centers.data.subarray(n * 3, n * 3 + 3)];
      assert.ok(Math.abs(c[0]! - 20) < 2 && Math.abs(c[1]! - 120) < 2 && Math.abs(c[2]! - 220) < 2, `centres ${c}`);
    }
    for (let i = 0; i < labels.size; i++) {
      const x0 = i % 18;
      assert.equal(labels.data[i], x0 < 6 ? 1 : x0 < 12 ? 2 : 0);
    }
  });

  test('converged centres are the means of their pixels; initial order does not matter', () => {
    const x = naturalImage([1, 1, 31, 29], 'u8', 4);
    const a = kmeans(x, { k: 4, iterations: 60 });
    const sums = [0, 0, 0, 0];
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < x.size; i++) {
      sums[a.labels.data[i]!]! += x.data[i]!;
      counts[a.labels.data[i]!]!++;
    }
    for (let j = 0; j < 4; j++) assert.ok(Math.abs(sums[j]! / counts[j]! - a.centers.data[j]!) < 1e-4, `cluster ${j}`);
    for (let j = 1; j < 4; j++) assert.ok(a.centers.data[j]! > a.centers.data[j - 1]!);
    const b = kmeans(x, { k: 3, init: [200, 10, 100] });
    const c = kmeans(x, { k: 3, init: [10, 100, 200] });
    assert.deepEqual([...b.labels.data], [...c.labels.data]);
    assert.deepEqual([...b.centers.data], [...c.centers.data]);
  });

  test('initialisation: default spread, seed, init, zero iterations', () => {
    const x = Tensor.fromArray(new Float32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 9, 0.5]), [1, 1, 3, 4], 'f32');
    // k = 2 spread over [0, 10]: centres 2.5 and 7.5; 5 is halfway and goes to the lower label
    const z = kmeans(x, { k: 2, iterations: 0 });
    assert.deepEqual([...z.centers.data], [2.5, 7.5]);
    assert.deepEqual([...z.labels.data], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0]);
    const v = kmeans(x, { k: 3, init: [8, 1, 4], iterations: 0 });
    assert.deepEqual([...v.centers.data], [1, 4, 8]);
    const s1 = kmeans(x, { k: 3, seed: 42, iterations: 0 });
    const s2 = kmeans(x, { k: 3, seed: 42, iterations: 0 });
    assert.deepEqual([...s1.centers.data], [...s2.centers.data]);
    for (const c of s1.centers.data) assert.ok([...x.data].includes(c), `seeded centre ${c} is a pixel value`);
    // one iteration from the spread: means of {0, 0.5, 1, .., 5} and {6, .., 10}
    const one = kmeans(x, { k: 2, iterations: 1 });
    assert.deepEqual([...one.centers.data], [Math.fround(15.5 / 7), 8]);
  });

  test('GPU matches the CPU reference: dtypes, batches, odd sizes, k, initialisations', { skip: gpuSkip(gpu) }, async (t) => {
    let differing = 0;
    let total = 0;
    for (const [shape, dtype, opts] of [
      [[1, 1, 17, 23], 'u8', { k: 3 }],
      [[3, 1, 9, 8], 'u8', { k: 2, iterations: 5 }],
      [[2, 1, 64, 64], 'u8', { k: 5 }],
      [[2, 1, 40, 50], 'u8', { k: 16, seed: 3 }],
      [[2, 1, 13, 7], 'u16', { k: 4, init: [0, 1000, 30000, 60000] }],
      [[2, 1, 11, 5], 'f32', { k: 6 }],
      [[1, 1, 33, 31], 'f32', { k: 3, seed: 9, iterations: 20 }],
      [[1, 1, 6, 33], 'f16', { k: 4 }],
      [[2, 1, 5, 9], 'i32', { k: 3, iterations: 0 }],
    ] as const) {
      for (const make of [randomImage, naturalImage]) {
        const x = make(shape as unknown as [number, number, number, number], dtype, 7);
        differing += await compare(x, opts as KMeansOptions, `${dtype} [${shape.join(', ')}] ${JSON.stringify(opts)} ${make.name}`);
        total += x.size;
      }
    }
    t.diagnostic(`${differing} of ${total} labels differ`);
    assert.ok(differing <= total * 0.001, `${differing} of ${total} labels differ`);
  });

  test('u8 histogram path: images that share 4-pixel words, bins over 65535 pixels, every initialisation', { skip: gpuSkip(gpu) }, async () => {
    let differing = 0;
    for (const [shape, opts] of [
      [[3, 1, 5, 7], { k: 3 }],
      [[3, 1, 5, 7], { k: 4, seed: 5, iterations: 3 }],
      [[5, 1, 3, 3], { k: 2, init: [10, 200], iterations: 0 }],
    ] as const) {
      for (const make of [randomImage, naturalImage]) {
        differing += await compare(
          make(shape as unknown as [number, number, number, number], 'u8', 3),
          opts as KMeansOptions,
          `u8 ${shape.join('×')} ${JSON.stringify(opts)}`,
        );
      }
    }
    // 200 000 pixels of one value (a bin count of more than 2^16) plus noise
    const r = rng(4);
    const data = new Uint8Array(2 * 400 * 600);
    for (let i = 0; i < data.length; i++) data[i] = i % 12 === 0 ? Math.floor(r() * 256) : 200;
    differing += await compare(Tensor.fromArray(data, [2, 1, 400, 600], 'u8'), { k: 5 }, 'u8 large bins');
    assert.ok(differing <= 10, `${differing} labels differ`);
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of kmeansPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => kmeans(x, { k: 1 }), /Expected integer between 2 and 16 for k but received 1 of type number/);
    assert.throws(() => kmeans(x, { k: 17 }), /Expected integer between 2 and 16 for k but received 17 of type number/);
    assert.throws(() => kmeans(x, {} as KMeansOptions), /Expected integer between 2 and 16 for k but received undefined of type undefined/);
    assert.throws(() => kmeans(x, { k: 2, iterations: -1 }), /Expected integer between 0 and 1000 for iterations but received -1 of type number/);
    assert.throws(() => kmeans(x, { k: 2, seed: 1.5 }), /Expected integer between 0 and 4294967295 for seed but received 1.5 of type number/);
    assert.throws(() => kmeans(x, { k: 2, init: [1, 2, 3] }), /Expected an array of 2 finite numbers for init but received \[1, 2, 3\] of type object/);
    assert.throws(() => kmeans(x, { k: 2, init: [1, NaN] }), /Expected an array of 2 finite numbers for init but received \[1, NaN\] of type object/);
    assert.throws(() => kmeans(x, { k: 2, init: [1, 2], seed: 3 }), /Expected undefined when init is given for seed but received 3 of type number/);
    assert.throws(() => kmeans(randomImage([1, 3, 4, 4], 'u8'), { k: 2 }), /Expected x with 1 channel but received 3 \(shape \[1, 3, 4, 4\]\)/);
    assert.throws(() => kmeans(x.reshape([16]), { k: 2 }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
  });
});
