/**
 * Separable 2-D correlation: a horizontal then a vertical 1-D pass (kornia's filter2d_separable).
 * The intermediate is f32, so rounding happens once, at the end, as in OpenCV's float path.
 * Taps travel as uniforms (array<vec4<f32>, 64>), so one compiled program serves every kernel.
 */
import type { DType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import type { BorderMode } from '../border.js';
import { checkImage, type ImageDims } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../pixel-kernel.js';
import { MAX_TAPS } from './kernels.js';

const TAP_VECS = Math.ceil(MAX_TAPS / 4) + 1;

function separablePass(axis: 'h' | 'v', inDtype: DType, outDtype: DType, border: BorderMode) {
  const [dy, dx] = axis === 'h' ? ['0', 'i32(k) - r'] : ['i32(k) - r', '0'];
  return pixelProgram({
    name: `separable_${axis}`,
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border,
    uniforms: [
      { name: 'taps', type: 'u32' },
      { name: 'weights', type: { array: 'vec4f', length: TAP_VECS } },
    ],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let r = i32(u.taps / 2u);
  var acc = 0.0;
  for (var k = 0u; k < u.taps; k++) {
    acc += u.weights[k / 4u][k % 4u] * src_at(n, c, i32(y) + ${dy}, i32(x) + ${dx});
  }
  return acc;
}`,
  });
}

function packWeights(w: readonly number[]): number[] {
  const out = new Array<number>(TAP_VECS * 4).fill(0);
  w.forEach((v, i) => (out[i] = v));
  return out;
}

export interface SeparableArgs {
  kx: readonly number[];
  ky: readonly number[];
  border: BorderMode;
  borderValue: number;
  dtype: DType;
}

/** Correlates each channel with kx along x, then ky along y (both odd lengths, centred). */
export function filter2dSeparable(x: Tensor, a: SeparableArgs): Tensor {
  const d: ImageDims = checkImage('x', x);
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  // A constant border row of the source becomes borderValue·Σkx after the horizontal pass.
  const midBorder = a.borderValue * a.kx.reduce((s, v) => s + v, 0);
  if (x.device === 'gpu') {
    const tmp = runPixelProgram(separablePass('h', x.dtype, 'f32', a.border), [x], shape, 'f32', { taps: a.kx.length, weights: packWeights(a.kx) }, a.borderValue);
    const out = runPixelProgram(separablePass('v', 'f32', a.dtype, a.border), [tmp], shape, a.dtype, { taps: a.ky.length, weights: packWeights(a.ky) }, midBorder);
    tmp.dispose();
    return out;
  }
  const src = cpuAccessor(x, a.border, a.borderValue);
  const rx = (a.kx.length - 1) / 2;
  const ry = (a.ky.length - 1) / 2;
  const kx = a.kx.map(Math.fround);
  const ky = a.ky.map(Math.fround);
  const tmp = cpuPixelKernel(shape, 'f32', (n, c, yy, xx) => {
    let acc = 0;
    for (let k = 0; k < kx.length; k++) acc = Math.fround(acc + Math.fround(kx[k]! * src(n, c, yy, xx + k - rx)));
    return acc;
  });
  const mid = cpuAccessor(tmp, a.border, midBorder);
  return cpuPixelKernel(shape, a.dtype, (n, c, yy, xx) => {
    let acc = 0;
    for (let k = 0; k < ky.length; k++) acc = Math.fround(acc + Math.fround(ky[k]! * mid(n, c, yy + k - ry, xx)));
    return acc;
  });
}

/** Every program variant of this file, for compile-all tests. */
export function separablePrograms(dtypes: readonly DType[], borders: readonly BorderMode[]) {
  return dtypes.flatMap((dt) => borders.flatMap((b) => [separablePass('h', dt, 'f32', b), separablePass('v', 'f32', dt, b)]));
}
