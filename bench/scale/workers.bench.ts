/**
 * Scale-out throughput: a queued run of N synthetic frames inspected by 1, 2 and 4 `kensa worker`
 * processes (ratios against one worker), and the cost of writing scores back to a SQL task table
 * (a local `--tasks` run with and without `--write-back`). Reports, never fails.
 *
 * Workers are started and ready (their "taking jobs" line) before the run is enqueued, so process
 * start-up is not timed; the clock stops when the store holds every item.
 *
 * Usage: node --import tsx bench/scale/workers.bench.ts [--items 2000] [--size 1080x1920]
 *        [--workers 1,2,4] [--device cpu|gpu] [--queue redis://127.0.0.1:6379] [--db postgres://…]
 *        [--out bench/results/scale-DATE.md]
 * On a multi-GPU host add --adapters (worker i gets --adapter i).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { DEFAULT_RECIPE } from '../../src/detect/recipe.js';
import { enqueueRun, parseQueueUrl, QUEUE_NAME } from '../../src/pipeline/jobs.js';
import { runInspection } from '../../src/pipeline/run.js';
import { openSqlTasks } from '../../src/pipeline/sql-tasks.js';
import { openStore } from '../../src/store/store.js';
import { metadata } from '../_kit/stats.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '2000' },
    size: { type: 'string', default: '1080x1920' },
    workers: { type: 'string', default: '1,2,4' },
    device: { type: 'string', default: 'cpu' },
    queue: { type: 'string', default: 'redis://127.0.0.1:6379/15' },
    db: { type: 'string' },
    adapters: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const ITEMS = Number(args.items);
const [HEIGHT, WIDTH] = args.size.split('x').map(Number) as [number, number];
const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'kensa-scale-bench-'));

/** Eight distinct frames (gray, a few with a bright spot); items cycle through them. */
async function frames(): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < 8; i++) {
    const img = new Uint8Array(WIDTH * HEIGHT).fill(100 + i);
    if (i % 2 === 1) for (let y = 100; y < 120; y++) for (let x = 200; x < 220; x++) img[y * WIDTH + x] = 250;
    const p = join(dir, `frame${i}.jpg`);
    await sharp(img, { raw: { width: WIDTH, height: HEIGHT, channels: 1 } })
      .jpeg()
      .toFile(p);
    paths.push(p);
  }
  return paths;
}

async function startWorkers(n: number, db: string): Promise<ChildProcess[]> {
  let ready = 0;
  const children = Array.from({ length: n }, (_, i) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'worker', '--queue', args.queue, '--db', db, '--device', args.device, ...(args.adapters ? ['--adapter', String(i)] : [])],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (b: Buffer) => {
      if (b.toString().includes('taking jobs')) ready++;
    });
    return child;
  });
  while (ready < n) await sleep(100);
  return children;
}

async function queued(workers: number, paths: string[]): Promise<number> {
  const db = args.db ?? join(dir, `queued-${workers}.db`);
  const children = await startWorkers(workers, db);
  const store = await openStore(db);
  try {
    const items = (async function* () {
      for (let i = 0; i < ITEMS; i++) yield { key: `w${workers}/item${i}`, path: paths[i % paths.length]! };
    })();
    const t = performance.now();
    const { run } = await enqueueRun(items, { queue: args.queue, store, recipe: DEFAULT_RECIPE, source: { sources: [] }, total: ITEMS });
    while ((await store.counts(run.id)).total < ITEMS) await sleep(50);
    return ITEMS / ((performance.now() - t) / 1000);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await store.close();
  }
}

/** A local --tasks run over a SQLite task table, with or without the write-back. */
async function tasksRun(paths: string[], writeBack: boolean): Promise<number> {
  const url = join(dir, `tasks-${writeBack}.db`);
  const rows = Math.ceil(ITEMS / 4);
  const setup = await openStore(url);
  await sql.raw('CREATE TABLE panoramas (id INTEGER PRIMARY KEY, sid TEXT, xm_score REAL, xp_score REAL, zm_score REAL, zp_score REAL)').execute(setup.db);
  for (let i = 0; i < rows; i += 500) {
    const values = Array.from({ length: Math.min(500, rows - i) }, (_, k) => `(${i + k}, 'p${i + k}')`).join(', ');
    await sql.raw(`INSERT INTO panoramas (id, sid) VALUES ${values}`).execute(setup.db);
  }
  await setup.close();
  for (let i = 0; i < rows; i++)
    for (const [j, p] of ['xm', 'xp', 'zm', 'zp'].entries()) copyFileSync(paths[(i + j) % paths.length]!, join(dir, `p${i}_${p}.jpg`));
  const tasks = await openSqlTasks({
    url,
    query: 'SELECT id, sid FROM panoramas',
    path: join(dir, '{sid}_{position}.jpg'),
    fanOut: 'position=xm,xp,zm,zp',
    ...(writeBack ? { writeBack: 'UPDATE panoramas SET {position}_score = :score WHERE id = :id' } : {}),
  });
  const backend = await openBackend({ device: args.device === 'gpu' ? 'gpu' : 'cpu' });
  try {
    const s = await runInspection([], { db: join(dir, `store-${writeBack}.db`), backend, tasks, ...(writeBack ? { sink: tasks } : {}) });
    return s.imagesPerSecond;
  } finally {
    backend.close();
    await tasks.close();
  }
}

const paths = await frames();
const lines = [
  `# Scale-out: ${ITEMS} frames of ${WIDTH}×${HEIGHT}, device ${args.device}`,
  '',
  '```',
  JSON.stringify(metadata(args.device), null, 1),
  '```',
  '',
];
lines.push('| workers | images/s | ratio to 1 |', '|---|---|---|');
let one = 0;
for (const n of args.workers.split(',').map(Number)) {
  const rate = await queued(n, paths);
  if (one === 0) one = rate;
  lines.push(`| ${n} | ${rate.toFixed(1)} | ${(rate / one).toFixed(2)} |`);
  console.log(lines.at(-1));
}
const plain = await tasksRun(paths, false);
const written = await tasksRun(paths, true);
lines.push(
  '',
  '| --tasks run | images/s |',
  '|---|---|',
  `| no write-back | ${plain.toFixed(1)} |`,
  `| write-back | ${written.toFixed(1)} (${((1 - written / plain) * 100).toFixed(1)} % less) |`,
);
console.log(lines.slice(-4).join('\n'));
const queue = new Queue(QUEUE_NAME, { connection: parseQueueUrl(args.queue) });
await queue.obliterate({ force: true });
await queue.close();
rmSync(dir, { recursive: true, force: true });
if (args.out) writeFileSync(args.out, `${lines.join('\n')}\n`);
