/**
 * An MLP overfits synthetic data on both devices: four classes by quadrant of 64 points in the
 * plane, 2 → 32 → 32 → 4 with SiLU and LeakyReLU, cross-entropy, AdamW with warm-up and cosine
 * decay, gradient clipping, dropout with a new mask (seed) each step. A step allocates nothing it keeps and launches the same programs
 * every time; evaluation runs under noGrad.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Gpu } from '../../src/gpu/gpu.js';
import { Var, backward, noGrad } from '../../src/nn/autograd.js';
import { Linear } from '../../src/nn/layers.js';
import { nnDispatches } from '../../src/nn/launch.js';
import { crossEntropy } from '../../src/nn/losses.js';
import * as F from '../../src/nn/ops.js';
import { AdamW, clipGradNorm } from '../../src/nn/optim.js';
import { cosineSchedule, warmup } from '../../src/nn/schedule.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor, liveTensors, tidy } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();
const STEPS = 150;

function quadrants(n: number, seed: number): { points: Float32Array; labels: Int32Array } {
  const next = mulberry32(seed);
  const points = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const x = next() * 2 - 1;
    const y = next() * 2 - 1;
    points.set([x, y], 2 * i);
    labels[i] = (x > 0 ? 1 : 0) + (y > 0 ? 2 : 0);
  }
  return { points, labels };
}

async function overfit(device: Gpu | null) {
  const place = async (t: Tensor) => (device ? t.toGpu(device) : t);
  const data = quadrants(64, 3);
  const x = Var.constant(await place(Tensor.fromArray(data.points, [64, 2], 'f32')));
  const labels = await place(Tensor.fromArray(data.labels, [64], 'i32'));
  const layers = [
    await Linear.create(2, 32, { seed: 1, gpu: device ?? undefined }),
    await Linear.create(32, 32, { seed: 2, gpu: device ?? undefined }),
    await Linear.create(32, 4, { seed: 3, gpu: device ?? undefined }),
  ];
  const forward = (input: Var, training: boolean, seed = 0) => {
    const h1 = F.silu(layers[0]!.forward(input));
    const h2 = F.dropout(F.leakyRelu(layers[1]!.forward(h1), 0.1), { p: 0.1, seed, training });
    return layers[2]!.forward(h2);
  };
  const params = layers.flatMap((l) => l.parameters());
  const opt = new AdamW(params, { lr: 0.02, weightDecay: 0 });
  const schedule = warmup(cosineSchedule(0.02, { totalSteps: STEPS, minLr: 0.002 }), 10);
  const launches: number[] = [];
  const live: number[] = [];
  let loss: Tensor | null = null;
  let norm: Tensor | null = null;
  for (let s = 0; s < STEPS; s++) {
    loss?.dispose();
    norm?.dispose();
    const before = nnDispatches();
    opt.lr = schedule(opt.steps);
    opt.zeroGrad();
    [loss, norm] = tidy(() => {
      const l = crossEntropy(forward(x, true, s), labels);
      backward(l);
      const n = clipGradNorm(params, 5);
      opt.step();
      return [l.value, n];
    });
    launches.push(nnDispatches() - before);
    live.push(liveTensors());
  }
  const final = (await loss!.toCpu()).at(0);
  const gradNorm = (await norm!.toCpu()).at(0);
  const logits = await noGrad(() => forward(x, false)).value.toCpu();
  const predicted = Array.from({ length: 64 }, (_, i) => {
    const row = [0, 1, 2, 3].map((c) => logits.at(4 * i + c));
    return row.indexOf(Math.max(...row));
  });
  const accuracy = predicted.filter((p, i) => p === data.labels[i]).length / 64;
  return { final, gradNorm, accuracy, launches, live };
}

for (const device of ['cpu', 'gpu'] as const) {
  test(`an MLP overfits 64 points to loss < 0.05 and accuracy 1 in ${STEPS} steps (${device})`, { skip: device === 'gpu' && gpuSkip(gpu) }, async () => {
    const r = await overfit(device === 'gpu' ? gpu : null);
    assert.ok(r.final < 0.05, `final loss ${r.final}`);
    assert.equal(r.accuracy, 1);
    assert.ok(Number.isFinite(r.gradNorm) && r.gradNorm > 0, `gradient norm ${r.gradNorm}`);
    assert.equal(new Set(r.launches).size, 1, `the same launches every step: ${[...new Set(r.launches)]}`);
    assert.equal(new Set(r.live.slice(1)).size, 1, 'no tensor kept from step to step');
  });
}
