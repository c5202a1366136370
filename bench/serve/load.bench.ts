/**
 * Load generator for `kensa serve`, reporting what Triton's perf_analyzer reports: N concurrent
 * clients on loopback each send 1080p images (synthetic gray JPEGs, a few with a bright spot) to
 * POST /v1/inspect one after the other for a bounded time; then throughput, p50/p90/p95/p99
 * latency, the answers by status (429/503 above saturation), and from the server's /metrics the
 * mean queue wait, compute time and formed batch size; from each answer's timings the HTTP and
 * server overhead (latency − decode − queue − compute), and its part inside the server (the answer's
 * serverMs, from headers read to answer ready, less the same three). `/health` is polled during the load and
 * must keep answering. Reports, never fails.
 *
 * The server runs in a child process (`kensa serve --db :memory:`-like temporary SQLite), so the
 * clients do not share its event loop. `--compare` runs each concurrency twice: dynamic batching
 * off (`--max-batch 1`) and on (`--max-batch 16 --max-queue-delay-us 2000`, or the flags given).
 *
 * Usage (from the repository root, on the GPU machine):
 *   node --import tsx bench/serve/load.bench.ts --device gpu --concurrency 1,4,16,64 --seconds 20 --compare \
 *     [--width 1920 --height 1080] [--images 16] [--max-batch 16] [--delay-us 2000] [--instances 2] [--scale 0.25] [--unet 16-32-64-128] \
 *     [--out bench/results/serve-load-DATE.md]
 *   node --import tsx bench/serve/load.bench.ts --url http://host:8080 --concurrency 16   (a server already running)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { metadata } from '../_kit/stats.js';
import { writeDrawnUNet } from '../_kit/unet.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    device: { type: 'string', default: 'auto' },
    concurrency: { type: 'string', default: '1,4,16' },
    seconds: { type: 'string', default: '10' },
    width: { type: 'string', default: '1920' },
    height: { type: 'string', default: '1080' },
    images: { type: 'string', default: '8' },
    'max-batch': { type: 'string', default: '16' },
    'delay-us': { type: 'string', default: '2000' },
    instances: { type: 'string', default: '2' },
    'queue-limit': { type: 'string', default: '256' },
    scale: { type: 'string', default: '1' },
    // serve a model recipe instead of the default classic one: a drawn-weights kensa UNet of these widths
    unet: { type: 'string' },
    compare: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const WIDTH = Number(args.width);
const HEIGHT = Number(args.height);

interface Sample {
  ms: number;
  status: number;
  overheadMs: number | null;
  /** The server's share of the overhead: its own request time less decode, queue and compute. */
  serverOverheadMs: number | null;
}

interface ModeResult {
  mode: string;
  concurrency: number;
  seconds: number;
  samples: Sample[];
  server: { queueMs: number; computeMs: number; deviceMs: number; batch: number } | null;
  healthOk: number;
  healthFailed: number;
}

/** Synthetic 1080p frames: brushed gray with noise, every third with a bright spot. */
async function frames(count: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const px = new Uint8Array(WIDTH * HEIGHT);
    let seed = 12345 + i;
    for (let p = 0; p < px.length; p++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      px[p] = 110 + ((p % WIDTH) % 7) + (seed % 9);
    }
    if (i % 3 === 0) for (let y = 400; y < 430; y++) for (let x = 900 + i * 10; x < 930 + i * 10; x++) px[y * WIDTH + x] = 250;
    out.push(
      await sharp(px, { raw: { width: WIDTH, height: HEIGHT, channels: 1 } })
        .jpeg({ quality: 92 })
        .toBuffer(),
    );
  }
  return out;
}

/** Starts `kensa serve` on a free port in a child process; resolves with its URL once /ready answers 200. */
async function startServer(flags: string[], dir: string): Promise<{ url: string; child: ChildProcess }> {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const ts = join(here, '../../src/cli/main.ts');
  const script = existsSync(ts) ? ts : join(here, '../../src/cli/main.js');
  const child = spawn(
    process.execPath,
    [...process.execArgv, script, 'serve', '--port', '0', '--db', join(dir, `serve-${Date.now()}.db`), '--log-level', 'warn', ...flags],
    {
      stdio: ['ignore', 'inherit', 'pipe'],
    },
  );
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`kensa serve exited ${code}: ${err}`)));
  });
  for (;;) {
    if ((await fetch(`${url}/ready`).catch(() => null))?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child };
}

/** The sums and counts of the server's histograms, to difference around a run. */
async function scrape(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const totals: Record<string, number> = {};
  for (const m of text.matchAll(/^(kensa_(?:queue_wait_seconds|compute_seconds|device_seconds|batch_size)_(?:sum|count))(?:\{[^}]*\})? (\S+)$/gm)) {
    totals[m[1]!] = (totals[m[1]!] ?? 0) + Number(m[2]);
  }
  return totals;
}

/** Keep-alive connections for the clients: node:http costs the client ~0.5 ms a request on loopback, fetch ~2 (measured on the 2-core VM). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: { timings?: { decodeMs: number; queueMs: number; computeMs: number; serverMs: number } } | null;
}

/** POST /v1/inspect with one JPEG; the answer's status, Retry-After and JSON body. */
function post(url: string, jpeg: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/v1/inspect`,
      { method: 'POST', agent, headers: { 'content-type': 'image/jpeg', 'content-length': jpeg.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          let body: Answer['body'] = null;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString());
          } catch {
            // not JSON (a proxy's error page): the answer counts by its status
          }
          const retry = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(retry) ? retry[0] : retry, body });
        });
      },
    );
    req.on('error', reject);
    req.end(jpeg);
  });
}

async function load(url: string, mode: string, concurrency: number, images: Buffer[]): Promise<ModeResult> {
  const before = await scrape(url);
  const samples: Sample[] = [];
  const end = performance.now() + SECONDS * 1000;
  const health = { ok: 0, failed: 0 };
  const healthLoop = (async () => {
    while (performance.now() < end) {
      const r = await fetch(`${url}/health`).catch(() => null);
      if (r?.status === 200) health.ok++;
      else health.failed++;
      await new Promise((res) => setTimeout(res, 250));
    }
  })();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      for (let i = c; performance.now() < end; i += concurrency) {
        const t = performance.now();
        const res = await post(url, images[i % images.length]!).catch(() => null);
        const ms = performance.now() - t;
        const tm = res?.body?.timings;
        const inner = tm ? tm.decodeMs + tm.queueMs + tm.computeMs : 0;
        samples.push({ ms, status: res?.status ?? 0, overheadMs: tm ? ms - inner : null, serverOverheadMs: tm ? tm.serverMs - inner : null });
        if (res && res.status !== 200) await new Promise((r) => setTimeout(r, Number(res.retryAfter ?? 1) * 100));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await healthLoop;
  const after = await scrape(url);
  const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  const batches = d('kensa_batch_size_count');
  const server =
    batches > 0
      ? {
          queueMs: (d('kensa_queue_wait_seconds_sum') / Math.max(1, d('kensa_queue_wait_seconds_count'))) * 1000,
          computeMs: (d('kensa_compute_seconds_sum') / batches) * 1000,
          deviceMs: (d('kensa_device_seconds_sum') / batches) * 1000,
          batch: d('kensa_batch_size_sum') / batches,
        }
      : null;
  return { mode, concurrency, seconds, samples, server, healthOk: health.ok, healthFailed: health.failed };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function row(r: ModeResult): string {
  const ok = r.samples.filter((s) => s.status === 200);
  const lat = ok.map((s) => s.ms).sort((a, b) => a - b);
  const sorted = (v: (number | null)[]) => v.filter((x) => x !== null).sort((a, b) => a - b);
  const overhead = sorted(ok.map((s) => s.overheadMs));
  const serverOverhead = sorted(ok.map((s) => s.serverOverheadMs));
  const refused = r.samples.filter((s) => s.status === 429 || s.status === 503).length;
  const other = r.samples.length - ok.length - refused;
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
  const p50 = pct(lat, 50);
  const s = r.server;
  return `| ${r.mode} | ${r.concurrency} | ${(ok.length / r.seconds).toFixed(1)} | ${f(p50)} | ${f(pct(lat, 90))} | ${f(pct(lat, 95))} | ${f(pct(lat, 99))} | ${refused} | ${other} | ${s ? f(s.queueMs) : '–'} | ${s ? f(s.computeMs) : '–'} | ${s ? f(s.deviceMs) : '–'} | ${s ? s.batch.toFixed(2) : '–'} | ${f(pct(overhead, 50))} (${f((100 * pct(overhead, 50)) / p50)} %) | ${f(pct(serverOverhead, 50))} (${f((100 * pct(serverOverhead, 50)) / p50)} %) | ${r.healthOk}/${r.healthOk + r.healthFailed} |`;
}

const HEADER = `| batching | clients | images/s | p50 ms | p90 ms | p95 ms | p99 ms | 429/503 | other errors | queue ms (server) | compute ms / batch | device ms / batch | mean batch | overhead p50 ms (% of p50) | of which in the server | /health ok |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`;

const dir = mkdtempSync(join(tmpdir(), 'kensa-load-'));
const results: ModeResult[] = [];
let deviceLine = args.url ?? 'external server';
try {
  const images = await frames(Number(args.images));
  process.stderr.write(
    `${images.length} JPEGs of ${WIDTH}×${HEIGHT}, ${Math.round(images.reduce((s, b) => s + b.length, 0) / images.length / 1024)} KiB each\n`,
  );
  const common = ['--device', args.device, '--instances', args.instances, '--queue-limit', args['queue-limit'], '--warm', `${WIDTH}x${HEIGHT}`];
  if (args.unet) {
    // a model-bound server (the GPU's share larger than decoding's), at input.scale
    const model = join(dir, `unet-${args.unet}.safetensors`);
    await writeDrawnUNet(model, args.unet.split('-').map(Number));
    const recipe = join(dir, 'unet.json');
    writeFileSync(
      recipe,
      JSON.stringify({ kind: 'model', name: `unet-${args.unet}`, input: { scale: Number(args.scale) }, model: { path: model, task: 'segmentation' } }),
    );
    common.push('--recipe', recipe);
  } else if (args.scale !== '1') {
    // the default recipe decoding at a fraction of the upload's size (input.scale)
    const recipe = join(dir, `classic-x${args.scale}.json`);
    writeFileSync(recipe, JSON.stringify({ kind: 'classic', name: `classic-x${args.scale}`, input: { scale: Number(args.scale) } }));
    common.push('--recipe', recipe);
  }
  const modes: [string, string[]][] = args.url
    ? [['as configured', []]]
    : [
        ...(args.compare ? ([['off', ['--max-batch', '1', '--max-queue-delay-us', '0']]] as [string, string[]][]) : []),
        ['on', ['--max-batch', args['max-batch'], '--max-queue-delay-us', args['delay-us']]],
      ];
  for (const [mode, flags] of modes) {
    const server = args.url ? { url: args.url, child: null } : await startServer([...common, ...flags], dir);
    try {
      if (server.child) deviceLine = `kensa serve ${[...common, ...flags].join(' ')}`;
      for (const c of args.concurrency.split(',').map(Number)) {
        const r = await load(server.url, mode, c, images);
        results.push(r);
        process.stderr.write(`${row(r)}\n`);
      }
    } finally {
      server.child?.kill('SIGTERM');
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const meta = metadata(args.device);
const report = `# kensa serve under load (${WIDTH}×${HEIGHT} JPEG${args.unet ? `, a drawn kensa UNet ${args.unet}` : ''}${args.scale === '1' ? '' : `, decoded at input.scale ${args.scale}`}, ${SECONDS} s per row)

${Object.entries(meta)
  .map(([k, v]) => `- ${k}: ${v}`)
  .join('\n')}
- server: ${deviceLine}

${HEADER}
${results.map(row).join('\n')}

Latency is per request at the client (node:http on loopback, keep-alive); queue ms is the server's mean wait in the
batcher; compute ms is per formed batch (device + post-processing), device ms its device stage (upload to readbacks done); overhead = latency − decode − queue − compute;
of which in the server: the server's own request time (headers read to answer ready: body upload, hashing, recording) less the same three, the rest being the loopback, the response's serialisation, the client, and any wait for the server's main thread before it reads the request.
`;
process.stdout.write(report);
if (args.out) writeFileSync(args.out, report);
