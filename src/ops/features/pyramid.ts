/**
 * Image pyramids.
 *
 * pyrDown, as OpenCV's cv.pyrDown: each channel is correlated with the 5×5 Gaussian
 * [1 4 6 4 1]ᵀ[1 4 6 4 1] / 256 and every other row and column is kept:
 *   out[y, x] = Σᵢⱼ w[i]·w[j]·x[2y + i − 2, 2x + j − 2] / 256,   out size ((W + 1) / 2, (H + 1) / 2)
 * (integer division). The sum is formed as OpenCV's: rows r = 6·v₂ + 4·(v₁ + v₃) + v₀ + v₄, then
 * the same over rows, then · 1/256. Integer outputs round half UP, as OpenCV's fixed-point
 * FixPtCast ((sum + 128) >> 8), which is exact for u8/u16 (sums stay below 2²⁴ in f32) and differs
 * from saturate_cast's half-to-even on purpose; float outputs are sum · (1/256). The output dtype
 * defaults to the input's (OpenCV's pyrDown keeps the depth). Border modes reflect101 (default) /
 * replicate / constant (borderValue, default 0; OpenCV's pyrDown rejects BORDER_CONSTANT).
 * The GPU kernel reads the 5×5 window of each output pixel once, in one pass (no intermediate
 * tensor); only windows crossing the image edge resolve indices (once per row and column).
 *
 * multiScaleFeatures computes, for a whole N×C×H×W batch and s = 0 .. scales−1:
 *   level₀ = x,  level_s = pyrDown(level_{s−1}, { border })          (input dtype, like cv.buildPyramid)
 *   feature_s = gradientMagnitude(level_s, { operator, border, dtype }) (3×3 kernel, fused)
 * and returns [feature₀, feature₁, …] at sizes H×W, ⌈H/2⌉×⌈W/2⌉, ⌈H/4⌉×⌈W/4⌉ (each ⌈·⌉ taken on
 * the previous level). On the GPU these are 2·scales − 1 dispatches recorded back to back into the
 * one pending command stream (no readback or host wait between them); intermediate levels are
 * released to the pool as soon as their last use is recorded.
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import { isIntegerDType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange, numberInRange } from '../../validate.js';
import { BORDER_MODES, checkBorder, type BorderMode } from '../../kernels/border.js';
import { checkImage, outDType } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { gradientMagnitudeResolved, resolveGradient, type GradientOperator } from './gradient.js';

export interface PyrDownOptions {
  border?: BorderMode;
  /** Value outside the image for border 'constant' (default 0). */
  borderValue?: number;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

export function pyrDownShape(shape: readonly number[]): Dims4 {
  const [n, c, h, w] = shape as Dims4;
  return [n, c, Math.floor((h + 1) / 2), Math.floor((w + 1) / 2)];
}

export function pyrDownProgram(inDtype: DType, outDtype: DType, border: BorderMode) {
  const finish = isIntegerDType(outDtype) ? 'floor(acc * (1.0 / 256.0) + 0.5)' : 'acc * (1.0 / 256.0)';
  return pixelProgram({
    name: 'pyr_down',
    key: isIntegerDType(outDtype) ? 'round=up' : 'round=none',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border,
    uniforms: [],
    pixel: /* wgsl */ `
fn tap(row: u32, ok: bool, xx: i32) -> f32 {
  if (!ok || xx < 0) { return u.border_value; }
  return src_load(row + u32(xx));
}
fn pyr_comb(v0: f32, v1: f32, v2: f32, v3: f32, v4: f32) -> f32 {
  return v2 * 6.0 + (v1 + v3) * 4.0 + v0 + v4;
}
fn pyr_row(plane: u32, yy: i32, x0: i32, x1: i32, x2: i32, x3: i32, x4: i32) -> f32 {
  let s = u.src_shape;
  let ok = yy >= 0;
  let row = (plane * s.z + u32(max(yy, 0))) * s.w;
  return pyr_comb(tap(row, ok, x0), tap(row, ok, x1), tap(row, ok, x2), tap(row, ok, x3), tap(row, ok, x4));
}
fn pyr_row_inside(o: u32) -> f32 {
  return pyr_comb(src_load(o), src_load(o + 1u), src_load(o + 2u), src_load(o + 3u), src_load(o + 4u));
}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let plane = n * s.y + c;
  let H = i32(s.z);
  let W = i32(s.w);
  let cy = 2 * i32(y);
  let cx = 2 * i32(x);
  var r0: f32;
  var r1: f32;
  var r2: f32;
  var r3: f32;
  var r4: f32;
  if (cy >= 2 && cx >= 2 && cy + 2 < H && cx + 2 < W) {
    let o = (plane * s.z + 2u * y - 2u) * s.w + 2u * x - 2u;
    r0 = pyr_row_inside(o);
    r1 = pyr_row_inside(o + s.w);
    r2 = pyr_row_inside(o + 2u * s.w);
    r3 = pyr_row_inside(o + 3u * s.w);
    r4 = pyr_row_inside(o + 4u * s.w);
  } else {
    let x0 = border(cx - 2, W);
    let x1 = border(cx - 1, W);
    let x3 = border(cx + 1, W);
    let x4 = border(cx + 2, W);
    r0 = pyr_row(plane, border(cy - 2, H), x0, x1, cx, x3, x4);
    r1 = pyr_row(plane, border(cy - 1, H), x0, x1, cx, x3, x4);
    r2 = pyr_row(plane, cy, x0, x1, cx, x3, x4);
    r3 = pyr_row(plane, border(cy + 1, H), x0, x1, cx, x3, x4);
    r4 = pyr_row(plane, border(cy + 2, H), x0, x1, cx, x3, x4);
  }
  let acc = pyr_comb(r0, r1, r2, r3, r4);
  return ${finish};
}`,
  });
}

interface ResolvedPyr {
  border: BorderMode;
  borderValue: number;
  dtype: DType;
}

function resolvePyr(x: Tensor, o: PyrDownOptions): ResolvedPyr {
  checkImage('x', x);
  return {
    border: checkBorder('border', o.border),
    borderValue: o.borderValue === undefined ? 0 : numberInRange('borderValue', o.borderValue, -1e30, 1e30),
    dtype: outDType(o.dtype, x.dtype),
  };
}

function pyrDownResolved(x: Tensor, r: ResolvedPyr): Tensor {
  const shape = pyrDownShape(x.shape);
  return onDevice(x, {
    gpu: () => runPixelProgram(pyrDownProgram(x.dtype, r.dtype, r.border), [x], shape, r.dtype, {}, r.borderValue),
    cpu: () => {
      const src = cpuAccessor(x, r.border, r.borderValue);
      const f = Math.fround;
      const integer = isIntegerDType(r.dtype);
      // 6·v₂ + 4·(v₁ + v₃) + v₀ + v₄, each operation rounded to f32 as on the GPU
      const comb = (v0: number, v1: number, v2: number, v3: number, v4: number) => f(f(f(f(v2 * 6) + f(f(v1 + v3) * 4)) + v0) + v4);
      return cpuPixelKernel(shape, r.dtype, (n, c, y, xx) => {
        const cy = 2 * y;
        const cx = 2 * xx;
        const row = (yy: number) => comb(src(n, c, yy, cx - 2), src(n, c, yy, cx - 1), src(n, c, yy, cx), src(n, c, yy, cx + 1), src(n, c, yy, cx + 2));
        const acc = comb(row(cy - 2), row(cy - 1), row(cy), row(cy + 1), row(cy + 2));
        const v = f(acc * (1 / 256));
        return integer ? Math.floor(f(v + 0.5)) : v;
      });
    },
  });
}

/**
 * Halves each channel of an N×C×H×W batch with OpenCV's pyrDown (5×5 Gaussian, drop odd rows/cols).
 * @example pyrDown(img)               // 1×1×64×64 u8 → 1×1×32×32 u8
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for an unknown border or dtype.
 */
export function pyrDown(x: Tensor, options: PyrDownOptions = {}): Tensor {
  return pyrDownResolved(x, resolvePyr(x, options));
}

export interface MultiScaleFeaturesOptions {
  /** Number of scales: 1 (full), 2 (+½), 3 (+¼, default). */
  scales?: 1 | 2 | 3;
  /** Gradient operator (default 'sobel'); 3×3 kernels. */
  operator?: GradientOperator;
  border?: BorderMode;
  /** Dtype of the feature maps; default 'f32'. Pyramid levels keep the input's dtype. */
  dtype?: DType;
}

/**
 * Gradient-magnitude maps of a batch at scales 1, ½, ¼ (see the header for exactly what is computed).
 * On the GPU, all pyramid levels and features are recorded as consecutive dispatches of one stream.
 * @example const [full, half, quarter] = multiScaleFeatures(batch, { operator: 'scharr' });
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for scales outside 1..3, unknown operator or dtype.
 */
export function multiScaleFeatures(x: Tensor, options: MultiScaleFeaturesOptions = {}): Tensor[] {
  checkImage('x', x);
  const scales = options.scales === undefined ? 3 : integerInRange('scales', options.scales, 1, 3);
  const grad = resolveGradient(x, { operator: options.operator, border: options.border, dtype: options.dtype ?? 'f32' });
  const pyr: ResolvedPyr = { border: grad.border, borderValue: 0, dtype: x.dtype };
  const out: Tensor[] = [];
  let level = x;
  for (let s = 0; s < scales; s++) {
    if (s > 0) {
      const next = pyrDownResolved(level, pyr);
      if (level !== x) level.dispose();
      level = next;
    }
    out.push(gradientMagnitudeResolved(level, grad));
  }
  if (level !== x) level.dispose();
  return out;
}

/** Every program variant of pyrDown (multiScaleFeatures adds gradientPrograms), for compile-all tests. */
export function pyramidPrograms(dtypes: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16'], borders: readonly BorderMode[] = BORDER_MODES) {
  return dtypes.flatMap((i) => dtypes.flatMap((o) => borders.map((b) => pyrDownProgram(i, o, b))));
}
