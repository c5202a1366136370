/**
 * `kensa bench`: times one op on this machine, CPU reference and GPU side by side.
 * Each device runs `--warmup` untimed and `--repeats` timed iterations on a random batch and
 * reports min / median / max wall time. On the GPU the input is uploaded once beforehand and
 * the output stays there: wall time is recording + submission + completion of the op's passes;
 * GPU time comes from timestamp queries (`gpu.startTimer()`) when the adapter has them.
 */
import { parseArgs } from 'node:util';
import { DTYPES, allocTyped, f32ToF16Bits, type DType } from '../dtype.js';
import { Gpu } from '../gpu/gpu.js';
import { Tensor } from '../tensor.js';
import { benchOps } from './bench-ops.js';
import { EXIT_FAIL, EXIT_OK, UsageError, adapterFlag, choiceFlag, formatMs, guard, intFlag, median, parseFlags, table, type CliIO } from './io.js';

export const BENCH_HELP = `Usage: kensa bench [options]

Times an op on the CPU reference and on the GPU, with warm-up and repeats.

Options:
  --op <name>          op to time: ${Object.keys(benchOps).join(', ')} (default gaussian)
  --size <W>x<H>       image size (default 2048x2048)
  --batch <N>          images per batch (default 4)
  --channels <C>       channels per image (default 1)
  --dtype <dtype>      ${DTYPES.join(', ')} (default u8)
  --device <which>     cpu, gpu or both (default both)
  --repeats <n>        timed runs (default 10)
  --warmup <n>         untimed runs first (default 2)
  --adapter <i|name>   adapter index or name substring (see kensa doctor)
  --json               print the results as JSON
  -h, --help           show this help
`;

const FLAGS = {
  op: { type: 'string' },
  size: { type: 'string' },
  batch: { type: 'string' },
  channels: { type: 'string' },
  dtype: { type: 'string' },
  device: { type: 'string' },
  repeats: { type: 'string' },
  warmup: { type: 'string' },
  adapter: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface Stats {
  min: number;
  median: number;
  max: number;
  runs: number[];
}

export interface BenchResult {
  device: 'cpu' | 'gpu';
  name: string;
  wallMs: Stats;
  /** Timestamp-query time of the op's passes; null without timestamp-query. */
  gpuMs: Stats | null;
  /** Batch pixels (N·C·H·W) per second at the median wall time, in millions. */
  megapixelsPerSecond: number;
}

export interface BenchReport {
  op: string;
  shape: [number, number, number, number];
  dtype: DType;
  warmup: number;
  repeats: number;
  results: BenchResult[];
}

function stats(runs: number[]): Stats {
  const sorted = [...runs].sort((a, b) => a - b);
  return { min: sorted[0]!, median: median(sorted), max: sorted[sorted.length - 1]!, runs };
}

/** Uniform noise over the dtype's natural range (u8 0..255, u16 0..65535, i32 0..1000, floats 0..1). */
export function benchInput(shape: readonly [number, number, number, number], dtype: DType, seed = 1): Tensor {
  const n = shape[0] * shape[1] * shape[2] * shape[3];
  const data = allocTyped(dtype, n);
  let s = seed >>> 0;
  const scale = dtype === 'u8' ? 256 : dtype === 'u16' ? 65536 : dtype === 'i32' ? 1001 : 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const r = s / 4294967296;
    data[i] = dtype === 'f16' ? f32ToF16Bits(r) : dtype === 'f32' ? r : Math.floor(r * scale);
  }
  return Tensor.fromArray(data, shape, dtype);
}

function parseSize(v: string | undefined): [number, number] {
  if (v === undefined) return [2048, 2048];
  const m = /^(\d+)x(\d+)$/i.exec(v.trim());
  const w = m ? Number(m[1]) : NaN;
  const h = m ? Number(m[2]) : NaN;
  if (!m || w < 1 || h < 1 || w > 65536 || h > 65536) throw new UsageError(`--size expects <width>x<height> with sides between 1 and 65536 (e.g. 2048x2048) but received '${v}'`);
  return [w, h];
}

async function timeCpu(op: (x: Tensor) => Tensor, x: Tensor, warmup: number, repeats: number): Promise<BenchResult> {
  for (let i = 0; i < warmup; i++) op(x);
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    op(x);
    runs.push(performance.now() - t0);
  }
  const wallMs = stats(runs);
  return { device: 'cpu', name: 'TypeScript reference', wallMs, gpuMs: null, megapixelsPerSecond: x.size / 1e3 / wallMs.median };
}

async function timeGpu(gpu: Gpu, op: (x: Tensor) => Tensor, x: Tensor, warmup: number, repeats: number): Promise<BenchResult> {
  const g = await x.toGpu(gpu);
  await gpu.sync();
  const once = async (): Promise<[number, number | null]> => {
    const t0 = performance.now();
    const timer = gpu.hasTimestamps ? gpu.startTimer() : null;
    const out = op(g);
    let gpuMs: number | null = null;
    if (timer) gpuMs = (await timer.stop()).gpuMs;
    else await gpu.sync();
    const wall = performance.now() - t0;
    out.dispose();
    return [wall, gpuMs];
  };
  try {
    for (let i = 0; i < warmup; i++) await once();
    const wall: number[] = [];
    const device: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const [w, d] = await once();
      wall.push(w);
      if (d !== null) device.push(d);
    }
    await gpu.sync();
    const wallMs = stats(wall);
    return { device: 'gpu', name: gpu.info.name, wallMs, gpuMs: device.length ? stats(device) : null, megapixelsPerSecond: x.size / 1e3 / wallMs.median };
  } finally {
    g.dispose();
  }
}

export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  return guard('bench', io, async () => {
    const { values } = parseFlags(() => parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
    if (values.help) {
      io.out.write(BENCH_HELP);
      return EXIT_OK;
    }
    const opName = values.op ?? 'gaussian';
    const op = benchOps[opName];
    if (!op || !Object.hasOwn(benchOps, opName)) throw new UsageError(`--op expects one of ${Object.keys(benchOps).join(', ')} but received '${opName}'`);
    const [w, h] = parseSize(values.size);
    const batch = intFlag('batch', values.batch, 4, 1, 65536);
    const channels = intFlag('channels', values.channels, 1, 1, 64);
    const dtype = choiceFlag('dtype', values.dtype, 'u8', DTYPES);
    const device = choiceFlag('device', values.device, 'both', ['cpu', 'gpu', 'both'] as const);
    const repeats = intFlag('repeats', values.repeats, 10, 1, 100000);
    const warmup = intFlag('warmup', values.warmup, 2, 0, 100000);
    const adapter = adapterFlag(values.adapter);
    const shape: [number, number, number, number] = [batch, channels, h, w];
    const x = benchInput(shape, dtype);
    const report: BenchReport = { op: opName, shape, dtype, warmup, repeats, results: [] };
    if (!values.json) io.out.write(`kensa bench: ${opName} on ${shape.join('×')} ${dtype}, ${warmup} warm-up + ${repeats} timed runs per device\n`);
    let status = EXIT_OK;
    if (device !== 'gpu') report.results.push(await timeCpu(op, x, warmup, repeats));
    if (device !== 'cpu') {
      let gpu: Gpu | null = null;
      try {
        gpu = await Gpu.open(adapter === undefined ? {} : { adapter });
      } catch (e) {
        io.err.write(`kensa bench: no GPU: ${(e as Error).message}\n`);
        status = EXIT_FAIL;
      }
      if (gpu) {
        try {
          report.results.push(await timeGpu(gpu, op, x, warmup, repeats));
        } finally {
          await gpu.sync().catch(() => {});
          gpu.destroy();
        }
      }
    }
    if (values.json) {
      io.out.write(JSON.stringify(report, null, 2) + '\n');
      return status;
    }
    const rows = [['device', 'adapter', 'min ms', 'median ms', 'max ms', 'gpu ms (median)', 'Mpx/s']];
    for (const r of report.results) {
      rows.push([
        r.device,
        r.name,
        formatMs(r.wallMs.min),
        formatMs(r.wallMs.median),
        formatMs(r.wallMs.max),
        r.gpuMs ? formatMs(r.gpuMs.median) : r.device === 'gpu' ? 'n/a (no timestamp-query)' : '-',
        r.megapixelsPerSecond.toPrecision(3),
      ]);
    }
    io.out.write(table(rows));
    const cpu = report.results.find((r) => r.device === 'cpu');
    const gpuR = report.results.find((r) => r.device === 'gpu');
    if (cpu && gpuR) io.out.write(`GPU/CPU speed-up (median wall): ${(cpu.wallMs.median / gpuR.wallMs.median).toFixed(2)}×\n`);
    return status;
  });
}
