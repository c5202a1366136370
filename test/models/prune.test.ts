/**
 * Pruning a UNet by |γ|: the kept channels are exactly the largest-|γ| ones; a net whose dropped
 * channels are dead (γ = β = 0 after each conv, zero filters and bias in the transposed convs)
 * predicts the same after pruning (so every consumer kept the same channels); identical widths copy
 * the net; fewer parameters and MACs; bad widths name the option.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKensaError } from '../../src/errors.js';
import { Var } from '../../src/nn/autograd.js';
import { prunedChannels, pruneUNet, unetMacs, unetParameters } from '../../src/models/prune.js';
import type { UNet } from '../../src/models/unet.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor } from '../../src/tensor.js';
import { drawnUNet } from '../_kit/unet.js';

function input(shape: number[], seed: number): Var {
  const next = mulberry32(seed);
  return Var.constant(
    Tensor.fromArray(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1),
      shape,
      'f32',
    ),
  );
}

function maxDifference(a: UNet, b: UNet, x: Var): number {
  const ya = a.predict(x).value.data;
  const yb = b.predict(x).value.data;
  assert.equal(ya.length, yb.length);
  let worst = 0;
  for (let i = 0; i < ya.length; i++) worst = Math.max(worst, Math.abs(ya[i]! - yb[i]!));
  return worst;
}

test('identical widths copy the net: the same output, exactly, and its decision threshold', async () => {
  const net = await drawnUNet([4, 8, 16], 1, 1, 2);
  net.threshold = 0.3;
  const same = await pruneUNet(net, [4, 8, 16]);
  assert.equal(maxDifference(net, same, input([1, 1, 16, 16], 1)), 0);
  assert.equal(same.threshold, 0.3);
  assert.equal((await pruneUNet(net, [2, 4, 8])).threshold, 0.3);
});

test('each batch norm keeps exactly its largest-|γ| channels, in their original order', async () => {
  const net = await drawnUNet([6, 8], 1, 1, 3);
  const state = await net.stateDict();
  // γ of enc.0.bn1: the largest magnitudes at 5 (negative), 1 and 3
  state.get('enc.0.bn1.weight')!.data = Float32Array.of(0.1, 0.9, -0.2, 0.5, 0.05, -1.5);
  await net.loadStateDict({ tensors: state, metadata: {} }, 'set');
  const keep = await prunedChannels(net, [3, 5]);
  assert.deepEqual(keep.get('enc.0.bn1'), [1, 3, 5]);
  const pruned = await pruneUNet(net, [3, 5]);
  const after = await pruned.stateDict();
  assert.deepEqual(
    [...after.get('enc.0.bn1.weight')!.data].map((v) => Math.round(v * 100) / 100),
    [0.9, 0.5, -1.5],
  );
  for (const bn of net.batchNormNames()) {
    const gamma = state.get(`${bn}.weight`)!.data;
    const kept = [...after.get(`${bn}.weight`)!.data];
    const want = [...gamma]
      .map((g, i) => ({ g, i }))
      .sort((a, b) => Math.abs(b.g) - Math.abs(a.g))
      .slice(0, kept.length)
      .sort((a, b) => a.i - b.i);
    assert.deepEqual(
      kept,
      want.map((c) => c.g),
      bn,
    );
  }
});

test('pruning dead channels leaves the output unchanged: every consumer keeps the matching channels', async () => {
  const original = [6, 8, 12];
  const target = [4, 5, 7];
  const net = await drawnUNet(original, 3, 2, 4);
  const state = await net.stateDict();
  const next = mulberry32(9);
  // a random set of target[level] live channels per batch norm and per transposed conv; the others dead
  const live = (n: number, k: number) =>
    new Set(
      Array.from({ length: n }, (_, i) => i)
        .sort(() => next() - 0.5)
        .slice(0, k),
    );
  for (const bn of net.batchNormNames()) {
    const level = Number(bn.split('.')[1]);
    const alive = live(original[level]!, target[level]!);
    for (const p of ['weight', 'bias']) state.get(`${bn}.${p}`)!.data = state.get(`${bn}.${p}`)!.data.map((v, c) => (alive.has(c) ? v : 0));
  }
  for (let i = 0; i + 1 < original.length; i++) {
    const alive = live(original[i]!, target[i]!);
    const w = state.get(`up.${i}.weight`)!;
    w.data = w.data.map((v, j) => (alive.has(Math.floor(j / 4) % original[i]!) ? v : 0));
    state.get(`up.${i}.bias`)!.data = state.get(`up.${i}.bias`)!.data.map((v, c) => (alive.has(c) ? v : 0));
  }
  await net.loadStateDict({ tensors: state, metadata: {} }, 'dead');
  const pruned = await pruneUNet(net, target);
  assert.deepEqual(pruned.config.widths, target);
  const x = input([2, 3, 16, 24], 5);
  assert.deepEqual(pruned.predict(x).value.shape, net.predict(x).value.shape);
  assert.ok(maxDifference(net, pruned, x) < 1e-5);
});

test('fewer parameters and MACs; the parameter count is the net’s own', async () => {
  const net = await drawnUNet([8, 16, 32], 1, 1, 6);
  const slim = await pruneUNet(net, [6, 12, 24]);
  const counted = (n: UNet) => n.parameters().reduce((s, p) => s + p.value.size, 0);
  assert.equal(unetParameters(net.config), counted(net));
  assert.equal(unetParameters(slim.config), counted(slim));
  assert.ok(unetParameters(slim.config) < unetParameters(net.config));
  assert.ok(unetMacs(slim.config, 64, 64) < unetMacs(net.config, 64, 64));
  // level 0 of 1→8→8 at 64×64: 9 · (1·8 + 8·8) · 4096 MACs in the first double conv alone
  assert.ok(unetMacs(net.config, 64, 64) > 9 * 72 * 4096);
});

test('widths larger than the original, or not one per level, are refused naming the option', async () => {
  const net = await drawnUNet([4, 8], 1, 1, 7);
  const refused = (widths: unknown, name: RegExp) =>
    assert.rejects(pruneUNet(net, widths as number[]), (e: unknown) => isKensaError(e) && e.code === 'KENSA_ERR_INVALID_ARGUMENT' && name.test(e.message));
  await refused([4, 9], /widths\[1\]/);
  await refused([4, 8, 16], /for widths but/);
  await refused([0, 8], /widths\[0\]/);
  await refused([2.5, 8], /widths\[0\]/);
});
