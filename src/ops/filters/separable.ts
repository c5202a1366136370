/**
 * Separable 2-D correlation: a horizontal then a vertical 1-D pass (kornia's filter2d_separable).
 * The intermediate is f32, so rounding happens once, at the end, as in OpenCV's float path.
 * Two GPU paths:
 *  - stencil (kernels up to 17 taps, rows that start on a storage word): one pass through
 *    ../stencil-tile.ts (a workgroup filters the rows of a 64×16 output tile plus halo into
 *    workgroup memory, then the columns, and writes each output word once) or, for 3×3 on u8 rows
 *    of a multiple of 16 pixels, ../stencil-strip.ts (a thread streams 8 pixels down 8 rows with
 *    the filtered rows in registers, the faster there). Radii are compile-time constants, taps uniforms.
 *  - general: two pixel-kernel passes through an f32 intermediate, taps as uniforms
 *    (array<vec4<f32>, 64>, up to 255 taps), any width.
 * Per sample (augmentation: a Gaussian per image): `filter2dSeparablePerSample` takes one kernel
 * pair per sample, each sample's weights a block of a uniform array (stride `u.vecs` vec4s): on
 * the tiled path (radii up to 8) the kernels zero-padded to the batch's largest radii, which adds
 * exact zeros to the same sums; otherwise through the general path's two passes (block: taps,
 * border value, weights).
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import type { BorderMode } from '../../kernels/border.js';
import { checkImage, type ImageDims } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { runStencil, stencilStripProgram } from '../../kernels/stencil-strip.js';
import { runStencilTile, STENCIL_MAX_RADIUS, stencilTileFits, stencilTileProgram, type StencilTileSpec } from '../../kernels/stencil-tile.js';
import { MAX_TAPS } from './kernels.js';

const TAP_VECS = Math.ceil(MAX_TAPS / 4) + 1;

function separablePass(axis: 'h' | 'v', inDtype: DType, outDtype: DType, border: BorderMode) {
  const [dy, dx] = axis === 'h' ? ['0', 'i32(k) - r'] : ['i32(k) - r', '0'];
  return pixelProgram({
    name: `separable_${axis}`,
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border,
    uniforms: [
      { name: 'taps', type: 'u32' },
      { name: 'weights', type: { array: 'vec4f', length: TAP_VECS } },
    ],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let r = i32(u.taps / 2u);
  var acc = 0.0;
  for (var k = 0u; k < u.taps; k++) {
    acc += u.weights[k / 4u][k % 4u] * src_at(n, c, i32(y) + ${dy}, i32(x) + ${dx});
  }
  return acc;
}`,
  });
}

/** Largest radius of the tiled path (17 taps). */
export const TILED_MAX_RADIUS = STENCIL_MAX_RADIUS;
const TILED_TAP_VECS = Math.ceil((2 * TILED_MAX_RADIUS + 1) / 4);

/** The tiled path as a stencil: one row array (the horizontal pass), the vertical pass as the combine. */
export function separableTileSpec(inDtype: DType, outDtype: DType, border: BorderMode, rx: number, ry: number): StencilTileSpec {
  const taps = (r: number, w: 'wx' | 'wy', at: (d: number) => string) =>
    Array.from({ length: 2 * r + 1 }, (_, k) => `u.${w}[${k >> 2}][${k & 3}] * ${at(k - r)}`).join(' + ');
  return {
    name: 'separable_tiled',
    key: '',
    inDtype,
    outDtype,
    border,
    rx,
    ry,
    uniforms: [
      { name: 'wx', type: { array: 'vec4f', length: TILED_TAP_VECS } },
      { name: 'wy', type: { array: 'vec4f', length: TILED_TAP_VECS } },
    ],
    rows: { h: (p) => taps(rx, 'wx', p) },
    combine: (r) => `let v = ${taps(ry, 'wy', (dy) => r('h', dy))};`,
  };
}

export function separableTiledProgram(inDtype: DType, outDtype: DType, border: BorderMode, rx: number, ry: number, vecOut = false): ProgramInfo {
  return stencilTileProgram(separableTileSpec(inDtype, outDtype, border, rx, ry), vecOut);
}

function packWeights(w: readonly number[]): number[] {
  const out = new Array<number>(TAP_VECS * 4).fill(0);
  for (const [i, v] of w.entries()) out[i] = v;
  return out;
}

export interface SeparableArgs {
  kx: readonly number[];
  ky: readonly number[];
  border: BorderMode;
  borderValue: number;
  dtype: DType;
}

/** Correlates each channel with kx along x, then ky along y (both odd lengths, centred). */
export function filter2dSeparable(x: Tensor, a: SeparableArgs): Tensor {
  const d: ImageDims = checkImage('x', x);
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  // A constant border row of the source becomes borderValue·Σkx after the horizontal pass.
  const midBorder = a.borderValue * a.kx.reduce((s, v) => s + v, 0);
  const rx = (a.kx.length - 1) / 2;
  const ry = (a.ky.length - 1) / 2;
  return onDevice(x, {
    gpu: () => {
      const tile = separableTileSpec(x.dtype, a.dtype, a.border, rx, ry);
      if (stencilTileFits(tile, shape)) return runStencil(tile, x, { wx: a.kx, wy: a.ky }, a.borderValue);
      const tmp = runPixelProgram(
        separablePass('h', x.dtype, 'f32', a.border),
        [x],
        shape,
        'f32',
        { taps: a.kx.length, weights: packWeights(a.kx) },
        a.borderValue,
      );
      const out = runPixelProgram(
        separablePass('v', 'f32', a.dtype, a.border),
        [tmp],
        shape,
        a.dtype,
        { taps: a.ky.length, weights: packWeights(a.ky) },
        midBorder,
      );
      tmp.dispose();
      return out;
    },
    cpu: () => {
      const src = cpuAccessor(x, a.border, a.borderValue);
      const kx = a.kx.map(Math.fround);
      const ky = a.ky.map(Math.fround);
      const tmp = cpuPixelKernel(shape, 'f32', (n, c, yy, xx) => {
        let acc = 0;
        for (let k = 0; k < kx.length; k++) acc = Math.fround(acc + Math.fround(kx[k]! * src(n, c, yy, xx + k - rx)));
        return acc;
      });
      const mid = cpuAccessor(tmp, a.border, midBorder);
      return cpuPixelKernel(shape, a.dtype, (n, c, yy, xx) => {
        let acc = 0;
        for (let k = 0; k < ky.length; k++) acc = Math.fround(acc + Math.fround(ky[k]! * mid(n, c, yy + k - ry, xx)));
        return acc;
      });
    },
  });
}

/** Most uniform vec4s holding every sample's taps of one per-sample pass (48 KiB; a dispatch holds its size class). */
export const PER_SAMPLE_TAP_VECS = 3072;

/** One pass of the per-sample path: sample n's block at u.w[n · u.vecs ..] = (taps, border value, weights…). */
function separablePerSamplePass(axis: 'h' | 'v', inDtype: DType, outDtype: DType, border: BorderMode) {
  const [dy, dx] = axis === 'h' ? ['0', 'k - r'] : ['k - r', '0'];
  return pixelProgram({
    name: `separable_per_sample_${axis}`,
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border,
    uniforms: [
      { name: 'vecs', type: 'u32' },
      { name: 'w', type: { array: 'vec4f', length: PER_SAMPLE_TAP_VECS, sized: true } },
    ],
    pixel: /* wgsl */ `
fn slot(base: u32, k: u32) -> f32 {
  let i = base + k;
  return u.w[i / 4u][i % 4u];
}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let base = n * u.vecs * 4u;
  let taps = i32(slot(base, 0u));
  let r = taps / 2;
  var acc = 0.0;
  for (var k = 0; k < taps; k++) {
    let iy = border(i32(y) + ${dy}, i32(s.z));
    let ix = border(i32(x) + ${dx}, i32(s.w));
    var v = slot(base, 1u);
    if (iy >= 0 && ix >= 0) { v = src_px(n, c, u32(iy), u32(ix)); }
    acc += slot(base, 2u + u32(k)) * v;
  }
  return acc;
}`,
  });
}

export interface SeparablePerSampleArgs {
  /** Sample n's horizontal and vertical kernels (odd lengths, centred). */
  kx: readonly (readonly number[])[];
  ky: readonly (readonly number[])[];
  border: BorderMode;
  borderValue: number;
  dtype: DType;
}

/** Vec4s per sample of a per-sample pass whose longest kernel has `taps` weights. */
export function perSampleTapVecs(taps: number): number {
  return Math.ceil((taps + 2) / 4);
}

function packPerSampleTaps(kernels: readonly (readonly number[])[], borderValues: readonly number[], vecs: number): number[] {
  // only the samples' blocks: dispatch zero-fills the rest of the uniform array
  const out = new Array<number>(kernels.length * vecs * 4).fill(0);
  kernels.forEach((k, n) => {
    const base = n * vecs * 4;
    out[base] = k.length;
    out[base + 1] = borderValues[n]!;
    for (const [i, v] of k.entries()) out[base + 2 + i] = v;
  });
  return out;
}

/**
 * Correlates each sample n's channels with kx[n] along x, then ky[n] along y, where x lives;
 * arguments already validated (N kernels each, N · perSampleTapVecs(longest) ≤ PER_SAMPLE_TAP_VECS).
 */
export function filter2dSeparablePerSample(x: Tensor, a: SeparablePerSampleArgs): Tensor {
  const d: ImageDims = checkImage('x', x);
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  const kx = a.kx.map((k) => k.map(Math.fround));
  const ky = a.ky.map((k) => k.map(Math.fround));
  // a constant border row of the source becomes borderValue·Σkx[n] after the horizontal pass
  const mid = kx.map((k) => Math.fround(a.borderValue * k.reduce((s, v) => s + v, 0)));
  const first = new Array<number>(d.n).fill(Math.fround(a.borderValue));
  return onDevice(x, {
    gpu: () => {
      const tiled = perSampleTiled(x, shape, kx, ky, a);
      if (tiled) return tiled;
      const vecs = perSampleTapVecs(Math.max(...kx.map((k) => k.length), ...ky.map((k) => k.length)));
      const tmp = runPixelProgram(separablePerSamplePass('h', x.dtype, 'f32', a.border), [x], shape, 'f32', {
        vecs,
        w: packPerSampleTaps(kx, first, vecs),
      });
      const out = runPixelProgram(separablePerSamplePass('v', 'f32', a.dtype, a.border), [tmp], shape, a.dtype, {
        vecs,
        w: packPerSampleTaps(ky, mid, vecs),
      });
      tmp.dispose();
      return out;
    },
    cpu: () => {
      const src = cpuAccessor(x, a.border, first[0]);
      const tmp = cpuPixelKernel(shape, 'f32', (n, c, yy, xx) => {
        const k = kx[n]!;
        const r = (k.length - 1) / 2;
        let acc = 0;
        for (let i = 0; i < k.length; i++) acc = Math.fround(acc + Math.fround(k[i]! * src(n, c, yy, xx + i - r)));
        return acc;
      });
      const rows = mid.map((m) => cpuAccessor(tmp, a.border, m));
      return cpuPixelKernel(shape, a.dtype, (n, c, yy, xx) => {
        const k = ky[n]!;
        const r = (k.length - 1) / 2;
        let acc = 0;
        for (let i = 0; i < k.length; i++) acc = Math.fround(acc + Math.fround(k[i]! * rows[n]!(n, c, yy + i - r, xx)));
        return acc;
      });
    },
  });
}

/**
 * The tiled per-sample path as a stencil: sample n = plane / C reads its kx (2·rx + 1 weights) then
 * ky (2·ry + 1) from u.pw[n · u.vecs ..]; the vec4 index and lane of each weight are constants.
 */
export function separablePerSampleTileSpec(inDtype: DType, outDtype: DType, border: BorderMode, rx: number, ry: number): StencilTileSpec {
  const weight = (k: number) => `u.pw[(wid.z / u.shape.y) * u.vecs + ${k >> 2}u][${k & 3}]`;
  const sum = (count: number, first: number, at: (d: number) => string) =>
    Array.from({ length: count }, (_, k) => `${weight(first + k)} * ${at(k - (count - 1) / 2)}`).join(' + ');
  return {
    name: 'separable_tiled_per_sample',
    key: '',
    inDtype,
    outDtype,
    border,
    rx,
    ry,
    uniforms: [
      { name: 'vecs', type: 'u32' },
      { name: 'pw', type: { array: 'vec4f', length: PER_SAMPLE_TAP_VECS, sized: true } },
    ],
    rows: { h: (p) => sum(2 * rx + 1, 0, p) },
    combine: (r) => `let v = ${sum(2 * ry + 1, 2 * rx + 1, (dy) => r('h', dy))};`,
  };
}

/** `k` centred in `taps` weights (zeros around it). */
function padKernel(k: readonly number[], taps: number): number[] {
  const pad = (taps - k.length) / 2;
  return [...new Array<number>(pad).fill(0), ...k, ...new Array<number>(pad).fill(0)];
}

/** The tiled per-sample run, or null where it does not fit (radius over 8, rows off the word grid, too many weights). */
function perSampleTiled(
  x: Tensor,
  shape: Dims4,
  kx: readonly (readonly number[])[],
  ky: readonly (readonly number[])[],
  a: SeparablePerSampleArgs,
): Tensor | null {
  const tx = Math.max(...kx.map((k) => k.length));
  const ty = Math.max(...ky.map((k) => k.length));
  const spec = separablePerSampleTileSpec(x.dtype, a.dtype, a.border, (tx - 1) / 2, (ty - 1) / 2);
  const vecs = Math.ceil((tx + ty) / 4);
  if (!stencilTileFits(spec, shape) || shape[0] * vecs > PER_SAMPLE_TAP_VECS) return null;
  const pw = new Array<number>(shape[0] * vecs * 4).fill(0);
  kx.forEach((k, n) => {
    for (const [i, v] of [...padKernel(k, tx), ...padKernel(ky[n]!, ty)].entries()) pw[n * vecs * 4 + i] = v;
  });
  return runStencilTile(spec, x, { vecs, pw }, a.borderValue);
}

/** Every program variant of the per-sample path, for compile-all tests. */
export function separablePerSamplePrograms(dtypes: readonly DType[], borders: readonly BorderMode[]): ProgramInfo[] {
  return dtypes.flatMap((dt) =>
    borders.flatMap((b) => [
      separablePerSamplePass('h', dt, 'f32', b),
      separablePerSamplePass('v', 'f32', dt, b),
      stencilTileProgram(separablePerSampleTileSpec(dt, dt, b, 1, 1), false),
      stencilTileProgram(separablePerSampleTileSpec(dt, dt, b, TILED_MAX_RADIUS, 3), true),
    ]),
  );
}

/** Every program variant of this file, for compile-all tests. */
export function separablePrograms(dtypes: readonly DType[], borders: readonly BorderMode[]) {
  const strips = dtypes.includes('u8')
    ? borders.flatMap((b) => (['u8', 'f32', 'f16'] as const).map((o) => stencilStripProgram(separableTileSpec('u8', o, b, 1, 1))))
    : [];
  return [
    ...dtypes.flatMap((dt) =>
      borders.flatMap((b) => [
        separablePass('h', dt, 'f32', b),
        separablePass('v', 'f32', dt, b),
        separableTiledProgram(dt, dt, b, 1, 1),
        separableTiledProgram(dt, dt, b, TILED_MAX_RADIUS, 2),
        separableTiledProgram(dt, 'f32', b, 2, 2, true),
        separableTiledProgram(dt, 'f32', b, 5, 0, true),
      ]),
    ),
    ...strips,
  ];
}
