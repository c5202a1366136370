/**
 * The nn engine on this machine: f32 SIMT matmul TFLOP/s (GPU time by timestamp queries, 4096³ and
 * the shapes of a small network), and a training step (forward + backward + AdamW) of an MLP and of
 * a tiny UNet: wall and GPU time per step and launches per step. Reports, never fails. Prints a
 * table and writes JSON to argv[2] (default nn.json).
 *   node --import tsx bench/nn/nn.bench.ts /tmp/nn.json
 */
import { writeFileSync } from 'node:fs';
import { Gpu } from '../../src/gpu/gpu.js';
import { Var, backward } from '../../src/nn/autograd.js';
import { maxPool2d } from '../../src/nn/conv.js';
import { BatchNorm2d, Conv2d, ConvTranspose2d, Linear } from '../../src/nn/layers.js';
import { nnDispatches } from '../../src/nn/launch.js';
import { bceDiceLoss, crossEntropy } from '../../src/nn/losses.js';
import { runMatmul } from '../../src/nn/matmul.js';
import * as F from '../../src/nn/ops.js';
import { AdamW } from '../../src/nn/optim.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor, tidy } from '../../src/tensor.js';
import { metadata, repeat, type Summary } from '../_kit/stats.js';

async function random(gpu: Gpu, shape: number[], seed: number): Promise<Tensor> {
  const next = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromArray(
    Float32Array.from({ length: n }, () => next() * 2 - 1),
    shape,
    'f32',
  ).toGpu(gpu);
}

/** GPU ms of `record` (timestamp queries), median of repeats. */
async function gpuTime(gpu: Gpu, record: () => void, repeats = 10): Promise<Summary> {
  return repeat(2, repeats, async () => {
    const timer = gpu.startTimer();
    record();
    return (await timer.stop()).gpuMs;
  });
}

async function main(): Promise<void> {
  const gpu = await Gpu.open();
  const out = process.argv[2] ?? 'nn.json';
  const results: Record<string, unknown> = { meta: metadata(gpu.info.name) };
  const rows: [string, string][] = [];

  for (const [m, n, k] of [
    [4096, 4096, 4096],
    [1024, 1024, 1024],
    [8 * 256 * 256, 32, 288],
    [8 * 64 * 64, 256, 1152],
  ] as const) {
    const a = await random(gpu, [1, m, k], 1);
    const b = await random(gpu, [1, k, n], 2);
    const s = await gpuTime(gpu, () => runMatmul(a, b, false, false).dispose());
    const tflops = (2 * m * n * k) / (s.median / 1e3) / 1e12;
    results[`matmul_${m}x${n}x${k}`] = { gpuMs: s, tflops };
    rows.push([`matmul f32 SIMT ${m}×${n}×${k}`, `${s.median.toFixed(3)} ms  ${tflops.toFixed(2)} TFLOP/s`]);
    a.dispose();
    b.dispose();
  }

  // MLP 256 → 1024 → 1024 → 10 on a batch of 512, cross-entropy, AdamW
  {
    const x = Var.constant(await random(gpu, [512, 256], 3));
    const next = mulberry32(4);
    const labels = await Tensor.fromArray(
      Int32Array.from({ length: 512 }, () => Math.floor(next() * 10)),
      [512],
      'i32',
    ).toGpu(gpu);
    const layers = [
      await Linear.create(256, 1024, { gpu }),
      await Linear.create(1024, 1024, { gpu, seed: 1 }),
      await Linear.create(1024, 10, { gpu, seed: 2 }),
    ];
    const opt = new AdamW(layers.flatMap((l) => l.parameters()));
    const step = () =>
      tidy(() => {
        opt.zeroGrad();
        const h = F.relu(layers[1]!.forward(F.relu(layers[0]!.forward(x))));
        const loss = crossEntropy(layers[2]!.forward(h), labels);
        backward(loss);
        opt.step();
      });
    await report(gpu, 'mlp 256-1024-1024-10, batch 512', step, results, rows);
  }

  // tiny UNet 16-32 on 8×1×128×128, BCE + Dice, AdamW
  {
    const x = Var.constant(await random(gpu, [8, 1, 128, 128], 5));
    const target = await random(gpu, [8, 1, 128, 128], 6);
    const enc1 = await Conv2d.create(1, 16, 3, { padding: 1, gpu });
    const bn1 = await BatchNorm2d.create(16, { gpu });
    const enc2 = await Conv2d.create(16, 32, 3, { padding: 1, activation: 'relu', gpu, seed: 1 });
    const up = await ConvTranspose2d.create(32, 16, 2, { stride: 2, gpu, seed: 2 });
    const dec = await Conv2d.create(32, 16, 3, { padding: 1, activation: 'relu', gpu, seed: 3 });
    const head = await Conv2d.create(16, 1, 1, { gpu, seed: 4 });
    const opt = new AdamW([enc1, bn1, enc2, up, dec, head].flatMap((l) => l.parameters()));
    const step = () =>
      tidy(() => {
        opt.zeroGrad();
        const e1 = F.relu(bn1.forward(enc1.forward(x), true));
        const e2 = enc2.forward(maxPool2d(e1, { kernelSize: 2 }));
        const logits = head.forward(dec.forward(F.concat([up.forward(e2), e1], 1)));
        backward(bceDiceLoss(logits, target));
        opt.step();
      });
    await report(gpu, 'tiny UNet 16-32, 8×1×128×128', step, results, rows);
  }

  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`nn bench on ${gpu.info.name} (${results.meta && (results.meta as { commit: string }).commit})`);
  for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
  gpu.destroy();
}

async function report(gpu: Gpu, name: string, step: () => void, results: Record<string, unknown>, rows: [string, string][]): Promise<void> {
  const before = nnDispatches();
  step();
  await gpu.sync();
  const launches = nnDispatches() - before;
  const wall = await repeat(3, 10, async () => {
    const t = performance.now();
    step();
    await gpu.sync();
    return performance.now() - t;
  });
  const device = await gpuTime(gpu, step);
  results[name] = { wallMs: wall, gpuMs: device, launches };
  rows.push([`step: ${name}`, `wall ${wall.median.toFixed(2)} ms, GPU ${device.median.toFixed(2)} ms, ${launches} launches`]);
}

await main();
