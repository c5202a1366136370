/** Deterministic test images: uniform noise, and "natural-looking" ones (gradients, edges, texture, specks). */
import { allocTyped, DTYPE_RANGE, f32ToF16Bits, type DType } from '../../src/dtype.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor } from '../../src/tensor.js';

/** The seeded generator of the test images (src/rng.ts). */
export const rng = mulberry32;

function fill(
  shape: readonly [number, number, number, number],
  dtype: DType,
  value: (i: number, n: number, c: number, y: number, x: number) => number,
): Tensor {
  const [N, C, H, W] = shape;
  const data = allocTyped(dtype, N * C * H * W);
  let i = 0;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++, i++) {
          const v = value(i, n, c, y, x);
          data[i] = dtype === 'f16' ? f32ToF16Bits(v) : dtype === 'f32' ? v : Math.round(v);
        }
  return Tensor.fromArray(data, shape, dtype);
}

function scaleFor(dtype: DType): number {
  return dtype === 'u8' ? 255 : dtype === 'u16' ? 65535 : dtype === 'i32' ? 1000 : 1;
}

/** Uniform noise over the dtype's natural range (u8 0..255, u16 0..65535, floats 0..1). */
export function randomImage(shape: readonly [number, number, number, number], dtype: DType, seed = 1): Tensor {
  const r = rng(seed);
  const s = scaleFor(dtype);
  return fill(shape, dtype, () => r() * s);
}

/** Smooth shading + a bright rectangle + a dark line + fine noise: edges and flat areas like real frames. */
export function naturalImage(shape: readonly [number, number, number, number], dtype: DType, seed = 1): Tensor {
  const r = rng(seed);
  const s = scaleFor(dtype);
  const [, , H, W] = shape;
  return fill(shape, dtype, (_i, n, c, y, x) => {
    let v = 0.3 + 0.2 * Math.sin((x + n * 7) / (W / 3 + 1)) * Math.cos((y + c * 5) / (H / 4 + 1));
    if (x > W / 4 && x < W / 2 && y > H / 3 && y < (2 * H) / 3) v += 0.35;
    if (Math.abs(x - y * 0.7 - W / 5) < 1.2) v -= 0.25;
    v += (r() - 0.5) * 0.06;
    return Math.min(1, Math.max(0, v)) * s;
  });
}

export const RANGE = DTYPE_RANGE;

/** A u8 N×1×H×W mask: 255 where f(n, y, x), else 0. */
export function maskFrom(shape: readonly [number, number, number, number], f: (n: number, y: number, x: number) => boolean): Tensor {
  const [N, , H, W] = shape;
  const d = new Uint8Array(N * H * W);
  for (let n = 0; n < N; n++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) d[(n * H + y) * W + x] = f(n, y, x) ? 255 : 0;
  return Tensor.fromArray(d, shape, 'u8');
}
