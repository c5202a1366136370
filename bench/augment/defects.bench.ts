/**
 * bench/augment/defects: the HOST cost of each synthetic-defect transform on GPU-resident batches
 * (the time until `augment()` returns: shape draws, per-sample tables, recording), not the GPU's
 * execution, which is synced outside the timed region after a forced GC. Each transform at p = 1
 * with its default arguments, one call per seed, on N × 3 × H × W u8 (default 8 × 1080p).
 * Median (IQR) and minimum per image; on a shared machine the minimum is the steadier figure.
 * Usage: node --expose-gc --import tsx bench/augment/defects.bench.ts [N H W REPEATS]
 */
import { augment, Crack, CutPaste, PerlinStain, Pit, Scratch, Spot, type Transform } from '../../src/augment/index.js';
import { Gpu } from '../../src/gpu/gpu.js';
import { Tensor } from '../../src/tensor.js';
import { metadata, summarize } from '../_kit/stats.js';

const [N, H, W, REPEATS] = (process.argv.length >= 6 ? process.argv.slice(2, 6).map(Number) : [8, 1080, 1920, 10]) as [number, number, number, number];
const WARMUP = 2;

const gpu = await Gpu.open();
const collect = (globalThis as { gc?: () => void }).gc ?? (() => console.error('run node with --expose-gc: GC of the syncs is timed otherwise'));
const data = new Uint8Array(N * 3 * H * W);
for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
const image = await Tensor.fromArray(data, [N, 3, H, W], 'u8').toGpu(gpu);

const lines = ['| transform | host ms/img, median (IQR) | min |', '|---|---|---|'];
for (const t of [PerlinStain({ p: 1 }), Scratch({ p: 1 }), CutPaste({ p: 1 }), Crack({ p: 1 }), Spot({ p: 1 }), Pit({ p: 1 })] as Transform[]) {
  const samples: number[] = [];
  for (let r = -WARMUP; r < REPEATS; r++) {
    collect();
    const t0 = performance.now();
    const { batch } = augment(t, { image }, { seed: 1000 + r });
    const ms = performance.now() - t0;
    await gpu.sync();
    batch.image.dispose();
    batch.mask?.dispose();
    if (r >= 0) samples.push(ms / N);
  }
  const s = summarize(samples);
  lines.push(`| ${t.name} | ${s.median.toFixed(3)} (${s.q1.toFixed(3)}–${s.q3.toFixed(3)}) | ${s.min.toFixed(3)} |`);
  console.error(lines.at(-1));
}
const meta = metadata(gpu.info.name);
console.log(
  [`# bench/augment/defects — ${meta.date}, ${gpu.info.name}, ${meta.host}, commit ${meta.commit}, ${N} × 3 × ${H} × ${W} u8`, '', ...lines].join('\n'),
);
image.dispose();
gpu.destroy();
