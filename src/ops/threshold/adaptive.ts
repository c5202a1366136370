/**
 * Adaptive threshold, as OpenCV's cv::adaptiveThreshold with ADAPTIVE_THRESH_MEAN_C on u8:
 *   mean = boxFilter(src, u8, blockSize × blockSize, normalize, BORDER_REPLICATE|BORDER_ISOLATED)
 *          i.e. round(Σ window / blockSize²) (OpenCV's fixed-point divide rounds exactly; no ties
 *          arise since blockSize² is odd)
 *   binary      dst = src − mean >  −ceil(C)  ? maxval : 0
 *   binary_inv  dst = src − mean <= −floor(C) ? maxval : 0
 * with maxval saturate_cast to u8 (so a negative maxval gives an all-zero mask, as in OpenCV).
 * The border is always replicate (OpenCV fixes it too). Input and output are u8.
 * Differences from OpenCV: every channel plane is thresholded alike (OpenCV takes one channel);
 * only the mean method (ADAPTIVE_THRESH_GAUSSIAN_C is not implemented); blockSize at most 255.
 * GPU: a horizontal pass writes exact row sums as u16 (≤ 255·255), then one pass sums them
 * vertically, divides with an exact integer-corrected rounding and compares.
 */
import { onDevice } from '../../device.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { numberInRange, oddInteger, oneOf } from '../../validate.js';
import { checkDType, checkImage } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { THRESHOLD_TYPES, type ThresholdType } from './binary.js';

export interface AdaptiveThresholdOptions {
  /** Value of "on" pixels, default 255 (saturated to u8). */
  maxval?: number;
  /** Odd side of the square neighbourhood, 3 to 255. */
  blockSize: number;
  /** Constant subtracted from the mean (OpenCV's C); default 0. */
  C?: number;
  /** 'binary' (default) or 'binary_inv'. */
  type?: ThresholdType;
}

export const MAX_BLOCK = 255;

function rowSumProgram(): ProgramInfo {
  return pixelProgram({
    name: 'adaptive_rows',
    key: '',
    inputs: [{ name: 'src', dtype: 'u8' }],
    output: 'u16',
    border: 'replicate',
    uniforms: [{ name: 'r', type: 'i32' }],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  var s = 0.0;
  for (var d = -u.r; d <= u.r; d++) { s += src_at(n, c, i32(y), i32(x) + d); }
  return s;
}`,
  });
}

function compareProgram(type: ThresholdType): ProgramInfo {
  const cmp = type === 'binary' ? 'diff > -u.idelta' : 'diff <= -u.idelta';
  return pixelProgram({
    name: 'adaptive_threshold',
    key: `type=${type}`,
    inputs: [
      { name: 'src', dtype: 'u8' },
      { name: 'rows', dtype: 'u16' },
    ],
    output: 'u8',
    border: 'replicate',
    uniforms: [
      { name: 'r', type: 'i32' },
      { name: 'area', type: 'i32' },
      { name: 'inv_area', type: 'f32' },
      { name: 'idelta', type: 'i32' },
      { name: 'maxval', type: 'f32' },
    ],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  var s = 0.0;
  for (var d = -u.r; d <= u.r; d++) { s += rows_at(n, c, i32(y) + d, i32(x)); }
  // round(s / area) exactly: an f32 estimate corrected with the integer remainder
  let si = i32(s);
  var m = i32(floor(s * u.inv_area + 0.5));
  let rem = si - m * u.area;
  if (2 * rem > u.area) { m += 1; } else if (2 * rem < -u.area) { m -= 1; }
  let diff = i32(src_px(n, c, y, x)) - m;
  return select(0.0, u.maxval, ${cmp});
}`,
  });
}

/**
 * Binarises each pixel against the mean of its blockSize × blockSize neighbourhood minus C. Runs where `x` lives.
 * @example adaptiveThreshold(gray, { blockSize: 11, C: 2 })
 * @throws KensaError KENSA_ERR_DTYPE for inputs other than u8; KENSA_ERR_INVALID_ARGUMENT for an even or out-of-range blockSize.
 */
export function adaptiveThreshold(x: Tensor, options: AdaptiveThresholdOptions): Tensor {
  const d = checkImage('x', x);
  checkDType('x', x, ['u8']);
  const o = options ?? ({} as AdaptiveThresholdOptions);
  const blockSize = oddInteger('blockSize', o.blockSize, 3, MAX_BLOCK);
  const C = o.C === undefined ? 0 : numberInRange('C', o.C, -1e9, 1e9);
  const maxval = o.maxval === undefined ? 255 : numberInRange('maxval', o.maxval, -3.4e38, 3.4e38);
  const type: ThresholdType = o.type === undefined ? 'binary' : oneOf('type', o.type, THRESHOLD_TYPES);
  // |src − mean| ≤ 255, so deltas beyond ±1000 all behave alike (and fit an i32 uniform)
  const idelta = Math.max(-1000, Math.min(1000, type === 'binary' ? Math.ceil(C) : Math.floor(C)));
  const r = (blockSize - 1) / 2;
  const area = blockSize * blockSize;
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  return onDevice(x, {
    gpu: () => {
      const rows = runPixelProgram(rowSumProgram(), [x], shape, 'u16', { r });
      const out = runPixelProgram(compareProgram(type), [x, rows], shape, 'u8', { r, area, inv_area: 1 / area, idelta, maxval });
      rows.dispose();
      return out;
    },
    cpu: () => {
      const src = cpuAccessor(x, 'replicate');
      const rows = cpuPixelKernel(shape, 'i32', (n, c, y, xx) => {
        let s = 0;
        for (let k = -r; k <= r; k++) s += src(n, c, y, xx + k);
        return s;
      });
      const rowAt = cpuAccessor(rows, 'replicate');
      return cpuPixelKernel(shape, 'u8', (n, c, y, xx) => {
        let s = 0;
        for (let k = -r; k <= r; k++) s += rowAt(n, c, y + k, xx);
        const diff = src(n, c, y, xx) - Math.round(s / area);
        const on = type === 'binary' ? diff > -idelta : diff <= -idelta;
        return on ? maxval : 0;
      });
    },
  });
}

/** Every program variant of this file, for compile-all tests. */
export function adaptiveThresholdPrograms(): ProgramInfo[] {
  return [rowSumProgram(), ...THRESHOLD_TYPES.map(compareProgram)];
}
