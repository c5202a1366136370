import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectedComponents } from '../../../src/ops/analysis/components.js';
import { threshold } from '../../../src/ops/threshold/binary.js';
import { hysteresisPrograms, hysteresisThreshold } from '../../../src/ops/analysis/hysteresis.js';
import { Tensor } from '../../../src/tensor.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

/** 1×1×12×16 f32: a strong stretch (1.0) continued by a weak one (0.6), an isolated weak blob, and a weak pixel touching the strong stretch only diagonally. */
function crack(): Tensor {
  const H = 12;
  const W = 16;
  const d = new Float32Array(H * W);
  for (let x = 1; x < 6; x++) d[3 * W + x] = 1;
  for (let x = 6; x < 14; x++) d[3 * W + x] = 0.6;
  for (let y = 8; y < 10; y++) for (let x = 8; x < 11; x++) d[y * W + x] = 0.6;
  d[4 * W + 0] = 0.6; // below-left of (3, 1): 8-connected only
  return Tensor.fromArray(d, [1, 1, H, W], 'f32');
}

/** The definition, from existing ops: the components of the mask above low whose mean of the mask above high is above 0. */
async function reference(x: Tensor, low: number, high: number, connectivity: 4 | 8): Promise<Uint8Array> {
  const weak = threshold(x, { thresh: low, maxval: 255, dtype: 'u8' });
  const strong = threshold(x, { thresh: high, maxval: 255, dtype: 'u8' });
  const { labels, stats } = await connectedComponents(weak, { connectivity, values: strong });
  const [N, , H, W] = x.shape as [number, number, number, number];
  const out = new Uint8Array(N * H * W);
  const l = labels.data as Int32Array;
  for (let i = 0; i < out.length; i++) if (l[i] && stats[Math.floor(i / (H * W))]!.mean![l[i]! - 1]! > 0) out[i] = 255;
  return out;
}

describe('hysteresisThreshold', () => {
  test('keeps a weak stretch connected to a strong one, drops an isolated weak blob', () => {
    const kept = (conn: 4 | 8) => [...hysteresisThreshold(crack(), { low: 0.5, high: 0.9, connectivity: conn }).data].map((v) => v / 255);
    const at = (m: number[], y: number, x: number) => m[y * 16 + x];
    for (const conn of [4, 8] as const) {
      const m = kept(conn);
      for (let x = 1; x < 14; x++) assert.equal(at(m, 3, x), 1, `crack pixel ${x}, ${conn}-connected`);
      assert.equal(at(m, 8, 9), 0, 'the isolated blob is dropped');
    }
    assert.equal(at(kept(8), 4, 0), 1, 'a diagonal neighbour: kept 8-connected');
    assert.equal(at(kept(4), 4, 0), 0, '… not 4-connected');
    assert.equal(
      kept(8).reduce((s, v) => s + v, 0),
      14,
    );
    const off = hysteresisThreshold(crack(), { low: 0.9, high: 0.9 });
    assert.deepEqual(off.data, threshold(crack(), { thresh: 0.9, maxval: 255, dtype: 'u8' }).data, 'low = high: the plain threshold');
  });

  test('CPU equals its definition (components of the low mask holding a high pixel)', async () => {
    for (const [x, low, high] of [
      [naturalImage([2, 1, 37, 53], 'f32', 3), 0.45, 0.7],
      [randomImage([3, 1, 29, 31], 'u8', 4), 150, 230],
    ] as const)
      for (const conn of [4, 8] as const) {
        const got = hysteresisThreshold(x, { low, high, connectivity: conn }).data;
        assert.deepEqual(got, await reference(x, low, high, conn), `${x.dtype} ${conn}-connected`);
        assert.ok(got.some((v) => v === 255));
      }
  });

  test('GPU equals CPU', { skip: gpuSkip(gpu) }, async () => {
    for (const [x, low, high] of [
      [naturalImage([2, 1, 37, 53], 'f32', 3), 0.45, 0.7],
      [randomImage([3, 1, 29, 31], 'u8', 4), 150, 230],
      [crack(), 0.5, 0.9],
    ] as const)
      for (const connectivity of [4, 8] as const)
        await assertGpuMatchesCpu(gpu!, [x], (v) => hysteresisThreshold(v, { low, high, connectivity }), { int: 0 }, `${x.dtype} ${connectivity}`);
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of hysteresisPrograms(['u8', 'u16', 'f32', 'f16'])) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed values', () => {
    const x = randomImage([1, 1, 8, 8], 'f32');
    assert.throws(() => hysteresisThreshold(x, { low: 0.6, high: 0.5 }), /Expected number between -3\.4e\+38 and 0\.5 for low but received 0\.6/);
    assert.throws(() => hysteresisThreshold(x, { low: 0.1, high: Number.NaN }), /for high but received NaN/);
    assert.throws(() => hysteresisThreshold(x, { low: 0.1, high: 0.5, connectivity: 6 as never }), /Expected 4 or 8 for connectivity but received 6/);
    assert.throws(() => hysteresisThreshold(randomImage([1, 3, 8, 8], 'f32'), { low: 0.1, high: 0.5 }), /Expected x with 1 channel but received 3/);
  });
});
