import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openBackend } from '../../src/backend.js';
import { UNet } from '../../src/models/unet.js';
import { resolveTrainConfig, train, type TrainResult } from '../../src/train/index.js';
import { adapterSkip } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';
import { writeDiscs } from './_data.js';

const root = tempDir('kensa-train-gpu-');

test('training on the GPU (lavapipe) takes the steps the CPU takes: the same losses (within 1e-4 in f32), a checkpoint that loads', {
  skip: await adapterSkip(),
}, async () => {
  const data = join(root, 'discs');
  await writeDiscs(data, 5, 16, 3);
  const config = resolveTrainConfig({ data, epochs: 1, batchSize: 2, crop: 16, widths: [4, 8], lr: 0.05, validationFraction: 0.2, seed: 1, amp: true });
  const results: TrainResult[] = [];
  const notes: string[] = [];
  for (const device of ['cpu', 'gpu'] as const) {
    const backend = await openBackend({ device });
    try {
      results.push(await train(config, { backend, out: join(root, device), onNote: (n) => notes.push(n) }));
    } finally {
      backend.close();
    }
  }
  const [cpu, gpu] = results as [TrainResult, TrainResult];
  assert.equal(gpu.log.steps.loss.length, 2);
  // f16 convolutions where --amp found tensor cores; else f32 like the CPU
  const tolerance = gpu.log.amp.active ? 2e-2 : 1e-4;
  for (const [i, l] of gpu.log.steps.loss.entries())
    assert.ok(Math.abs(l - cpu.log.steps.loss[i]!) < tolerance, `step ${i}: GPU ${l}, CPU ${cpu.log.steps.loss[i]}`);
  // --amp either runs (tensor cores: a loss scale is logged) or says once why not
  assert.equal(notes.length, gpu.log.amp.active ? 1 : 2);
  assert.equal(gpu.log.steps.lossScale[0], gpu.log.amp.active ? 65536 : null);
  const net = await UNet.fromSafetensors(readFileSync(join(root, 'gpu', 'best.safetensors')), 'best.safetensors');
  assert.deepEqual(net.config.widths, [4, 8]);
});
