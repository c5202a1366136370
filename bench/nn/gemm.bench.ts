/**
 * bench/nn/gemm: the convolution GEMMs (src/nn/ops/conv2d.ts) on the shapes of bench/nn/shapes.json,
 * GEMM 4096³ (as a 1×1 convolution of a 1×4096×64×64 input: M = Cout, N = H·W, K = Cin) and the
 * UNet's convolutions, forward, input gradient and weight gradient, in precision f32 (SIMT) and
 * f16 (tensor cores where the adapter fits, else f32 again: the table says which). GPU time from
 * timestamp queries (median of 7 after 2 warm-ups); TFLOP/s = 2·M·N·K / time. Next to it, the
 * PyTorch figures of bench/nn/torch_ref.py from the same run (cuBLAS / cuDNN: f16, TF32, f32).
 * The f16 path's error against the f32 path is reported on the GEMM (max |Δ| / max |y|).
 * Usage: node dist/bench/nn/gemm.bench.js OUT_DIR [torch.json] [shapes.json]   (writes gemm.json and gemm.md)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gpu } from '../../src/gpu/gpu.js';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, enableConvTensorCores } from '../../src/nn/ops/conv2d.js';
import { convTranspose2dBackwardInput, convTranspose2dBackwardWeight, convTranspose2dForward } from '../../src/nn/ops/conv-transpose2d.js';
import { GEMM_TILE_SIZES, tensorCoreSpelling, withGemmTuning } from '../../src/nn/ops/implicit-gemm.js';
import { Tensor } from '../../src/tensor.js';
import { metadata, repeat } from '../_kit/stats.js';

interface ConvShape {
  name: string;
  n: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  k: number;
  padding: number;
  stride: number;
  transposed?: boolean;
}
interface Shapes {
  gemm: { name: string; m: number; n: number; k: number }[];
  conv: ConvShape[];
}
interface TorchRow {
  name: string;
  pass: string;
  precision: 'f16' | 'tf32' | 'f32';
  ms: number;
  tflops: number;
}

const outDir = process.argv[2] ?? 'bench-out';
const torchFile = process.argv[3];
mkdirSync(outDir, { recursive: true });
// shapes.json sits beside the source (bench/nn) and is read from there by the compiled script too
const here = dirname(fileURLToPath(import.meta.url));
const shapesPath = process.argv[4] ?? [join(here, 'shapes.json'), join(here, '../../../bench/nn/shapes.json')].find((p) => existsSync(p))!;
const shapes = JSON.parse(readFileSync(shapesPath, 'utf8')) as Shapes;
const torch: { meta?: unknown; rows: TorchRow[] } = torchFile && existsSync(torchFile) ? JSON.parse(readFileSync(torchFile, 'utf8')) : { rows: [] };

const gpu = await Gpu.open();
const meta = metadata(gpu.info.name);
const whyNoTensorCores = await enableConvTensorCores(gpu);
const tensorCores = whyNoTensorCores === null;
console.log(
  JSON.stringify({
    device: gpu.info.name,
    f16: gpu.info.f16,
    tensorCores,
    whyNoTensorCores,
    spelling: tensorCoreSpelling(gpu),
    limits: gpu.info.limits,
    subgroupMatrixConfigs: gpu.info.subgroupMatrixConfigs,
  }),
);

/** A GPU tensor of pseudo-random values in [-1, 1): a 64 Ki block repeated (fast to make at 1 GB). */
async function randomGpu(shape: readonly number[], seed: number): Promise<Tensor> {
  const count = shape.reduce((a, b) => a * b, 1);
  const block = new Float32Array(Math.min(count, 1 << 16));
  for (let i = 0; i < block.length; i++) block[i] = ((Math.imul(i + seed * 7919, 2654435761) >>> 8) / (1 << 24)) * 2 - 1;
  const host = new Float32Array(count);
  for (let at = 0; at < count; at += block.length) host.set(block.subarray(0, Math.min(block.length, count - at)), at);
  return Tensor.fromArray(host, shape, 'f32').toGpu(gpu);
}

interface Case {
  name: string;
  pass: string;
  flops: number;
  run: (precision: 'f32' | 'f16') => Tensor;
}

interface Row {
  name: string;
  pass: string;
  precision: 'f32' | 'f16';
  kernel: string;
  ms: number;
  iqr: [number, number];
  tflops: number;
  error?: string;
}

async function time(c: Case, precision: 'f32' | 'f16'): Promise<Row> {
  const kernel = precision === 'f16' && tensorCores ? 'tensor cores' : 'SIMT f32';
  try {
    const s = await repeat(2, 7, async () => {
      const timer = gpu.startTimer();
      const y = c.run(precision);
      const { gpuMs } = await timer.stop();
      y.dispose();
      return gpuMs;
    });
    return { name: c.name, pass: c.pass, precision, kernel, ms: s.median, iqr: [s.q1, s.q3], tflops: c.flops / s.median / 1e9 };
  } catch (e) {
    return { name: c.name, pass: c.pass, precision, kernel, ms: NaN, iqr: [NaN, NaN], tflops: NaN, error: String(e) };
  }
}

const rows: Row[] = [];
let f16Error: number | null = null;

for (const g of shapes.gemm) {
  const x = await randomGpu([1, g.k, 64, g.n / 64], 1);
  const w = await randomGpu([g.m, g.k, 1, 1], 2);
  const c: Case = { name: g.name, pass: 'forward', flops: 2 * g.m * g.n * g.k, run: (precision) => conv2dForward(x, w, null, { precision }) };
  for (const precision of ['f32', 'f16'] as const) rows.push(await time(c, precision));
  // each SIMT tile on its own, for the tile choice (pickTile)
  for (const tile of GEMM_TILE_SIZES) rows.push({ ...(await withGemmTuning({ tile }, () => time(c, 'f32'))), pass: `forward, SIMT tile ${tile}` });
  const [a, b] = await Promise.all((['f32', 'f16'] as const).map((precision) => c.run(precision).toCpu()));
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a!.size; i++) {
    diff = Math.max(diff, Math.abs(a!.data[i]! - b!.data[i]!));
    scale = Math.max(scale, Math.abs(a!.data[i]!));
  }
  f16Error = diff / scale;
  x.dispose();
  w.dispose();
}

for (const s of shapes.conv) {
  const opts = { padding: s.padding, stride: s.stride };
  try {
    const x = await randomGpu([s.n, s.cin, s.h, s.w], 3);
    const w = await randomGpu(s.transposed ? [s.cin, s.cout, s.k, s.k] : [s.cout, s.cin, s.k, s.k], 4);
    const y = s.transposed ? convTranspose2dForward(x, w, null, opts) : conv2dForward(x, w, null, opts);
    const dy = await randomGpu(y.shape, 5);
    const flops = s.transposed ? 2 * x.size * s.cout * s.k * s.k : 2 * y.size * s.cin * s.k * s.k;
    y.dispose();
    const cases: Case[] = s.transposed
      ? [
          { name: s.name, pass: 'forward', flops, run: (precision) => convTranspose2dForward(x, w, null, { ...opts, precision }) },
          { name: s.name, pass: 'backward input', flops, run: (precision) => convTranspose2dBackwardInput(dy, w, { ...opts, precision }) },
          { name: s.name, pass: 'backward weight', flops, run: (precision) => convTranspose2dBackwardWeight(dy, x, { ...opts, precision, kernelSize: s.k }) },
        ]
      : [
          { name: s.name, pass: 'forward', flops, run: (precision) => conv2dForward(x, w, null, { ...opts, precision }) },
          { name: s.name, pass: 'backward input', flops, run: (precision) => conv2dBackwardInput(dy, w, { ...opts, precision, inputSize: [s.h, s.w] }) },
          { name: s.name, pass: 'backward weight', flops, run: (precision) => conv2dBackwardWeight(dy, x, { ...opts, precision, kernelSize: s.k }) },
        ];
    for (const c of cases) for (const precision of ['f32', 'f16'] as const) rows.push(await time(c, precision));
    for (const t of [x, w, dy]) t.dispose();
  } catch (e) {
    rows.push({ name: s.name, pass: 'all', precision: 'f32', kernel: '', ms: NaN, iqr: [NaN, NaN], tflops: NaN, error: String(e) });
  }
  console.log(`${s.name}: done`);
}

const torchOf = (name: string, pass: string, precision: TorchRow['precision']) =>
  torch.rows.find((r) => r.name === name && r.pass === pass && r.precision === precision);
const fmt = (v: number | undefined, d = 2) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(d));
const keys = [...new Set(rows.map((r) => `${r.name}|${r.pass}`))];
const lines = [
  `# bench/nn/gemm — ${String(meta.date).slice(0, 10)}, ${gpu.info.name}, commit ${meta.commit}`,
  '',
  `TFLOP/s (GPU time: timestamp queries, median of 7). kensa f32 = SIMT kernel; kensa f16 = ${tensorCores ? `tensor cores (subgroup matrices, f16 in, f32 accumulate; ${tensorCoreSpelling(gpu)} spelling)` : `the SIMT f32 kernel again (${whyNoTensorCores})`}. PyTorch (same run, bench/nn/torch_ref.py): cuBLAS / cuDNN NCHW, f16, f32 with TF32, f32 without. "÷" columns: kensa's share of PyTorch's rate (f32 vs f32 without TF32, f16 vs f16).`,
  f16Error === null ? '' : `f16 path vs f32 path on the GEMM: max |Δ| / max |y| = ${f16Error.toExponential(2)}.`,
  '',
  '| shape | pass | kensa f32 | kensa f16 | torch f32 | torch TF32 | torch f16 | f32 ÷ torch | f16 ÷ torch |',
  '|---|---|---|---|---|---|---|---|---|',
  ...keys.map((key) => {
    const [name, pass] = key.split('|') as [string, string];
    const k32 = rows.find((r) => r.name === name && r.pass === pass && r.precision === 'f32');
    const k16 = rows.find((r) => r.name === name && r.pass === pass && r.precision === 'f16');
    const [t32, ttf, t16] = (['f32', 'tf32', 'f16'] as const).map((p) => torchOf(name, pass, p)?.tflops);
    const share = (a?: number, b?: number) => (a !== undefined && b !== undefined ? `${((100 * a) / b).toFixed(0)} %` : '—');
    return `| ${name} | ${pass} | ${fmt(k32?.tflops)} | ${fmt(k16?.tflops)} | ${fmt(t32)} | ${fmt(ttf)} | ${fmt(t16)} | ${share(k32?.tflops, t32)} | ${share(k16?.tflops, t16)} |`;
  }),
  '',
  ...rows.filter((r) => r.error).map((r) => `- ${r.name} ${r.pass} ${r.precision}: ${r.error}`),
];
console.log(lines.join('\n'));
writeFileSync(join(outDir, 'gemm.md'), `${lines.join('\n')}\n`);
writeFileSync(
  join(outDir, 'gemm.json'),
  JSON.stringify({ meta, tensorCores, whyNoTensorCores, f16Error, torch: torch.meta ?? null, rows, torchRows: torch.rows }, null, 2),
);
gpu.destroy();
