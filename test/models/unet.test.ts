/**
 * The UNet: its state-dict names and shapes, the output shape and head, train/eval batch norm,
 * bad inputs; a tiny one overfits four drawn 32×32 defects to IoU > 0.9 on the CPU, and one
 * training step on the GPU equals the CPU's (logits and first gradients).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKensaError } from '../../src/errors.js';
import type { Gpu } from '../../src/gpu/gpu.js';
import { Var, backward } from '../../src/nn/autograd.js';
import { bceDiceLoss, crossEntropy } from '../../src/nn/losses.js';
import { nnDispatches } from '../../src/nn/launch.js';
import { AdamW } from '../../src/nn/optim.js';
import { UNet, writeInto } from '../../src/models/unet.js';
import { conv2d } from '../../src/nn/conv.js';
import { BatchNorm2d, Conv2d } from '../../src/nn/layers.js';
import { relu } from '../../src/nn/ops.js';
import { mulberry32 } from '../../src/rng.js';
import { liveTensors, Tensor, tidy } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();
const TINY = [4, 8];

/** Noisy 32×32 surfaces, each with a drawn defect (a disc or a thick diagonal scratch), and the masks. */
function drawnDefects(n: number, size: number, seed: number): { images: Float32Array; masks: Float32Array } {
  const next = mulberry32(seed);
  const images = new Float32Array(n * size * size);
  const masks = new Float32Array(n * size * size);
  for (let k = 0; k < n; k++) {
    const cx = 8 + next() * (size - 16);
    const cy = 8 + next() * (size - 16);
    const r = 3 + next() * 4;
    const scratch = k % 2 === 1;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = scratch ? Math.abs(x - cx - (y - cy)) < 2 && Math.abs(y - cy) < 2 * r : (x - cx) ** 2 + (y - cy) ** 2 < r * r;
        const i = (k * size + y) * size + x;
        masks[i] = inside ? 1 : 0;
        images[i] = 0.5 + 0.1 * (next() - 0.5) - (inside ? 0.3 : 0);
      }
    }
  }
  return { images, masks };
}

test('the UNet has PyTorch state-dict names and shapes, and logits [N, classes, H, W]', async () => {
  const net = await UNet.create({ widths: TINY, inChannels: 3, classes: 3 });
  const entries = net.stateEntries().map((e) => `${e.name} [${e.tensor.shape.join(',')}]`);
  assert.deepEqual(entries.slice(0, 6), [
    'enc.0.conv1.weight [4,3,3,3]',
    'enc.0.bn1.weight [4]',
    'enc.0.bn1.bias [4]',
    'enc.0.bn1.running_mean [4]',
    'enc.0.bn1.running_var [4]',
    'enc.0.conv2.weight [4,4,3,3]',
  ]);
  assert.ok(entries.includes('enc.1.conv1.weight [8,4,3,3]'));
  assert.ok(entries.includes('up.0.weight [8,4,2,2]'));
  assert.ok(entries.includes('up.0.bias [4]'));
  assert.ok(entries.includes('dec.0.conv1.weight [4,8,3,3]'));
  assert.deepEqual(entries.slice(-2), ['head.weight [3,4,1,1]', 'head.bias [3]']);
  assert.equal(net.parameters().length, net.stateEntries().filter((e) => e.parameter).length);
  assert.deepEqual(net.batchNormNames(), ['enc.0.bn1', 'enc.0.bn2', 'enc.1.bn1', 'enc.1.bn2', 'dec.0.bn1', 'dec.0.bn2']);
  const x = Var.constant(Tensor.fromArray(drawnDefects(6, 8, 1).images, [2, 3, 8, 8], 'f32'));
  assert.deepEqual([...net.forward(x).shape], [2, 3, 8, 8]);
});

test('default and slim UNets have 4 levels of the named widths', async () => {
  const slim = await UNet.create({ widths: [48, 96, 192, 384] });
  const shapes = new Map(slim.stateEntries().map((e) => [e.name, e.tensor.shape.join(',')]));
  assert.equal(shapes.get('enc.3.conv2.weight'), '384,384,3,3');
  assert.equal(shapes.get('up.2.weight'), '384,192,2,2');
  assert.equal(shapes.get('dec.0.conv1.weight'), '48,96,3,3');
  assert.equal((await UNet.create()).config.widths.join('-'), '64-128-256-512');
});

test('batch norm uses batch statistics in training and running ones in eval', async () => {
  const net = await UNet.create({ widths: TINY }, { seed: 3 });
  const x = Var.constant(
    Tensor.fromArray(
      drawnDefects(2, 8, 2).images.map((v) => 5 * v),
      [2, 1, 8, 8],
      'f32',
    ),
  );
  const evalOut = (net.predict(x).value.data as Float32Array).slice();
  const trainOut = net.forward(x).value.data as Float32Array;
  assert.equal(net.batchesTracked, 1);
  assert.ok(
    trainOut.some((v, i) => Math.abs(v - evalOut[i]!) > 1e-3),
    'train and eval outputs differ',
  );
  assert.equal(net.training, true, 'predict restores the mode');
});

test('eval folds each batch norm into its convolution (and the ReLU into its store): the unfolded output within 1e-5; CPU and GPU', async () => {
  for (const device of [null, ...(gpu ? [gpu] : [])]) {
    const place = async (t: Tensor) => (device ? t.toGpu(device) : t);
    const next = mulberry32(7);
    const conv = await Conv2d.create(3, 5, 3, { padding: 1, bias: false, seed: 2, ...(device ? { gpu: device } : {}) });
    const bn = await BatchNorm2d.create(5, device ? { gpu: device } : {});
    const drawn = (lo: number, hi: number) => Float32Array.from({ length: 5 }, () => lo + (hi - lo) * next());
    await writeInto(bn.gamma.value, drawn(0.5, 2));
    await writeInto(bn.beta.value, drawn(-1, 1));
    await writeInto(bn.runningMean, drawn(-0.5, 0.5));
    await writeInto(bn.runningVar, drawn(0.2, 3));
    const x = Var.constant(
      await place(
        Tensor.fromArray(
          Float32Array.from({ length: 2 * 3 * 9 * 11 }, () => next() * 2 - 1),
          [2, 3, 9, 11],
          'f32',
        ),
      ),
    );
    const unfolded = await tidy(() => relu(bn.forward(conv.forward(x), false)).value).toCpu();
    const { weight, bias } = bn.foldInto(conv);
    const folded = await tidy(() => conv2d(x, weight, bias, { ...conv.options, activation: 'relu' }).value).toCpu();
    const [a, b] = [unfolded.data as Float32Array, folded.data as Float32Array];
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 1e-5, `${device ? 'gpu' : 'cpu'}: max difference ${worst}`);
    assert.ok(b.some((v) => v === 0) && b.some((v) => v > 0), 'the ReLU clamps some outputs and keeps others');
  }
});

test('eval keeps its folded weights across forwards and folds again after a step or loaded weights; dispose frees everything', async () => {
  const before = liveTensors();
  const net = await UNet.create({ widths: TINY }, { seed: 5 });
  const { images, masks } = drawnDefects(2, 8, 4);
  const x = Var.constant(Tensor.fromArray(images, [2, 1, 8, 8], 'f32'));
  const predicted = () => tidy(() => net.predict(x).value.data as Float32Array).slice();
  const launches = (fn: () => unknown) => {
    const at = nnDispatches();
    fn();
    return nnDispatches() - at;
  };
  const first = launches(predicted);
  const second = launches(predicted);
  // 3 double convs (2 levels down, 1 up) of two folds, 3 launches each (scale, weight, shift: no conv bias), made once
  const folding = 3 * 2 * 3;
  assert.equal(first - second, folding, `launches of the first forward ${first}, of the second ${second}`);
  const cached = predicted();

  const optimizer = new AdamW(net.parameters(), { lr: 0.05 });
  tidy(() => backward(bceDiceLoss(net.forward(x), Tensor.fromArray(masks, [2, 1, 8, 8], 'f32'))));
  optimizer.step();
  optimizer.dispose();
  const stepped = predicted();
  const fresh = await UNet.create({ widths: TINY }, { seed: 9 });
  await fresh.loadStateDict({ tensors: await net.stateDict(), metadata: {} }, 'the stepped net');
  const expected = tidy(() => fresh.predict(x).value.data as Float32Array).slice();
  assert.ok(
    stepped.some((v, i) => v !== cached[i]),
    'the step moved the eval output',
  );
  assert.deepEqual(stepped, expected, 'eval after a step equals a net made from the stepped weights');

  await net.loadStateDict({ tensors: await fresh.stateDict(), metadata: {} }, 'the same weights');
  assert.equal(launches(predicted) - second, folding, 'loaded weights are folded again');
  net.dispose();
  fresh.dispose();
  x.value.dispose();
  assert.equal(liveTensors(), before, 'dispose frees the weights, gradients and folded weights');
});

test('bad configurations and inputs get errors naming them', async () => {
  await assert.rejects(UNet.create({ inChannels: 2 }), (e) => isKensaError(e, 'KENSA_ERR_INVALID_ARGUMENT') && /inChannels/.test(e.message));
  await assert.rejects(UNet.create({ widths: [8] }), (e) => isKensaError(e) && /widths/.test(e.message));
  await assert.rejects(UNet.create({ widths: [8, 0] }), (e) => isKensaError(e) && /widths\[1\]/.test(e.message));
  await assert.rejects(UNet.create({ preprocessing: { mean: [0], std: [1, 1] } }), (e) => isKensaError(e) && /preprocessing.std/.test(e.message));
  const net = await UNet.create({ widths: [4, 8, 16] });
  const x = Var.constant(Tensor.zeros([1, 1, 6, 6], 'f32'));
  assert.throws(
    () => net.forward(x),
    (e) => isKensaError(e, 'KENSA_ERR_SHAPE') && /multiples of 4/.test(e.message),
  );
});

test('a 3-class UNet (softmax head) learns per-pixel labels with cross-entropy', async () => {
  const data = drawnDefects(2, 8, 4);
  const labels = Int32Array.from(data.masks, (m, i) => (m ? 1 + (i % 2) : 0));
  const x = Var.constant(Tensor.fromArray(data.images, [2, 1, 8, 8], 'f32'));
  const net = await UNet.create({ widths: TINY, classes: 3 }, { seed: 5 });
  const opt = new AdamW(net.parameters(), { lr: 0.03, weightDecay: 0 });
  const losses: number[] = [];
  for (let step = 0; step < 10; step++) {
    opt.zeroGrad();
    const loss = tidy(() => {
      const l = crossEntropy(net.forward(x), Tensor.fromArray(labels, [2, 8, 8], 'i32'));
      backward(l);
      opt.step();
      return l.value;
    });
    losses.push(loss.at(0));
  }
  assert.ok(losses.at(-1)! < 0.7 * losses[0]!, `cross-entropy ${losses[0]} → ${losses.at(-1)}`);
});

function iou(logits: Float32Array, masks: Float32Array): number {
  let inter = 0;
  let union = 0;
  logits.forEach((v, i) => {
    const p = v > 0 ? 1 : 0;
    inter += p * masks[i]!;
    union += Math.max(p, masks[i]!);
  });
  return inter / union;
}

test('a tiny UNet overfits four drawn 32×32 defects to IoU > 0.9 within 60 steps (CPU)', async () => {
  const N = 4;
  const S = 32;
  const data = drawnDefects(N, S, 7);
  const x = Var.constant(Tensor.fromArray(data.images, [N, 1, S, S], 'f32'));
  const target = Tensor.fromArray(data.masks, [N, 1, S, S], 'f32');
  const net = await UNet.create({ widths: TINY }, { seed: 1 });
  const opt = new AdamW(net.parameters(), { lr: 0.03, weightDecay: 0 });
  let best = 0;
  for (let step = 0; step < 60 && best <= 0.9; step++) {
    opt.zeroGrad();
    tidy(() => {
      backward(bceDiceLoss(net.forward(x), target));
      opt.step();
    });
    if (step % 10 === 9) best = iou(tidy(() => net.predict(x).value).data as Float32Array, data.masks);
  }
  assert.ok(best > 0.9, `IoU ${best}`);
});

async function oneStep(device: Gpu | null) {
  const place = async (t: Tensor) => (device ? t.toGpu(device) : t);
  const data = drawnDefects(2, 16, 11);
  const x = Var.constant(await place(Tensor.fromArray(data.images, [2, 1, 16, 16], 'f32')));
  const target = await place(Tensor.fromArray(data.masks, [2, 1, 16, 16], 'f32'));
  const net = await UNet.create({ widths: TINY }, { seed: 2, gpu: device ?? undefined });
  const logits = net.forward(x).retain();
  backward(bceDiceLoss(logits, target));
  const first = net.parameters()[0]!;
  return {
    logits: (await logits.value.toCpu()).data as Float32Array,
    grad: (await first.grad!.toCpu()).data as Float32Array,
    headGrad: (await net.parameters().at(-1)!.grad!.toCpu()).data as Float32Array,
  };
}

test('one training step on the GPU equals the CPU (logits, first and last gradients)', { skip: gpuSkip(gpu) }, async () => {
  const cpu = await oneStep(null);
  const onGpu = await oneStep(gpu);
  const close = (a: Float32Array, b: Float32Array, tol: number, what: string) => {
    const scale = Math.max(1, ...a.map(Math.abs));
    for (const [i, v] of a.entries()) assert.ok(Math.abs(v - b[i]!) <= tol * scale, `${what}[${i}]: ${b[i]} vs ${v}`);
  };
  close(cpu.logits, onGpu.logits, 1e-4, 'logits');
  close(cpu.grad, onGpu.grad, 1e-3, 'enc.0.conv1.weight grad');
  close(cpu.headGrad, onGpu.headGrad, 1e-3, 'head.bias grad');
});
