import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuDevice, defineOp, deviceOf, onDevice, sharedDevice, webgpuDevice } from '../src/device.js';
import { KensaError } from '../src/errors.js';
import { Tensor } from '../src/tensor.js';
import { testGpu } from './_kit/gpu.js';

const scale = defineOp({
  name: 'scale',
  gpu: (x: Tensor, k: number) => `gpu ${x.size}×${k}`,
  cpu: (x: Tensor, k: number) => `cpu ${x.size}×${k}`,
});

test('cpu device: alloc, upload and download round-trip bytes', async () => {
  const h = cpuDevice.alloc(8);
  assert.deepEqual([...h], [0, 0, 0, 0, 0, 0, 0, 0]);
  await cpuDevice.upload(h, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...(await cpuDevice.download(h, 4))], [1, 2, 3, 0]);
  cpuDevice.free(h);
});

test('defineOp runs the CPU reference for CPU tensors', () => {
  const x = Tensor.zeros([1, 1, 2, 3], 'u8');
  assert.equal(deviceOf(x), cpuDevice);
  assert.equal(scale(x, 2), 'cpu 6×2');
  assert.equal(onDevice([x, x], { gpu: () => 'g', cpu: () => 'c' }), 'c');
});

test('gpu device: one per Gpu; ops get the GPU implementation; mixed devices are refused', async (t) => {
  const gpu = await testGpu();
  if (!gpu) return t.skip('no WebGPU adapter');
  const dev = webgpuDevice(gpu);
  assert.equal(webgpuDevice(gpu), dev);
  assert.equal(dev.kind, 'gpu');
  const ref = dev.alloc(16);
  await dev.upload(ref, new Uint8Array([9, 8, 7, 6]));
  assert.deepEqual([...(await dev.download(ref, 4))], [9, 8, 7, 6]);
  dev.free(ref);
  const c = Tensor.zeros([1, 1, 2, 3], 'u8');
  const g = await c.toGpu(gpu);
  assert.equal(deviceOf(g), dev);
  assert.equal(scale(g, 3), 'gpu 6×3');
  assert.equal(onDevice(g, { gpu: (on) => on === gpu, cpu: () => false }), true);
  assert.throws(
    () => sharedDevice([g, c]),
    (e: unknown) => e instanceof KensaError && e.code === 'KENSA_ERR_DEVICE_MISMATCH',
  );
  assert.throws(
    () => onDevice([c, g], { gpu: () => 0, cpu: () => 1 }),
    (e: unknown) => e instanceof KensaError && e.code === 'KENSA_ERR_DEVICE_MISMATCH',
  );
  g.dispose();
});
