import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isKensaError } from '../../src/errors.js';
import { foldWorkgroups, Gpu } from '../../src/gpu/gpu.js';
import type { ProgramInfo } from '../../src/gpu/program.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import { Tensor } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { assertClose } from '../_kit/compare.js';
import { randomImage } from '../_kit/images.js';

const gpu = await testGpu();

const fill: ProgramInfo = {
  name: 'test_fill',
  key: '',
  inputs: [],
  outputs: [{ name: 'dst', dtype: 'f32' }],
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'v', type: 'f32' },
  ],
  workgroupSize: 64,
  body: `@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i < u.n) { dst[i] = u.v + f32(i); }
}`,
};

describe('gpu core', { skip: gpuSkip(gpu) }, () => {
  test('upload and readback round-trip through several ring chunks', async () => {
    const small = await Gpu.open({ uploadRing: { count: 2, chunkBytes: 4096 } });
    try {
      const data = new Uint8Array(50_001).map((_, i) => (i * 7) & 0xff);
      const t = await Tensor.fromArray(data, [1, 1, 1, data.length], 'u8').toGpu(small);
      const back = await t.toCpu();
      assert.deepEqual(back.data, data);
      assert.equal(small.stats.transfers.uploads, 1);
      assert.equal(small.stats.transfers.uploadBytes, 50_001);
      assert.equal(small.stats.transfers.downloads, 1);
    } finally {
      small.destroy();
    }
  });

  test('a recipe of a dozen ops is one submission; pooled buffers are reused in steady state', async () => {
    const x = await randomImage([2, 1, 32, 32], 'u8').toGpu(gpu!);
    const run = async () => {
      let y = x;
      for (let i = 0; i < 12; i++) {
        const next = gaussianBlur(y, { ksize: 3 });
        if (y !== x) y.dispose();
        y = next;
      }
      const out = await y.toCpu();
      y.dispose();
      return out;
    };
    await run();
    const before = gpu!.allStats();
    await run();
    const after = gpu!.allStats();
    assert.equal(after.submits - before.submits, 1, 'one submission per run');
    assert.equal(after.dispatches - before.dispatches, 12);
    assert.equal(after.pool.created, before.pool.created, 'no new buffers in steady state');
    x.dispose();
  });

  test('dispatches over 65535 workgroups are folded and cover every element', async () => {
    assert.deepEqual(foldWorkgroups(10), [10, 1, 1]);
    const [fx, fy] = foldWorkgroups(70_000);
    assert.ok(fx <= 65535 && fx * fy >= 70_000);
    const n = 65536 * 64 + 5;
    const out = Tensor.empty(gpu!, [n], 'f32');
    gpu!.dispatch({ program: fill, inputs: [], outputs: [out.gpu.ref], uniforms: { n, v: 0.5 }, workgroups: Math.ceil(n / 64) });
    const host = (await out.toCpu()).data as Float32Array;
    assert.equal(host[0], 0.5);
    assert.equal(host[n - 1], n - 1 + 0.5);
    assert.equal(host[4_000_000], 4_000_000.5);
    out.dispose();
  });

  test('timestamp timer reports GPU time when the adapter has timestamps', async () => {
    if (!gpu!.hasTimestamps) return;
    const x = await randomImage([1, 1, 64, 64], 'f32').toGpu(gpu!);
    const timer = gpu!.startTimer();
    const y = gaussianBlur(x, { ksize: 5 });
    const t = await timer.stop();
    assert.equal(t.passes, 1);
    assert.ok(t.gpuMs >= 0 && t.gpuMs < 10_000);
    x.dispose();
    y.dispose();
  });

  test('timePass: the GPU time of its own pass once a flush ran it; NaN when the recording flushed midway', async () => {
    if (!gpu!.hasTimestamps) return;
    const x = await randomImage([1, 1, 64, 64], 'f32').toGpu(gpu!);
    let y: ReturnType<typeof gaussianBlur> | undefined;
    const whole = gpu!.timePass(() => {
      y = gaussianBlur(x, { ksize: 5 });
    });
    const expected = gaussianBlur(await x.toCpu(), { ksize: 5 });
    assertClose(await y!.toCpu(), expected, {}, 'the pass ran as any other');
    const ms = await whole!;
    assert.ok(ms >= 0 && ms < 10_000, String(ms));
    const cut = gpu!.timePass(() => {
      gaussianBlur(x, { ksize: 3 }).dispose();
      gpu!.flush();
      gaussianBlur(x, { ksize: 3 }).dispose();
    });
    await gpu!.sync();
    assert.ok(Number.isNaN(await cut!));
    for (const t of [x, y!]) t.dispose();
  });

  test('WGSL errors become KENSA_ERR_SHADER naming the program and line', async () => {
    const broken: ProgramInfo = { ...fill, name: 'test_broken', body: fill.body.replace('dst[i] = u.v + f32(i);', 'dst[i] = u.v + f32(i)])') };
    await assert.rejects(
      gpu!.compile(broken),
      (e: unknown) => isKensaError(e, 'KENSA_ERR_SHADER') && /test_broken/.test(e.message) && /line \d+/.test(e.message),
    );
  });

  test('a destroyed device gives KENSA_ERR_DEVICE_LOST and a new one can be opened', async () => {
    const g = await Gpu.open();
    const t = await randomImage([1, 1, 4, 4], 'u8').toGpu(g);
    g.destroy();
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(t.toCpu(), (e: unknown) => isKensaError(e, 'KENSA_ERR_DEVICE_LOST'));
    assert.throws(
      () => gaussianBlur(t, { ksize: 3 }),
      (e: unknown) => isKensaError(e, 'KENSA_ERR_DEVICE_LOST'),
    );
    const again = await Gpu.open();
    const back = await (await randomImage([1, 1, 4, 4], 'u8', 3).toGpu(again)).toCpu();
    assert.deepEqual(back.data, randomImage([1, 1, 4, 4], 'u8', 3).data);
    again.destroy();
  });

  test('a tensor over the largest storage binding is refused with a clear error', () => {
    const max = gpu!.info.limits.maxStorageBufferBindingSize!;
    assert.throws(() => gpu!.alloc(max + 4), /exceeds this adapter's largest storage binding/);
  });

  test('an adapter that does not exist gives KENSA_ERR_NO_ADAPTER', async () => {
    await assert.rejects(Gpu.open({ adapter: 'no-such-adapter-name' }), (e: unknown) => isKensaError(e, 'KENSA_ERR_NO_ADAPTER'));
    await assert.rejects(Gpu.open({ adapter: 99 }), /Expected adapter index between 0 and/);
  });
});
