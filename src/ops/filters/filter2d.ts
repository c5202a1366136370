/**
 * 2-D correlation with a user kernel, as OpenCV's cv::filter2D (correlation, not convolution:
 * out(y, x) = Σ kernel[j][i] · src(y + j - kh/2, x + i - kw/2) + delta).
 * Border reflect101 by default (also replicate, constant with `borderValue`); integer outputs
 * round half to even and saturate (saturate_cast). Output dtype defaults to the input's (ddepth -1).
 * Sums are f32 in row-major kernel order, rounded once at the end (OpenCV's direct path for
 * u8/f32 also sums in float).
 * Differences from OpenCV: the kernel must have odd width and height (1 to 31) and is centred;
 * OpenCV also takes even sizes with an explicit anchor. OpenCV switches to a DFT for large
 * kernels (≥ 11×11), whose rounding differs slightly from this direct sum.
 * GPU: the weights travel as a uniform array (961 floats), so the call stays synchronous and one
 * compiled program serves every kernel size; windows inside the image skip the border logic.
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, is, numberInRange } from '../../validate.js';
import { checkBorder, type BorderMode } from '../../kernels/border.js';
import { checkImage, outDType } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';

/** Largest kernel side filter2d takes (31 × 31 weights travel as a uniform array). */
export const MAX_FILTER2D_SIZE = 31;
const WEIGHT_VECS = Math.ceil((MAX_FILTER2D_SIZE * MAX_FILTER2D_SIZE) / 4);

export interface Filter2dOptions {
  /** Kernel rows (odd count, 1 to 31), each of the same odd length (1 to 31), finite numbers. */
  kernel: readonly (readonly number[])[];
  /** Added to every output before rounding. Default 0. */
  delta?: number;
  border?: BorderMode;
  borderValue?: number;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

interface ResolvedFilter2d {
  kw: number;
  kh: number;
  weights: number[];
  delta: number;
  border: BorderMode;
  borderValue: number;
  dtype: DType;
}

const KERNEL_EXPECTED = `rows of equal odd length (odd count and length 1 to ${MAX_FILTER2D_SIZE}) of finite numbers`;

function resolve(x: Tensor, o: Filter2dOptions): ResolvedFilter2d {
  checkImage('x', x);
  if (!is.defined(o) || typeof o !== 'object') throw invalidParameter('options', 'an object with kernel', o);
  const k: unknown = o.kernel;
  if (!Array.isArray(k) || k.length === 0 || k.length % 2 !== 1 || k.length > MAX_FILTER2D_SIZE) throw invalidParameter('kernel', KERNEL_EXPECTED, k);
  const kw = Array.isArray(k[0]) ? (k[0] as unknown[]).length : 0;
  if (kw % 2 !== 1 || kw > MAX_FILTER2D_SIZE) throw invalidParameter('kernel', KERNEL_EXPECTED, k);
  const weights: number[] = [];
  for (const row of k as unknown[]) {
    if (!Array.isArray(row) || row.length !== kw || !row.every(is.number)) throw invalidParameter('kernel', KERNEL_EXPECTED, k);
    weights.push(...(row as number[]));
  }
  return {
    kw,
    kh: k.length,
    weights,
    delta: o.delta === undefined ? 0 : numberInRange('delta', o.delta, -1e30, 1e30),
    border: checkBorder('border', o.border),
    borderValue: o.borderValue === undefined ? 0 : numberInRange('borderValue', o.borderValue, -1e30, 1e30),
    dtype: outDType(o.dtype, x.dtype),
  };
}

export function filter2dProgram(inDtype: DType, outDtype: DType, border: BorderMode): ProgramInfo {
  return pixelProgram({
    name: 'filter2d',
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border,
    uniforms: [
      { name: 'kw', type: 'u32' },
      { name: 'kh', type: 'u32' },
      { name: 'delta', type: 'f32' },
      { name: 'weights', type: { array: 'vec4f', length: WEIGHT_VECS } },
    ],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let rx = u.kw / 2u;
  let ry = u.kh / 2u;
  var acc = 0.0;
  var k = 0u;
  if (y >= ry && y + ry < s.z && x >= rx && x + rx < s.w) {
    // window inside the image: direct loads, no border logic
    var row = ((n * s.y + c) * s.z + y - ry) * s.w + x - rx;
    for (var j = 0u; j < u.kh; j++) {
      for (var i = 0u; i < u.kw; i++) {
        acc += u.weights[k >> 2u][k & 3u] * src_load(row + i);
        k++;
      }
      row += s.w;
    }
  } else {
    for (var j = 0u; j < u.kh; j++) {
      for (var i = 0u; i < u.kw; i++) {
        acc += u.weights[k >> 2u][k & 3u] * src_at(n, c, i32(y + j) - i32(ry), i32(x + i) - i32(rx));
        k++;
      }
    }
  }
  return acc + u.delta;
}`,
  });
}

/**
 * Correlates each channel of an N×C×H×W batch with `kernel` and adds `delta`. Runs where `x` lives.
 * @example filter2d(img, { kernel: [[0, -1, 0], [-1, 5, -1], [0, -1, 0]] })   // sharpen
 * @example filter2d(img, { kernel: [[1, 0, -1]], delta: 128, border: 'replicate' })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for an even, ragged, empty or >31 kernel, unknown border.
 */
export function filter2d(x: Tensor, options: Filter2dOptions): Tensor {
  const o = resolve(x, options);
  const d = checkImage('x', x);
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  return onDevice(x, {
    gpu: () => {
      const weights = new Array<number>(WEIGHT_VECS * 4).fill(0);
      for (const [i, v] of o.weights.entries()) weights[i] = v;
      return runPixelProgram(filter2dProgram(x.dtype, o.dtype, o.border), [x], shape, o.dtype, { kw: o.kw, kh: o.kh, delta: o.delta, weights }, o.borderValue);
    },
    cpu: () => {
      const src = cpuAccessor(x, o.border, o.borderValue);
      const w = o.weights.map(Math.fround);
      const delta = Math.fround(o.delta);
      const rx = (o.kw - 1) / 2;
      const ry = (o.kh - 1) / 2;
      return cpuPixelKernel(shape, o.dtype, (n, c, y, xx) => {
        let acc = 0;
        let k = 0;
        for (let j = 0; j < o.kh; j++) {
          for (let i = 0; i < o.kw; i++) acc = Math.fround(acc + Math.fround(w[k++]! * src(n, c, y + j - ry, xx + i - rx)));
        }
        return acc + delta;
      });
    },
  });
}

/** Every program variant of filter2d, for compile-all tests. */
export function filter2dPrograms(dtypes: readonly DType[], borders: readonly BorderMode[]): ProgramInfo[] {
  return dtypes.flatMap((i) => dtypes.flatMap((o) => borders.map((b) => filter2dProgram(i, o, b))));
}
