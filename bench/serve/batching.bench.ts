/**
 * Per-image cost of a formed batch in `kensa serve`: for each batch size B, B concurrent
 * requests of distinct 1080p JPEGs go through `inject()` into a server whose batcher waits until
 * it holds exactly B images (maxBatch B, no time release, one device slot), results stored in a
 * temporary SQLite store; the wall time from the first request to the last answer, over B, is the
 * per-image cost. Each size runs `--repeats` times after one warm-up; median and IQR reported.
 * The answers' own timings split it: decode (per image, concurrent), compute (per batch); the
 * main thread's CPU time per image (dawn.node's polling included) is what bounds a server whose device
 * is fast: on the H100 the event loop, not the GPU, capped the throughput.
 *
 * Usage: node --import tsx bench/serve/batching.bench.ts --device gpu --sizes 1,2,4,8 [--repeats 3]
 *   (add --cpu-prof --cpu-prof-dir DIR to node's flags to profile the batch handler)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { buildServer } from '../../src/serve/app.js';
import { openStore } from '../../src/store/store.js';
import { metadata, summarize } from '../_kit/stats.js';

const { values: args } = parseArgs({
  options: {
    device: { type: 'string', default: 'gpu' },
    sizes: { type: 'string', default: '1,2,4,8' },
    repeats: { type: 'string', default: '3' },
    width: { type: 'string', default: '1920' },
    height: { type: 'string', default: '1080' },
    workers: { type: 'string' },
  },
});
const sizes = args.sizes.split(',').map(Number);
const W = Number(args.width);
const H = Number(args.height);

/** CPU time of this process's main thread alone (Linux: its task's utime + stime), in ms. */
function mainThreadCpuMs(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 1/100 s
}

/** A gray frame with low noise and, for odd i, a bright spot: distinct bytes per image. */
async function jpeg(i: number): Promise<Buffer> {
  const px = new Uint8Array(W * H);
  let s = 12345 + i;
  for (let k = 0; k < px.length; k++) {
    s = (s * 1103515245 + 12345) >>> 0;
    px[k] = 110 + (s >>> 29);
  }
  if (i % 2 === 1) for (let y = 400; y < 420; y++) px.fill(250, y * W + 900, y * W + 920);
  return sharp(px, { raw: { width: W, height: H, channels: 1 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

const backend = await openBackend({ device: args.device as 'gpu' | 'cpu' });
const bodies = await Promise.all(Array.from({ length: Math.max(...sizes) }, (_, i) => jpeg(i)));
const dir = mkdtempSync(join(tmpdir(), 'kensa-batching-'));
const rows: string[] = [];
for (const size of sizes) {
  const store = await openStore(join(dir, `b${size}.db`));
  const app = await buildServer({
    backend,
    store,
    ...(args.workers !== undefined ? { postWorkers: Number(args.workers) } : {}),
    batch: { maxBatch: size, maxQueueDelayUs: 10_000_000, instances: 1 },
  });
  const perImage: number[] = [];
  const decode: number[] = [];
  const compute: number[] = [];
  const busy: number[] = [];
  for (let r = 0; r <= Number(args.repeats); r++) {
    const t = performance.now();
    const cpu0 = mainThreadCpuMs();
    const res = await Promise.all(
      bodies
        .slice(0, size)
        .map((payload, i) => app.inject({ method: 'POST', url: `/v1/inspect?key=r${r}-${i}`, headers: { 'content-type': 'image/jpeg' }, payload })),
    );
    const ms = performance.now() - t;
    const active = mainThreadCpuMs() - cpu0;
    const answers = res.map((x) => x.json() as { timings: { decodeMs: number; computeMs: number; batchSize: number } });
    const formed = answers.map((a) => a.timings?.batchSize);
    if (formed.some((b) => b !== size))
      throw new Error(`expected batches of ${size} but the server formed ${formed.join(', ')}: ${res[0]!.body.slice(0, 200)}`);
    if (r === 0) continue; // warm-up: pipelines compile for this batch size
    perImage.push(ms / size);
    busy.push(active / size);
    decode.push(answers.reduce((s, a) => s + a.timings.decodeMs, 0) / size);
    compute.push(answers[0]!.timings.computeMs / size);
  }
  await app.close();
  await store.close();
  const p = summarize(perImage);
  const fmt = (x: number) => x.toFixed(1);
  rows.push(
    `| ${size} | ${fmt(p.median)} | ${fmt(p.q1)}–${fmt(p.q3)} | ${fmt(summarize(decode).median)} | ${fmt(summarize(compute).median)} | ${fmt(summarize(busy).median)} |`,
  );
  console.error(rows.at(-1));
}
rmSync(dir, { recursive: true, force: true });
await backend.close();
console.log(`# kensa serve: per-image cost of a formed batch (${W}×${H} JPEG, classic recipe, SQLite store)\n`);
console.log(`${JSON.stringify(metadata(args.device))}\n`);
console.log('| batch | ms / image (median) | IQR | decode ms / image (concurrent) | compute ms / image | main thread CPU ms / image |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
