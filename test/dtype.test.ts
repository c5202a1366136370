import assert from 'node:assert/strict';
import { test } from 'node:test';
import { f16BitsToF32, f32ToF16Bits, roundHalfEven, saturate } from '../src/dtype.js';

test('f16 conversion rounds to nearest even and round-trips representable values', () => {
  for (const v of [0, 1, -2, 0.5, 65504, -65504, 6.103515625e-5, 2 ** -24, 1024.5]) {
    assert.equal(f16BitsToF32(f32ToF16Bits(v)), v === 1024.5 ? 1024 : v, `value ${v}`);
  }
  assert.equal(f32ToF16Bits(1 + 2 ** -11), f32ToF16Bits(1)); // tie → even
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), f32ToF16Bits(1 + 2 ** -9)); // tie → even (up)
  assert.equal(f16BitsToF32(f32ToF16Bits(1e6)), Infinity);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
});

test('saturate follows OpenCV saturate_cast: half to even, clamp', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5].map(roundHalfEven), [0, 2, 2, -0, -2]);
  assert.equal(saturate('u8', 255.6), 255);
  assert.equal(saturate('u8', -3), 0);
  assert.equal(saturate('u8', 2.5), 2);
  assert.equal(saturate('u16', 70000), 65535);
  assert.equal(saturate('i32', 3e9), 2147483647);
  assert.equal(f16BitsToF32(saturate('f16', 1e6)), 65504);
});
