import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KensaError } from '../../src/errors.js';
import type { Gpu } from '../../src/gpu/gpu.js';
import { Var, backward } from '../../src/nn/autograd.js';
import { nnDispatches } from '../../src/nn/launch.js';
import { crossEntropy } from '../../src/nn/losses.js';
import * as F from '../../src/nn/ops.js';
import { Adam, AdamW, type Optimizer, SGD, clipGradNorm } from '../../src/nn/optim.js';
import { GradScaler } from '../../src/nn/scaler.js';
import { cosineSchedule, stepSchedule, warmup } from '../../src/nn/schedule.js';
import { Tensor, tidy } from '../../src/tensor.js';
import { assertClose } from '../_kit/compare.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();
const skip = gpuSkip(gpu);
const code = (c: string, message?: RegExp) => (e: unknown) => e instanceof KensaError && e.code === c && (!message || message.test(e.message));

const f32 = (values: number[], shape = [values.length]) => Tensor.fromArray(Float32Array.from(values), shape, 'f32');

async function param(values: number[], device: Gpu | null): Promise<Var> {
  const t = f32(values);
  return Var.parameter(device ? await t.toGpu(device) : t);
}

/** Sets p.grad to `values` (the gradient a backward would have left). */
async function setGrad(p: Var, values: number[]): Promise<void> {
  const g = p.grad!;
  if (g.device === 'cpu') (g.data as Float32Array).set(values);
  else await g.gpu.gpu.upload(g.gpu.ref, new Uint8Array(Float32Array.from(values).buffer));
}

const values = async (t: Tensor) => [...((await t.toCpu()).data as Float32Array)];

test('SGD with Nesterov momentum and weight decay follows torch.optim.SGD', async () => {
  const p = await param([1, 2], null);
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true });
  const g = [0.5, -1];
  await setGrad(p, g);
  opt.step();
  opt.step();
  // buf1 = g, d1 = g + 0.9 g; buf2 = 0.9 g + g, d2 = g + 0.9·1.9 g
  const expected = [1, 2].map((w, i) => w - 0.1 * (1.9 + 1 + 0.9 * 1.9) * g[i]!);
  assertClose(p.value, f32(expected), { atol: 1e-6 });
  const q = await param([2], null);
  const decay = new SGD([q], { lr: 0.5, weightDecay: 0.1 });
  await setGrad(q, [1]);
  decay.step();
  assert.ok(Math.abs(q.value.at(0) - (2 - 0.5 * (1 + 0.1 * 2))) < 1e-6);
});

test("Adam's first step moves each weight by lr against its gradient's sign; AdamW decays the weights first", async () => {
  const p = await param([1, -2, 3], null);
  const adam = new Adam([p], { lr: 0.01 });
  await setGrad(p, [0.3, -5, 1e-3]);
  adam.step();
  assertClose(p.value, f32([0.99, -1.99, 2.99]), { atol: 1e-5 });
  const q = await param([1, -2], null);
  const adamw = new AdamW([q], { lr: 0.01, weightDecay: 0.1 });
  await setGrad(q, [2, 2]);
  adamw.step();
  assertClose(q.value, f32([1 * (1 - 0.001) - 0.01, -2 * (1 - 0.001) - 0.01]), { atol: 1e-5 });
});

test('optimizers: the GPU update pass equals the CPU reference over several steps', { skip }, async () => {
  const make: [string, (ps: Var[]) => Optimizer][] = [
    ['SGD', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.8, dampening: 0.1, weightDecay: 0.01 })],
    ['SGD nesterov', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true })],
    ['SGD plain', (ps) => new SGD(ps, { lr: 0.05 })],
    ['Adam', (ps) => new Adam(ps, { lr: 0.01, weightDecay: 0.01 })],
    ['AdamW', (ps) => new AdamW(ps, { lr: 0.01 })],
  ];
  const w0 = Array.from({ length: 300 }, (_, i) => Math.sin(i));
  for (const [name, create] of make) {
    const results: number[][] = [];
    for (const device of [null, gpu]) {
      const p = await param(w0, device);
      const opt = create([p]);
      for (let s = 0; s < 3; s++) {
        await setGrad(
          p,
          w0.map((w, i) => Math.cos(i * (s + 1)) + w),
        );
        opt.step({ gradScale: 0.5 });
      }
      results.push(await values(p.value));
    }
    assertClose(f32(results[1]!), f32(results[0]!), { atol: 1e-5, rtol: 1e-5 }, name);
  }
});

test('one optimizer pass updates up to 16 parameters (as many as the device binds): GPU = CPU over 18 parameters of different sizes', { skip }, async () => {
  const sizes = Array.from({ length: 18 }, (_, k) => 1 + ((k * 37) % 300));
  const results: number[][][] = [];
  for (const device of [null, gpu]) {
    const params: Var[] = [];
    for (const [k, n] of sizes.entries())
      params.push(
        await param(
          Array.from({ length: n }, (_, i) => Math.sin(i + k)),
          device,
        ),
      );
    const opt = new AdamW(params, { lr: 0.01 });
    for (let s = 0; s < 2; s++) {
      for (const [k, p] of params.entries())
        await setGrad(
          p,
          Array.from({ length: sizes[k]! }, (_, i) => Math.cos(i * (s + 1) + k)),
        );
      const before = nnDispatches();
      opt.step();
      // 16 per pass on the CPU; on a GPU as many as its storage bindings allow (4 per parameter)
      const perPass = device ? Math.min(16, Math.floor(device.info.limits.maxStorageBuffersPerShaderStage! / 4)) : 16;
      assert.equal(nnDispatches() - before, Math.ceil(18 / perPass), `18 parameters in passes of ${perPass}`);
    }
    results.push(await Promise.all(params.map((p) => values(p.value))));
  }
  for (const [k, cpu] of results[0]!.entries()) assertClose(f32(results[1]![k]!), f32(cpu), { atol: 1e-5, rtol: 1e-5 }, `parameter ${k}`);
});

for (const device of ['cpu', 'gpu'] as const) {
  test(`clipGradNorm scales all gradients to the largest norm and returns the norm before (${device})`, { skip: device === 'gpu' && skip }, async () => {
    const d = device === 'gpu' ? gpu : null;
    const a = await param([0, 0], d);
    const b = await param([0], d);
    await setGrad(a, [3, 4]);
    await setGrad(b, [12]);
    const norm = clipGradNorm([a, b], 6.5);
    assert.ok(Math.abs((await values(norm))[0]! - 13) < 1e-5);
    assertClose(f32(await values(a.grad!)), f32([1.5, 2]), { atol: 1e-5 });
    assertClose(f32(await values(b.grad!)), f32([6]), { atol: 1e-5 });
    clipGradNorm([a, b], 100);
    assertClose(f32(await values(b.grad!)), f32([6]), { atol: 1e-5 });
  });

  test(`GradScaler skips a step with an injected inf, backs off, and grows back (${device})`, { skip: device === 'gpu' && skip }, async () => {
    const d = device === 'gpu' ? gpu : null;
    const w = await param([1, 2], d);
    const x = Var.constant(device === 'gpu' ? await f32([3, -1]).toGpu(gpu!) : f32([3, -1]));
    const scaler = new GradScaler({ initScale: 8, growthInterval: 2 });
    const opt = new SGD([w], { lr: 0.1 });
    const step = async (inject: boolean) => {
      opt.zeroGrad();
      tidy(() => backward(scaler.scaleLoss(F.sum(F.mul(w, x)))));
      if (inject) await setGrad(w, [Number.POSITIVE_INFINITY, 1]);
      return scaler.step(opt);
    };
    assert.equal(await step(false), true);
    // the gradient is x, unscaled inside the update: w − 0.1·x
    assertClose(f32(await values(w.value)), f32([0.7, 2.1]), { atol: 1e-6 });
    assert.equal(await step(true), false);
    assertClose(f32(await values(w.value)), f32([0.7, 2.1]), { atol: 1e-6 }, 'a skipped step leaves the weights');
    assert.deepEqual(scaler.stats, { scale: 4, steps: 2, skipped: 1 });
    assert.equal(await step(false), true);
    assert.equal(await step(false), true);
    assert.deepEqual(scaler.stats, { scale: 8, steps: 4, skipped: 1 }, 'two finite steps grow the scale back');
    assertClose(f32(await values(w.value)), f32([0.1, 2.3]), { atol: 1e-5 });
  });
}

test('a GradScaler continues from its state: the same scale, counts and growth (a checkpoint)', () => {
  const a = new GradScaler({ initScale: 8, growthInterval: 3 });
  const b = new GradScaler({ initScale: 8, growthInterval: 3 });
  b.loadState({ scale: 2, steps: 5, skipped: 2, growthTracker: 2 });
  assert.deepEqual(b.state, { scale: 2, steps: 5, skipped: 2, growthTracker: 2 });
  a.loadState(b.state);
  assert.deepEqual(a.stats, { scale: 2, steps: 5, skipped: 2 });
  assert.throws(() => a.loadState({ scale: 2, steps: 1, skipped: 2, growthTracker: 0 }), code('KENSA_ERR_INVALID_ARGUMENT', /for state\.skipped/));
});

test('AdamW hands out its moments and continues at a given step (a checkpoint)', async () => {
  const make = () => {
    const w = Var.parameter(f32([1, -2]));
    return { w, opt: new AdamW([w], { lr: 0.1 }) };
  };
  const step = (m: ReturnType<typeof make>) => {
    m.opt.zeroGrad();
    tidy(() => backward(F.sum(F.mul(m.w, m.w))));
    m.opt.step();
  };
  const a = make();
  step(a);
  step(a);
  const b = make();
  step(b);
  // b continues from a copy of a's state after one step: its second step is a's
  const c = make();
  step(c);
  const { expAvg, expAvgSq } = c.opt.state();
  (b.w.value.data as Float32Array).set(c.w.value.data as Float32Array);
  (b.opt.state().expAvg[0]!.data as Float32Array).set(expAvg[0]!.data as Float32Array);
  (b.opt.state().expAvgSq[0]!.data as Float32Array).set(expAvgSq[0]!.data as Float32Array);
  b.opt.resumeAt(c.opt.state().steps);
  step(b);
  assert.deepEqual(await values(b.w.value), await values(a.w.value));
  assert.equal(b.opt.steps, 2);
});

test('schedules: step, cosine, warm-up', () => {
  const s = stepSchedule(0.1, { stepSize: 10, gamma: 0.5 });
  assert.deepEqual([s(0), s(9), s(10), s(25)], [0.1, 0.1, 0.05, 0.025]);
  const c = cosineSchedule(1, { totalSteps: 100, minLr: 0.1 });
  assert.equal(c(0), 1);
  assert.ok(Math.abs(c(50) - 0.55) < 1e-12);
  assert.equal(c(100), 0.1);
  assert.equal(c(150), 0.1);
  const w = warmup(c, 4);
  assert.deepEqual([w(0), w(1), w(3), w(4)], [0.25, 0.5, 1, 1]);
});

test('bad shapes and options name themselves', () => {
  const a = Var.parameter(f32([1, 2, 3, 4, 5, 6], [2, 3]));
  const b = Var.constant(f32([1, 2, 3, 4], [2, 2]));
  assert.throws(() => F.add(a, b), code('KENSA_ERR_SHAPE', /Expected shapes that broadcast for a and b but received \[2, 3\] and \[2, 2\]/));
  assert.throws(() => F.matmul(a, b), code('KENSA_ERR_SHAPE', /matmul's a and b but received \[2, 3\] and \[2, 2\]/));
  assert.throws(() => F.concat([a, b], 0), code('KENSA_ERR_SHAPE', /Expected xs\[1\] of shape \[·, 3\]/));
  assert.throws(() => F.sum(a, { axes: [2] }), code('KENSA_ERR_INVALID_ARGUMENT', /for axes\[0\] but received 2/));
  assert.throws(() => F.sum(a, { axes: [1, -1] }), code('KENSA_ERR_INVALID_ARGUMENT', /Expected distinct axes for axes/));
  assert.throws(() => F.dropout(a, { p: 1, seed: 1 }), code('KENSA_ERR_INVALID_ARGUMENT', /for p but received 1/));
  assert.throws(() => F.leakyRelu(a, -1), code('KENSA_ERR_INVALID_ARGUMENT', /for slope/));
  assert.throws(
    () => crossEntropy(a, Tensor.zeros([3], 'i32')),
    code('KENSA_ERR_SHAPE', /Expected labels of shape \[2\] for logits \[2, 3\] but received \[3\]/),
  );
  assert.throws(() => crossEntropy(a, Tensor.zeros([2], 'f32')), code('KENSA_ERR_DTYPE', /i32 tensor for target/));
  assert.throws(() => backward(b), code('KENSA_ERR_INVALID_ARGUMENT', /for root/));
  assert.throws(() => new SGD([a], { lr: -1 }), code('KENSA_ERR_INVALID_ARGUMENT', /for lr but received -1/));
  assert.throws(() => new SGD([a], { lr: 0.1, nesterov: true }), code('KENSA_ERR_INVALID_ARGUMENT', /for nesterov/));
  assert.throws(() => new SGD([b], { lr: 0.1 }), code('KENSA_ERR_INVALID_ARGUMENT', /for params\[0\]/));
  assert.throws(() => new AdamW([a], { betas: [0.9, 1] }), code('KENSA_ERR_INVALID_ARGUMENT', /for betas\[1\]/));
  assert.throws(() => new GradScaler({ growthInterval: 0 }), code('KENSA_ERR_INVALID_ARGUMENT', /for growthInterval/));
  assert.throws(() => Var.parameter(Tensor.zeros([2], 'u8')), code('KENSA_ERR_DTYPE'));
});
