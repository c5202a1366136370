/**
 * bench/augment/parts: GPU time of the seed composite's parts (bench/augment/pipelines.ts) and of
 * the ops they run, on N×3×1080×1920 u8 batches, to show where the composite's time goes: the
 * tiled integer maps (src/ops/geometry/dihedral.ts) by map kind, the word-kernel flip of the whole
 * batch, each part of the composite alone and fused (timestamp queries; median of 9 batches per
 * row), and the round trip of a sync after one tiny dispatch. Reports, never fails.
 *
 * Usage: node --import tsx bench/augment/parts.bench.ts [N]   (default 32)
 *        node dist/bench/augment/parts.bench.js [N]            (the GPU machine's build)
 */
import { augment, fromJSON } from '../../src/augment/index.js';
import type { TransformData } from '../../src/augment/serialize.js';
import { Gpu } from '../../src/gpu/gpu.js';
import { runDihedral } from '../../src/ops/geometry/dihedral.js';
import { flip } from '../../src/ops/geometry/flip.js';
import type { IntegerMap } from '../../src/ops/geometry/gather.js';
import { Tensor } from '../../src/tensor.js';
import { GcClock } from '../_kit/gc.js';
import { metadata, repeat } from '../_kit/stats.js';
import { COMPOSITE } from './pipelines.js';

const N = Number(process.argv[2] ?? 32);
const [C, H, W] = [3, 1080, 1920];
const gpu = await Gpu.open();
if (!gpu.hasTimestamps) throw new Error(`${gpu.info.name} has no timestamp queries: nothing to report`);
const host = new Uint8Array(N * C * H * W);
for (let i = 0; i < host.length; i++) host[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
const x = await Tensor.fromArray(host, [N, C, H, W], 'u8').toGpu(gpu);

/** Median GPU milliseconds per image of `record` (which returns what it made), over 9 batches after 2 warm-ups. */
async function gpuMs(record: () => Tensor): Promise<number> {
  const ms = await repeat(2, 9, async () => {
    await gpu.sync();
    const timer = gpu.startTimer();
    const out = record();
    const { gpuMs } = await timer.stop();
    if (out !== x) out.dispose();
    return gpuMs;
  });
  return ms.median / N;
}

const rows: [string, number][] = [];
const identity: IntegerMap = { mx: [0, 1, 0], my: [1, 0, 0] };
const mirrorX: IntegerMap = { mx: [0, -1, W - 1], my: [1, 0, 0] };
const mirrorY: IntegerMap = { mx: [0, 1, 0], my: [-1, 0, H - 1] };
const turn: IntegerMap = { mx: [0, -1, W - 1], my: [-1, 0, H - 1] };
const maps: Record<string, (i: number) => IntegerMap> = {
  identity: () => identity,
  'mirror x': () => mirrorX,
  'mirror y': () => mirrorY,
  'half turn': () => turn,
  'mirror x on every other sample': (i) => (i % 2 ? mirrorX : identity),
};
for (const [name, map] of Object.entries(maps))
  rows.push([
    `tiled integer map, ${name}`,
    await gpuMs(() =>
      runDihedral(
        x,
        [N, C, H, W],
        Array.from({ length: N }, (_, i) => map(i)),
        0,
      ),
    ),
  ]);
for (const axis of ['horizontal', 'vertical'] as const) rows.push([`word-kernel flip, ${axis}, the whole batch`, await gpuMs(() => flip(x, { axis }))]);

const parts = COMPOSITE.transforms ?? [];
const pipelines: Record<string, TransformData> = {
  'the seed composite': COMPOSITE,
  'RandomRotate90 .5 + Flip .5 (one gather)': { name: 'Compose', transforms: parts.slice(0, 2) },
  'RandomRotate90 .5 + Flip .5 + RandomBrightnessContrast .2 (one pass through the gather)': { name: 'Compose', transforms: parts.slice(0, 3) },
  'HorizontalFlip 1': { name: 'HorizontalFlip', p: 1 },
  'VerticalFlip 1': { name: 'VerticalFlip', p: 1 },
  'HorizontalFlip 1 + RandomBrightnessContrast 1': {
    name: 'Compose',
    transforms: [
      { name: 'HorizontalFlip', p: 1 },
      { name: 'RandomBrightnessContrast', p: 1 },
    ],
  },
  'RandomBrightnessContrast 1': { name: 'RandomBrightnessContrast', p: 1 },
  'GaussianBlur [3, 7] .1': parts[3]!,
  'GaussianBlur [3, 7] 1': { ...parts[3]!, p: 1 },
};
let seed = 1;
for (const [name, doc] of Object.entries(pipelines)) {
  const t = fromJSON({ version: 1, transform: doc });
  rows.push([`augment: ${name}`, await gpuMs(() => augment(t, { image: x }, { seed: seed++ }).batch.image)]);
}

// the composite's wall time as the augment bench's resident column takes it, in three parts:
// recording (augment returning), submitting (flush) and waiting for the GPU (sync)
const composite = fromJSON({ version: 1, transform: COMPOSITE });
const wall = { record: [] as number[], submit: [] as number[], wait: [] as number[] };
const gcClock = new GcClock();
const gc0 = await gcClock.ms();
await repeat(2, 15, async () => {
  const t0 = performance.now();
  const out = augment(composite, { image: x }, { seed: seed++ }).batch.image;
  const t1 = performance.now();
  gpu.flush();
  const t2 = performance.now();
  await gpu.sync();
  const t3 = performance.now();
  out.dispose();
  wall.record.push(t1 - t0);
  wall.submit.push(t2 - t1);
  wall.wait.push(t3 - t2);
  return t3 - t0;
});
const gcPerBatch = ((await gcClock.ms()) - gc0) / 17;
gcClock.stop();
const median = (all: number[]) => [...all.slice(2)].sort((a, b) => a - b)[Math.floor((all.length - 2) / 2)]!;

const tiny = Tensor.empty(gpu, [1, 1, 1, 4], 'u8');
const sync = await repeat(0, 30, async () => {
  const y = flip(tiny, { axis: 'horizontal' });
  const t0 = performance.now();
  await gpu.sync();
  y.dispose();
  return performance.now() - t0;
});

const meta = metadata(gpu.info.name);
console.log(`# bench/augment/parts — ${meta.date}, ${meta.device}, commit ${meta.commit}\n`);
console.log(`${N} × ${C}×${H}×${W} u8 per batch; GPU milliseconds per image (timestamp queries, median of 9 batches).\n`);
console.log('| what | GPU ms/img | GB/s (in + out) |\n|---|---|---|');
for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(4)} | ${((2 * C * H * W) / ms / 1e6).toFixed(0)} |`);
console.log(`\nA sync after one tiny dispatch: ${sync.median.toFixed(3)} ms (median of 30).`);
console.log(
  `The composite's wall time per batch (as augment.bench's resident column, last 15 of 17 batches; medians): recording ${median(wall.record).toFixed(3)} ms, submitting ${median(wall.submit).toFixed(3)} ms, waiting for the GPU ${median(wall.wait).toFixed(3)} ms; V8 garbage collection ${gcPerBatch.toFixed(3)} ms a batch (mean of 17).`,
);
gpu.destroy();
