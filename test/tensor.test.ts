import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tensor } from '../src/tensor.js';
import { gpuSkip, testGpu } from './_kit/gpu.js';

const gpu = await testGpu();

test('fromArray validates dtype, shape and length with one sentence each', () => {
  assert.throws(() => Tensor.fromArray(new Uint8Array(4), [2, 2], 'f32'), /Expected a Float32Array for dtype f32 for data but received "Uint8Array"/);
  assert.throws(() => Tensor.fromArray(new Uint8Array(4), [2, 3], 'u8'), /Expected 6 elements for shape \[2, 3\] for data but received "4 elements"/);
  assert.throws(() => Tensor.fromArray(new Uint8Array(0), [0], 'u8'), /Expected an array of 1 to 8 positive integers for shape but received \[0\]/);
  assert.throws(() => Tensor.fromArray(new Uint8Array(4), [4], 'u4' as never), /Expected one of u8, u16, i32, f32, f16 for dtype but received "u4"/);
});

test('strides are contiguous row-major; reshape shares data', () => {
  const t = Tensor.fromArray(new Float32Array(24), [2, 3, 4], 'f32');
  assert.deepEqual([...t.strides], [12, 4, 1]);
  const r = t.reshape([6, 4]);
  (r.data as Float32Array)[5] = 9;
  assert.equal(t.at(5), 9);
  assert.throws(() => t.reshape([5, 5]), /Expected a shape of 24 elements for shape/);
});

test('a disposed tensor refuses use; CPU data of a GPU tensor needs toCpu()', { skip: gpuSkip(gpu) }, async () => {
  const t = await Tensor.fromArray(new Uint16Array([1, 2, 3]), [3], 'u16').toGpu(gpu!);
  assert.equal(t.device, 'gpu');
  assert.throws(() => t.data, /call await tensor.toCpu\(\)/);
  const view = t.reshape([1, 3]);
  t.dispose();
  assert.throws(() => t.device, /disposed/);
  assert.deepEqual([...((await view.toCpu()).data as Uint16Array)], [1, 2, 3], 'a view keeps the buffer alive');
  view.dispose();
});

test('fromFrames: a batch from frames, concatenated on the CPU and uploaded part by part to the GPU', async (t) => {
  const frames = [Uint16Array.of(1, 2, 3), Uint16Array.of(4, 5, 6)];
  const cpu = await Tensor.fromFrames(frames, [2, 1, 1, 3], 'u16');
  assert.equal(cpu.device, 'cpu');
  assert.deepEqual([...cpu.data], [1, 2, 3, 4, 5, 6]);
  await assert.rejects(
    Tensor.fromFrames(frames, [2, 1, 1, 4], 'u16'),
    /Expected 8 elements in all for shape \[2, 1, 1, 4\] for frames but received "6 elements"/,
  );
  await assert.rejects(
    Tensor.fromFrames([Uint8Array.of(1)], [1, 1, 1, 1], 'u16'),
    /Expected a Uint16Array for dtype u16 for frames\[0\] but received "Uint8Array"/,
  );
  if (!gpu) return t.skip(gpuSkip(gpu) || '');
  const odd = [Uint8Array.of(9, 8, 7, 6, 5), Uint8Array.of(4, 3, 2, 1, 0)];
  const g = await Tensor.fromFrames(odd, [2, 1, 1, 5], 'u8', gpu);
  assert.equal(g.device, 'gpu');
  assert.deepEqual([...(await g.toCpu()).data], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  g.dispose();
});
