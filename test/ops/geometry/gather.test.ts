import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { f16BitsToF32 } from '../../../src/dtype.js';
import { cpuGather, fillBits, gatherVariants, integerMap, integerMapProgram } from '../../../src/ops/geometry/gather.js';
import { Tensor } from '../../../src/tensor.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { bits, DTYPES, specialImage } from './_exact.js';

const gpu = await testGpu();

describe('gather engine', () => {
  test('fill bits are the border value saturate_cast to the dtype', () => {
    assert.equal(fillBits('u8', 300), 255);
    assert.equal(fillBits('u8', 2.5), 2);
    assert.equal(fillBits('u16', -3), 0);
    assert.equal(fillBits('i32', -1), 0xffffffff);
    assert.equal(fillBits('f32', 1), 0x3f800000);
    assert.equal(f16BitsToF32(fillBits('f16', 1e9)), 65504);
  });

  test('equal dtypes copy bits: i32 beyond 2^24, NaN, infinities and -0 survive (CPU)', () => {
    const x = Tensor.fromArray(new Int32Array([2147483647, -2147483648, 16777217, -16777219]), [1, 1, 2, 2], 'i32');
    const y = integerMap('t', x, [1, 1, 2, 2], 'i32', 'inside', 0, { mx: [0, 1, 0], my: [1, 0, 0] });
    assert.deepEqual([...y.data], [...x.data]);
    const f = Tensor.fromArray(new Float32Array([NaN, -0, Infinity, 1e-45]), [1, 1, 1, 4], 'f32');
    const g = integerMap('t', f, [1, 1, 1, 4], 'f32', 'inside', 0, { mx: [0, -1, 3], my: [1, 0, 0] });
    assert.deepEqual(bits(g), bits(f).reverse());
  });

  test('a converting gather saturates (f32 → u8) and reads borders like cpuAccessor', () => {
    const x = Tensor.fromArray(new Float32Array([-3, 2.5, 3.5, 400]), [1, 1, 1, 4], 'f32');
    const y = cpuGather(x, 'u8', 'constant', 7, [1, 1, 1, 6], (_y, xx, p) => {
      p[0] = xx - 1;
      p[1] = 0;
    });
    assert.deepEqual([...y.data], [7, 0, 2, 4, 255, 7]);
  });

  test('GPU raw copies keep every bit for every dtype (special values)', { skip: gpuSkip(gpu) }, async () => {
    for (const dtype of DTYPES) {
      const x = specialImage([1, 2, 5, 7], dtype, 21);
      const map = { mx: [0, -1, 7] as const, my: [1, 0, -1] as const };
      const cpu = integerMap('t', x, [1, 2, 7, 9], dtype, 'constant', 3, map);
      const g = await x.toGpu(gpu!);
      const out = integerMap('t', g, [1, 2, 7, 9], dtype, 'constant', 3, map);
      assert.deepEqual(bits(await out.toCpu()), bits(cpu), dtype);
      g.dispose();
      out.dispose();
    }
  });

  test('every variant compiles (raw and converting, inside and border modes)', { skip: gpuSkip(gpu) }, async () => {
    for (const p of gatherVariants((a, b) => integerMapProgram('gather', a, b, 'inside'))) await gpu!.compile(p);
  });
});
