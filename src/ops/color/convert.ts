/**
 * Data type conversion with an affine map, as OpenCV's Mat::convertTo(dst, rtype, alpha, beta):
 *   out = saturate_cast<dtype>(x · scale + offset)
 * Pointwise (no border; GPU program from pointwise.ts). Arithmetic is f32 on both backends (the
 * input read as f32, then one multiply and one add, each rounded to f32); integer outputs round
 * half to even and saturate (OpenCV's saturate_cast), f16 outputs clamp to ±65504, NaN becomes 0
 * in integer outputs.
 * Differences from OpenCV:
 *  - OpenCV computes 32-bit integer (CV_32S) and f64 sources in double; here everything is f32,
 *    so i32 inputs above 2^24 in magnitude lose their low bits.
 *  - On the GPU, i32 outputs saturate at 2147483520 (the largest f32 below 2^31), not 2147483647.
 * Also the engine of `brightnessContrast` (same program, OpenCV's convertTo semantics).
 */
import { onDevice } from '../../device.js';
import { DTYPES, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { numberInRange, oneOf } from '../../validate.js';
import { checkImage, packPerSample, perSampleField } from '../image.js';
import { cpuLoader, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { pointwisePrograms, runPointwise, type PointwiseSpec } from '../../kernels/pointwise.js';

export interface ConvertOptions {
  /** Output dtype (required): u8, u16, i32, f32 or f16. */
  dtype: DType;
  /** Multiplier applied first; any number between -1e30 and 1e30. Default 1. */
  scale?: number;
  /** Added after scaling; any number between -1e30 and 1e30. Default 0. */
  offset?: number;
}

/** The one pointwise spec of this family's affine ops: out = x · u.scale + u.offset. */
export function affineSpec(inDtype: DType, outDtype: DType): PointwiseSpec {
  return {
    name: 'color_affine',
    key: '',
    input: inDtype,
    output: outDtype,
    planes: false,
    elementwise: true,
    uniforms: [
      { name: 'scale', type: 'f32' },
      { name: 'offset', type: 'f32' },
    ],
    body: /* wgsl */ `
fn map4(v: vec4<f32>, c: u32) -> vec4<f32> {
  return v * u.scale + u.offset;
}`,
  };
}

export { cpuLoader };

/** Linear index of (n, c, y, x) in a contiguous N×C×H×W tensor. */
export function linearIndex(shape: Dims4): (n: number, c: number, y: number, x: number) => number {
  const [, C, H, W] = shape;
  return (n, c, y, x) => ((n * C + c) * H + y) * W + x;
}

/**
 * The per-sample program: sample n's scale and offset are u.ps[n].xy. A pixel program (the
 * pointwise engine's threads do not know their sample); same f32 expression as `affineSpec`.
 */
export function affinePerSampleProgram(inDtype: DType, outDtype: DType): ProgramInfo {
  return pixelProgram({
    name: 'color_affine_per_sample',
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border: 'replicate',
    uniforms: [perSampleField('ps', 'vec4f', 1)],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let p = u.ps[n];
  return src_px(n, c, y, x) * p.x + p.y;
}`,
  });
}

/** Every dtype pair of the per-sample affine program (brightnessContrast with per-sample alpha or beta), for compile-all tests. */
export function affinePerSamplePrograms(): ProgramInfo[] {
  return DTYPES.flatMap((i) => DTYPES.map((o) => affinePerSampleProgram(i, o)));
}

/** saturate(x · scale[n] + offset[n]) for each sample n, where x lives; arguments already validated. */
function affinePerSample(x: Tensor, shape: Dims4, scale: readonly number[], offset: readonly number[], dtype: DType): Tensor {
  return onDevice(x, {
    gpu: () =>
      runPixelProgram(affinePerSampleProgram(x.dtype, dtype), [x], shape, dtype, {
        ps: packPerSample(
          scale.map((s, n) => [s, offset[n]!]),
          1,
        ),
      }),
    cpu: () => {
      const s = scale.map(Math.fround);
      const o = offset.map(Math.fround);
      const load = cpuLoader(x);
      const at = linearIndex(shape);
      return cpuPixelKernel(shape, dtype, (n, c, y, xx) => Math.fround(Math.fround(load(at(n, c, y, xx)) * s[n]!) + o[n]!));
    },
  });
}

/**
 * saturate(x · scale + offset) into `dtype`, where x lives; arguments already validated. `scale`
 * and `offset` are one number for the batch or N (one per sample, a per-sample program).
 */
export function affine(x: Tensor, scale: number | readonly number[], offset: number | readonly number[], dtype: DType): Tensor {
  const d = checkImage('x', x);
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  if (typeof scale !== 'number' || typeof offset !== 'number') {
    const each = (v: number | readonly number[]) => (typeof v === 'number' ? new Array<number>(d.n).fill(v) : v);
    return affinePerSample(x, shape, each(scale), each(offset), dtype);
  }
  return onDevice(x, {
    gpu: () => runPointwise(affineSpec(x.dtype, dtype), x, shape, { scale, offset }),
    cpu: () => {
      const s = Math.fround(scale);
      const o = Math.fround(offset);
      const load = cpuLoader(x);
      const at = linearIndex(shape);
      return cpuPixelKernel(shape, dtype, (n, c, y, xx) => Math.fround(Math.fround(load(at(n, c, y, xx)) * s) + o));
    },
  });
}

/**
 * Converts an N×C×H×W batch to another dtype: saturate(x · scale + offset), as cv::Mat::convertTo.
 * Runs where `x` lives.
 * @example convert(u8img, { dtype: 'f32', scale: 1 / 255 })   // 0..255 → 0..1
 * @example convert(f32img, { dtype: 'u8', scale: 255 })        // rounds half to even, saturates
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for an unknown dtype or a non-finite scale/offset.
 */
export function convert(x: Tensor, options: ConvertOptions): Tensor {
  checkImage('x', x);
  const o = options ?? ({} as ConvertOptions);
  const dtype = oneOf('dtype', o.dtype, DTYPES);
  const scale = o.scale === undefined ? 1 : numberInRange('scale', o.scale, -1e30, 1e30);
  const offset = o.offset === undefined ? 0 : numberInRange('offset', o.offset, -1e30, 1e30);
  return affine(x, scale, offset, dtype);
}

/** Every program variant of convert (and brightnessContrast), for compile-all tests. */
export function convertPrograms(): ProgramInfo[] {
  return DTYPES.flatMap((i) => DTYPES.flatMap((o) => pointwisePrograms(affineSpec(i, o))));
}
