/**
 * Ops `kensa bench` and `kensa doctor` know, by name: each takes an N×C×H×W batch and returns
 * the result on the batch's device (GPU work is recorded, not waited for). Add an entry to
 * benchmark another op; the key is what `--op` takes.
 */
import { customKernel } from '../ops/custom/kernel.js';
import { gaussianBlur } from '../ops/filters/gaussian.js';
import type { Tensor } from '../tensor.js';

export type BenchOp = (x: Tensor) => Tensor;

/**
 * The crack kernel as a custom kernel: 255 where the central-difference gradient magnitude
 * sqrt(((I[y,x+1] − I[y,x−1]) / 2)² + ((I[y+1,x] − I[y−1,x]) / 2)²) exceeds `threshold`, else 0
 * (border reflect101). Evaluated squared and unhalved, so integer inputs are exact in f32 on both
 * backends.
 */
export const crackKernel = customKernel({
  name: 'crack',
  uniforms: { threshold: 'f32' },
  pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let yi = i32(y);
  let xi = i32(x);
  let gx = x_at(n, c, yi, xi + 1) - x_at(n, c, yi, xi - 1);
  let gy = x_at(n, c, yi + 1, xi) - x_at(n, c, yi - 1, xi);
  let t = 2.0 * u.threshold;
  return select(0.0, 255.0, gx * gx + gy * gy > t * t);
}`,
  cpu: ({ x }, { threshold }, n, c, y, xx) => {
    const gx = Math.fround(x.at(n, c, y, xx + 1) - x.at(n, c, y, xx - 1));
    const gy = Math.fround(x.at(n, c, y + 1, xx) - x.at(n, c, y - 1, xx));
    const t = Math.fround(2 * threshold);
    return Math.fround(Math.fround(gx * gx) + Math.fround(gy * gy)) > Math.fround(t * t) ? 255 : 0;
  },
});

/** Threshold of the crack op in bench: 8 % of the dtype's range (u8 20, floats 0.08). */
function crackThreshold(x: Tensor): number {
  return x.dtype === 'u8' ? 20 : x.dtype === 'u16' ? 5000 : x.dtype === 'i32' ? 80 : 0.08;
}

export const benchOps: Record<string, BenchOp> = {
  gaussian: (x) => gaussianBlur(x, { sigma: 2 }),
  crack: (x) => crackKernel(x, { uniforms: { threshold: crackThreshold(x) }, dtype: 'u8' }),
};
