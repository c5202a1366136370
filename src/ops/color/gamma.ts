/**
 * Gamma correction (albumentations' RandomGamma / skimage.exposure.adjust_gamma convention):
 *   integer inputs (u8, u16, i32):  out = gain · (max(x, 0) / M)^gamma · M,  M = the input dtype's max
 *                                   (255, 65535, 2147483647), so results stay in the input's range;
 *   float inputs (f32, f16):        out = gain · max(x, 0)^gamma.
 * Negative inputs (i32, floats) are clamped to 0 first, so no NaN appears; NaN inputs give 0.
 * The output keeps the input's scale whatever `dtype` is (u8 → f32 gives 0..255, not 0..1).
 * f32 arithmetic: x · (1/M) then pow then · (gain · M), the two constants rounded to f32 once,
 * on both backends. WGSL's pow is exp2(gamma · log2(v)), a few f32 ulps from the correctly
 * rounded pow of the CPU reference, so integer outputs can differ by 1 across backends at
 * rounding ties. Integer outputs round half to even and saturate, f16 outputs clamp to ±65504.
 * Pointwise (no border; GPU program from pointwise.ts). OpenCV has no gamma function (it is usually done with cv::LUT).
 * Per sample (augmentation's RandomGamma): gamma and gain may each be one value per sample; that
 * variant is a pixel program (pointwise threads do not know their sample) with the same arithmetic.
 */
import { onDevice } from '../../device.js';
import { DTYPE_RANGE, DTYPES, isIntegerDType, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, is } from '../../validate.js';
import { checkImage, numberItem, outDType, packPerSample, perSample, perSampleField, sampleValue, type PerSample, type PerSampleItem } from '../image.js';
import { cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { cpuLoader, linearIndex } from './convert.js';
import { pointwisePrograms, runPointwise, type PointwiseSpec } from '../../kernels/pointwise.js';

export interface GammaOptions {
  /** Exponent, above 0 and at most 100; < 1 brightens, > 1 darkens. One per sample allowed. */
  gamma: PerSample<number>;
  /** Multiplier of the result, 0 to 1000, or one per sample. Default 1. */
  gain?: PerSample<number>;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

function gammaSpec(inDtype: DType, outDtype: DType): PointwiseSpec {
  return {
    name: 'color_gamma',
    key: '',
    input: inDtype,
    output: outDtype,
    planes: false,
    elementwise: true,
    uniforms: [
      { name: 'inv_max', type: 'f32' },
      { name: 'gamma', type: 'f32' },
      { name: 'mul', type: 'f32' },
    ],
    body: /* wgsl */ `
fn map4(x: vec4<f32>, c: u32) -> vec4<f32> {
  let v = x * u.inv_max;
  // v > 0 is false for NaN and negatives: both give 0 (pow of a negative is undefined in WGSL)
  return select(vec4<f32>(0.0), pow(v, vec4<f32>(u.gamma)), v > vec4<f32>(0.0)) * u.mul;
}`,
  };
}

/** The per-sample program: sample n's gamma and gain · M are u.ps[n].xy. */
function gammaPerSampleProgram(inDtype: DType, outDtype: DType): ProgramInfo {
  return pixelProgram({
    name: 'color_gamma_per_sample',
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border: 'replicate',
    uniforms: [{ name: 'inv_max', type: 'f32' }, perSampleField('ps', 'vec4f', 1)],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let p = u.ps[n];
  let v = src_px(n, c, y, x) * u.inv_max;
  return select(0.0, pow(v, p.x), v > 0.0) * p.y;
}`,
  });
}

const GAMMA_ITEM: PerSampleItem<number> = {
  what: ['a number', 'numbers'],
  check: (name, v) => {
    if (!is.number(v) || v <= 0 || v > 100) throw invalidParameter(name, 'number above 0 and at most 100', v);
    return v;
  },
};

/**
 * Applies gamma correction to an N×C×H×W batch. Runs where `x` lives.
 * @example gamma(u8img, { gamma: 0.5 })              // brighten: 255 · (x/255)^0.5
 * @example gamma(f32img, { gamma: 2.2, gain: 1.1 })
 * @example gamma(batch4, { gamma: [0.8, 1, 1.25, 2] })   // a gamma per sample
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for gamma outside (0, 100], gain outside [0, 1000], or per-sample values of another length than N.
 */
export function gamma(x: Tensor, options: GammaOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? ({} as GammaOptions);
  const gs = perSample('gamma', o.gamma, d.n, GAMMA_ITEM);
  const gains = o.gain === undefined ? { values: [1], perSample: false } : perSample('gain', o.gain, d.n, numberItem(0, 1000));
  const dtype = outDType(o.dtype, x.dtype);
  const M = isIntegerDType(x.dtype) ? DTYPE_RANGE[x.dtype][1] : 1;
  const invMax = Math.fround(1 / M);
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  if (gs.perSample || gains.perSample)
    return gammaPerSample(
      x,
      shape,
      dtype,
      invMax,
      Array.from({ length: d.n }, (_, n) => [sampleValue(gs, n), Math.fround(sampleValue(gains, n) * M)]),
    );
  const g = gs.values[0]!;
  const mul = Math.fround(gains.values[0]! * M);
  return onDevice(x, {
    gpu: () => runPointwise(gammaSpec(x.dtype, dtype), x, shape, { inv_max: invMax, gamma: g, mul }),
    cpu: () => {
      const gf = Math.fround(g);
      const load = cpuLoader(x);
      const at = linearIndex(shape);
      return cpuPixelKernel(shape, dtype, (n, c, y, xx) => {
        const v = Math.fround(load(at(n, c, y, xx)) * invMax);
        return Math.fround((v > 0 ? Math.fround(v ** gf) : 0) * mul);
      });
    },
  });
}

/** Gamma with sample n's [gamma, gain · M] in rows[n], where x lives. */
function gammaPerSample(x: Tensor, shape: Dims4, dtype: DType, invMax: number, rows: readonly (readonly [number, number])[]): Tensor {
  return onDevice(x, {
    gpu: () => runPixelProgram(gammaPerSampleProgram(x.dtype, dtype), [x], shape, dtype, { inv_max: invMax, ps: packPerSample(rows, 1) }),
    cpu: () => {
      const gf = rows.map((r) => Math.fround(r[0]));
      const load = cpuLoader(x);
      const at = linearIndex(shape);
      return cpuPixelKernel(shape, dtype, (n, c, y, xx) => {
        const v = Math.fround(load(at(n, c, y, xx)) * invMax);
        return Math.fround((v > 0 ? Math.fround(v ** gf[n]!) : 0) * rows[n]![1]);
      });
    },
  });
}

/** Every dtype pair of the per-sample gamma program, for compile-all tests. */
export function gammaPerSamplePrograms(): ProgramInfo[] {
  return DTYPES.flatMap((i) => DTYPES.map((o) => gammaPerSampleProgram(i, o)));
}

/** Every program variant of gamma, for compile-all tests. */
export function gammaPrograms(): ProgramInfo[] {
  return DTYPES.flatMap((i) => DTYPES.flatMap((o) => pointwisePrograms(gammaSpec(i, o))));
}
