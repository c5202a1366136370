/**
 * The compute core's own costs on this machine: upload and readback bandwidth (upload ring vs
 * queue.writeBuffer), Dawn's copyBufferToBuffer and a WGSL copy kernel (device bandwidth as kensa
 * sees it), the wait beyond the GPU's work for sync() and a small read() after it, and the host
 * cost per recorded dispatch. Prints a table and writes JSON to argv[2].
 */
import { writeFileSync } from 'node:fs';
import { Gpu, type BufferRef } from '../../src/gpu/gpu.js';
import type { ProgramInfo } from '../../src/gpu/program.js';
import { metadata, repeat, type Summary } from '../_kit/stats.js';

const MiB = 1 << 20;

const copyProgram: ProgramInfo = {
  name: 'bench_copy',
  key: '',
  inputs: [{ name: 'src', dtype: 'f32' }],
  outputs: [{ name: 'dst', dtype: 'f32' }],
  uniforms: [{ name: 'words', type: 'u32' }],
  workgroupSize: 256,
  body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let base = (linear_workgroup(wid, nwg) * WG + li) * 4u;
  if (base + 3u < u.words) {
    dst[base] = src[base]; dst[base + 1u] = src[base + 1u]; dst[base + 2u] = src[base + 2u]; dst[base + 3u] = src[base + 3u];
  }
}`,
};

const tinyProgram: ProgramInfo = {
  name: 'bench_tiny',
  key: '',
  inputs: [],
  outputs: [{ name: 'dst', dtype: 'f32' }],
  uniforms: [{ name: 'v', type: 'f32' }],
  workgroupSize: 64,
  body: `@compute @workgroup_size(WG) fn main(@builtin(local_invocation_index) li: u32) { dst[li] = u.v; }`,
};

async function main(): Promise<void> {
  const gpu = await Gpu.open();
  const results: Record<string, unknown> = { meta: metadata(gpu.info.name) };
  const rows: [string, string][] = [];
  const bytes = 64 * MiB; // 16 × 2048² u8 frames
  const host = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) host[i] = (i * 2654435761) >>> 24;

  for (const ring of [
    null,
    { count: 4, chunkBytes: 4 * MiB },
    { count: 8, chunkBytes: 8 * MiB },
    { count: 8, chunkBytes: 4 * MiB },
    { count: 4, chunkBytes: 16 * MiB },
    { count: 2, chunkBytes: 16 * MiB },
    { count: 8, chunkBytes: 2 * MiB },
  ]) {
    const g = ring === null ? gpu : await Gpu.open({ uploadRing: ring });
    const dst = g.alloc(bytes);
    const s = await repeat(2, 8, async () => {
      const t = performance.now();
      await g.upload(dst, host);
      await g.sync();
      return performance.now() - t;
    });
    const gbs = bytes / (s.median / 1e3) / 1e9;
    const name = ring === null ? 'default' : `${ring.count}x${ring.chunkBytes / MiB}MiB`;
    results[`upload_ring_${name}`] = { ms: s, gbs };
    rows.push([`upload ring ${name} (64 MiB)`, `${gbs.toFixed(2)} GB/s`]);
    g.free(dst);
    if (g !== gpu) g.destroy();
  }
  {
    const dst = gpu.alloc(bytes);
    const s = await repeat(1, 5, async () => {
      const t = performance.now();
      gpu.device.queue.writeBuffer(dst.buffer, 0, host);
      await gpu.sync();
      return performance.now() - t;
    });
    const gbs = bytes / (s.median / 1e3) / 1e9;
    results.upload_writeBuffer = { ms: s, gbs };
    rows.push(['upload queue.writeBuffer (64 MiB)', `${gbs.toFixed(2)} GB/s`]);
    // 26 MiB: the connected-components statistics readback; `into`: a reused host destination
    const into = new Uint8Array(bytes);
    for (const [key, n, reuse] of [
      ['readback', bytes, false],
      ['readback_26MiB', 26 * MiB, false],
      ['readback_into', bytes, true],
      ['readback_into_26MiB', 26 * MiB, true],
    ] as const) {
      const r = await repeat(3, 15, async () => {
        const t = performance.now();
        if (reuse) await gpu.read(dst, n, into);
        else await gpu.read(dst, n);
        return performance.now() - t;
      });
      const rgbs = n / (r.median / 1e3) / 1e9;
      results[key] = { ms: r, gbs: rgbs };
      rows.push([`${key} (${n / MiB} MiB)`, `${rgbs.toFixed(2)} GB/s (${r.median.toFixed(2)} ms)`]);
    }
    gpu.free(dst);
  }
  // device bandwidth: 256 MiB f32 (16 × 2048² f32), bytes read + written
  if (gpu.hasTimestamps) {
    const n = Math.min(256 * MiB, gpu.info.limits.maxStorageBufferBindingSize!);
    const a: BufferRef = gpu.alloc(n);
    const b: BufferRef = gpu.alloc(n);
    const timeGpu = async (record: () => void): Promise<Summary> =>
      repeat(3, 20, async () => {
        const timer = gpu.startTimer();
        record();
        return (await timer.stop()).gpuMs;
      });
    const kernel = await timeGpu(() =>
      gpu.dispatch({ program: copyProgram, inputs: [a], outputs: [b], uniforms: { words: n / 4 }, workgroups: Math.ceil(n / 4 / 4 / 256) }),
    );
    const kgbs = (2 * n) / (kernel.median / 1e3) / 1e9;
    results.copy_kernel = { ms: kernel, gbs: kgbs };
    rows.push([`WGSL copy kernel ${n / MiB} MiB (read+write)`, `${kgbs.toFixed(0)} GB/s (${kernel.median.toFixed(3)} ms)`]);
    const cbb = await repeat(3, 20, async () => {
      await gpu.sync();
      const t = performance.now();
      const enc = gpu.device.createCommandEncoder();
      enc.copyBufferToBuffer(a.buffer, 0, b.buffer, 0, n);
      gpu.device.queue.submit([enc.finish()]);
      await gpu.device.queue.onSubmittedWorkDone();
      return performance.now() - t;
    });
    const cgbs = (2 * n) / (cbb.median / 1e3) / 1e9;
    results.copyBufferToBuffer = { ms: cbb, gbs: cgbs, note: 'host-timed incl. submit' };
    rows.push([`copyBufferToBuffer ${n / MiB} MiB (host-timed)`, `${cgbs.toFixed(0)} GB/s`]);
    // completion latency: the wall time of sync() (submit and wait) and of a 16-byte read() after
    // k recorded copy kernels, less their GPU time: what a resident loop waits beyond the work itself
    const flag = gpu.alloc(16);
    for (const k of [1, 4, 16, 32]) {
      const record = () => {
        for (let i = 0; i < k; i++)
          gpu.dispatch({ program: copyProgram, inputs: [a], outputs: [b], uniforms: { words: n / 4 }, workgroups: Math.ceil(n / 4 / 4 / 256) });
      };
      const work = await timeGpu(record);
      const wait = async (finish: () => Promise<unknown>) =>
        repeat(2, 9, async () => {
          await gpu.sync();
          record();
          const t = performance.now();
          await finish();
          return performance.now() - t - work.median;
        });
      const sync = await wait(() => gpu.sync());
      const read = await wait(() => gpu.read(flag, 16));
      results[`completion_${k}`] = { gpuMs: work, syncExtraMs: sync, readExtraMs: read };
      rows.push([
        `${k} copy kernel(s) (${work.median.toFixed(2)} ms GPU): wait beyond it`,
        `sync ${sync.median.toFixed(3)} ms, read ${read.median.toFixed(3)} ms`,
      ]);
    }
    gpu.free(flag);
    gpu.free(a);
    gpu.free(b);
  }
  // host cost per dispatch: record 2000 tiny dispatches, then submit once
  {
    const out = gpu.alloc(1024);
    const count = 2000;
    const s = await repeat(2, 5, async () => {
      await gpu.sync();
      const t = performance.now();
      for (let i = 0; i < count; i++) gpu.dispatch({ program: tinyProgram, inputs: [], outputs: [out], uniforms: { v: i }, workgroups: 1 });
      const recorded = performance.now() - t;
      gpu.flush();
      return (recorded * 1000) / count;
    });
    const g = await repeat(1, 5, async () => {
      const t = performance.now();
      for (let i = 0; i < count; i++) gpu.dispatch({ program: tinyProgram, inputs: [], outputs: [out], uniforms: { v: i }, workgroups: 1 });
      await gpu.sync();
      return ((performance.now() - t) * 1000) / count;
    });
    results.dispatch_host_us = s;
    results.dispatch_end_to_end_us = g;
    rows.push(['host cost per recorded dispatch', `${s.median.toFixed(2)} µs`]);
    rows.push(['per dispatch incl. GPU execution (2000 tiny)', `${g.median.toFixed(2)} µs`]);
    gpu.free(out);
  }
  results.stats = gpu.allStats();
  console.log(`\n${gpu.info.name}`);
  for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${v}`);
  if (process.argv[2]) writeFileSync(process.argv[2], JSON.stringify(results, null, 2));
  gpu.destroy();
}

await main();
