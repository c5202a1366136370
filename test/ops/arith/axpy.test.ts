import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KensaError } from '../../../src/errors.js';
import { affineSpec } from '../../../src/ops/color/convert.js';
import { axpy, axpyPrograms } from '../../../src/ops/arith/axpy.js';
import { runPointwise } from '../../../src/kernels/pointwise.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { randomImage } from '../../_kit/images.js';
import { testGpu } from '../../_kit/gpu.js';

const gpu = await testGpu();
const noGpu = gpu ? false : 'no WebGPU adapter';
const code = (c: string) => (e: unknown) => e instanceof KensaError && e.code === c;

test('axpy accumulates into y in place on the CPU', () => {
  const y = Tensor.fromArray(new Float32Array([1, 2, 3, 4]), [1, 1, 2, 2], 'f32');
  const x = Tensor.fromArray(new Uint8Array([10, 20, 30, 40]), [1, 1, 2, 2], 'u8');
  assert.equal(axpy(y, x), y);
  assert.deepEqual([...y.data], [11, 22, 33, 44]);
  axpy(y, x, { alpha: -0.5 });
  assert.deepEqual([...y.data], [6, 12, 18, 24]);
});

test('axpy: GPU = CPU over repeated accumulation, every x dtype', { skip: noGpu }, async () => {
  for (const dt of ['u8', 'u16', 'i32', 'f32', 'f16'] as const) {
    const shape = [2, 1, 9, 13] as const;
    const x = randomImage(shape, dt, 3);
    const start = randomImage(shape, 'f32', 4);
    const cpu = Tensor.fromArray(new Float32Array(start.data as Float32Array), shape, 'f32');
    const gy = await start.toGpu(gpu!);
    const gx = await x.toGpu(gpu!);
    for (let step = 0; step < 3; step++) {
      axpy(cpu, x, { alpha: 0.25 });
      assert.equal(axpy(gy, gx, { alpha: 0.25 }), gy);
    }
    assertClose(await gy.toCpu(), cpu, { atol: 1e-5, rtol: 1e-6 }, dt);
    gy.dispose();
    gx.dispose();
  }
});

test('axpy refuses a y other than f32, x of another shape or on another device, and y itself on the GPU', { skip: noGpu }, async () => {
  const y = Tensor.zeros([1, 1, 2, 2], 'f32');
  assert.throws(() => axpy(Tensor.zeros([1, 1, 2, 2], 'u8'), y), code('KENSA_ERR_DTYPE'));
  assert.throws(() => axpy(y, Tensor.zeros([1, 1, 2, 3], 'f32')), code('KENSA_ERR_SHAPE'));
  assert.throws(() => axpy(y, y, { alpha: Infinity }), code('KENSA_ERR_INVALID_ARGUMENT'));
  const g = await y.toGpu(gpu!);
  assert.throws(() => axpy(g, y), code('KENSA_ERR_DEVICE_MISMATCH'));
  assert.throws(() => axpy(g, g.reshape([1, 1, 4, 1]).reshape([1, 1, 2, 2])), /Expected a tensor apart from y .* for x but received "a view of y"/);
  for (const p of axpyPrograms()) await gpu!.compile(p);
  g.dispose();
});

test('a pointwise program writes into an existing tensor (out) as into a new one', { skip: noGpu }, async () => {
  const x = await randomImage([1, 2, 8, 16], 'u8', 5).toGpu(gpu!);
  const spec = affineSpec('u8', 'f32');
  const fresh = runPointwise(spec, x, [1, 2, 8, 16], { scale: 0.5, offset: 1 });
  const out = Tensor.empty(gpu!, [1, 2, 8, 16], 'f32');
  assert.equal(runPointwise(spec, x, [1, 2, 8, 16], { scale: 0.5, offset: 1 }, undefined, out), out);
  assert.deepEqual([...(await out.toCpu()).data], [...(await fresh.toCpu()).data]);
  assert.throws(
    () => runPointwise(spec, x, [1, 2, 8, 16], { scale: 1, offset: 0 }, undefined, Tensor.empty(gpu!, [1, 2, 8, 16], 'u8')),
    code('KENSA_ERR_DTYPE'),
  );
  assert.throws(
    () => runPointwise(spec, x, [1, 2, 8, 16], { scale: 1, offset: 0 }, undefined, Tensor.empty(gpu!, [1, 1, 8, 16], 'f32')),
    code('KENSA_ERR_SHAPE'),
  );
  for (const t of [x, fresh, out]) t.dispose();
});
