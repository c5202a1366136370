import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KensaError } from '../src/errors.js';
import { convert } from '../src/ops/color/convert.js';
import { rgbToGray } from '../src/ops/color/gray.js';
import { threshold } from '../src/ops/threshold/binary.js';
import { gaussianBlur } from '../src/ops/filters/gaussian.js';
import { Tensor } from '../src/tensor.js';
import { testGpu } from './_kit/gpu.js';
import { randomImage } from './_kit/images.js';
import { arithmeticExact, assertClose } from './_kit/compare.js';

const gpu = await testGpu();
const code = (c: string) => (e: unknown) => e instanceof KensaError && e.code === c;

/** 0, 1, 2, … as an N×C×H×W tensor of `dtype`. */
function iota(shape: [number, number, number, number], dtype: 'u8' | 'i32' = 'u8'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return dtype === 'u8'
    ? Tensor.fromArray(
        Uint8Array.from({ length: n }, (_, i) => i % 256),
        shape,
        'u8',
      )
    : Tensor.fromArray(
        Int32Array.from({ length: n }, (_, i) => i),
        shape,
        'i32',
      );
}

test('slice and permute are views; contiguous() copies them row-major (CPU)', () => {
  const x = iota([1, 2, 3, 4]);
  const ch = x.slice([undefined, [1, 2]]);
  assert.deepEqual([ch.shape, ch.strides, ch.offset, ch.isContiguous], [[1, 1, 3, 4], [24, 12, 4, 1], 12, false]);
  assert.deepEqual([...ch.contiguous().data], [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
  const crop = x.slice([undefined, undefined, [1, 3], [1, 3]]);
  assert.deepEqual([...crop.contiguous().data], [5, 6, 9, 10, 17, 18, 21, 22]);
  const t = x.permute([0, 1, 3, 2]);
  assert.deepEqual(t.shape, [1, 2, 4, 3]);
  assert.deepEqual([...t.contiguous().data].slice(0, 6), [0, 4, 8, 1, 5, 9]);
  assert.deepEqual([...t.slice([undefined, [1, 2], [2, 4]]).contiguous().data], [14, 18, 22, 15, 19, 23]);
  assert.equal(x.slice([]).isContiguous, true);
  assert.equal(x.slice([]).contiguous().data, x.data);
});

test('a view is refused where contiguous data is needed, with the way out', () => {
  const v = iota([1, 2, 3, 4]).slice([undefined, [0, 1]]);
  assert.throws(() => v.data, code('KENSA_ERR_NOT_CONTIGUOUS'));
  assert.throws(() => gaussianBlur(v, { sigma: 1 }), /strided view .* call contiguous\(\) first/);
  assert.throws(() => v.reshape([12]), code('KENSA_ERR_NOT_CONTIGUOUS'));
  assert.deepEqual([...gaussianBlur(v.contiguous(), { sigma: 1 }).data].length, 12);
});

test('slice and permute validate their arguments', () => {
  const x = iota([1, 2, 3, 4]);
  assert.throws(() => x.slice([undefined, [1, 3]]), /Expected \[start, end\) with 0 ≤ start < end ≤ 2 for ranges\[1\]/);
  assert.throws(() => x.slice([undefined, [1, 1]]), code('KENSA_ERR_INVALID_ARGUMENT'));
  assert.throws(() => x.permute([0, 1, 2, 2]), /Expected a permutation of 0 … 3 for order/);
});

test('GPU contiguous() of crops, channel slices and transposes equals the CPU copy, bit for bit', { skip: gpu ? false : 'no WebGPU adapter' }, async () => {
  for (const dt of ['u8', 'u16', 'i32', 'f32', 'f16'] as const) {
    const x = randomImage([2, 3, 9, 11], dt, 7);
    if (dt === 'f16') (x.data as Uint16Array).set([0x7c00, 0xfc00, 0x7e01, 0x8000], 0); // ±∞, a NaN payload, −0
    if (dt === 'i32') (x.data as Int32Array).set([2 ** 31 - 1, -(2 ** 31), 16777217], 0);
    const g = await x.toGpu(gpu!);
    const views = (t: Tensor) => [
      t.slice([undefined, [1, 3]]),
      t.slice([[1, 2], undefined, [2, 7], [3, 10]]),
      t.permute([0, 1, 3, 2]),
      t.permute([0, 1, 3, 2]).slice([undefined, [2, 3], [1, 6]]),
      t.slice([undefined, undefined, [0, 9], [0, 1]]),
    ];
    const cpu = views(x);
    const onGpu = views(g);
    for (let i = 0; i < cpu.length; i++) {
      const expected = cpu[i]!.contiguous();
      const got = await onGpu[i]!.toCpu();
      assert.deepEqual(got.shape, expected.shape, `${dt} view ${i} shape`);
      assert.deepEqual([...got.data], [...expected.data], `${dt} view ${i}`);
      onGpu[i]!.dispose();
    }
    g.dispose();
  }
});

test('a GPU buffer goes back to the pool when the tensor and all its views are disposed', { skip: gpu ? false : 'no WebGPU adapter' }, async () => {
  const before = gpu!.pool.stats.bytesInUse;
  const g = await iota([1, 1, 8, 8]).toGpu(gpu!);
  const v = g.slice([undefined, undefined, [2, 4]]);
  g.dispose();
  assert.ok(gpu!.pool.stats.bytesInUse > before);
  const c = v.contiguous();
  assert.deepEqual([...(await c.toCpu()).data], [16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);
  c.dispose();
  v.dispose();
  assert.equal(gpu!.pool.stats.bytesInUse, before);
});

test('pointwise ops read a channel slice and a crop window in place, GPU = CPU', { skip: gpu ? false : 'no WebGPU adapter' }, async () => {
  for (const dt of ['u8', 'f16', 'i32'] as const) {
    const x = randomImage([2, 3, 10, 12], dt, 9);
    const g = await x.toGpu(gpu!);
    const cases: [string, (t: Tensor) => Tensor][] = [
      ['convert of channel 1', (t) => convert(t.slice([undefined, [1, 2]]), { dtype: 'f32', scale: 0.5, offset: 3 })],
      ['convert of a crop', (t) => convert(t.slice([undefined, undefined, [2, 9], [3, 11]]), { dtype: 'u16' })],
      ['convert of a transpose', (t) => convert(t.permute([0, 1, 3, 2]), { dtype: 'f32' })],
      ['threshold of a crop of channels 0..1', (t) => threshold(t.slice([undefined, [0, 2], [1, 7], [0, 5]]), { thresh: 40, maxval: 255, dtype: 'u8' })],
      ['rgbToGray of a crop', (t) => rgbToGray(t.slice([[1, 2], undefined, [1, 10], [2, 7]]), { dtype: 'f32' })],
    ];
    for (const [what, op] of cases) {
      const expected = op(x);
      const before = gpu!.stats.dispatches;
      const onGpu = op(g);
      assert.equal(gpu!.stats.dispatches - before, 1, `${what}: one program reads the view (no copy first)`);
      const got = await onGpu.toCpu();
      onGpu.dispose();
      assertClose(got, expected, arithmeticExact(gpu!), `${dt} ${what}: GPU = CPU`);
    }
    g.dispose();
  }
});

test('a pointwise op on a view equals the op on the materialised view (CPU)', () => {
  const x = randomImage([1, 3, 6, 7], 'u8', 2);
  const v = x.slice([undefined, [1, 3], [1, 5], [2, 7]]);
  assert.deepEqual([...convert(v, { dtype: 'f32', scale: 2 }).data], [...convert(v.contiguous(), { dtype: 'f32', scale: 2 }).data]);
  assert.deepEqual([...threshold(v, { thresh: 100 }).data], [...threshold(v.contiguous(), { thresh: 100 }).data]);
});
