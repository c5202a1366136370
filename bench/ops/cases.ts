/** The ops bench/ops times: each maps a u8 N×1×H×W batch to its output, with the peer case name. */
import type { DType } from '../../src/dtype.js';
import { imageStats } from '../../src/ops/analysis/stats.js';
import { histogram } from '../../src/ops/analysis/histogram.js';
import { colorChain } from '../../src/ops/color/chain.js';
import { clahe } from '../../src/ops/color/clahe.js';
import { convert } from '../../src/ops/color/convert.js';
import { gaussNoise } from '../../src/ops/color/noise.js';
import { crackMask } from '../../src/ops/features/crack.js';
import { gradientMagnitude } from '../../src/ops/features/gradient.js';
import { sobel } from '../../src/ops/features/sobel.js';
import { boxBlur } from '../../src/ops/filters/box.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import { medianBlur } from '../../src/ops/filters/median.js';
import { motionBlur } from '../../src/ops/filters/motion-blur.js';
import { flip } from '../../src/ops/geometry/flip.js';
import { resize } from '../../src/ops/geometry/resize.js';
import { rot90 } from '../../src/ops/geometry/rot90.js';
import { dilate } from '../../src/ops/morphology/morphology.js';
import { threshold } from '../../src/ops/threshold/binary.js';
import type { Tensor } from '../../src/tensor.js';

export interface BenchCase {
  name: string;
  /** Key in bench/ops/peers.py's output, or null when no peer runs it. */
  peer: string | null;
  /** Bytes the op must move at least, for an N×1×H×W u8 input of `pixels` elements. */
  bytes(pixels: number): number;
  /** Whether the op is memory-bound (the issue's ≥ 60 % of copy bandwidth goal applies). */
  memoryBound: boolean;
  run(x: Tensor): Tensor;
}

const io =
  (outBytesPerPixel: number, outScale = 1) =>
  (p: number) =>
    p + p * outBytesPerPixel * outScale;
const per: Record<DType, number> = { u8: 1, u16: 2, i32: 4, f32: 4, f16: 2 };

export const CASES: BenchCase[] = [
  { name: 'convert u8→f32 (x/255)', peer: 'convert_f32', bytes: io(per.f32), memoryBound: true, run: (x) => convert(x, { dtype: 'f32', scale: 1 / 255 }) },
  { name: 'convert u8→f16 (x/255)', peer: 'convert_f16', bytes: io(per.f16), memoryBound: true, run: (x) => convert(x, { dtype: 'f16', scale: 1 / 255 }) },
  { name: 'gaussian 5×5 u8→f32', peer: 'gaussian5_f32', bytes: io(per.f32), memoryBound: true, run: (x) => gaussianBlur(x, { ksize: 5, dtype: 'f32' }) },
  { name: 'gaussian 5×5 u8→f16', peer: 'gaussian5_f16', bytes: io(per.f16), memoryBound: true, run: (x) => gaussianBlur(x, { ksize: 5, dtype: 'f16' }) },
  { name: 'box 5×5 u8→f32', peer: 'box5_f32', bytes: io(per.f32), memoryBound: true, run: (x) => boxBlur(x, { ksize: 5, dtype: 'f32' }) },
  { name: 'median 3×3 u8→u8', peer: 'median3_u8', bytes: io(per.u8), memoryBound: false, run: (x) => medianBlur(x, { ksize: 3 }) },
  { name: 'sobel dx 3×3 u8→f32', peer: 'sobel_f32', bytes: io(per.f32), memoryBound: true, run: (x) => sobel(x, { dx: 1, dy: 0, dtype: 'f32' }) },
  { name: 'gradient magnitude (sobel) u8→f16', peer: 'gradmag_f16', bytes: io(per.f16), memoryBound: true, run: (x) => gradientMagnitude(x, { dtype: 'f16' }) },
  { name: 'crack mask u8→u8', peer: 'crack_u8', bytes: io(per.u8), memoryBound: true, run: (x) => crackMask(x, { threshold: 20 }) },
  { name: 'threshold u8→u8', peer: 'threshold_u8', bytes: io(per.u8), memoryBound: true, run: (x) => threshold(x, { thresh: 128, maxval: 255 }) },
  { name: 'dilate 3×3 rect u8', peer: 'dilate3_u8', bytes: io(per.u8), memoryBound: true, run: (x) => dilate(x, { ksize: 3 }) },
  {
    name: 'resize ½ bilinear u8→f32',
    peer: 'resize_half_f32',
    bytes: io(per.f32, 0.25),
    memoryBound: true,
    run: (x) => resize(x, { width: x.shape[3]! / 2, height: x.shape[2]! / 2, dtype: 'f32' }),
  },
  { name: 'flip horizontal u8', peer: 'flip_u8', bytes: io(per.u8), memoryBound: true, run: (x) => flip(x, { axis: 'horizontal' }) },
  // per-sample flags take the tiled integer maps (dihedral.ts): on the H100 augment's HorizontalFlip ran 5× VerticalFlip's GPU time
  { name: 'flip horizontal per sample u8', peer: null, bytes: io(per.u8), memoryBound: true, run: (x) => flip(x, { horizontal: perImage(x, () => true) }) },
  { name: 'flip vertical per sample u8', peer: null, bytes: io(per.u8), memoryBound: true, run: (x) => flip(x, { vertical: perImage(x, () => true) }) },
  { name: 'rot90 ±1 per sample u8', peer: null, bytes: io(per.u8), memoryBound: true, run: (x) => rot90(x, { k: perImage(x, (i) => (i % 2 ? 3 : 1)) }) },
  { name: 'histogram 256 bins u8', peer: 'histogram_u8', bytes: (p) => p, memoryBound: true, run: (x) => histogram(x) },
  { name: 'min/max/mean/std u8', peer: 'stats_u8', bytes: (p) => p, memoryBound: true, run: (x) => imageStats(x) },
  {
    name: 'colour chain affine + gamma per sample u8',
    peer: null,
    bytes: io(per.u8),
    memoryBound: true,
    run: (x) =>
      colorChain(x, {
        steps: [
          { kind: 'affine', alpha: perImage(x, (i) => 0.8 + 0.05 * i), beta: 5 },
          { kind: 'gamma', gamma: 1.2 },
        ],
      }),
  },
  {
    name: 'gauss noise per sample u8',
    peer: null,
    bytes: io(per.u8),
    memoryBound: true,
    run: (x) => gaussNoise(x, { sigma: 10, seed: perImage(x, (i) => i) }),
  },
  {
    name: 'gaussian 3–7 per sample u8',
    peer: null,
    bytes: io(per.u8),
    memoryBound: true,
    run: (x) => gaussianBlur(x, { ksize: perImage(x, (i) => [3 + 2 * (i % 3), 3 + 2 * (i % 3)] as const) }),
  },
  {
    name: 'motion blur 7 per sample u8',
    peer: null,
    bytes: io(per.u8),
    memoryBound: false,
    run: (x) => motionBlur(x, { ksize: 7, angle: perImage(x, (i) => 20 * i) }),
  },
  { name: 'CLAHE 8×8 u8', peer: null, bytes: io(per.u8), memoryBound: false, run: (x) => clahe(x, { clipLimit: 2 }) },
];

/** One value per image of the batch x. */
function perImage<T>(x: Tensor, f: (i: number) => T): T[] {
  return Array.from({ length: x.shape[0]! }, (_, i) => f(i));
}
