/**
 * The UNet of src/models/unet.ts on this machine's GPU: a training step (forward + backward +
 * AdamW, BCE + Dice) of UNet 32-64-128-256 on 8×1×256×256 and of UNet 64-128-256-512 on
 * 8×1×512×512, and eval-mode inference of UNet 64-128-256-512 on 8×1×512×512; each in f32 and
 * with precision 'f16' convolutions where enableConvTensorCores finds tensor cores (else the
 * reason is printed and the row is left out); each with every GEMM by the size rule and by its
 * measured fastest kernel (runMeasuredGemm), and which kernels the measurements chose. Wall and
 * GPU time (timestamp queries) per step, median of repeats, and dispatches per step. Reports, never fails. PyTorch's figures for the
 * same shapes: bench/nn/unet_torch_ref.py. Prints a table and writes JSON to argv[2]:
 *   node --import tsx bench/nn/unet.bench.ts /tmp/unet.json
 */
import { writeFileSync } from 'node:fs';
import { Gpu } from '../../src/gpu/gpu.js';
import { UNet } from '../../src/models/unet.js';
import { Var, backward } from '../../src/nn/autograd.js';
import { nnDispatches } from '../../src/nn/launch.js';
import { bceDiceLoss } from '../../src/nn/losses.js';
import { enableConvTensorCores } from '../../src/nn/ops/conv2d.js';
import { gemmMeasurements, withGemmTuning } from '../../src/nn/ops/implicit-gemm.js';
import { AdamW } from '../../src/nn/optim.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor, tidy } from '../../src/tensor.js';
import { metadata, repeat } from '../_kit/stats.js';

interface Case {
  name: string;
  widths: number[];
  shape: [number, number, number, number];
  training: boolean;
}

const CASES: Case[] = [
  { name: 'train UNet 32-64-128-256, 8×1×256×256', widths: [32, 64, 128, 256], shape: [8, 1, 256, 256], training: true },
  { name: 'train UNet 64-128-256-512, 8×1×512×512', widths: [64, 128, 256, 512], shape: [8, 1, 512, 512], training: true },
  { name: 'infer UNet 64-128-256-512, 8×1×512×512', widths: [64, 128, 256, 512], shape: [8, 1, 512, 512], training: false },
];

async function random(gpu: Gpu, shape: number[], seed: number, binary: boolean): Promise<Tensor> {
  const next = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: n }, () => (binary ? (next() > 0.9 ? 1 : 0) : next()));
  return Tensor.fromArray(values, shape, 'f32').toGpu(gpu);
}

async function measure(gpu: Gpu, c: Case, precision: 'f32' | 'f16') {
  const net = await UNet.create({ widths: c.widths }, { gpu, precision, seed: 1 });
  const x = Var.constant(await random(gpu, c.shape, 2, false));
  const target = await random(gpu, [c.shape[0], 1, c.shape[2], c.shape[3]], 3, true);
  const opt = new AdamW(net.parameters(), { lr: 1e-3 });
  const step = c.training
    ? () =>
        tidy(() => {
          opt.zeroGrad();
          backward(bceDiceLoss(net.forward(x), target));
          opt.step();
        })
    : () => tidy(() => void net.predict(x));
  // the first step measures each GEMM's candidates (runMeasuredGemm); their timings come back after it
  step();
  await gpu.sync();
  await new Promise((r) => setTimeout(r, 100));
  const before = nnDispatches();
  step();
  await gpu.sync();
  const dispatches = nnDispatches() - before;
  const wallMs = await repeat(3, 10, async () => {
    const t = performance.now();
    step();
    await gpu.sync();
    return performance.now() - t;
  });
  const gpuMs = await repeat(1, 10, async () => {
    const timer = gpu.startTimer();
    step();
    return (await timer.stop()).gpuMs;
  });
  for (const p of net.parameters()) {
    p.value.dispose();
    p.grad?.dispose();
  }
  x.value.dispose();
  target.dispose();
  return { wallMs, gpuMs, dispatches };
}

async function main(): Promise<void> {
  const gpu = await Gpu.open();
  const out = process.argv[2] ?? 'unet.json';
  const results: Record<string, unknown> = { meta: metadata(gpu.info.name) };
  const rows: string[] = [];
  const noTensorCores = await enableConvTensorCores(gpu);
  if (noTensorCores) rows.push(`f16 rows left out: ${noTensorCores}`);
  for (const c of CASES) {
    for (const precision of noTensorCores ? (['f32'] as const) : (['f32', 'f16'] as const)) {
      // each GEMM by the size rule, then by its measured fastest kernel
      for (const [kernels, measured] of [
        ['size rule', false],
        ['measured', true],
      ] as const) {
        const r = await withGemmTuning({ measure: measured }, () => measure(gpu, c, precision));
        results[`${c.name} ${precision}${measured ? ' measured' : ''}`] = r;
        rows.push(
          `${`${c.name} ${precision}, ${kernels}`.padEnd(60)} wall ${r.wallMs.median.toFixed(2)} ms, GPU ${r.gpuMs.median.toFixed(2)} ms, ${r.dispatches} dispatches`,
        );
      }
    }
  }
  // what the measurements chose, per problem (the fastest first)
  results.gemmMeasurements = gemmMeasurements(gpu);
  const chosen = new Map<string, number>();
  for (const m of gemmMeasurements(gpu)) chosen.set(m.candidates[0]!.label, (chosen.get(m.candidates[0]!.label) ?? 0) + 1);
  rows.push(`measured GEMM problems by chosen kernel: ${[...chosen].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`UNet bench on ${gpu.info.name} (${(results.meta as { commit: string }).commit})`);
  for (const row of rows) console.log(row);
  gpu.destroy();
}

await main();
