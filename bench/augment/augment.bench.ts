/**
 * bench/augment: kensa augmentation on N×3×H×W u8 batches (default 32 × 1920×1080 RGB), per-sample
 * parameters, against torchvision.transforms.v2 and Kornia on the same GPU (bench/augment/torchvision_ref.py,
 * kornia_ref.py, same run). For every registered transform (p = 1) and for the seed's composite
 * (RandomRotate90 p .5, Flip p .5, RandomBrightnessContrast p .2, GaussianBlur blurLimit [3, 7] p .1):
 *  - GPU resident: the batch on the GPU, augment + sync (the host's parameter draws included), as
 *    in a training loop; beside it, of the same kind of run, the host's share (augment returning:
 *    draws, recording) and the GPU's (timestamp queries); and streamed: 8 batches queued, one sync
 *    (per batch: the host records the next batch while the GPU runs the last, as a loader does);
 *    and the resident run's mean V8 garbage-collection time per batch (a wait no other timer shows);
 *  - GPU with transfers: upload from the host, augment, read back;
 *  - kensa CPU: the CPU backend on the first CPU_N images (per image, so comparable); the composite,
 *    whose cost depends on what each sample drew, on COMPOSITE_CPU_N images.
 * Plus a 6-transform geometric + colour pipeline at 512² with image and mask together.
 * Median of repeats (IQR in the JSON), each repeat a new seed. Writes augment.md and augment.json.
 * Usage: node dist/bench/augment/augment.bench.js OUT_DIR [N H W CPU_N]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { augment, fromJSON, registeredTransforms, type AugmentBatch, type Transform } from '../../src/augment/index.js';
import type { TransformData } from '../../src/augment/serialize.js';
import { Gpu } from '../../src/gpu/gpu.js';
import { Tensor } from '../../src/tensor.js';
import { GcClock } from '../_kit/gc.js';
import { metadata, repeat, summarize, type Summary } from '../_kit/stats.js';
import { COMPOSITE, SIX } from './pipelines.js';

const outDir = process.argv[2] ?? 'bench-out';
const [N, H, W, CPU_N] = (process.argv.length >= 7 ? process.argv.slice(3, 7).map(Number) : [32, 1080, 1920, 1]) as [number, number, number, number];
mkdirSync(outDir, { recursive: true });

/** Arguments for transforms that need some (sizes) or whose defaults would do nothing on this image. */
const ARGS: Record<string, Record<string, unknown>> = {
  RandomCrop: { width: Math.floor((W * 3) / 4), height: Math.floor((H * 3) / 4) },
  CenterCrop: { width: Math.floor((W * 3) / 4), height: Math.floor((H * 3) / 4) },
  RandomResizedCrop: { width: Math.floor(W / 2), height: Math.floor(H / 2) },
  Resize: { width: Math.floor(W / 2), height: Math.floor(H / 2) },
  PadIfNeeded: { minWidth: W + 64, minHeight: H + 64 },
};

/** The pipeline of a document, or why it cannot be built in this tree (a transform not registered yet). */
function build(doc: TransformData): Transform | string {
  try {
    return fromJSON({ version: 1, transform: doc });
  } catch (e) {
    return (e as Error).message;
  }
}

/** A leaf transform at p = 1 (transforms that set the size take no p). */
function leaf(name: string): Transform | string {
  const withP = build({ name, p: 1, ...(ARGS[name] as object) } as TransformData);
  return typeof withP === 'string' ? build({ name, ...(ARGS[name] as object) } as TransformData) : withP;
}

/** A smooth gradient with texture: blurs and colour maps see realistic content, not noise alone. */
function hostImage(n: number, h: number, w: number): Uint8Array {
  const data = new Uint8Array(n * 3 * h * w);
  for (let s = 0; s < n; s++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < h; y++) {
        const o = ((s * 3 + c) * h + y) * w;
        for (let x = 0; x < w; x++) data[o + x] = (((x + 3 * s) * (c + 1)) / 8 + y / 4 + ((Math.imul(o + x, 2654435761) >>> 28) & 15)) & 255;
      }
  return data;
}

const gpu = await Gpu.open();
const gcClock = new GcClock();
const host = hostImage(N, H, W);
const x = await Tensor.fromArray(host, [N, 3, H, W], 'u8').toGpu(gpu);
const COMPOSITE_CPU_N = Math.min(N, 8);
const cpuBatch = (n: number) => Tensor.fromArray(host.slice(0, n * 3 * H * W), [n, 3, H, W], 'u8');
let seed = 1;

/** Disposes what a run made (not the inputs it was given). */
function release(out: AugmentBatch, input: AugmentBatch): void {
  if (out.image !== input.image) out.image.dispose();
  if (out.mask && out.mask !== input.mask) out.mask.dispose();
}

/** Batches a streamed run queues before its one sync (a training loop's queue of prepared batches). */
const STREAM = 8;

/**
 * Wall time of augment + sync; of STREAM augments and one sync, per batch (the host recording the
 * next batch while the GPU runs the last); and of single runs the host's part (augment returning,
 * draws and recording) and the GPU's (timestamp queries).
 */
async function gpuResident(
  t: Transform,
  batch: AugmentBatch,
  reps = 9,
): Promise<{ resident: Summary; gcMs: number; streamed: Summary; host: Summary; gpuMs: Summary | null }> {
  const gc0 = await gcClock.ms();
  // 6 warm-ups: a transform drawn by some samples only compiles a variant per size class of their
  // count (per-sample uniforms), in the first batches of a run
  const resident = await repeat(6, reps, async () => {
    const t0 = performance.now();
    const { batch: out } = augment(t, batch, { seed: seed++ });
    await gpu.sync();
    const ms = performance.now() - t0;
    release(out, batch);
    return ms;
  });
  const gcMs = ((await gcClock.ms()) - gc0) / (6 + reps);
  const streamed = await repeat(1, reps, async () => {
    const t0 = performance.now();
    // each batch submitted once recorded, so the GPU runs it while the host records the next (without
    // the flush nothing runs before the sync, and host and GPU time add up)
    const outs = Array.from({ length: STREAM }, () => {
      const out = augment(t, batch, { seed: seed++ }).batch;
      gpu.flush();
      return out;
    });
    await gpu.sync();
    const ms = (performance.now() - t0) / STREAM;
    for (const out of outs) release(out, batch);
    return ms;
  });
  const gpuTimes: number[] = [];
  const host = await repeat(1, reps, async () => {
    await gpu.sync();
    const timer = gpu.hasTimestamps ? gpu.startTimer() : null;
    const t0 = performance.now();
    const { batch: out } = augment(t, batch, { seed: seed++ });
    const ms = performance.now() - t0;
    if (timer) gpuTimes.push((await timer.stop()).gpuMs);
    release(out, batch);
    return ms;
  });
  return { resident, gcMs, streamed, host, gpuMs: gpuTimes.length > 0 ? summarize(gpuTimes) : null };
}

async function withTransfers(t: Transform, reps = 5): Promise<Summary> {
  return repeat(1, reps, async () => {
    const t0 = performance.now();
    const image = await Tensor.fromArray(host, [N, 3, H, W], 'u8').toGpu(gpu);
    const { batch: out } = augment(t, { image }, { seed: seed++ });
    await out.image.toCpu();
    const ms = performance.now() - t0;
    release(out, { image });
    image.dispose();
    return ms;
  });
}

async function cpu(t: Transform, image: Tensor): Promise<Summary> {
  return repeat(0, 1, async () => {
    const t0 = performance.now();
    augment(t, { image }, { seed: seed++ });
    return performance.now() - t0;
  });
}

/** A Python peer's figures (bench/augment/torchvision_ref.py, kornia_ref.py): one JSON line, or why not. */
interface Peer {
  error?: string;
  versions?: string;
  transforms?: Record<string, number>;
  composite?: { per_sample_ms: number; batch_draw_ms?: number };
  six?: { per_sample_ms: number };
}

function runPeer(script: string): Peer {
  const run = spawnSync('python3', [script, String(N), String(H), String(W)], { encoding: 'utf8', timeout: 600_000 });
  // on failure, the last line of its stderr (a traceback ends with the exception)
  const peer: Peer =
    run.status === 0 ? JSON.parse(run.stdout.trim().split('\n').pop()!) : { error: (run.stderr || String(run.error ?? 'failed')).trim().split('\n').pop()! };
  if (peer.error) console.error(`${script}: ${peer.error}`);
  return peer;
}

const peer = runPeer('bench/augment/torchvision_ref.py');
// Kornia travels as a source tree (PYTHONPATH: kornia_ref.py says how); without it the column says why
const kornia = runPeer('bench/augment/kornia_ref.py');

interface Row {
  name: string;
  resident?: Summary;
  /** Mean V8 GC milliseconds per batch of the resident run (warm-ups included). */
  gcMs?: number;
  /** Per batch of STREAM batches queued before one sync. */
  streamed?: Summary;
  /** Of the resident run: the host's draws and recording, and the GPU's time. */
  host?: Summary;
  gpuMs?: Summary | null;
  transfers?: Summary;
  cpu?: Summary;
  /** Images of the CPU run. */
  cpuN: number;
  torchvision?: number;
  kornia?: number;
  note?: string;
}
const rows: Row[] = [];
const perImage = (s: Summary | undefined, n: number) => (s ? s.median / n : NaN);

async function measure(name: string, t: Transform | string, torchvision: number | undefined, kornia: number | undefined, cpuN: number): Promise<void> {
  if (typeof t === 'string') {
    rows.push({ name, cpuN, note: `not built: ${t.slice(0, 120)}` });
    return;
  }
  const row: Row = {
    name,
    cpuN,
    ...(await gpuResident(t, { image: x })),
    transfers: await withTransfers(t),
    cpu: await cpu(t, cpuBatch(cpuN)),
    ...(torchvision !== undefined ? { torchvision } : {}),
    ...(kornia !== undefined ? { kornia } : {}),
  };
  rows.push(row);
  console.error(
    `${name}: ${perImage(row.resident, N).toFixed(4)} ms/img resident, ${perImage(row.transfers, N).toFixed(3)} with transfers, CPU ${perImage(row.cpu, cpuN).toFixed(1)}`,
  );
}

const COMPOSITE_NAME = 'seed composite (RandomRotate90 .5, Flip .5, RandomBrightnessContrast .2, GaussianBlur [3,7] .1)';
await measure(COMPOSITE_NAME, build(COMPOSITE), peer.composite?.per_sample_ms, kornia.composite?.per_sample_ms, COMPOSITE_CPU_N);
for (const name of registeredTransforms()) await measure(name, leaf(name), peer.transforms?.[name], kornia.transforms?.[name], CPU_N);

// 6 transforms at 512², image and mask together
const [S, SN] = [512, N];
const six = build(SIX);
const sixImage = await Tensor.fromArray(hostImage(SN, S, S), [SN, 3, S, S], 'u8').toGpu(gpu);
const sixMask = await Tensor.fromArray(
  Uint8Array.from({ length: SN * S * S }, (_, i) => ((i % S) >> 6) & 1),
  [SN, 1, S, S],
  'u8',
).toGpu(gpu);
const sixRow: Row = {
  name: `6 transforms at ${S}², image + mask`,
  cpuN: 0,
  ...(peer.six ? { torchvision: peer.six.per_sample_ms } : {}),
  ...(kornia.six ? { kornia: kornia.six.per_sample_ms } : {}),
};
if (typeof six === 'string') sixRow.note = `not built: ${six.slice(0, 120)}`;
else Object.assign(sixRow, await gpuResident(six, { image: sixImage, mask: sixMask }));
rows.push(sixRow);

const meta = metadata(gpu.info.name);
const fmt = (v: number, d = 4) => (Number.isFinite(v) ? v.toFixed(d) : '—');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(1)}×` : '—');
const lines = [
  `# bench/augment — ${String(meta.date).slice(0, 10)}, ${gpu.info.name}, commit ${meta.commit}`,
  '',
  `${N} × ${W}×${H} RGB u8 per batch (per-sample parameters); kensa CPU on ${CPU_N} image(s) (the composite on ${COMPOSITE_CPU_N}); milliseconds per image, median of repeats.`,
  `torchvision: ${peer.versions ?? `not run (${peer.error ?? 'no output'})`}; per-sample draws (each image its own call).` +
    (peer.composite?.batch_draw_ms !== undefined ? ` Composite with one draw for the whole batch: ${fmt(peer.composite.batch_draw_ms)} ms/img.` : ''),
  `Kornia: ${kornia.versions ?? `not run (${kornia.error ?? 'no output'})`}; per-sample draws in one batched call, float32 images in [0, 1] (no u8 path).`,
  '',
  `| transform | kensa GPU resident | of which V8 GC | streamed (${STREAM} batches, one sync) | of which host draws + recording | of which GPU time | GPU + upload/readback | kensa CPU | GPU vs CPU | torchvision v2 GPU | kensa vs torchvision | Kornia GPU | kensa vs Kornia |`,
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const n = r.name.startsWith('6 transforms') ? SN : N;
    const g = perImage(r.resident, n);
    const c = perImage(r.cpu, r.cpuN);
    if (r.note) return `| ${r.name} | ${r.note} | | | | | | | | | | | |`;
    const peerCells = (ms: number | undefined) => (ms === undefined ? '— | —' : `${fmt(ms)} | ${ratio(ms, g)}`);
    return `| ${r.name} | ${fmt(g)} | ${fmt((r.gcMs ?? NaN) / n)} | ${fmt(perImage(r.streamed, n))} | ${fmt(perImage(r.host, n))} | ${fmt(perImage(r.gpuMs ?? undefined, n))} | ${fmt(perImage(r.transfers, N), 3)} | ${fmt(c, 1)} | ${ratio(c, g)} | ${peerCells(r.torchvision)} | ${peerCells(r.kornia)} |`;
  }),
  '',
  'Goals (issue 14): composite ≤ 0.05 ms/img resident, ≥ 10× torchvision v2, ≥ 20× kensa CPU. Losses are listed with the wins.',
];
console.log(lines.join('\n'));
writeFileSync(join(outDir, 'augment.md'), `${lines.join('\n')}\n`);
writeFileSync(join(outDir, 'augment.json'), `${JSON.stringify({ meta, N, H, W, CPU_N, peer, kornia, rows }, null, 1)}\n`);
for (const t of [x, sixImage, sixMask]) t.dispose();
gcClock.stop();
gpu.destroy();
