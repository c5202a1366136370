import type { ProgramInfo } from '../../gpu/program.js';
import type { UniformValues } from '../../gpu/uniforms.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, is } from '../../validate.js';
import { checkImage, packPerSample, perSample, perSampleField, type PerSample, type PerSampleItem } from '../image.js';
import { resolveWarpSampling, runWarp, warpPrograms, type WarpMap, type WarpSamplingOptions } from './warp-affine.js';

export type PerspectiveMatrix = readonly [number, number, number, number, number, number, number, number, number];

export interface WarpPerspectiveOptions extends WarpSamplingOptions {
  /**
   * [m0 … m8]: the 3×3 matrix mapping source to destination (cv.warpPerspective's M), row-major;
   * or one per sample: an array of N such arrays, or a CPU tensor of shape [N, 3, 3].
   */
  matrix: PerSample<PerspectiveMatrix | readonly number[]>;
}

function determinant(m: readonly number[]): number {
  const [a, b, c, d, e, f, g, h, i] = m as PerspectiveMatrix;
  return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
}

/** cv.invert of a 3×3 matrix (adjugate over determinant, in double): the destination → source matrix. */
export function invertPerspective(m: readonly number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m as PerspectiveMatrix;
  const det = determinant(m);
  const D = det !== 0 ? 1 / det : 0;
  return [
    (e * i - f * h) * D,
    (c * h - b * i) * D,
    (b * f - c * e) * D,
    (f * g - d * i) * D,
    (a * i - c * g) * D,
    (c * d - a * f) * D,
    (d * h - e * g) * D,
    (b * g - a * h) * D,
    (a * e - b * d) * D,
  ];
}

const WGSL_SRC_XY = /* wgsl */ `
fn src_xy(x: u32, y: u32) -> vec2<f32> {
  return project(u.m0, u.m1, u.m2, f32(x), f32(y));
}`;

/** Per sample: sample n's inverse matrix rows are u.ms[3n], u.ms[3n + 1] and u.ms[3n + 2]. */
const WGSL_SRC_XY_PER_SAMPLE = /* wgsl */ `
fn src_xy(n: u32, x: u32, y: u32) -> vec2<f32> {
  return project(u.ms[3u * n], u.ms[3u * n + 1u], u.ms[3u * n + 2u], f32(x), f32(y));
}`;

const WGSL_PROJECT = /* wgsl */ `
fn project(m0: vec4<f32>, m1: vec4<f32>, m2: vec4<f32>, fx: f32, fy: f32) -> vec2<f32> {
  let w = m2.x * fx + m2.y * fy + m2.z;
  var iw = 0.0;
  if (w != 0.0) {
    iw = 1.0 / w;
  }
  return vec2<f32>((m0.x * fx + m0.y * fy + m0.z) * iw, (m1.x * fx + m1.y * fy + m1.z) * iw);
}`;

const PERSPECTIVE_MAP: WarpMap = {
  name: 'warp_perspective',
  wgsl: (ps) => `${WGSL_PROJECT}${ps ? WGSL_SRC_XY_PER_SAMPLE : WGSL_SRC_XY}`,
  uniforms: (ps) =>
    ps
      ? [perSampleField('ms', 'vec4f', 3)]
      : [
          { name: 'm0', type: 'vec4f' },
          { name: 'm1', type: 'vec4f' },
          { name: 'm2', type: 'vec4f' },
        ],
};

const MATRIX_ITEM: PerSampleItem<readonly number[]> = {
  what: ['a matrix [m0, …, m8]', 'matrices'],
  isItem: (v) => Array.isArray(v) && !Array.isArray(v[0]),
  size: 9,
  check: (name, m) => {
    if (!Array.isArray(m) || m.length !== 9 || !m.every((v) => is.number(v))) throw invalidParameter(name, 'an array of 9 finite numbers', m);
    if (determinant(m) === 0) throw invalidParameter(name, 'an invertible 3×3 matrix (determinant ≠ 0)', m);
    return m as readonly number[];
  },
};

/**
 * Warps every plane by the projective `matrix` (source → destination). Runs where `x` lives.
 * @example warpPerspective(img, { matrix: [1, 0.1, 0, 0, 1, 0, 0.001, 0, 1] })
 * @example warpPerspective(batch2, { matrix: [tilt, keystone], interpolation: 'nearest' })   // a matrix per sample
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for a matrix that is not 9 finite numbers or is singular, or per-sample matrices of another count than N.
 */
export function warpPerspective(x: Tensor, options: WarpPerspectiveOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? ({} as WarpPerspectiveOptions);
  const ms = perSample('matrix', o.matrix, d.n, MATRIX_ITEM);
  const ps = ms.perSample;
  const invs = ms.values.map((m) => invertPerspective(m).map(Math.fround));
  const rows = (i: readonly number[]) => [i[0]!, i[1]!, i[2]!, 0, i[3]!, i[4]!, i[5]!, 0, i[6]!, i[7]!, i[8]!, 0];
  const inv = rows(invs[0]!);
  const uniforms: UniformValues = ps ? { ms: packPerSample(invs.map(rows), 3) } : { m0: inv.slice(0, 4), m1: inv.slice(4, 8), m2: inv.slice(8, 12) };
  const f = Math.fround;
  return runWarp(x, PERSPECTIVE_MAP, {
    ...resolveWarpSampling(x, d, o),
    perSample: ps,
    uniforms,
    srcXY: (n, xx, y, p) => {
      const m = invs[ps ? n : 0]!;
      const w = f(f(f(m[6]! * xx) + f(m[7]! * y)) + m[8]!);
      const iw = w !== 0 ? f(1 / w) : 0;
      p[0] = f(f(f(f(m[0]! * xx) + f(m[1]! * y)) + m[2]!) * iw);
      p[1] = f(f(f(f(m[3]! * xx) + f(m[4]! * y)) + m[5]!) * iw);
    },
  });
}

/** Every program variant of warpPerspective (interpolations × borders × dtype pairs, one matrix or one per sample), for compile-all tests. */
export function warpPerspectivePrograms(): ProgramInfo[] {
  return warpPrograms(PERSPECTIVE_MAP);
}
