/**
 * Motion blur: each sample correlated with its own line kernel, Albumentations' MotionBlur kernel
 * (create_motion_kernel, without allow_shifted): in a ksize × ksize grid of centre h = ⌊ksize/2⌋,
 * the cells (h + round(cos θ · t), h + round(sin θ · t)) for 2·ksize values of t evenly spaced over
 * [−h, h], each shifted by direction · h and clipped to [−h, h] (rounding half to even, as NumPy),
 * all of weight 1 / (number of distinct cells). θ is in degrees, y pointing down; direction −1
 * puts the line behind the centre, 1 ahead of it, 0 centres it.
 * Sums are f32 over the cells in row-major order, as filter2d; border reflect101 by default.
 * Integer outputs round half to even and saturate. GPU and CPU run the same sums (±1 on integers
 * where a contracted multiply-add lands on the other side of a .5).
 * Cells travel as uniforms: N · (1 + ⌈cells / 2⌉) ≤ 3072 vec4s for a batch of N.
 */
import { onDevice } from '../../device.js';
import { DTYPES, roundHalfEven, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, numberInRange, oddInteger } from '../../validate.js';
import { BORDER_MODES, checkBorder, type BorderMode } from '../../kernels/border.js';
import { checkImage, numberItem, outDType, perSample, sampleValue, type PerSample, type PerSampleItem } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';

/** Uniform vec4s holding every sample's cells (48 KiB). */
export const MOTION_BLUR_VECS = 3072;
/** Largest kernel side. */
export const MAX_MOTION_KSIZE = 255;

export interface MotionBlurOptions {
  /** Odd kernel side 1 (the identity, for samples left unchanged) to 255, or one per sample. */
  ksize: PerSample<number>;
  /** Line angle in degrees (−360 to 360), or one per sample. */
  angle: PerSample<number>;
  /** Where the line lies relative to the centre, −1 to 1 (default 0), or one per sample. */
  direction?: PerSample<number>;
  border?: BorderMode;
  borderValue?: number;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

const KSIZE_ITEM: PerSampleItem<number> = { what: ['an odd integer', 'odd integers'], check: (name, v) => oddInteger(name, v, 1, MAX_MOTION_KSIZE) };

/** The kernel's cells as (dx, dy) offsets from its centre, row-major, distinct. */
export function motionKernelCells(ksize: number, angle: number, direction: number): [number, number][] {
  const h = Math.floor(ksize / 2);
  const rad = (angle * Math.PI) / 180;
  const [dx, dy] = [Math.cos(rad), Math.sin(rad)];
  const count = 2 * ksize;
  const cells = new Set<number>();
  for (let i = 0; i < count; i++) {
    // np.linspace(-h, h, 2·ksize) + direction·h, clipped
    const t = Math.min(h, Math.max(-h, -h + (2 * h * i) / (count - 1) + direction * h));
    const cx = Math.min(h, Math.max(-h, roundHalfEven(dx * t)));
    const cy = Math.min(h, Math.max(-h, roundHalfEven(dy * t)));
    cells.add((cy + h) * ksize + (cx + h));
  }
  return [...cells].sort((a, b) => a - b).map((c) => [(c % ksize) - h, Math.floor(c / ksize) - h]);
}

function motionBlurProgram(inDtype: DType, outDtype: DType, border: BorderMode): ProgramInfo {
  return pixelProgram({
    name: 'motion_blur',
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border,
    uniforms: [
      { name: 'vecs', type: 'u32' },
      // sample n's block at cells[n · vecs]: (count, weight bits, 0, 0), then two (dx, dy) per vec4
      { name: 'cells', type: { array: 'vec4i', length: MOTION_BLUR_VECS } },
    ],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let base = n * u.vecs;
  let head = u.cells[base];
  let w = bitcast<f32>(head.y);
  var acc = 0.0;
  for (var i = 0; i < head.x; i++) {
    let pair = u.cells[base + 1u + u32(i / 2)];
    let d = select(pair.xy, pair.zw, (i & 1) == 1);
    acc += w * src_at(n, c, i32(y) + d.y, i32(x) + d.x);
  }
  return acc;
}`,
  });
}

/**
 * Blurs each sample of an N×C×H×W batch along a line (see the file header). Runs where `x` lives.
 * @example motionBlur(img, { ksize: 9, angle: 30 })
 * @example motionBlur(batch2, { ksize: [3, 7], angle: [0, 135], direction: [0, 1] })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for ksize not odd in [1, 255], angle outside [−360, 360],
 *   direction outside [−1, 1], per-sample values of another length than N, or kernels too many for the batch.
 */
export function motionBlur(x: Tensor, options: MotionBlurOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? ({} as MotionBlurOptions);
  const ksize = perSample('ksize', o.ksize, d.n, KSIZE_ITEM);
  const angle = perSample('angle', o.angle, d.n, numberItem(-360, 360));
  const direction = o.direction === undefined ? { values: [0], perSample: false } : perSample('direction', o.direction, d.n, numberItem(-1, 1));
  const border = checkBorder('border', o.border);
  const borderValue = o.borderValue === undefined ? 0 : numberInRange('borderValue', o.borderValue, -1e30, 1e30);
  const dtype = outDType(o.dtype, x.dtype);
  const kernels = Array.from({ length: d.n }, (_, n) => motionKernelCells(sampleValue(ksize, n), sampleValue(angle, n), sampleValue(direction, n)));
  const weights = kernels.map((k) => Math.fround(1 / k.length));
  const vecs = 1 + Math.ceil(Math.max(...kernels.map((k) => k.length)) / 2);
  if (d.n * vecs > MOTION_BLUR_VECS)
    throw invalidParameter('ksize', `kernels of at most ${2 * Math.floor(MOTION_BLUR_VECS / d.n) - 2} cells for a batch of ${d.n}`, `${2 * vecs - 2} cells`);
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  return onDevice(x, {
    gpu: () => {
      const cells = new Array<number>(MOTION_BLUR_VECS * 4).fill(0);
      const bits = new Int32Array(Float32Array.from(weights).buffer);
      kernels.forEach((k, n) => {
        const base = n * vecs * 4;
        cells[base] = k.length;
        cells[base + 1] = bits[n]!;
        k.forEach(([cx, cy], i) => {
          cells[base + 4 + 2 * i] = cx;
          cells[base + 5 + 2 * i] = cy;
        });
      });
      return runPixelProgram(motionBlurProgram(x.dtype, dtype, border), [x], shape, dtype, { vecs, cells }, borderValue);
    },
    cpu: () => {
      const src = cpuAccessor(x, border, Math.fround(borderValue));
      return cpuPixelKernel(shape, dtype, (n, c, y, xx) => {
        const w = weights[n]!;
        let acc = 0;
        for (const [cx, cy] of kernels[n]!) acc = Math.fround(acc + Math.fround(w * src(n, c, y + cy, xx + cx)));
        return acc;
      });
    },
  });
}

/** Every program variant of motionBlur, for compile-all tests. */
export function motionBlurPrograms(dtypes: readonly DType[] = DTYPES, borders: readonly BorderMode[] = BORDER_MODES): ProgramInfo[] {
  return dtypes.flatMap((i) => dtypes.flatMap((o) => borders.map((b) => motionBlurProgram(i, o, b))));
}
