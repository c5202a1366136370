/**
 * Affine warp, as cv.warpAffine(src, dst, M, dsize, flags, borderMode, borderValue) without
 * WARP_INVERSE_MAP: `matrix` [a, b, c, d, e, f] maps source to destination,
 *   xd = a·xs + b·ys + c,   yd = d·xs + e·ys + f,
 * so it is inverted (as cv.invertAffineTransform, in double) and every destination pixel
 * (x, y) samples the source at (X, Y) = M⁻¹·(x, y, 1), pixel centres at integer coordinates.
 *   'nearest': the pixel at (floor(X + 0.5), floor(Y + 0.5)), copied bit-exactly (saturate_cast
 *              when `dtype` differs); outside pixels follow the border mode.
 *   'bilinear' (default, as OpenCV's INTER_LINEAR): the four pixels around (X, Y), each read
 *              through the border mode, weighted (1 − fx)(1 − fy), fx(1 − fy), (1 − fx)fy, fx·fy in f32.
 * Border modes: 'constant' (default, as OpenCV; borderValue, default 0), 'replicate', 'reflect101'.
 * Integer outputs round half to even and saturate; f16 clamps to ±65504.
 *
 * Differences from OpenCV: OpenCV computes (X, Y) in fixed point — 10 fractional bits for the
 * per-pixel sums, then rounded to INTER_BITS = 5 bits (1/32 px) and interpolated from a table of
 * 32×32 weights, for float images too. Here (X, Y) is computed in f32 with no quantisation. So a
 * bilinear result may differ from OpenCV's by up to (1/64 + 1/1024) px times the local gradient
 * along each axis (for an image of range R, at most ≈ 0.033·R at a step edge, far less on smooth
 * content), while the two agree to float rounding where (X, Y) falls on the 1/32 grid (integer
 * translations, quarter turns, power-of-two scales). For nearest, OpenCV's rounding of the
 * fixed-point coordinate can pick the other neighbour when (X, Y) lies within ~1/1024 px of a
 * half-integer. On the GPU the coordinate is f32 arithmetic mirrored in TypeScript; a GPU
 * compiler that fuses multiply-adds can move a coordinate by one f32 ulp, which changes the
 * nearest pixel only for a coordinate within that ulp of a half-integer.
 *
 * Per sample (augmentation): `matrix` may be one matrix per sample (an array of N matrices, or a
 * CPU tensor of shape [N, 2, 3]); each is inverted on the host and read by the kernel as sample n's.
 */
import { onDevice } from '../../device.js';
import { f16BitsToF32, saturate, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { UniformField, UniformValues } from '../../gpu/uniforms.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, is, numberInRange, oneOf } from '../../validate.js';
import { BORDER_MODES, type BorderMode } from '../../kernels/border.js';
import { checkImage, type ImageDims, outDType, packPerSample, perSample, perSampleField, type PerSample, type PerSampleItem } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4, type MappedInput } from '../../kernels/pixel.js';
import { isDihedral } from './dihedral.js';
import { flipFlagsOf } from './flip-words.js';
import { ALL_DTYPES, cpuGather, gatherProgram, integerMap, runGather, type GatherSpec, type IntegerMap } from './gather.js';

export const WARP_INTERPOLATIONS = ['nearest', 'bilinear'] as const;
export type WarpInterpolation = (typeof WARP_INTERPOLATIONS)[number];
export const MAX_WARP_SIZE = 65535;

export type AffineMatrix = readonly [number, number, number, number, number, number];

/** What every warp takes beside its matrix: output size, sampling, border and dtype. */
export interface WarpSamplingOptions {
  /** Output width, 1 to 65535; default the input's. */
  width?: number;
  /** Output height, 1 to 65535; default the input's. */
  height?: number;
  /** Default 'bilinear'. */
  interpolation?: WarpInterpolation;
  /** Default 'constant' (as OpenCV). */
  border?: BorderMode;
  /** Fill of the constant border, default 0. */
  borderValue?: number;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

export interface WarpAffineOptions extends WarpSamplingOptions {
  /**
   * [a, b, c, d, e, f]: the 2×3 matrix mapping source to destination (cv.warpAffine's M); or one
   * per sample: an array of N such arrays, or a CPU tensor of shape [N, 2, 3].
   */
  matrix: PerSample<AffineMatrix | readonly number[]>;
}

/** cv.invertAffineTransform: the destination → source matrix. */
export function invertAffine(m: readonly number[]): number[] {
  const [a, b, c, d, e, f] = m as AffineMatrix;
  const det = a * e - b * d;
  const D = det !== 0 ? 1 / det : 0;
  const A11 = e * D;
  const A22 = a * D;
  const A12 = -b * D;
  const A21 = -d * D;
  return [A11, A12, -A11 * c - A12 * f, A21, A22, -A21 * c - A22 * f];
}

const LIMIT = 1 << 24;

/** Brings a coordinate into a range the border function resolves in one step (reflect101 is periodic). */
const WGSL_WRAP = /* wgsl */ `
fn wrap(p: f32, n: u32) -> i32 {
  let q = i32(clamp(p, -16777216.0, 16777216.0));
  if (REFLECT && n > 1u) {
    let period = 2 * i32(n) - 2;
    return ((q % period) + period) % period;
  }
  return q;
}`;

const WGSL_SRC_XY = /* wgsl */ `
fn src_xy(x: u32, y: u32) -> vec2<f32> {
  let fx = f32(x);
  let fy = f32(y);
  return vec2<f32>(u.m0.x * fx + u.m0.y * fy + u.m0.z, u.m1.x * fx + u.m1.y * fy + u.m1.z);
}`;

/** Per sample: sample n's inverse matrix rows are u.ms[2n] and u.ms[2n + 1]. */
const WGSL_SRC_XY_PER_SAMPLE = /* wgsl */ `
fn src_xy(n: u32, x: u32, y: u32) -> vec2<f32> {
  let fx = f32(x);
  let fy = f32(y);
  let m0 = u.ms[2u * n];
  let m1 = u.ms[2u * n + 1u];
  return vec2<f32>(m0.x * fx + m0.y * fy + m0.z, m1.x * fx + m1.y * fy + m1.z);
}`;

/**
 * How a warp maps each destination pixel to the source: the WGSL of `src_xy(x, y)` (one matrix)
 * or `src_xy(n, x, y)` (sample n's), the uniforms it reads, and the program names' prefix.
 * warpAffine and warpPerspective are this engine with their own map.
 */
export interface WarpMap {
  readonly name: string;
  wgsl(ps: boolean): string;
  uniforms(ps: boolean): UniformField[];
}

function prelude(map: WarpMap, border: BorderMode, ps: boolean): string {
  return `const REFLECT = ${border === 'reflect101'};\n${WGSL_WRAP}${map.wgsl(ps)}`;
}

function nearestSpec(map: WarpMap, inDtype: DType, outDtype: DType, border: BorderMode, ps: boolean): GatherSpec {
  return {
    name: `${map.name}_nearest`,
    key: ps ? 'per_sample' : '',
    inDtype,
    outDtype,
    border,
    uniforms: map.uniforms(ps),
    perSample: ps,
    coord: /* wgsl */ `${prelude(map, border, ps)}
fn src_coord(${ps ? 'n: u32, ' : ''}y: u32, x: u32) -> vec2<i32> {
  let p = src_xy(${ps ? 'n, ' : ''}x, y);
  let s = u.src_shape;
  return vec2<i32>(wrap(floor(p.x + 0.5), s.w), wrap(floor(p.y + 0.5), s.z));
}`,
  };
}

function bilinearProgram(map: WarpMap, inDtype: DType, outDtype: DType, border: BorderMode, ps: boolean): ProgramInfo {
  return pixelProgram({
    name: `${map.name}_bilinear`,
    key: ps ? 'per_sample' : '',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border,
    uniforms: map.uniforms(ps),
    pixel: /* wgsl */ `${prelude(map, border, ps)}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let p = src_xy(${ps ? 'n, ' : ''}x, y);
  let s = u.src_shape;
  let f0 = floor(p);
  let f = p - f0;
  let x0 = wrap(f0.x, s.w);
  let y0 = wrap(f0.y, s.z);
  let r0 = src_at(n, c, y0, x0) * (1.0 - f.x) + src_at(n, c, y0, x0 + 1) * f.x;
  let r1 = src_at(n, c, y0 + 1, x0) * (1.0 - f.x) + src_at(n, c, y0 + 1, x0 + 1) * f.x;
  return r0 * (1.0 - f.y) + r1 * f.y;
}`,
  });
}

/** A validated warp: output shape and dtype, sampling, and the map's uniforms and CPU mirror. */
export interface WarpRun {
  readonly shape: Dims4;
  readonly dtype: DType;
  readonly interpolation: WarpInterpolation;
  readonly border: BorderMode;
  readonly borderValue: number;
  /** One matrix per sample. */
  readonly perSample: boolean;
  readonly uniforms: UniformValues;
  /** The map's `src_xy` in f32 on the CPU: writes sample n's source (X, Y) of (x, y) into p. */
  srcXY(n: number, x: number, y: number, p: number[]): void;
  /** Each matrix as an integer map, when all are flips, quarter turns or transposes with an integer shift. */
  readonly integerMaps?: readonly IntegerMap[];
}

/** Validates the options every warp shares: the output shape, sampling, border and dtype of a warp of `x`. */
export function resolveWarpSampling(
  x: Tensor,
  d: ImageDims,
  o: WarpSamplingOptions,
): Pick<WarpRun, 'shape' | 'dtype' | 'interpolation' | 'border' | 'borderValue'> {
  const width = o.width === undefined ? d.w : integerInRange('width', o.width, 1, MAX_WARP_SIZE);
  const height = o.height === undefined ? d.h : integerInRange('height', o.height, 1, MAX_WARP_SIZE);
  return {
    shape: [d.n, d.c, height, width],
    interpolation: o.interpolation === undefined ? 'bilinear' : oneOf('interpolation', o.interpolation, WARP_INTERPOLATIONS),
    border: o.border === undefined ? 'constant' : oneOf('border', o.border, BORDER_MODES),
    borderValue: o.borderValue === undefined ? 0 : numberInRange('borderValue', o.borderValue, -1e30, 1e30),
    dtype: outDType(o.dtype, x.dtype),
  };
}

/**
 * Runs a warp where `x` lives: nearest by the gather engine, bilinear by a pixel program. A nearest
 * warp with a constant border by integer maps is their integer map: the same pixels (coordinates
 * are exact in f32 up to 2^24), on the GPU by the tiled path where it applies.
 */
export function runWarp(x: Tensor, map: WarpMap, r: WarpRun): Tensor {
  const { shape, dtype, border, borderValue, perSample: ps } = r;
  if (r.interpolation === 'nearest' && border === 'constant' && r.integerMaps) {
    return integerMap(map.name, x, shape, dtype, border, borderValue, ps ? r.integerMaps : r.integerMaps[0]!);
  }
  return onDevice(x, {
    gpu: () => {
      if (r.interpolation === 'nearest') return runGather(x, nearestSpec(map, x.dtype, dtype, border, ps), shape, r.uniforms, borderValue);
      return runPixelProgram(bilinearProgram(map, x.dtype, dtype, border, ps), [x], shape, dtype, r.uniforms, borderValue);
    },
    cpu: () => {
      const f = Math.fround;
      const [, , h, w] = x.shape as Dims4;
      const xy = [0, 0];
      if (r.interpolation === 'nearest') {
        return cpuGather(
          x,
          dtype,
          border,
          borderValue,
          shape,
          (y, xx, p, n) => {
            r.srcXY(n, xx, y, xy);
            p[0] = cpuWrap(Math.floor(f(xy[0]! + 0.5)), w, border);
            p[1] = cpuWrap(Math.floor(f(xy[1]! + 0.5)), h, border);
          },
          ps,
        );
      }
      const src = cpuAccessor(x, border, borderValue);
      return cpuPixelKernel(shape, dtype, (n, ch, y, xx) => {
        r.srcXY(n, xx, y, xy);
        const fx0 = Math.floor(xy[0]!);
        const fy0 = Math.floor(xy[1]!);
        const fx = f(xy[0]! - fx0);
        const fy = f(xy[1]! - fy0);
        const x0 = cpuWrap(fx0, w, border);
        const y0 = cpuWrap(fy0, h, border);
        const r0 = f(f(src(n, ch, y0, x0) * f(1 - fx)) + f(src(n, ch, y0, x0 + 1) * fx));
        const r1 = f(f(src(n, ch, y0 + 1, x0) * f(1 - fx)) + f(src(n, ch, y0 + 1, x0 + 1) * fx));
        return f(f(r0 * f(1 - fy)) + f(r1 * fy));
      });
    },
  });
}

/** Every program variant of a warp (interpolations × borders × dtype pairs, one matrix or one per sample), for compile-all tests. */
export function warpPrograms(map: WarpMap): ProgramInfo[] {
  return [false, true].flatMap((ps) =>
    BORDER_MODES.flatMap((border) =>
      ALL_DTYPES.flatMap((a) => ALL_DTYPES.flatMap((b) => [gatherProgram(nearestSpec(map, a, b, border, ps)), bilinearProgram(map, a, b, border, ps)])),
    ),
  );
}

const AFFINE_MAP: WarpMap = {
  name: 'warp_affine',
  wgsl: (ps) => (ps ? WGSL_SRC_XY_PER_SAMPLE : WGSL_SRC_XY),
  uniforms: (ps) =>
    ps
      ? [perSampleField('ms', 'vec4f', 2)]
      : [
          { name: 'm0', type: 'vec4f' },
          { name: 'm1', type: 'vec4f' },
        ],
};

/** CPU mirror of WGSL `wrap`. */
function cpuWrap(p: number, n: number, border: BorderMode): number {
  const q = Math.trunc(Math.min(LIMIT, Math.max(-LIMIT, p)));
  if (border === 'reflect101' && n > 1) {
    const period = 2 * n - 2;
    return ((q % period) + period) % period;
  }
  return q;
}

const MATRIX_ITEM: PerSampleItem<readonly number[]> = {
  what: ['a matrix [a, b, c, d, e, f]', 'matrices'],
  isItem: (v) => Array.isArray(v) && !Array.isArray(v[0]),
  size: 6,
  check: (name, m) => {
    if (!Array.isArray(m) || m.length !== 6 || !m.every((v) => is.number(v))) throw invalidParameter(name, 'an array of 6 finite numbers', m);
    if (m[0]! * m[4]! - m[1]! * m[3]! === 0) throw invalidParameter(name, 'an invertible affine matrix (a·e − b·d ≠ 0)', m);
    return m as readonly number[];
  },
};

/**
 * Warps every plane by the affine `matrix` (source → destination). Runs where `x` lives.
 * @example warpAffine(img, { matrix: [0.8, -0.6, 20, 0.6, 0.8, -5] })   // rotate + scale + shift
 * @example warpAffine(img, { matrix, interpolation: 'nearest', border: 'replicate', width: 64, height: 48 })
 * @example warpAffine(batch2, { matrix: [rotate10, shear] })   // a matrix per sample
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for a matrix that is not 6 finite numbers or is singular, or per-sample matrices of another count than N.
 */
export function warpAffine(x: Tensor, options: WarpAffineOptions): Tensor {
  return runWarp(x, AFFINE_MAP, affineRun(x, options));
}

/**
 * The nearest warpAffine of `x` (its dtype kept) as a map that a pixel program reads its input
 * through (colorChainThrough): the same coordinates and border as the warp's own gather.
 * @throws KensaError as warpAffine.
 */
export function warpAffineNearestMap(x: Tensor, options: Omit<WarpAffineOptions, 'interpolation' | 'dtype'>): MappedInput {
  const r: WarpRun = { ...affineRun(x, { ...options, dtype: x.dtype }), interpolation: 'nearest' };
  const spec = nearestSpec(AFFINE_MAP, x.dtype, x.dtype, r.border, r.perSample);
  // outside, the gather copies the fill as stored in the dtype
  const stored = saturate(x.dtype, r.borderValue);
  const flips = r.integerMaps ? flipFlagsOf(r.integerMaps, x.shape, r.shape) : null;
  return {
    key: `${spec.name};${spec.key};border=${r.border}`,
    wgsl: `${spec.coord}
fn map_coord(n: u32, y: u32, x: u32) -> vec2<i32> { return ${r.perSample ? 'src_coord(n, y, x)' : 'src_coord(y, x)'}; }`,
    uniforms: spec.uniforms,
    values: r.uniforms,
    border: r.border,
    borderValue: x.dtype === 'f16' ? f16BitsToF32(stored) : stored,
    shape: r.shape,
    ...(flips && { flips }),
    mapped: () => runWarp(x, AFFINE_MAP, r),
  };
}

/**
 * The destination → source integer maps of source → destination `matrices` when every one is a
 * flip, quarter turn or transpose with an integer shift (at most 2^24: larger ones are left to
 * the float path, which clamps them); null otherwise.
 */
function affineIntegerMaps(matrices: readonly (readonly number[])[]): IntegerMap[] | null {
  const maps = matrices.map((m): IntegerMap => {
    const i = invertAffine(m);
    return { mx: [i[1]!, i[0]!, i[2]!], my: [i[4]!, i[3]!, i[5]!] };
  });
  return maps.every((m) => isDihedral(m) && Math.abs(m.mx[2]) <= LIMIT && Math.abs(m.my[2]) <= LIMIT) ? maps : null;
}

/** A validated warpAffine of `x`. */
function affineRun(x: Tensor, options: WarpAffineOptions): WarpRun {
  const d = checkImage('x', x);
  const o = options ?? ({} as WarpAffineOptions);
  const ms = perSample('matrix', o.matrix, d.n, MATRIX_ITEM);
  const ps = ms.perSample;
  const invs = ms.values.map((m) => invertAffine(m).map(Math.fround));
  const inv = invs[0]!;
  const uniforms: UniformValues = ps
    ? {
        ms: packPerSample(
          invs.map((i) => [i[0]!, i[1]!, i[2]!, 0, i[3]!, i[4]!, i[5]!, 0]),
          2,
        ),
      }
    : { m0: [inv[0]!, inv[1]!, inv[2]!, 0], m1: [inv[3]!, inv[4]!, inv[5]!, 0] };
  const f = Math.fround;
  const integerMaps = affineIntegerMaps(ms.values);
  return {
    ...resolveWarpSampling(x, d, o),
    perSample: ps,
    uniforms,
    ...(integerMaps && { integerMaps }),
    srcXY: (n, xx, y, p) => {
      const m = invs[ps ? n : 0]!;
      p[0] = f(f(f(m[0]! * xx) + f(m[1]! * y)) + m[2]!);
      p[1] = f(f(f(m[3]! * xx) + f(m[4]! * y)) + m[5]!);
    },
  };
}

/** Every program variant of warpAffine (interpolations × borders × dtype pairs, one matrix or one per sample), for compile-all tests. */
export function warpAffinePrograms(): ProgramInfo[] {
  return warpPrograms(AFFINE_MAP);
}
