/**
 * The seed's database workflow at 1080p, end to end: N distinct 1920×1080 RGB camera frames (JPEG,
 * four per panorama: `{sid}_xm.jpg`, `_xp`, `_zm`, `_zp`) and a SQLite task table
 * `panoramas(id, sid, xm_score, xp_score, zm_score, zp_score)` of N/4 rows, inspected the way a user
 * runs it — `kensa inspect --tasks … --query … --path … --fan-out position=xm,xp,zm,zp --write-back …`
 * as a child process — by each contender: the classic recipe at full size, at input.scale ½ and
 * ¼ (JPEG shrink-on-load), a small kensa UNet (8-16-32-64, drawn weights: speed only) at ½ and ¼,
 * and a tiny ONNX classifier (src/models/tiny.ts) at ¼ (skipped, with the reason, where ONNX
 * Runtime cannot load). On the GPU backend the JPEGs decode on the GPU at every scale (the same
 * pixels as sharp's, docs/jpeg.md); the `-sharp` contenders decode them with sharp
 * (`--jpeg-decode cpu`) to show the difference. Reports, never fails.
 *
 * Per contender: images/s end to end (the run's own clock, `inspect --json`: from opening the
 * store, device and model until the store and the write-back hold every item), the steady rate
 * (its progress lines, first item to last), the decode-only rate of the same files at the same
 * scale with as many concurrent decodes as the run (bench/_kit/decode.ts), and a check that every
 * row got its four scores, each written exactly once (non-null counts, and an UPDATE trigger
 * counting the writes). Next to the batch-recognition seed's 3,200 images/s (16 cores, 8 GPUs).
 * One JSON line on stdout; with --out, a Markdown table rewritten after every contender.
 *
 * Usage: node --import tsx bench/pipeline/tasks-1080p.bench.ts [--items 2000] [--device gpu|cpu] [--out FILE.md]
 *        node dist/bench/pipeline/tasks-1080p.bench.js …   (the GPU machine's build)
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import type { DecodeScale } from '../../src/pipeline/decode.js';
import { tinyClassifier } from '../../src/models/tiny.js';
import { writeDrawnUNet } from '../_kit/unet.js';
import { mulberry32 } from '../../src/rng.js';
import { decodeRate, pooled } from '../_kit/decode.js';
import { metadata } from '../_kit/stats.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '2000' },
    device: { type: 'string', default: 'gpu' },
    out: { type: 'string' },
  },
});
const ROWS = Math.max(1, Math.ceil(Number(args.items) / 4));
const ITEMS = 4 * ROWS;
const DEVICE = args.device === 'cpu' ? 'cpu' : 'gpu';
const [WIDTH, HEIGHT] = [1920, 1080];
const POSITIONS = ['xm', 'xp', 'zm', 'zp'] as const;
const SEED = { imagesPerSecond: 3200, cores: 16, gpus: 8 };
const THREADS = os.availableParallelism();
// as `kensa` sets it (src/cli/main.ts), before any decode: sharp decodes on libuv's pool; the child inherits it
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, THREADS));
// the CLI beside this file: src/cli/main.ts under tsx (whose --import the child inherits), dist/src/cli/main.js when built
const MAIN = fileURLToPath(new URL(`../../src/cli/main${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
const dir = mkdtempSync(join(os.tmpdir(), 'kensa-tasks-1080p-'));
const t00 = performance.now();
/** Marks on stderr, so a run cut off by a time limit shows how far it got. */
const phase = (s: string) => console.error(`[${((performance.now() - t00) / 1000).toFixed(1)} s] ${s}`);

/**
 * N distinct frames cut from one textured RGB field at distinct offsets, every 8th with a dark
 * spot (a defect for the classic recipe); JPEG quality 90, written `THREADS` at a time.
 */
async function writeFrames(): Promise<number> {
  const [fw, fh] = [WIDTH + 320, HEIGHT + 240];
  const field = new Uint8Array(fw * fh * 3);
  const next = mulberry32(7);
  for (let y = 0; y < fh; y++)
    for (let x = 0; x < fw; x++) {
      const shade = 90 + 50 * Math.sin(x / 97) * Math.cos(y / 61) + 30 * (y / fh);
      for (let c = 0; c < 3; c++) field[(y * fw + x) * 3 + c] = Math.max(0, Math.min(255, shade + 12 * c + (next() - 0.5) * 16));
    }
  const spot = await sharp(Buffer.from('<svg width="24" height="16"><ellipse cx="12" cy="8" rx="11" ry="7" fill="#181818"/></svg>')).png().toBuffer();
  let bytes = 0;
  await pooled(ITEMS, THREADS, async (i) => {
    const row = Math.floor(i / 4);
    let img = sharp(field, { raw: { width: fw, height: fh, channels: 3 } }).extract({
      left: i % 320,
      top: Math.floor(i / 320) % 240,
      width: WIDTH,
      height: HEIGHT,
    });
    if (i % 8 === 3) img = img.composite([{ input: spot, left: 200 + ((i * 37) % 1500), top: 100 + ((i * 53) % 850) }]);
    const info = await img.jpeg({ quality: 90 }).toFile(join(dir, `p${row}_${POSITIONS[i % 4]}.jpg`));
    bytes += info.size;
  });
  return bytes / ITEMS;
}

/** The task table, scores empty, and a count of the score writes (a trigger per UPDATE of a row). */
function writeTaskTable(path: string): void {
  const db = new Database(path);
  db.exec(`CREATE TABLE panoramas (id INTEGER PRIMARY KEY, sid TEXT NOT NULL, ${POSITIONS.map((p) => `${p}_score REAL`).join(', ')});
    CREATE TABLE score_writes (n INTEGER NOT NULL); INSERT INTO score_writes VALUES (0);
    CREATE TRIGGER count_writes AFTER UPDATE ON panoramas BEGIN UPDATE score_writes SET n = n + 1; END;`);
  const insert = db.prepare('INSERT INTO panoramas (id, sid) VALUES (?, ?)');
  db.transaction(() => {
    for (let id = 0; id < ROWS; id++) insert.run(id, `p${id}`);
  })();
  db.close();
}

interface Scores {
  /** Rows with all four scores set. */
  complete: number;
  /** Non-null scores per position. */
  perPosition: Record<string, number>;
  /** UPDATEs of a row (the trigger's count): ITEMS when each score was written once. */
  writes: number;
}

function readScores(path: string): Scores {
  const db = new Database(path, { readonly: true });
  const counts = db.prepare(`SELECT ${POSITIONS.map((p) => `count(${p}_score) AS ${p}`).join(', ')} FROM panoramas`).get() as Record<string, number>;
  const { complete } = db.prepare(`SELECT count(*) AS complete FROM panoramas WHERE ${POSITIONS.map((p) => `${p}_score IS NOT NULL`).join(' AND ')}`).get() as {
    complete: number;
  };
  const { n } = db.prepare('SELECT n FROM score_writes').get() as { n: number };
  db.close();
  return { complete, perPosition: counts, writes: n };
}

interface Contender {
  name: string;
  /** What judges the frames, for the table. */
  detector: string;
  scale: DecodeScale;
  /** The recipe file's content, or null for the default recipe. */
  recipe: object | null;
  /** More `kensa inspect` flags. */
  flags?: string[];
  /** Why it cannot run here, when it cannot. */
  skip?: string;
}

/** Whether onnxruntime-node loads here (the GPU machine's pack may leave it out): null, or why not. */
async function onnxMissing(): Promise<string | null> {
  try {
    await import('onnxruntime-node');
    return null;
  } catch (e) {
    return `onnxruntime-node does not load: ${(e as Error).message.split('\n')[0]}`;
  }
}

interface RunOutcome {
  summary: { counts: { total: number; ok: number; ng: number; error: number }; processed: number; elapsedMs: number; imagesPerSecond: number; device: string };
  /** Images/s between the first progress line with an item done and the last. */
  steady: number | null;
  processWallMs: number;
}

/** `kensa inspect --tasks …` in a child process: its JSON summary and progress lines. */
function inspectTasks(tasks: string, store: string, recipe: string | null, flags: readonly string[]): Promise<RunOutcome> {
  const argv = [
    ...process.execArgv,
    MAIN,
    'inspect',
    '--tasks',
    `sqlite://${tasks}`,
    '--query',
    'SELECT id, sid FROM panoramas',
    '--path',
    join(dir, '{sid}_{position}.jpg'),
    '--fan-out',
    `position=${POSITIONS.join(',')}`,
    '--write-back',
    'UPDATE panoramas SET {position}_score = :score WHERE id = :id',
    '--db',
    store,
    '--device',
    DEVICE,
    ...(recipe ? ['--recipe', recipe] : []),
    ...flags,
    '--progress',
    'json',
    '--json',
  ];
  const t = performance.now();
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const processWallMs = performance.now() - t;
      if (code !== 0) return reject(new Error(`exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      const progress = err
        .split('\n')
        .filter((l) => l.startsWith('{"type":"progress"'))
        .map((l) => JSON.parse(l) as { done: number; elapsedMs: number });
      const first = progress.find((p) => p.done > 0);
      const last = progress.at(-1);
      const steady = first && last && last.done > first.done ? (last.done - first.done) / ((last.elapsedMs - first.elapsedMs) / 1000) : null;
      resolve({ summary: JSON.parse(out.trim().split('\n').at(-1)!) as RunOutcome['summary'], steady, processWallMs });
    });
  });
}

phase(`writing ${ITEMS} frames of ${WIDTH}×${HEIGHT} and a task table of ${ROWS} rows in ${dir}`);
const frameBytes = await writeFrames();
const template = join(dir, 'tasks-template.db');
writeTaskTable(template);
const unetPath = join(dir, 'unet-8-64.safetensors');
await writeDrawnUNet(unetPath, [8, 16, 32, 64]);
const onnxPath = join(dir, 'classifier.onnx');
writeFileSync(onnxPath, tinyClassifier({ classes: 2, width: 8, seed: 1 }));
const noOnnx = await onnxMissing();
const unet = (scale: DecodeScale) => ({ kind: 'model', name: `unet-8-64-x${scale}`, input: { scale }, model: { path: unetPath, task: 'segmentation' } });
const contenders: Contender[] = [
  { name: 'classic', detector: 'classic recipe (default)', scale: 1, recipe: null },
  { name: 'classic-sharp', detector: 'classic recipe (default), JPEGs decoded by sharp', scale: 1, recipe: null, flags: ['--jpeg-decode', 'cpu'] },
  { name: 'classic-x0.5', detector: 'classic recipe (default)', scale: 0.5, recipe: { kind: 'classic', name: 'classic-x0.5', input: { scale: 0.5 } } },
  { name: 'classic-x0.25', detector: 'classic recipe (default)', scale: 0.25, recipe: { kind: 'classic', name: 'classic-x0.25', input: { scale: 0.25 } } },
  { name: 'unet-x0.5', detector: 'kensa UNet 8-16-32-64 (f32, whole frames)', scale: 0.5, recipe: unet(0.5) },
  { name: 'unet-x0.25', detector: 'kensa UNet 8-16-32-64 (f32, whole frames)', scale: 0.25, recipe: unet(0.25) },
  {
    name: 'unet-x0.25-sharp',
    detector: 'kensa UNet 8-16-32-64 (f32, whole frames), JPEGs decoded by sharp',
    scale: 0.25,
    recipe: unet(0.25),
    flags: ['--jpeg-decode', 'cpu'],
  },
  {
    name: 'onnx-classifier-x0.25',
    detector: 'ONNX tiny classifier (conv 8, 2 classes)',
    scale: 0.25,
    recipe: { kind: 'model', name: 'onnx-classifier-x0.25', input: { scale: 0.25 }, model: { path: onnxPath, task: 'classification' } },
    ...(noOnnx ? { skip: noOnnx } : {}),
  },
];

const paths = Array.from({ length: ITEMS }, (_, i) => join(dir, `p${Math.floor(i / 4)}_${POSITIONS[i % 4]}.jpg`));
const decodeRates = new Map<DecodeScale, number>();
const meta = metadata(DEVICE);
const results: Record<string, unknown>[] = [];
let deviceName = DEVICE as string;

/** A rate for the table: whole above 100, three digits below (a CPU smoke run's 0.0123). */
const rate = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toPrecision(3));
function markdown(): string {
  const lines = [
    `# 1080p from a SQL task table, end to end — ${String(meta.date).slice(0, 10)}`,
    '',
    `Device ${deviceName}; ${meta.cpus} cores (${meta.host}); Node ${meta.node}; commit ${meta.commit}.`,
    `${ITEMS} distinct ${WIDTH}×${HEIGHT} RGB JPEGs (quality 90, ${(frameBytes / 1024).toFixed(0)} KiB each on average; every 8th with a spot), ${ROWS} panoramas × 4 positions;`,
    '`kensa inspect --tasks sqlite://… --fan-out position=xm,xp,zm,zp --write-back "UPDATE panoramas SET {position}_score = :score WHERE id = :id"` as a child process, SQLite store.',
    `End to end: the run's own clock (store, device and model opened, warm-up, until the store and the write-back hold every item); steady: its progress lines, first item to last; decode-only: the same files at the same scale, ${THREADS} concurrent decodes (gray, as the run).`,
    '',
    '| contender | detector | input.scale (decoded size) | end to end img/s | steady img/s | decode-only img/s | end to end ÷ decode | all stored, scores written once | device |',
    '|---|---|---|---|---|---|---|---|---|',
    `| batch-recognition seed (reference) | its models | — | ${SEED.imagesPerSecond.toLocaleString('en-US')} | — | — | — | — | ${SEED.cores} cores, ${SEED.gpus} GPUs |`,
  ];
  for (const r of results) {
    const size = `${r.scale} (${Math.ceil(WIDTH * (r.scale as number))}×${Math.ceil(HEIGHT * (r.scale as number))})`;
    if (r.skipped || r.failed) {
      lines.push(
        `| ${r.name} | ${r.detector} | ${size} | ${r.skipped ? 'skipped' : 'failed'}: ${r.skipped ?? r.failed} | | ${rate(r.decodeOnly as number)} | | | |`,
      );
      continue;
    }
    const e2e = r.endToEnd as number;
    const decode = r.decodeOnly as number;
    const ok = r.stored && r.scoresWrittenOnce ? 'yes' : `NO (store ${JSON.stringify(r.counts)}, task table ${JSON.stringify(r.scores)})`;
    lines.push(
      `| ${r.name} | ${r.detector} | ${size} | ${rate(e2e)} | ${rate(r.steady as number | null)} | ${rate(decode)} | ${((e2e / decode) * 100).toFixed(0)} % | ${ok} | ${r.device} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

for (const c of contenders) {
  if (!decodeRates.has(c.scale)) {
    phase(`decode-only at scale ${c.scale}`);
    decodeRates.set(c.scale, await decodeRate(paths, c.scale, THREADS));
  }
  const row: Record<string, unknown> = { name: c.name, detector: c.detector, scale: c.scale, decodeOnly: decodeRates.get(c.scale) };
  if (c.skip) {
    phase(`${c.name}: skipped (${c.skip})`);
    results.push({ ...row, skipped: c.skip });
    continue;
  }
  const tasks = join(dir, `tasks-${c.name}.db`);
  copyFileSync(template, tasks);
  const recipePath = c.recipe ? join(dir, `${c.name}.recipe.json`) : null;
  if (recipePath) writeFileSync(recipePath, JSON.stringify(c.recipe));
  phase(`${c.name}: kensa inspect --tasks (${ITEMS} items, decode-only ${rate(decodeRates.get(c.scale))} img/s)`);
  try {
    const { summary, steady, processWallMs } = await inspectTasks(tasks, join(dir, `store-${c.name}.db`), recipePath, c.flags ?? []);
    const scores = readScores(tasks);
    const once = scores.complete === ROWS && POSITIONS.every((p) => scores.perPosition[p] === ROWS) && scores.writes === ITEMS;
    deviceName = summary.device.split(' · ')[0]!;
    results.push({
      ...row,
      endToEnd: summary.imagesPerSecond,
      steady,
      elapsedMs: summary.elapsedMs,
      processWallMs: Math.round(processWallMs),
      counts: summary.counts,
      stored: summary.counts.total === ITEMS,
      scores,
      scoresWrittenOnce: once,
      device: summary.device,
    });
    phase(`${c.name}: ${rate(summary.imagesPerSecond)} img/s end to end, ${rate(steady)} steady; scores written once: ${once}`);
  } catch (e) {
    results.push({ ...row, failed: (e as Error).message });
    phase(`${c.name}: failed: ${(e as Error).message}`);
  }
  if (args.out) writeFileSync(args.out, markdown());
}

console.log(
  JSON.stringify({
    bench: 'tasks-1080p',
    meta: { ...meta, device: deviceName },
    items: ITEMS,
    rows: ROWS,
    frame: { width: WIDTH, height: HEIGHT, channels: 3, format: 'jpeg q90', meanBytes: Math.round(frameBytes) },
    decodeConcurrency: THREADS,
    reference: { name: 'batch-recognition seed', ...SEED },
    contenders: results,
  }),
);
if (args.out) writeFileSync(args.out, markdown());
rmSync(dir, { recursive: true, force: true });
