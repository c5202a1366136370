import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isKensaError } from '../../src/errors.js';
import { Gpu } from '../../src/gpu/gpu.js';
import type { ProgramInfo } from '../../src/gpu/program.js';
import { UploadRing } from '../../src/gpu/staging.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();

const fill: ProgramInfo = {
  name: 'test_staging_fill',
  key: '',
  inputs: [],
  outputs: [{ name: 'dst', dtype: 'u8' }], // packed dtypes are array<u32>: the kernel writes whole words
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'v', type: 'u32' },
  ],
  workgroupSize: 64,
  body: `@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i < u.n) { dst[i] = u.v + i; }
}`,
};

const bytesOf = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

describe('staging: chunked uploads and readback destinations', { skip: gpuSkip(gpu) }, () => {
  test('a multi-chunk upload is ordered after earlier dispatches and before later ones', async () => {
    const g = await Gpu.open({ uploadRing: { count: 2, chunkBytes: 4096 } });
    try {
      const words = 8192;
      const dst = g.alloc(words * 4);
      g.dispatch({ program: fill, inputs: [], outputs: [dst], uniforms: { n: words, v: 1000 }, workgroups: words / 64 });
      const data = bytesOf(4096 * 5 + 7, 3); // 6 chunks, the last one padded with zeros to whole words
      const before = g.stats.submits;
      await g.upload(dst, data, 64);
      assert.ok(g.stats.submits - before >= 6, 'each chunk is submitted on its own');
      // words 16..19 overwritten by a dispatch recorded after the upload
      g.dispatch({ program: fill, inputs: [], outputs: [dst], uniforms: { n: 20, v: 7 }, workgroups: 1 });
      const back = new Uint8Array(await g.read(dst, words * 4));
      const u32 = new Uint32Array(back.buffer);
      for (let i = 0; i < 20; i++) assert.equal(u32[i], 7 + i);
      assert.deepEqual(back.subarray(80, 64 + data.length), data.subarray(16));
      assert.deepEqual([...back.subarray(64 + data.length, 64 + Math.ceil(data.length / 4) * 4)], [0]);
      const firstAfter = (64 + Math.ceil(data.length / 4) * 4) / 4;
      for (let i = firstAfter; i < words; i++) assert.equal(u32[i], 1000 + i);
      assert.equal(g.stats.transfers.uploads, 1);
      assert.equal(g.stats.transfers.uploadBytes, data.length);
      g.free(dst);
    } finally {
      g.destroy();
    }
  });

  test('an upload of several parts lands as their concatenation; chunks straddle part boundaries', async () => {
    const g = await Gpu.open({ uploadRing: { count: 2, chunkBytes: 1024 } });
    try {
      // 0-byte and odd-length parts, parts shorter and longer than a chunk
      const parts = [bytesOf(700, 1), bytesOf(0, 2), bytesOf(1500, 3), bytesOf(3, 4), bytesOf(2049, 5)];
      const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        whole.set(p, at);
        at += p.length;
      }
      const dst = g.alloc(8192);
      await g.upload(dst, parts, 16);
      const back = new Uint8Array(await g.read(dst, 16 + whole.length));
      assert.deepEqual(back.subarray(16), whole);
      assert.equal(g.stats.transfers.uploads, 1);
      assert.equal(g.stats.transfers.uploadBytes, whole.length);
      g.free(dst);
    } finally {
      g.destroy();
    }
  });

  test('a single-chunk upload stays in the pending stream (no extra submission)', async () => {
    const x = gpu!.alloc(1024);
    await gpu!.sync();
    const before = gpu!.stats.submits;
    await gpu!.upload(x, bytesOf(1000, 1));
    assert.equal(gpu!.stats.submits, before);
    const back = new Uint8Array(await gpu!.read(x, 1000));
    assert.deepEqual(back, bytesOf(1000, 1));
    gpu!.free(x);
  });

  test('concurrent multi-chunk uploads through a small ring all land', async () => {
    const g = await Gpu.open({ uploadRing: { count: 2, chunkBytes: 1024 } });
    try {
      const refs = [0, 1, 2].map(() => g.alloc(10_000));
      const datas = [0, 1, 2].map((k) => bytesOf(10_000, k));
      await Promise.all(refs.map((r, k) => g.upload(r, datas[k]!)));
      for (let k = 0; k < 3; k++) assert.deepEqual(new Uint8Array(await g.read(refs[k]!, 10_000)), datas[k]);
    } finally {
      g.destroy();
    }
  });

  test('read returns an ArrayBuffer of exactly the bytes asked, not aliased by later reads', async () => {
    const x = gpu!.alloc(8192);
    await gpu!.upload(x, bytesOf(8192, 5));
    const a = await gpu!.read(x, 4097);
    assert.ok(a instanceof ArrayBuffer);
    assert.equal(a.byteLength, 4097);
    await gpu!.upload(x, bytesOf(8192, 9));
    const b = await gpu!.read(x, 4097);
    assert.deepEqual(new Uint8Array(a), bytesOf(8192, 5).subarray(0, 4097));
    assert.deepEqual(new Uint8Array(b), bytesOf(8192, 9).subarray(0, 4097));
    gpu!.free(x);
  });

  test('read into a caller destination fills it and returns a view of the bytes', async () => {
    const x = gpu!.alloc(4096);
    await gpu!.upload(x, bytesOf(4096, 11));
    const into = new Uint8Array(5000).fill(0xee);
    const view = await gpu!.read(x, 1003, into);
    assert.equal(view.buffer, into.buffer);
    assert.equal(view.byteLength, 1003);
    assert.deepEqual(view, bytesOf(4096, 11).subarray(0, 1003));
    assert.equal(into[1003], 0xee, 'bytes past the request are untouched');
    const reads = gpu!.stats.transfers.downloads;
    await assert.rejects(gpu!.read(x, 1003, new Uint8Array(1000)), (e: unknown) => isKensaError(e, 'KENSA_ERR_INVALID_ARGUMENT'));
    assert.equal(gpu!.stats.transfers.downloads, reads);
    gpu!.free(x);
  });

  test('UploadRing hands back re-mapped buffers oldest first', async () => {
    const ring = new UploadRing(gpu!.device, 2, 256);
    const a = ring.tryAcquire()!;
    const b = ring.tryAcquire()!;
    assert.equal(ring.tryAcquire(), null);
    a.unmap();
    b.unmap();
    ring.remap(b);
    ring.remap(a);
    assert.equal(await ring.acquire(), b);
    assert.equal(await ring.acquire(), a);
    assert.equal(a.mapState, 'mapped');
    // both held by (concurrent) uploads: the next acquire waits for the first one given back
    const waiting = ring.acquire();
    assert.ok(ring.hasWaiters);
    a.unmap();
    ring.remap(a);
    assert.equal(await waiting, a);
    assert.ok(!ring.hasWaiters);
    // every buffer left in an unsubmitted stream: acquiring would never resolve, so it throws
    ring.used(a);
    ring.used(b);
    await assert.rejects(ring.acquire(), /no buffer is ready/);
    a.destroy();
    b.destroy();
  });
});
