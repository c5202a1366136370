import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBackend } from '../../src/backend.js';
import { batchLimitsFor, DEFAULT_BATCH } from '../../src/pipeline/inspect.js';
import { testGpu, gpuSkipReason } from '../_kit/gpu.js';

test('batch limits: the CPU keeps the asked pixel budget', async () => {
  const cpu = await openBackend({ device: 'cpu' });
  assert.deepEqual(batchLimitsFor(cpu), DEFAULT_BATCH);
  assert.equal(batchLimitsFor(cpu, { maxPixels: 1000 }).maxPixels, 1000);
});

test('batch limits: a batch\'s f32 intermediates fit the adapter\'s largest storage binding', async (t) => {
  const gpu = await testGpu();
  if (!gpu) return t.skip(gpuSkipReason);
  const backend = await openBackend({ device: 'gpu' });
  try {
    const binding = backend.gpu!.info.limits.maxStorageBufferBindingSize!;
    const limits = batchLimitsFor(backend);
    assert.ok(limits.maxPixels * 4 <= binding, `${limits.maxPixels} px × 4 B > ${binding} B`);
    assert.equal(limits.maxPixels, Math.min(DEFAULT_BATCH.maxPixels, Math.floor(binding / 4)));
    assert.equal(batchLimitsFor(backend, { maxPixels: 64 }).maxPixels, 64);
  } finally {
    backend.close();
  }
});
