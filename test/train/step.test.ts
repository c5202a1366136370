/** One training step with and without loss scaling (the --amp path's GradScaler) on the CPU: the same loss and weights. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UNet } from '../../src/models/unet.js';
import { AdamW } from '../../src/nn/optim.js';
import { GradScaler } from '../../src/nn/scaler.js';
import type { LoaderBatch } from '../../src/pipeline/augment-loader.js';
import { Tensor } from '../../src/tensor.js';
import { recordStep } from '../../src/train/train.js';

function batch(): LoaderBatch {
  const image = new Uint8Array(2 * 16 * 16).map((_, i) => ((i * 37) % 251) & 0xff);
  const mask = image.map((v) => (v > 128 ? 255 : 0));
  return {
    image: Tensor.fromArray(image, [2, 1, 16, 16], 'u8'),
    mask: Tensor.fromArray(mask, [2, 1, 16, 16], 'u8'),
    names: ['a', 'b'],
    indices: [0, 1],
    params: [],
    epoch: 0,
  };
}

test('a step under loss scaling returns the unscaled loss and moves the weights as the unscaled step does', async () => {
  const results = [];
  for (const scaled of [false, true]) {
    const net = await UNet.create({ widths: [4, 8] }, { seed: 3 });
    const opt = new AdamW(net.parameters(), { lr: 0.01 });
    const scaler = scaled ? new GradScaler({ initScale: 1024 }) : null;
    const losses = [await (await recordStep(net, opt, scaler, batch(), 2)).loss, await (await recordStep(net, opt, scaler, batch(), 2)).loss];
    results.push({ losses, weights: [...net.parameters()[0]!.value.data] });
  }
  const [plain, scaled] = results;
  assert.ok(Number.isFinite(plain!.losses[0]) && plain!.losses[0]! > 0);
  for (const [i, l] of plain!.losses.entries()) assert.ok(Math.abs(l - scaled!.losses[i]!) < 1e-5, `step ${i}: ${l} vs ${scaled!.losses[i]}`);
  for (const [i, w] of plain!.weights.entries()) assert.ok(Math.abs(w - scaled!.weights[i]!) < 1e-5, `weight ${i}`);
});
