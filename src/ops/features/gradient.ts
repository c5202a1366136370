/**
 * Gradient magnitude in one fused pass: out = sqrt(gx² + gy²) per channel, with
 *   'sobel'   gx, gy = cv.Sobel(x, CV_32F, 1, 0, ksize), cv.Sobel(x, CV_32F, 0, 1, ksize)
 *             (weights of sobel.ts; ksize 1, 3, 5 or 7; ksize 1 is [-1 0 1] without smoothing)
 *   'scharr'  gx, gy = cv.Scharr(x, CV_32F, 1, 0), cv.Scharr(x, CV_32F, 0, 1)   (ksize 3 only)
 *   'central' gx = (x[y, x+1] − x[y, x−1]) / 2, gy = (x[y+1, x] − x[y−1, x]) / 2  (ksize 3 only)
 * i.e. cv.magnitude of the two derivatives, unnormalised (Sobel 3×3 of a unit step is 4).
 * On the GPU one dispatch, no gx/gy tensors: the stencil engines (../stencil-strip.ts runStencil:
 * 3×3 on u8 rows of a multiple of 16 pixels a strip, else the tile of ../stencil-tile.ts — row
 * passes for the x derivative and smoothing, a column pass forming gx, gy and the magnitude).
 * Other widths a per-pixel kernel
 * that reads each pixel's neighbourhood (3×3, K×K, or the four neighbours for 'central' and
 * Sobel 1), with plain offsets inside the image and border resolution only on the frame.
 * Arithmetic is f32 in the order of the separable filter (row pass, then column pass). Border
 * modes reflect101 (default) / replicate / constant (borderValue, default 0). Integer outputs
 * round half to even and saturate (saturate_cast); f16 clamps to ±65504. Output dtype default f32.
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, numberInRange, oddInteger, oneOf } from '../../validate.js';
import { BORDER_MODES, checkBorder, type BorderMode } from '../../kernels/border.js';
import { checkImage, outDType } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { runStencil, stencilStripProgram } from '../../kernels/stencil-strip.js';
import { stencilTileFits, stencilTileProgram, type StencilTileSpec } from '../../kernels/stencil-tile.js';
import { sobelKernels, type SobelKsize } from './sobel.js';

/**
 * WGSL read of input `src` at a border-resolved (row, column) of a plane; -1 (from `border()`)
 * reads the constant border value. Shared by the fused gradient and crack kernels.
 */
export const WGSL_SRC_TAP = /* wgsl */ `fn tap(plane: u32, yy: i32, xx: i32) -> f32 {
  if (yy < 0 || xx < 0) { return u.border_value; }
  let s = u.src_shape;
  return src_load((plane * s.z + u32(yy)) * s.w + u32(xx));
}`;

export const GRADIENT_OPERATORS = ['sobel', 'scharr', 'central'] as const;
export type GradientOperator = (typeof GRADIENT_OPERATORS)[number];

export interface GradientMagnitudeOptions {
  /** Aperture: 3 (default) for every operator; 1, 5, 7 also for 'sobel'. */
  ksize?: SobelKsize;
  /** Derivative kernel (default 'sobel'). */
  operator?: GradientOperator;
  border?: BorderMode;
  /** Value outside the image for border 'constant' (default 0). */
  borderValue?: number;
  /** Output dtype; default 'f32'. */
  dtype?: DType;
}

export interface ResolvedGradient {
  operator: GradientOperator;
  ksize: number;
  border: BorderMode;
  borderValue: number;
  dtype: DType;
}

export function resolveGradient(x: Tensor, o: GradientMagnitudeOptions): ResolvedGradient {
  checkImage('x', x);
  const operator = o.operator === undefined ? 'sobel' : oneOf('operator', o.operator, GRADIENT_OPERATORS);
  let ksize = 3;
  if (o.ksize !== undefined) {
    if (operator === 'sobel') ksize = oddInteger('ksize', o.ksize, 1, 7);
    else if (o.ksize !== 3) throw invalidParameter('ksize', `3 with operator "${operator}"`, o.ksize);
  }
  return {
    operator,
    ksize,
    border: checkBorder('border', o.border),
    borderValue: o.borderValue === undefined ? 0 : numberInRange('borderValue', o.borderValue, -1e30, 1e30),
    dtype: outDType(o.dtype, 'f32'),
  };
}

const TAP_VECS = 2; // up to 8 taps per 1-D kernel

/**
 * Kernel shapes: 'cross' reads the four neighbours (central differences, Sobel ksize 1) and
 * scales (right − left), (below − above) by u.weight; 'k3' / 'k5' / 'k7' read the K×K window
 * with the 1-D derivative (u.kd) and smoothing (u.ks) weights as uniforms, unrolled.
 */
export type GradientShape = 'cross' | 'k3' | 'k5' | 'k7';
const SHAPES: readonly GradientShape[] = ['cross', 'k3', 'k5', 'k7'];

interface Weights {
  shape: GradientShape;
  /** cross: the factor on the differences. */
  weight: number;
  /** k*: derivative and smoothing kernels of length K. */
  kd: number[];
  ks: number[];
}

function weightsOf(r: ResolvedGradient): Weights {
  if (r.operator === 'central') return { shape: 'cross', weight: 0.5, kd: [], ks: [] };
  if (r.operator === 'sobel' && r.ksize === 1) return { shape: 'cross', weight: 1, kd: [], ks: [] };
  if (r.operator === 'scharr') return { shape: 'k3', weight: 1, kd: [-1, 0, 1], ks: [3, 10, 3] };
  const { kx: kd } = sobelKernels(1, 0, r.ksize);
  const { kx: ks } = sobelKernels(0, 1, r.ksize);
  return { shape: `k${r.ksize}` as GradientShape, weight: 1, kd, ks };
}

/**
 * WGSL of a fused kernel. Pixels whose window lies inside the image (almost all) load their taps
 * with plain offsets; the rest resolve each row and column index once with the border mode.
 */
function pixelWgsl(shape: GradientShape): string {
  const K = shape === 'cross' ? 3 : Number(shape.slice(1));
  const R = (K - 1) / 2;
  const taps: [number, number][] = [];
  for (let i = 0; i < K; i++)
    for (let j = 0; j < K; j++) if (shape !== 'cross' || i === R || j === R) if (!(shape === 'cross' && i === R && j === R)) taps.push([i, j]);
  const v = (i: number, j: number) => `v${i}_${j}`;
  const off = (d: number) => (d === 0 ? '' : d > 0 ? ` + ${d}` : ` - ${-d}`);
  const rows = [...new Set(taps.map(([i]) => i))];
  const cols = [...new Set(taps.map(([, j]) => j))];
  const w = (a: 'kd' | 'ks', k: number) => `u.${a}[${k >> 2}][${k & 3}]`;
  let combine: string;
  if (shape === 'cross') {
    combine = `  let gx = (${v(R, 2 * R)} - ${v(R, 0)}) * u.weight;
  let gy = (${v(2 * R, R)} - ${v(0, R)}) * u.weight;`;
  } else {
    const lines: string[] = [];
    // row pass (along x): derivative rd_i and smoothing rs_i of each row; then the column pass
    for (let i = 0; i < K; i++) {
      lines.push(`  let rd${i} = ${Array.from({ length: K }, (_, j) => `${w('kd', j)} * ${v(i, j)}`).join(' + ')};`);
      lines.push(`  let rs${i} = ${Array.from({ length: K }, (_, j) => `${w('ks', j)} * ${v(i, j)}`).join(' + ')};`);
    }
    lines.push(`  let gx = ${Array.from({ length: K }, (_, i) => `${w('ks', i)} * rd${i}`).join(' + ')};`);
    lines.push(`  let gy = ${Array.from({ length: K }, (_, i) => `${w('kd', i)} * rs${i}`).join(' + ')};`);
    combine = lines.join('\n');
  }
  return /* wgsl */ `
${WGSL_SRC_TAP}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let plane = n * s.y + c;
  let H = i32(s.z);
  let W = i32(s.w);
  let yi = i32(y);
  let xi = i32(x);
${taps.map(([i, j]) => `  var ${v(i, j)}: f32;`).join('\n')}
  if (yi >= ${R} && xi >= ${R} && yi + ${R} < H && xi + ${R} < W) {
    let o = (plane * s.z + y - ${R}u) * s.w + x - ${R}u;
${taps.map(([i, j]) => `    ${v(i, j)} = src_load(o${i ? ` + ${i}u * s.w` : ''}${j ? ` + ${j}u` : ''});`).join('\n')}
  } else {
${rows.map((i) => `    let y${i} = ${i === R ? 'yi' : `border(yi${off(i - R)}, H)`};`).join('\n')}
${cols.map((j) => `    let x${j} = ${j === R ? 'xi' : `border(xi${off(j - R)}, W)`};`).join('\n')}
${taps.map(([i, j]) => `    ${v(i, j)} = tap(plane, y${i}, x${j});`).join('\n')}
  }
${combine}
  return sqrt(gx * gx + gy * gy);
}`;
}

function programFor(shape: GradientShape, inDtype: DType, outDtype: DType, border: BorderMode) {
  return pixelProgram({
    name: 'gradient_magnitude',
    key: shape,
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border,
    uniforms:
      shape === 'cross'
        ? [{ name: 'weight', type: 'f32' }]
        : [
            { name: 'kd', type: { array: 'vec4f', length: TAP_VECS } },
            { name: 'ks', type: { array: 'vec4f', length: TAP_VECS } },
          ],
    pixel: pixelWgsl(shape),
  });
}

/**
 * The tiled form (../stencil-tile.ts): row arrays d (derivative along x) and s (smoothing along x;
 * 'cross' reads the input column directly), the column pass forms gx, gy and the magnitude in the
 * same order of operations as the per-pixel kernel and the CPU reference.
 */
export function gradientTileSpec(shape: GradientShape, inDtype: DType, outDtype: DType, border: BorderMode): StencilTileSpec {
  const base = { name: 'gradient_magnitude_tiled', key: shape, inDtype, outDtype, border };
  if (shape === 'cross') {
    return {
      ...base,
      rx: 1,
      ry: 1,
      uniforms: [{ name: 'weight', type: 'f32' }],
      rows: { d: (p) => `(${p(1)} - ${p(-1)}) * u.weight` },
      combine: (r, t) => `let gx = ${r('d', 0)};
  let gy = (${t(1)} - ${t(-1)}) * u.weight;
  let v = sqrt(gx * gx + gy * gy);`,
    };
  }
  const R = (Number(shape.slice(1)) - 1) / 2;
  const sum = (a: 'kd' | 'ks', at: (d: number) => string) =>
    Array.from({ length: 2 * R + 1 }, (_, k) => `u.${a}[${k >> 2}][${k & 3}] * ${at(k - R)}`).join(' + ');
  return {
    ...base,
    rx: R,
    ry: R,
    uniforms: [
      { name: 'kd', type: { array: 'vec4f', length: TAP_VECS } },
      { name: 'ks', type: { array: 'vec4f', length: TAP_VECS } },
    ],
    rows: { d: (p) => sum('kd', p), s: (p) => sum('ks', p) },
    combine: (r) => `let gx = ${sum('ks', (dy) => r('d', dy))};
  let gy = ${sum('kd', (dy) => r('s', dy))};
  let v = sqrt(gx * gx + gy * gy);`,
  };
}

function packTaps(w: readonly number[]): number[] {
  const out = new Array<number>(TAP_VECS * 4).fill(0);
  for (const [i, v] of w.entries()) out[i] = v;
  return out;
}

const f = Math.fround;

/** CPU mirror: the same taps, sums in the same order, each operation rounded to f32. */
function cpuGradient(x: Tensor, r: ResolvedGradient, wt: Weights): Tensor {
  const shape = x.shape as Dims4;
  const src = cpuAccessor(x, r.border, r.borderValue);
  const mag = (gx: number, gy: number) => Math.sqrt(f(f(gx * gx) + f(gy * gy)));
  if (wt.shape === 'cross') {
    const k = f(wt.weight);
    return cpuPixelKernel(shape, r.dtype, (n, c, y, xx) => {
      const gx = f(f(src(n, c, y, xx + 1) - src(n, c, y, xx - 1)) * k);
      const gy = f(f(src(n, c, y + 1, xx) - src(n, c, y - 1, xx)) * k);
      return mag(gx, gy);
    });
  }
  const kd = wt.kd.map(f);
  const ks = wt.ks.map(f);
  const K = kd.length;
  const R = (K - 1) / 2;
  const sum = (terms: number[]) => terms.reduce((acc, t, i) => (i === 0 ? t : f(acc + t)), 0);
  return cpuPixelKernel(shape, r.dtype, (n, c, y, xx) => {
    const rd: number[] = [];
    const rs: number[] = [];
    for (let i = 0; i < K; i++) {
      const row = Array.from({ length: K }, (_, j) => src(n, c, y + i - R, xx + j - R));
      rd.push(sum(row.map((v, j) => f(kd[j]! * v))));
      rs.push(sum(row.map((v, j) => f(ks[j]! * v))));
    }
    const gx = sum(rd.map((v, i) => f(ks[i]! * v)));
    const gy = sum(rs.map((v, i) => f(kd[i]! * v)));
    return mag(gx, gy);
  });
}

/** Runs a resolved gradient magnitude where `x` lives (used by multiScaleFeatures). */
export function gradientMagnitudeResolved(x: Tensor, r: ResolvedGradient): Tensor {
  const wt = weightsOf(r);
  return onDevice(x, {
    gpu: () => {
      const uniforms: Record<string, number | number[]> = wt.shape === 'cross' ? { weight: wt.weight } : { kd: packTaps(wt.kd), ks: packTaps(wt.ks) };
      const tile = gradientTileSpec(wt.shape, x.dtype, r.dtype, r.border);
      if (stencilTileFits(tile, x.shape as Dims4)) return runStencil(tile, x, uniforms, r.borderValue);
      return runPixelProgram(programFor(wt.shape, x.dtype, r.dtype, r.border), [x], x.shape as Dims4, r.dtype, uniforms, r.borderValue);
    },
    cpu: () => cpuGradient(x, r, wt),
  });
}

/**
 * Per-channel gradient magnitude sqrt(gx² + gy²) of an N×C×H×W batch, one fused pass.
 * @example gradientMagnitude(img)                                   // Sobel 3×3, f32
 * @example gradientMagnitude(img, { operator: 'central', dtype: 'f16' })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for even ksize, ksize ≠ 3 with scharr/central, unknown operator.
 */
export function gradientMagnitude(x: Tensor, options: GradientMagnitudeOptions = {}): Tensor {
  return gradientMagnitudeResolved(x, resolveGradient(x, options));
}

/** Every program variant, for compile-all tests. */
export function gradientPrograms(
  inDtypes: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16'],
  outDtypes: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16'],
  borders: readonly BorderMode[] = BORDER_MODES,
) {
  const strips = inDtypes.includes('u8')
    ? (['cross', 'k3'] as const).flatMap((v) =>
        outDtypes.filter((o) => o !== 'i32').flatMap((o) => borders.map((b) => stencilStripProgram(gradientTileSpec(v, 'u8', o, b)))),
      )
    : [];
  return [
    ...SHAPES.flatMap((v) =>
      inDtypes.flatMap((i) =>
        outDtypes.flatMap((o) => borders.flatMap((b) => [programFor(v, i, o, b), stencilTileProgram(gradientTileSpec(v, i, o, b), o === 'f32')])),
      ),
    ),
    ...strips,
  ];
}
