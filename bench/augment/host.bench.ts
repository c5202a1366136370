/**
 * bench/augment/host: the HOST cost of `augment()` on GPU-resident batches: the time until it
 * returns (parameter draws, command recording, submission), not the GPU's execution. On the GPU
 * machine the seed's composite is host-bound, so this is the figure to shrink; any WebGPU adapter
 * measures it (lavapipe included). For the composite of bench/augment/augment.bench.ts on
 * N × 3 × H × W u8 (default 16 × 1080p) and the 6-transform image + mask pipeline at 512²:
 * the whole call, then each top-level stage alone at p = 1 (every sample runs it), and the draw
 * alone. The GPU is synced outside the timed region after every call. Median (IQR) and minimum of
 * repeats: on a shared machine the minimum is the steadier figure.
 * Usage: node --expose-gc --import tsx bench/augment/host.bench.ts [N H W REPEATS]
 */
import { augment, draw, fromJSON, type AugmentBatch, type Transform } from '../../src/augment/index.js';
import type { TransformData } from '../../src/augment/serialize.js';
import { Gpu } from '../../src/gpu/gpu.js';
import { Tensor } from '../../src/tensor.js';
import { metadata, summarize, type Summary } from '../_kit/stats.js';
import { COMPOSITE, SIX } from './pipelines.js';

const [N, H, W, REPEATS] = (process.argv.length >= 6 ? process.argv.slice(2, 6).map(Number) : [16, 1080, 1920, 15]) as [number, number, number, number];

const gpu = await Gpu.open();
const collect = (globalThis as { gc?: () => void }).gc ?? (() => console.error('run node with --expose-gc: GC of the syncs is timed otherwise'));
const build = (doc: TransformData): Transform => fromJSON({ version: 1, transform: doc });

/** Calls before the timed ones: the pipelines each variant needs compile in them. */
const WARMUP = 3;

/** Host milliseconds of `augment` until it returns, and dispatches recorded per call. */
async function hostTime(t: Transform, batch: AugmentBatch): Promise<{ ms: Summary; dispatches: number }> {
  const samples: number[] = [];
  let dispatches = 0;
  for (let r = -WARMUP; r < REPEATS; r++) {
    // the previous call's sync (lavapipe polls for seconds) leaves garbage whose collection would land in this call
    collect();
    const before = gpu.stats.dispatches;
    const t0 = performance.now();
    const { batch: out } = augment(t, batch, { seed: 1000 + r });
    const ms = performance.now() - t0;
    dispatches += gpu.stats.dispatches - before;
    await gpu.sync();
    if (out.image !== batch.image) out.image.dispose();
    if (out.mask && out.mask !== batch.mask) out.mask.dispose();
    if (r >= 0) samples.push(ms);
  }
  return { ms: summarize(samples), dispatches: dispatches / (REPEATS + WARMUP) };
}

function drawTime(t: Transform, batch: AugmentBatch): Summary {
  const [n, c, h, w] = batch.image.shape as [number, number, number, number];
  const samples: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    draw(t, n, { width: w, height: h, channels: c, dtype: batch.image.dtype }, { seed: r });
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

const fmt = (s: Summary) => `${s.median.toFixed(3)} (${s.q1.toFixed(3)}–${s.q3.toFixed(3)}) | ${s.min.toFixed(3)}`;
const lines: string[] = [];

async function report(title: string, doc: TransformData, batch: AugmentBatch): Promise<void> {
  const whole = build(doc);
  lines.push(`## ${title}`, '', '| stage | host ms/batch, median (IQR) | min | dispatches/batch |', '|---|---|---|---|');
  const all = await hostTime(whole, batch);
  lines.push(`| whole pipeline (its own p) | ${fmt(all.ms)} | ${all.dispatches.toFixed(1)} |`);
  lines.push(`| draw only | ${fmt(drawTime(whole, batch))} | 0 |`);
  for (const child of doc.transforms ?? []) {
    const one = await hostTime(build({ ...child, p: 1 } as TransformData), batch);
    lines.push(`| ${child.name === 'OneOf' ? 'Flip (OneOf)' : child.name} at p 1 | ${fmt(one.ms)} | ${one.dispatches.toFixed(1)} |`);
  }
  lines.push('');
  console.error(lines.slice(-8).join('\n'));
}

/** Smooth content with texture (any content does: host time does not depend on it). */
function image(n: number, c: number, h: number, w: number): Tensor {
  const data = new Uint8Array(n * c * h * w);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return Tensor.fromArray(data, [n, c, h, w], 'u8');
}

const x = await image(N, 3, H, W).toGpu(gpu);
await report(`seed composite, ${N} × ${W}×${H} RGB u8`, COMPOSITE, { image: x });
x.dispose();
const S = 512;
const sixImage = await image(N, 3, S, S).toGpu(gpu);
const sixMask = await Tensor.fromArray(
  Uint8Array.from({ length: N * S * S }, (_, i) => ((i % S) >> 6) & 1),
  [N, 1, S, S],
  'u8',
).toGpu(gpu);
await report(`6 transforms, ${N} × ${S}² RGB u8 image + u8 mask`, SIX, { image: sixImage, mask: sixMask });

const meta = metadata(gpu.info.name);
console.log([`# bench/augment/host — ${meta.date}, ${gpu.info.name}, ${meta.host}, commit ${meta.commit}`, '', ...lines].join('\n'));
sixImage.dispose();
sixMask.dispose();
gpu.destroy();
