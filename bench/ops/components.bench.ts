/**
 * Connected-components labelling on 16×2048×2048 defect-like masks (blurred noise thresholded into
 * blobs of varied size and shape), kensa's GPU union-find vs cupyx.scipy.ndimage.label on the very
 * same masks (written to a file the peer script reads). kensa's time is wall time of the whole call:
 * labelling, per-component statistics (area, bbox, centroid) and their readback; CuPy's is GPU time
 * of label() alone (CUDA events), so the comparison favours CuPy. Where the time with statistics
 * goes: the GPU time of the same call (timestamp queries) and the wall time of one readback of the
 * packed statistics' size are reported beside it; the rest is the host's decode.
 * Usage: node dist/bench/ops/components.bench.js OUT_DIR [N H W]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gpu } from '../../src/gpu/gpu.js';
import { connectedComponents } from '../../src/ops/analysis/components.js';
import { kmeans } from '../../src/ops/analysis/kmeans.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import { threshold } from '../../src/ops/threshold/binary.js';
import { Tensor } from '../../src/tensor.js';
import { metadata, repeat } from '../_kit/stats.js';

const outDir = process.argv[2] ?? 'bench-out';
const [N, H, W] = (process.argv.slice(3, 6).length === 3 ? process.argv.slice(3, 6).map(Number) : [16, 2048, 2048]) as [number, number, number];
mkdirSync(outDir, { recursive: true });
const gpu = await Gpu.open();
const meta = metadata(gpu.info.name);
const noise = new Uint8Array(N * H * W);
for (let i = 0; i < noise.length; i++) noise[i] = (Math.imul(i ^ (i >>> 7), 2654435761) >>> 24) & 0xff;
const x = await Tensor.fromArray(noise, [N, 1, H, W], 'u8').toGpu(gpu);
const blurred = gaussianBlur(x, { ksize: 7, sigma: 2 });
const mask = threshold(blurred, { thresh: 133, maxval: 255 });
const maskHost = await mask.toCpu();
const maskFile = join(outDir, 'masks.u8');
writeFileSync(maskFile, maskHost.data);

const rows: Record<string, unknown>[] = [];
for (const connectivity of [4, 8] as const) {
  let components = 0;
  const gpuMs: number[] = [];
  const time = (stats: boolean) =>
    repeat(2, 10, async () => {
      await gpu.sync();
      const t = performance.now();
      const timer = gpu.startTimer();
      const r = await connectedComponents(mask, { connectivity, stats });
      const ms = performance.now() - t;
      if (stats) gpuMs.push((await timer.stop()).gpuMs);
      else await timer.stop();
      components = r.count.reduce((a, b) => a + b, 0);
      r.labels.dispose();
      return ms;
    });
  const s = await time(true);
  const labelsOnly = await time(false);
  gpuMs.sort((a, b) => a - b);
  // one readback of the packed statistics' size (5 words per component)
  const packed = Tensor.empty(gpu, [components * 5], 'i32');
  const read = await repeat(2, 10, async () => {
    const t = performance.now();
    await gpu.read(packed.gpu.ref);
    return performance.now() - t;
  });
  packed.dispose();
  const peer = spawnSync('python3', ['bench/ops/label_peer.py', maskFile, String(N), String(H), String(W), String(connectivity)], { encoding: 'utf8' });
  const p = peer.status === 0 ? (JSON.parse(peer.stdout.trim().split('\n').pop()!) as { cupy_ms: number; components: number }) : null;
  if (!p) console.error(peer.stderr);
  rows.push({
    connectivity,
    kensa_labels_ms: labelsOnly.median,
    kensa_ms: s.median,
    kensa_iqr: [s.q1, s.q3],
    components,
    stats_gpu_ms: gpuMs[gpuMs.length >> 1]!,
    read_ms: read.median,
    cupy_ms: p?.cupy_ms ?? null,
    cupy_components: p?.components ?? null,
  });
}
// the worst case for the statistics' atomics: every frame one component, with an f32 value map (a model's probability)
const full = await Tensor.fromArray(new Uint8Array(N * H * W).fill(255), [N, 1, H, W], 'u8').toGpu(gpu);
const fullValues = await Tensor.fromArray(new Float32Array(N * H * W).fill(0.7), [N, 1, H, W], 'f32').toGpu(gpu);
const fullRows: string[] = [];
for (const values of [undefined, fullValues]) {
  const t: number[] = [];
  let mean = Number.NaN;
  for (let r = 0; r < 7; r++) {
    await gpu.sync();
    const timer = gpu.startTimer();
    const res = await connectedComponents(full, { connectivity: 8, ...(values ? { values } : {}) });
    const { gpuMs } = await timer.stop();
    res.labels.dispose();
    mean = res.stats[0]?.mean?.[0] ?? Number.NaN;
    if (r >= 2) t.push(gpuMs);
  }
  t.sort((a, b) => a - b);
  fullRows.push(`| one component a frame, ${values ? `f32 values (mean of 0.7: ${mean.toFixed(6)})` : 'no values'} | ${t[t.length >> 1]!.toFixed(3)} |`);
}
full.dispose();
fullValues.dispose();
// k-means on the blurred noise (u8), GPU time of the whole call (median of 20)
const kmRows: string[] = [];
for (const k of [4, 16]) {
  const t: number[] = [];
  for (let r = 0; r < 23; r++) {
    await gpu.sync();
    const timer = gpu.startTimer();
    const res = kmeans(blurred, { k, iterations: 10 });
    const { gpuMs } = await timer.stop();
    res.labels.dispose();
    res.centers.dispose();
    if (r >= 3) t.push(gpuMs);
  }
  t.sort((a, b) => a - b);
  kmRows.push(`| kmeans u8 k=${k}, 10 iterations | ${t[t.length >> 1]!.toFixed(3)} |`);
}
const lines = [
  `# connected components — ${String(meta.date).slice(0, 10)}, ${gpu.info.name}, commit ${meta.commit}`,
  '',
  `Masks ${N}×1×${H}×${W} (blurred noise > 133). kensa: wall time of connectedComponents (median of 10), labels + counts only (\`stats: false\`) and with per-component stats (area, bbox, centroid) read back; of the latter, the GPU time of the call (timestamp queries) and the wall time of one readback of 5 words per component. CuPy: cupyx.scipy.ndimage.label GPU time (median of 20).`,
  '',
  '| connectivity | components (kensa / CuPy) | kensa labels + counts ms | kensa with stats ms | of which GPU ms | of which one readback ms | CuPy label ms | speed-up (labels) | speed-up (with stats) |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.connectivity} | ${r.components} / ${r.cupy_components ?? '—'} | ${(r.kensa_labels_ms as number).toFixed(2)} | ${(r.kensa_ms as number).toFixed(2)} | ${(r.stats_gpu_ms as number).toFixed(2)} | ${(r.read_ms as number).toFixed(2)} | ${r.cupy_ms === null ? '—' : (r.cupy_ms as number).toFixed(2)} | ${r.cupy_ms === null ? '—' : `${((r.cupy_ms as number) / (r.kensa_labels_ms as number)).toFixed(2)}×`} | ${r.cupy_ms === null ? '—' : `${((r.cupy_ms as number) / (r.kensa_ms as number)).toFixed(2)}×`} |`,
  ),
  '',
  `| ${N}×1×${H}×${W} | kensa GPU ms |`,
  '|---|---|',
  ...fullRows,
  ...kmRows,
];
console.log(lines.join('\n'));
writeFileSync(join(outDir, 'components.md'), `${lines.join('\n')}\n`);
writeFileSync(join(outDir, 'components.json'), JSON.stringify({ meta, shape: [N, 1, H, W], rows }, null, 2));
gpu.destroy();
