/**
 * `kensa bench`: times one op, or a whole recipe, on this machine, CPU reference and GPU side by
 * side. `--op` takes a preset (gaussian, crack) or any op the families export, with `--args` as its
 * options (JSON); `--recipe` times a recipe's detection (both stages) on synthetic surfaces.
 * Each device runs `--warmup` untimed and `--repeats` timed iterations on a random batch and
 * reports min / median / max wall time. On the GPU the input is uploaded once beforehand and
 * the output stays there: wall time is recording + submission + completion of the op's passes;
 * GPU time comes from timestamp queries (`gpu.startTimer()`) when the adapter has them.
 */
import { parseArgs } from 'node:util';
import { DTYPES, allocTyped, f32ToF16Bits, type DType } from '../dtype.js';
import { Gpu } from '../gpu/gpu.js';
import { detect } from '../detect/detector.js';
import { openRecipeModels } from '../detect/model.js';
import { builtinRecipe, loadRecipe, type LoadedRecipe } from '../detect/recipe.js';
import { openRecipeTemplate } from '../pipeline/template.js';
import { generateSample } from '../samples/generate.js';
import { Tensor } from '../tensor.js';
import { benchOp, benchOps, familyOps, tensorsOf, type TimedOp } from './bench-ops.js';
import { EXIT_FAIL, EXIT_OK, UsageError, adapterFlag, choiceFlag, formatMs, guard, intFlag, median, parseFlags, table, type CliIO } from './io.js';

/** Words of `text` in lines of at most `width` characters, each indented by `indent` spaces. */
function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.map((l) => `${' '.repeat(indent)}${l}`).join('\n');
}

export const BENCH_HELP = `Usage: kensa bench [options]

Times an op or a whole recipe on the CPU reference and on the GPU, with warm-up and repeats.

Options:
  --op <name>          op to time: ${Object.keys(benchOps).join(', ')} (default gaussian; presets with
                       their arguments), or any op by name:
${wrap(Object.keys(familyOps).join(', '), 23, 100)}
  --args <json>        the op's options as JSON, e.g. '{"sigma":2}' (an array: the arguments after the image)
  --recipe <R>         time a recipe's detection instead: a JSON or YAML file, or classic / decoupled;
                       the batch is synthetic grey surfaces with defects (dtype u8 or u16, one channel);
                       the recipe's template and models open as in a run (a kensa UNet on each device)
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
  args: { type: 'string' },
  recipe: { type: 'string' },
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
  /** The op's name, or `recipe <name>`. */
  op: string;
  /** The op's arguments as given with --args (absent for presets and recipes). */
  args?: unknown;
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

/** The timed op of a device, and what closes what it opened. */
interface OpenedOp {
  op: TimedOp;
  close(): Promise<void>;
}

/** A recipe's detection with its template and models open (a UNet's on `gpu`, or the CPU when null), as a run opens them. */
async function openRecipeOp(loaded: LoadedRecipe, batch: number, gpu: Gpu | null): Promise<OpenedOp> {
  const template = await openRecipeTemplate(loaded);
  try {
    const { loaded: opened, models } = await openRecipeModels(template.loaded, {}, batch, gpu);
    return {
      op: (x) => detect(x, opened.recipe, false),
      close: async () => {
        await Promise.all(models.map((m) => m.close()));
        template.close();
      },
    };
  } catch (e) {
    template.close();
    throw e;
  }
}

/** N synthetic surfaces (one channel) of the samples generator: what a recipe meets, unlike noise. */
export function surfaceBatch(shape: readonly [number, number, number, number], dtype: 'u8' | 'u16'): Tensor {
  const [n, , h, w] = shape;
  const data = dtype === 'u8' ? new Uint8Array(n * h * w) : new Uint16Array(n * h * w);
  for (let i = 0; i < n; i++) data.set(generateSample({ width: w, height: h, seed: 1, depth: dtype === 'u8' ? 8 : 16 }, i).image, i * h * w);
  return Tensor.fromArray(data, [n, 1, h, w], dtype);
}

/** Waits for an op's result and frees the tensors it holds (not the input). */
async function settle(result: unknown, input: Tensor): Promise<void> {
  const value = await result;
  for (const t of tensorsOf(value)) if (t !== input) t.dispose();
}

function parseJsonArgs(v: string | undefined): unknown {
  if (v === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object') throw new UsageError(`--args expects a JSON object or array (e.g. '{"sigma":2}') but received '${v}'`);
  return parsed;
}

function parseSize(v: string | undefined): [number, number] {
  if (v === undefined) return [2048, 2048];
  const m = /^(\d+)x(\d+)$/i.exec(v.trim());
  const w = m ? Number(m[1]) : NaN;
  const h = m ? Number(m[2]) : NaN;
  if (!m || w < 1 || h < 1 || w > 65536 || h > 65536)
    throw new UsageError(`--size expects <width>x<height> with sides between 1 and 65536 (e.g. 2048x2048) but received '${v}'`);
  return [w, h];
}

async function timeCpu(op: TimedOp, x: Tensor, warmup: number, repeats: number): Promise<BenchResult> {
  for (let i = 0; i < warmup; i++) await settle(op(x), x);
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const value = await op(x);
    runs.push(performance.now() - t0);
    await settle(value, x);
  }
  const wallMs = stats(runs);
  return { device: 'cpu', name: 'TypeScript reference', wallMs, gpuMs: null, megapixelsPerSecond: x.size / 1e3 / wallMs.median };
}

async function timeGpu(gpu: Gpu, op: TimedOp, x: Tensor, warmup: number, repeats: number): Promise<BenchResult> {
  const g = await x.toGpu(gpu);
  await gpu.sync();
  const once = async (): Promise<[number, number | null]> => {
    const t0 = performance.now();
    const timer = gpu.hasTimestamps ? gpu.startTimer() : null;
    const out = await op(g);
    let gpuMs: number | null = null;
    if (timer) gpuMs = (await timer.stop()).gpuMs;
    else await gpu.sync();
    const wall = performance.now() - t0;
    await settle(out, g);
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
    if (values.op !== undefined && values.recipe !== undefined)
      throw new UsageError(`--op and --recipe exclude each other but received both ('${values.op}', '${values.recipe}')`);
    const args = parseJsonArgs(values.args);
    if (args !== undefined && (values.recipe !== undefined || Object.hasOwn(benchOps, values.op ?? 'gaussian'))) {
      throw new UsageError(
        `--args expects an op by name (not a preset or a recipe) but received --args with ${values.recipe !== undefined ? '--recipe' : `the preset '${values.op ?? 'gaussian'}'`}`,
      );
    }
    let opName = values.op ?? 'gaussian';
    const batch = intFlag('batch', values.batch, 4, 1, 65536);
    let open: (gpu: Gpu | null) => Promise<OpenedOp>;
    if (values.recipe !== undefined) {
      const loaded = builtinRecipe(values.recipe) ?? (await loadRecipe(values.recipe));
      opName = `recipe ${loaded.recipe.name}`;
      open = (gpu) => openRecipeOp(loaded, batch, gpu);
    } else {
      const op = benchOp(opName, args);
      if (!op)
        throw new UsageError(
          `--op expects one of ${Object.keys(benchOps).join(', ')} or an op by name (${Object.keys(familyOps).join(', ')}) but received '${opName}'`,
        );
      open = async () => ({ op, close: async () => {} });
    }
    const [w, h] = parseSize(values.size);
    const channels = intFlag('channels', values.channels, 1, 1, 64);
    const dtype = choiceFlag('dtype', values.dtype, 'u8', DTYPES);
    const device = choiceFlag('device', values.device, 'both', ['cpu', 'gpu', 'both'] as const);
    const repeats = intFlag('repeats', values.repeats, 10, 1, 100000);
    const warmup = intFlag('warmup', values.warmup, 2, 0, 100000);
    const adapter = adapterFlag(values.adapter);
    const shape: [number, number, number, number] = [batch, channels, h, w];
    if (values.recipe !== undefined && (channels !== 1 || (dtype !== 'u8' && dtype !== 'u16'))) {
      throw new UsageError(`--recipe expects one channel of u8 or u16 (the surfaces it is timed on) but received --channels ${channels} --dtype ${dtype}`);
    }
    const x = values.recipe !== undefined ? surfaceBatch(shape, dtype as 'u8' | 'u16') : benchInput(shape, dtype);
    const report: BenchReport = { op: opName, ...(args !== undefined ? { args } : {}), shape, dtype, warmup, repeats, results: [] };
    if (!values.json)
      io.out.write(
        `kensa bench: ${opName}${args !== undefined ? ` ${JSON.stringify(args)}` : ''} on ${shape.join('×')} ${dtype}, ${warmup} warm-up + ${repeats} timed runs per device\n`,
      );
    let status = EXIT_OK;
    if (device !== 'gpu') {
      const opened = await open(null);
      try {
        report.results.push(await timeCpu(opened.op, x, warmup, repeats));
      } finally {
        await opened.close();
      }
    }
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
          const opened = await open(gpu);
          try {
            report.results.push(await timeGpu(gpu, opened.op, x, warmup, repeats));
          } finally {
            await opened.close();
          }
        } finally {
          await gpu.sync().catch(() => {});
          gpu.destroy();
        }
      }
    }
    if (values.json) {
      io.out.write(`${JSON.stringify(report, null, 2)}\n`);
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
