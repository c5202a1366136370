/**
 * Separable 2-D correlation: a horizontal then a vertical 1-D pass (kornia's filter2d_separable).
 * The intermediate is f32, so rounding happens once, at the end, as in OpenCV's float path.
 * Two GPU paths:
 *  - tiled (kernels up to 17 taps, rows that start on a storage word): one pass; a workgroup
 *    loads a 64×16 output tile plus halo once into workgroup memory, filters rows then columns
 *    there and writes each output word once. Memory traffic is one read of the input and one
 *    write of the output. Radii are compile-time constants (key `r=rx,ry`), taps are uniforms.
 *  - general: two pixel-kernel passes through an f32 intermediate, taps as uniforms
 *    (array<vec4<f32>, 64>, up to 255 taps), any width.
 */
import { ELEMENTS_PER_WORD, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import type { BorderMode } from '../border.js';
import { checkImage, type ImageDims } from '../image.js';
import { wgslBorder } from '../border.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../pixel-kernel.js';
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

const TILE_W = 64;
const TILE_H = 16;
/** Largest radius of the tiled path (17 taps). */
export const TILED_MAX_RADIUS = 8;
const TILED_TAP_VECS = Math.ceil((2 * TILED_MAX_RADIUS + 1) / 4);
const tiledPrograms = new Map<string, ProgramInfo>();

function writeOutputs(dtype: DType): string {
  switch (ELEMENTS_PER_WORD[dtype]) {
    case 4:
      return 'if (gx < s.w) { out[(base + gx) / 4u] = out_pack(v); }';
    case 2:
      return `if (gx < s.w) { out[(base + gx) / 2u] = out_pack(v.xy); }
  if (gx + 2u < s.w) { out[(base + gx + 2u) / 2u] = out_pack(v.zw); }`;
    default:
      return 'for (var j = 0u; j < 4u; j++) { if (gx + j < s.w) { out_store(base + gx + j, v[j]); } }';
  }
}

export function separableTiledProgram(inDtype: DType, outDtype: DType, border: BorderMode, rx: number, ry: number): ProgramInfo {
  const id = `${inDtype}|${outDtype}|${border}|${rx}|${ry}`;
  let p = tiledPrograms.get(id);
  if (p) return p;
  const inW = TILE_W + 2 * rx;
  const inH = TILE_H + 2 * ry;
  p = {
    name: 'separable_tiled',
    key: `r=${rx},${ry};border=${border}`,
    inputs: [{ name: 'src', dtype: inDtype }],
    outputs: [{ name: 'out', dtype: outDtype }],
    uniforms: [
      { name: 'shape', type: 'vec4u' },
      { name: 'border_value', type: 'f32' },
      { name: 'wx', type: { array: 'vec4f', length: TILED_TAP_VECS } },
      { name: 'wy', type: { array: 'vec4f', length: TILED_TAP_VECS } },
    ],
    workgroupSize: 256,
    body: /* wgsl */ `
${wgslBorder(border)}
const RX: u32 = ${rx}u;
const RY: u32 = ${ry}u;
const TW: u32 = ${TILE_W}u;
const TH: u32 = ${TILE_H}u;
const IW: u32 = ${inW}u;
const IH: u32 = ${inH}u;
var<workgroup> tin: array<f32, ${inW * inH}>;
var<workgroup> trow: array<f32, ${TILE_W * inH}>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let s = u.shape;
  let x0 = wid.x * TW;
  let y0 = wid.y * TH;
  let plane = wid.z * s.z * s.w;
  // Tiles whose halo lies inside the image (all but the rim) skip the border arithmetic.
  let interior = x0 >= RX && x0 + TW + RX <= s.w && y0 >= RY && y0 + TH + RY <= s.z;
  if (interior) {
    let origin = plane + (y0 - RY) * s.w + x0 - RX;
    for (var i = li; i < IW * IH; i += WG) { tin[i] = src_load(origin + (i / IW) * s.w + i % IW); }
  } else {
    for (var i = li; i < IW * IH; i += WG) {
      let gy = border(i32(y0 + i / IW) - i32(RY), i32(s.z));
      let gx = border(i32(x0 + i % IW) - i32(RX), i32(s.w));
      var v = u.border_value;
      if (gy >= 0 && gx >= 0) { v = src_load(plane + u32(gy) * s.w + u32(gx)); }
      tin[i] = v;
    }
  }
  workgroupBarrier();
  for (var i = li; i < TW * IH; i += WG) {
    let r = i / TW;
    let c = i % TW;
    var acc = 0.0;
    for (var k = 0u; k <= 2u * RX; k++) { acc += u.wx[k / 4u][k % 4u] * tin[r * IW + c + k]; }
    trow[i] = acc;
  }
  workgroupBarrier();
  let ty = li / 16u;
  let tx = (li % 16u) * 4u;
  let gy = y0 + ty;
  if (gy >= s.z) { return; }
  var v = vec4<f32>(0.0);
  for (var k = 0u; k <= 2u * RY; k++) {
    let w = u.wy[k / 4u][k % 4u];
    let row = (ty + k) * TW + tx;
    v += w * vec4<f32>(trow[row], trow[row + 1u], trow[row + 2u], trow[row + 3u]);
  }
  let base = plane + gy * s.w;
  let gx = x0 + tx;
  ${writeOutputs(outDtype)}
}`,
  };
  tiledPrograms.set(id, p);
  return p;
}

function packWeights(w: readonly number[]): number[] {
  const out = new Array<number>(TAP_VECS * 4).fill(0);
  w.forEach((v, i) => (out[i] = v));
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
  if (x.device === 'gpu') {
    const rx = (a.kx.length - 1) / 2;
    const ry = (a.ky.length - 1) / 2;
    if (rx <= TILED_MAX_RADIUS && ry <= TILED_MAX_RADIUS && d.w % ELEMENTS_PER_WORD[a.dtype] === 0 && d.n * d.c <= 65535) {
      const gpu = x.gpu.gpu;
      const out = Tensor.empty(gpu, shape, a.dtype);
      gpu.dispatch({
        program: separableTiledProgram(x.dtype, a.dtype, a.border, rx, ry),
        inputs: [x.gpu.ref],
        outputs: [out.gpu.ref],
        uniforms: { shape, border_value: a.borderValue, wx: a.kx, wy: a.ky },
        workgroups: [Math.ceil(d.w / TILE_W), Math.ceil(d.h / TILE_H), d.n * d.c],
      });
      return out;
    }
    const tmp = runPixelProgram(separablePass('h', x.dtype, 'f32', a.border), [x], shape, 'f32', { taps: a.kx.length, weights: packWeights(a.kx) }, a.borderValue);
    const out = runPixelProgram(separablePass('v', 'f32', a.dtype, a.border), [tmp], shape, a.dtype, { taps: a.ky.length, weights: packWeights(a.ky) }, midBorder);
    tmp.dispose();
    return out;
  }
  const src = cpuAccessor(x, a.border, a.borderValue);
  const rx = (a.kx.length - 1) / 2;
  const ry = (a.ky.length - 1) / 2;
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
}

/** Every program variant of this file, for compile-all tests. */
export function separablePrograms(dtypes: readonly DType[], borders: readonly BorderMode[]) {
  return dtypes.flatMap((dt) =>
    borders.flatMap((b) => [separablePass('h', dt, 'f32', b), separablePass('v', 'f32', dt, b), separableTiledProgram(dt, dt, b, 1, 1), separableTiledProgram(dt, dt, b, TILED_MAX_RADIUS, 2)]),
  );
}
