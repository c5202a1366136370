/**
 * Crop, as OpenCV's ROI copy `src(cv::Rect(x, y, width, height)).clone()`: the rectangle must lie
 * inside the image (no border), every plane of the batch is cropped alike. Same output dtype:
 * an exact copy of the elements' bits; another `dtype`: saturate_cast (round half to even, clamp;
 * f16 clamps to ±65504).
 * Per sample (augmentation's random crop): `x` and `y` may be one value per sample, the size
 * being the batch's; per-sample boxes of different sizes are `resize`'s `boxes`.
 */
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange } from '../../validate.js';
import { checkImage, outDType, perSample, type PerSample, type PerSampleItem } from '../image.js';
import { integerMap, integerMapVariants } from './gather.js';

export interface CropOptions {
  /** Left column of the rectangle, 0 to W − 1; or one per sample. */
  x: PerSample<number>;
  /** Top row, 0 to H − 1; or one per sample. */
  y: PerSample<number>;
  /** 1 to W − x (the largest x when per sample). */
  width: number;
  /** 1 to H − y (the largest y when per sample). */
  height: number;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

function offsetItem(hi: number): PerSampleItem<number> {
  return { what: ['an integer', 'integers'], check: (name, v) => integerInRange(name, v, 0, hi) };
}

/**
 * Copies the rectangle (x, y, width, height) of every plane. Runs where `x` lives.
 * @example crop(img, { x: 8, y: 4, width: 32, height: 16 })
 * @example crop(batch2, { x: [0, 8], y: [4, 0], width: 32, height: 16 })   // an offset per sample
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT when the rectangle leaves the image.
 */
export function crop(x: Tensor, options: CropOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? ({} as CropOptions);
  const xs = perSample('x', o.x, d.n, offsetItem(d.w - 1));
  const ys = perSample('y', o.y, d.n, offsetItem(d.h - 1));
  const width = integerInRange('width', o.width, 1, d.w - Math.max(...xs.values));
  const height = integerInRange('height', o.height, 1, d.h - Math.max(...ys.values));
  const dtype = outDType(o.dtype, x.dtype);
  const shape: [number, number, number, number] = [d.n, d.c, height, width];
  if (!xs.perSample && !ys.perSample) return integerMap('crop', x, shape, dtype, 'inside', 0, { mx: [0, 1, xs.values[0]!], my: [1, 0, ys.values[0]!] });
  const at = (v: typeof xs, n: number) => (v.perSample ? v.values[n]! : v.values[0]!);
  return integerMap(
    'crop',
    x,
    shape,
    dtype,
    'inside',
    0,
    Array.from({ length: d.n }, (_, n) => ({ mx: [0, 1, at(xs, n)], my: [1, 0, at(ys, n)] }) as const),
  );
}

/** Every program variant of crop (one offset for the batch and one per sample), for compile-all tests. */
export function cropPrograms(): ProgramInfo[] {
  return integerMapVariants('crop', 'inside');
}
