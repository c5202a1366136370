/**
 * bench/pipeline: `kensa inspect` end to end on synthetic 2048×2048 surfaces (JPEG and PNG), next
 * to (a) the decode-only rate of the same files with the same threads, (b) the GPU stage alone on
 * pre-decoded batches in host memory (upload included), (c) the Python reference pipeline
 * (bench/pipeline/reference.py: OpenCV decode threads, CuPy, SQLite) on the same files, in the same
 * run; and the resident memory over a long run (many symlinks to the same files).
 * Usage: node dist/bench/pipeline/inspect.bench.js OUT_DIR [count=256] [side=2048] [longRun=20000] [runCount=2000]
 * (count distinct samples per format; each contender reads runCount files cycling through them)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { extname, join } from 'node:path';
import { openBackend } from '../../src/backend.js';
import { detectClassic } from '../../src/detect/classic.js';
import { decodeFile, DEFAULT_MAX_PIXELS } from '../../src/pipeline/decode.js';
import { DEFAULT_RECIPE, type ClassicRecipe } from '../../src/detect/recipe.js';
import { runInspection } from '../../src/pipeline/run.js';
import { writeSamples } from '../../src/samples/index.js';
import { Tensor } from '../../src/tensor.js';
import { decodeRate } from '../_kit/decode.js';
import { metadata } from '../_kit/stats.js';

const outDir = process.argv[2] ?? 'bench-out';
const count = Number(process.argv[3] ?? 256);
const side = Number(process.argv[4] ?? 2048);
const longRun = Number(process.argv[5] ?? 20000);
const runCount = Number(process.argv[6] ?? 2000);
const work = join(os.tmpdir(), 'kensa-bench-pipeline');
const threads = os.availableParallelism();
mkdirSync(outDir, { recursive: true });
rmSync(work, { recursive: true, force: true });

const lines: string[] = [];
const t00 = performance.now();
/** Phase marks on stderr, so a run cut off by a time limit still shows how far it got. */
const phase = (s: string) => console.error(`[${((performance.now() - t00) / 1000).toFixed(1)} s] ${s}`);
const log = (s: string) => {
  console.log(s);
  lines.push(s);
};

/** `n` symlinks in `to`, cycling through the files of `from`. */
function symlinkCycle(from: string, to: string, n: number): void {
  const files = readdirSync(from).sort();
  mkdirSync(to);
  for (let i = 0; i < n; i++) symlinkSync(join(from, files[i % files.length]!), join(to, `f${String(i).padStart(6, '0')}${extname(files[i % files.length]!)}`));
}

const backend = await openBackend({ device: 'gpu' });
const recipe = DEFAULT_RECIPE.recipe as ClassicRecipe;

/** The first 16 frames of a folder as one u8 batch in host memory. */
async function hostBatch(dir: string): Promise<Tensor> {
  const names = readdirSync(dir).slice(0, 16);
  const host = new Uint8Array(16 * side * side);
  for (let i = 0; i < names.length; i++)
    host.set((await decodeFile(join(dir, names[i]!), { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS })).data as Uint8Array, i * side * side);
  return Tensor.fromArray(host, [16, 1, side, side], 'u8');
}

async function detectBatch(dir: string): Promise<void> {
  const x = await backend.toDevice(await hostBatch(dir));
  await detectClassic(x, recipe, false);
  x.dispose();
}
const meta = metadata(backend.name);
log(`# bench/pipeline — ${String(meta.date).slice(0, 10)}, ${backend.name}, ${threads} CPU threads, commit ${meta.commit}`);
log('');
const rows: Record<string, unknown>[] = [];
const extra: Record<string, unknown> = {};
/** Writes what has been measured so far: a run cut off by its time limit keeps its finished phases. */
function save(): void {
  writeFileSync(join(outDir, 'pipeline.json'), JSON.stringify({ meta, rows, ...extra }, null, 2));
}
for (const format of ['jpg', 'png'] as const) {
  const dir = join(work, format);
  phase(`${format}: generating ${count} samples`);
  const g0 = performance.now();
  await writeSamples({ out: dir, count, width: side, height: side, format, seed: 7, force: true });
  const genS = (performance.now() - g0) / 1000;
  const samples = join(dir, 'images');
  // shader compilation outside the timed runs (the Python reference warms up likewise)
  await detectBatch(samples);
  // every contender reads the same `runCount` files (symlinks cycling through the samples): long
  // enough that start-up (store, worker threads) is a small share of a run
  const images = join(dir, 'run');
  symlinkCycle(samples, images, runCount);
  phase(`${format}: decode only`);
  const decodeOnly = await decodeRate(
    readdirSync(images).map((f) => join(images, f)),
    1,
    threads,
  );
  phase(`${format}: end to end (${decodeOnly.toFixed(0)} img/s decode-only)`);
  const e2e = await runInspection([images], { db: join(work, `${format}.db`), backend, decodeConcurrency: threads });
  phase(`${format}: Python reference (kensa ${e2e.imagesPerSecond.toFixed(1)} img/s)`);
  const ref = spawnSync('python3', ['bench/pipeline/reference.py', images, join(work, `${format}-ref.db`), String(threads), '16'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const refRate = ref.status === 0 ? (JSON.parse(ref.stdout.trim().split('\n').pop()!) as { images_per_second: number }).images_per_second : NaN;
  if (ref.status !== 0) console.error(ref.stderr.slice(-2000));
  rows.push({
    format,
    count,
    images: runCount,
    generate_s: genS,
    decode_only: decodeOnly,
    end_to_end: e2e.imagesPerSecond,
    python_reference: refRate,
    ng: e2e.run.counts.ng,
    errors: e2e.run.counts.error,
  });
  save();
}

phase('GPU stage alone');
// (b) the GPU stage alone, as the pipeline runs it: 16 decoded frames in host memory uploaded
// frame by frame into one batch and inspected, two batches in flight
const batch = await hostBatch(join(work, 'png', 'images'));
const frameList = Array.from({ length: 16 }, (_, i) => (batch.data as Uint8Array).subarray(i * side * side, (i + 1) * side * side));
const stage = async () => {
  const x = await backend.framesToDevice(frameList, [16, 1, side, side], 'u8');
  await detectClassic(x, recipe, false);
  x.dispose();
};
for (let i = 0; i < 3; i++) await stage();
const reps = 40;
const t0 = performance.now();
await Promise.all(
  [0, 1].map(async () => {
    for (let i = 0; i < reps / 2; i++) await stage();
  }),
);
const gpuStage = (reps * 16) / ((performance.now() - t0) / 1000);
let gpuMs = NaN;
if (backend.gpu?.hasTimestamps) {
  const x = await backend.toDevice(batch);
  const timer = backend.gpu.startTimer();
  await detectClassic(x, recipe, false);
  gpuMs = (await timer.stop()).gpuMs;
  x.dispose();
}

extra.gpuStage = gpuStage;
extra.gpuMs = gpuMs;
save();
phase(`long run of ${longRun} (GPU stage ${gpuStage.toFixed(0)} img/s)`);
// resident memory over a long run: `longRun` symlinks to the PNG set
const many = join(work, 'many');
symlinkCycle(join(work, 'png', 'images'), many, longRun);
const rss: number[] = [];
const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 1000);
const long = await runInspection([many], { db: join(work, 'long.db'), backend, decodeConcurrency: threads });
clearInterval(sampler);
rss.push(process.memoryUsage().rss);
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
const q = (p: number) => rss[Math.min(rss.length - 1, Math.floor(p * (rss.length - 1)))] ?? 0;

log(
  `Synthetic ${side}×${side} gray surfaces (kensa samples, seed 7), ${count} per format, each contender reading ${runCount} files cycling through them; default recipe; SQLite store.`,
);
log('Goals (issue 4): end-to-end ≥ 90 % of decode-only; GPU stage ≥ 2000 img/s; ≥ 3× the Python reference.');
log('');
log('| input | decode-only img/s | kensa end-to-end img/s | % of decode | Python reference img/s | kensa ÷ Python |');
log('|---|---|---|---|---|---|');
for (const r of rows) {
  const e = r.end_to_end as number;
  const d = r.decode_only as number;
  const p = r.python_reference as number;
  log(`| ${r.format} | ${d.toFixed(1)} | ${e.toFixed(1)} | ${((e / d) * 100).toFixed(0)}% | ${p.toFixed(1)} | ${(e / p).toFixed(2)}× |`);
}
log('');
log(
  `GPU stage alone (16×${side}² u8 frames from host memory, upload included, two batches in flight): ${gpuStage.toFixed(0)} img/s; one batch's GPU time ${gpuMs.toFixed(2)} ms (timestamp queries).`,
);
log(
  `Long run: ${longRun} images at ${long.imagesPerSecond.toFixed(1)} img/s; RSS at 10 % / 50 % / 100 % of the run: ${mb(q(0.1))} / ${mb(q(0.5))} / ${mb(q(1))} MiB, peak ${mb(Math.max(...rss))} MiB.`,
);
writeFileSync(join(outDir, 'pipeline.md'), `${lines.join('\n')}\n`);
extra.long = { images: longRun, imagesPerSecond: long.imagesPerSecond, rssBytes: rss };
save();
backend.close();
