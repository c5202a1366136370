/** Shared cases of the geometry tests: bit-exact GPU == CPU over dtypes, shapes and special values. */
import assert from 'node:assert/strict';
import { allocTyped, f32ToF16Bits, type DType } from '../../../src/dtype.js';
import type { Gpu } from '../../../src/gpu/gpu.js';
import { Tensor } from '../../../src/tensor.js';
import { EXACT } from '../../_kit/compare.js';
import { naturalImage, randomImage, rng } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

export const DTYPES: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16'];

/** Shapes: batch 1 and > 1, odd sizes, 1 and 3 channels. */
export const SHAPES: readonly (readonly [number, number, number, number])[] = [
  [1, 1, 17, 23],
  [2, 3, 9, 8],
  [3, 1, 5, 13],
];

/** Values an f32 detour would alter: i32 beyond 2^24, f32/f16 infinities, NaN, -0, subnormals. */
export function specialImage(shape: readonly [number, number, number, number], dtype: DType, seed = 3): Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = allocTyped(dtype, n);
  for (let i = 0; i < n; i++) {
    const u = r();
    switch (dtype) {
      case 'u8':
        data[i] = Math.floor(u * 256);
        break;
      case 'u16':
        data[i] = Math.floor(u * 65536);
        break;
      case 'i32':
        data[i] = Math.floor((u - 0.5) * 4294967295);
        break;
      case 'f32':
        data[i] = [NaN, Infinity, -Infinity, -0, 1e-40, 3.4e38][i % 7] ?? (u - 0.5) * 1e30;
        break;
      case 'f16':
        data[i] = [0x7c00, 0xfc00, 0x7e01, 0x8000, 0x0001][i % 6] ?? Math.floor(u * 65536);
        break;
    }
  }
  return Tensor.fromArray(data, shape, dtype);
}

/** Storage bits of a CPU tensor (f32 as u32, so NaN payloads and -0 compare). */
export function bits(t: Tensor): number[] {
  const d = t.data;
  return [...(t.dtype === 'f32' ? new Uint32Array(d.buffer, d.byteOffset, d.length) : d)];
}

/** GPU result has the CPU reference's bits, over dtypes × shapes × natural/random/special images. */
export async function assertExactEverywhere(gpu: Gpu, op: (t: Tensor) => Tensor, what: string): Promise<void> {
  for (const dtype of DTYPES) {
    for (const shape of SHAPES) {
      const x = (shape[0] > 1 ? randomImage : naturalImage)(shape, dtype, 11);
      await assertGpuMatchesCpu(gpu, [x], op, EXACT, `${what} ${dtype} [${shape.join(',')}]`);
    }
    const s = specialImage([2, 1, 7, 9], dtype);
    const cpu = op(s);
    const g = await s.toGpu(gpu);
    const out = op(g);
    const back = await out.toCpu();
    g.dispose();
    out.dispose();
    assert.deepEqual(bits(back), bits(cpu), `${what} ${dtype} special values bit-exact`);
  }
}

/** Output dtype conversions (to f16 and others) match the CPU exactly for exact ops. */
export async function assertConversions(gpu: Gpu, op: (t: Tensor, dtype: DType) => Tensor, what: string): Promise<void> {
  for (const [from, to] of [
    ['u8', 'f16'],
    ['f32', 'f16'],
    ['f32', 'u8'],
    ['u16', 'f32'],
    ['i32', 'u8'],
    ['f16', 'f32'],
  ] as const) {
    const x = randomImage([2, 3, 7, 11], from, 5);
    await assertGpuMatchesCpu(gpu, [x], (t) => op(t, to), EXACT, `${what} ${from}→${to}`);
  }
}

export function f16(v: number): number {
  return f32ToF16Bits(v);
}
