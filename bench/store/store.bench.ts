/**
 * Store write throughput: defect rows written per second through `Store.writeResults` (one
 * transaction per batch of items, each with its defects), per dialect. SQLite runs in this
 * process on one core (goal ≥ 50k defect rows/s); PostgreSQL and MySQL/MariaDB are local servers,
 * shown for reference (their server processes are not limited to one core).
 *
 * Methodology (bench/_kit): warm-up batches, then `repeats` timed rounds of `batches` batches with
 * fresh item keys; median and IQR of the per-round rate. A second figure times re-writing the same
 * batches (what a resume after a crash does: upsert + replace defects).
 *
 * Usage: node --import tsx bench/store/store.bench.ts [--items 64] [--defects 16] [--batches 50]
 *        [--repeats 5] [--out bench/results/store-DATE.md]      (KENSA_DIALECTS=sqlite filters)
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { metadata, summarize, type Summary } from '../_kit/stats.js';
import { DIALECTS, scratchDatabase } from '../../test/store/_dialects.js';
import { openStore } from '../../src/store/store.js';
import type { ItemResult } from '../../src/store/schema.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '64' },
    defects: { type: 'string', default: '16' },
    batches: { type: 'string', default: '50' },
    repeats: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});
const ITEMS = Number(args.items);
const DEFECTS = Number(args.defects);
const BATCHES = Number(args.batches);
const REPEATS = Number(args.repeats);
const CLASSES = ['crack', 'scratch', 'spot'] as const;

function batch(round: number, b: number): ItemResult[] {
  return Array.from({ length: ITEMS }, (_, i) => ({
    itemKey: `round-${round}/batch-${b}/img-${String(i).padStart(4, '0')}.png`,
    path: `/data/line-3/round-${round}/batch-${b}/img-${String(i).padStart(4, '0')}.png`,
    contentHash: ((round + 2) * 1e6 + b * 1e3 + i).toString(16).padStart(64, '0'),
    sizeBytes: 4_194_304 + i,
    width: 2048,
    height: 2048,
    status: DEFECTS > 0 ? 'ng' : 'ok',
    verdict: DEFECTS > 0 ? 'NG' : 'OK',
    score: 0.25 + i / 1000,
    stageTimings: { decode: 12.5, gpu: 3.25, cpu: 1.5 },
    defects: Array.from({ length: DEFECTS }, (_, j) => ({
      x: (j * 97) % 2000,
      y: (j * 31) % 2000,
      w: 8 + (j % 40),
      h: 3 + (j % 7),
      area: 20 + j,
      score: 0.5 + j / 100,
      meanGradient: 40.5 + j,
      class: CLASSES[j % 3]!,
    })),
  }));
}

interface Row {
  dialect: string;
  fresh: Summary;
  freshCpu: Summary;
  rewrite: Summary;
  itemsPerS: number;
  note: string;
}

const rows: Row[] = [];
for (const dialect of DIALECTS) {
  const scratch = await scratchDatabase(dialect);
  if (typeof scratch === 'string') {
    console.error(`skip ${dialect}: ${scratch}`);
    continue;
  }
  const store = await openStore(scratch.url);
  try {
    const run = await store.createRun({ recipeName: 'bench', recipe: { bench: true }, device: 'none' });
    for (let b = 0; b < 3; b++) await store.writeResults(run.id, batch(-1, b));
    const fresh: number[] = [];
    const freshCpu: number[] = [];
    const rewrite: number[] = [];
    const nRows = BATCHES * ITEMS * DEFECTS;
    for (let r = 0; r < REPEATS; r++) {
      const batches = Array.from({ length: BATCHES }, (_, b) => batch(r, b));
      let t0 = performance.now();
      const c0 = process.cpuUsage();
      for (const x of batches) await store.writeResults(run.id, x);
      const cpu = process.cpuUsage(c0);
      fresh.push(nRows / ((performance.now() - t0) / 1000));
      freshCpu.push(nRows / ((cpu.user + cpu.system) / 1e6));
      t0 = performance.now();
      for (const x of batches) await store.writeResults(run.id, x);
      rewrite.push(nRows / ((performance.now() - t0) / 1000));
    }
    const counts = await store.counts(run.id);
    const expected = (REPEATS + 1) * BATCHES * ITEMS + 3 * ITEMS - BATCHES * ITEMS;
    if (counts.total !== expected) throw new Error(`bench wrote ${counts.total} items, expected ${expected}`);
    const f = summarize(fresh);
    rows.push({
      dialect,
      fresh: f,
      freshCpu: summarize(freshCpu),
      rewrite: summarize(rewrite),
      itemsPerS: (f.median / Math.max(1, DEFECTS)) * (DEFECTS > 0 ? 1 : 0),
      note: dialect === 'sqlite' ? 'in process, one core' : 'local server',
    });
  } finally {
    await store.close();
    await scratch.drop();
  }
}

const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
const meta = metadata('cpu');
const lines = [
  `# Store write throughput — ${meta.date}`,
  '',
  `Machine: ${meta.host} (${meta.cpus} cores), Node ${meta.node}, commit ${meta.commit}.`,
  `Batches of ${ITEMS} items × ${DEFECTS} defects (${ITEMS * DEFECTS} defect rows per transaction), ${BATCHES} batches per round, ${REPEATS} rounds; median [IQR] of per-round rates.`,
  '',
  '| dialect | defect rows/s (new items, wall) | per CPU-second of this process | defect rows/s (rewrite, as a resume; wall) | items/s (wall) | where |',
  '|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.dialect} | ${k(r.fresh.median)} [${k(r.fresh.q1)}–${k(r.fresh.q3)}] | ${r.dialect === 'sqlite' ? `${k(r.freshCpu.median)} [${k(r.freshCpu.q1)}–${k(r.freshCpu.q3)}]` : '(server does the work)'} | ${k(r.rewrite.median)} [${k(r.rewrite.q1)}–${k(r.rewrite.q3)}] | ${k(r.itemsPerS)} | ${r.note} |`,
  ),
  '',
  `Load average while running: ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(', ')} (on a shared machine the wall rate understates; SQLite runs in this process, so rows per CPU-second of the process is its one-core rate).`,
  'Goal: ≥ 50k defect rows/s on one core for SQLite.',
  '',
];
console.log(lines.join('\n'));
if (args.out !== undefined) writeFileSync(args.out, lines.join('\n'));
