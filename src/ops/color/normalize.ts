/**
 * Per-channel normalisation, the torchvision / albumentations `Normalize` convention:
 *   out[n, c] = (x[n, c] · scale − mean[c]) / std[c]
 * `scale` (default 1) maps the input to the range mean and std are given in: torchvision's
 * ImageNet constants (mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225) expect x in [0, 1], so
 * pass scale 1/255 for u8 images (albumentations' max_pixel_value = 255 is the same thing).
 * Computed as one f32 multiply-add, x · (scale / std[c]) + (−mean[c] / std[c]), with both
 * factors rounded to f32 once, on both backends: results agree with the formula above to a few
 * f32 ulps. Output dtype defaults to f32; integer outputs round half to even and saturate,
 * f16 outputs clamp to ±65504. Pointwise (no border; GPU program from pointwise.ts). No OpenCV
 * counterpart (cv::normalize is a min-max / norm rescale, a different operation).
 */
import { onDevice } from '../../device.js';
import { DTYPES, type DType } from '../../dtype.js';
import { KensaError } from '../../errors.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, is, numberInRange } from '../../validate.js';
import { checkImage, outDType } from '../image.js';
import { cpuPixelKernel, type Dims4 } from '../../kernels/pixel.js';
import { cpuLoader, linearIndex } from './convert.js';
import { pointwisePrograms, runPointwise, type PointwiseSpec } from '../../kernels/pointwise.js';

/** Most channels with distinct mean/std (one uniform vec4 each). */
export const NORMALIZE_MAX_CHANNELS = 64;

export interface NormalizeOptions {
  /** Per-channel means (in the units of x · scale): C values, or 1 for all channels. */
  mean: readonly number[];
  /** Per-channel standard deviations, each above 0: C values, or 1 for all channels. */
  std: readonly number[];
  /** Applied to x before the mean is subtracted (e.g. 1/255 for u8 images); default 1. */
  scale?: number;
  /** Output dtype; default f32. */
  dtype?: DType;
}

function normalizeSpec(inDtype: DType, outDtype: DType): PointwiseSpec {
  return {
    name: 'color_normalize',
    key: '',
    input: inDtype,
    output: outDtype,
    planes: true,
    elementwise: true,
    uniforms: [
      // (multiplier, addend, 0, 0) per channel: no dynamic vector-component indexing
      { name: 'ab', type: { array: 'vec4f', length: NORMALIZE_MAX_CHANNELS } },
    ],
    body: /* wgsl */ `
fn map4(v: vec4<f32>, c: u32) -> vec4<f32> {
  let ab = u.ab[min(c, ${NORMALIZE_MAX_CHANNELS - 1}u)];
  return v * ab.x + ab.y;
}`,
  };
}

function channelValues(name: string, v: unknown, channels: number, positive: boolean): number[] {
  const what = `an array of 1 or ${channels} ${positive ? 'numbers above 0' : 'finite numbers'}`;
  if (!Array.isArray(v) || (v.length !== 1 && v.length !== channels) || !v.every((e) => is.number(e) && (!positive || e > 0))) {
    throw invalidParameter(name, what, v);
  }
  return v.length === 1 ? new Array<number>(channels).fill(v[0] as number) : (v as number[]);
}

/**
 * Normalises each channel of an N×C×H×W batch: (x · scale − mean[c]) / std[c]. Runs where `x` lives.
 * @example normalize(u8img, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 1 / 255 })
 * @example normalize(img, { mean: [127.5], std: [127.5], dtype: 'f16' })   // u8 → [-1, 1]
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for mean/std of the wrong length or std ≤ 0;
 *   KENSA_ERR_SHAPE for more than 64 channels with per-channel (not broadcast) values.
 */
export function normalize(x: Tensor, options: NormalizeOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? ({} as NormalizeOptions);
  const mean = channelValues('mean', o.mean, d.c, false);
  const std = channelValues('std', o.std, d.c, true);
  const scale = o.scale === undefined ? 1 : numberInRange('scale', o.scale, -1e30, 1e30);
  const dtype = outDType(o.dtype, 'f32');
  const mul = std.map((s) => Math.fround(scale / s));
  const add = std.map((s, c) => Math.fround(-mean[c]! / s));
  // one value for every channel fills every slot (the shader clamps c), so any C works
  const uniform = mul.every((m, c) => m === mul[0] && add[c] === add[0]);
  if (!uniform && d.c > NORMALIZE_MAX_CHANNELS) {
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected x with at most ${NORMALIZE_MAX_CHANNELS} channels for per-channel mean and std but received ${d.c} (shape [${x.shape.join(', ')}])`,
    );
  }
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  return onDevice(x, {
    gpu: () => {
      const ab = new Array<number>(NORMALIZE_MAX_CHANNELS * 4).fill(0);
      for (let c = 0; c < NORMALIZE_MAX_CHANNELS; c++) {
        const s = uniform ? 0 : Math.min(c, d.c - 1);
        ab[4 * c] = mul[s]!;
        ab[4 * c + 1] = add[s]!;
      }
      return runPointwise(normalizeSpec(x.dtype, dtype), x, shape, { ab });
    },
    cpu: () => {
      const load = cpuLoader(x);
      const at = linearIndex(shape);
      return cpuPixelKernel(shape, dtype, (n, c, y, xx) => Math.fround(Math.fround(load(at(n, c, y, xx)) * mul[c]!) + add[c]!));
    },
  });
}

/** Every program variant of normalize, for compile-all tests. */
export function normalizePrograms(): ProgramInfo[] {
  return DTYPES.flatMap((i) => DTYPES.flatMap((o) => pointwisePrograms(normalizeSpec(i, o))));
}
