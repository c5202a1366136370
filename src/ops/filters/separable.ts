/**
 * Separable 2-D correlation: a horizontal then a vertical 1-D pass (kornia's filter2d_separable).
 * The intermediate is f32, so rounding happens once, at the end, as in OpenCV's float path.
 * Three GPU paths:
 *  - tiled (kernels up to 17 taps, rows that start on a storage word): one pass through
 *    ../stencil-tile.ts; a workgroup loads a 64×16 output tile plus halo once into workgroup
 *    memory, filters rows then columns there and writes each output word once. Memory traffic is
 *    one read of the input and one write of the output. Radii are compile-time constants, taps
 *    uniforms.
 *  - strip (radii ≤ 1, W % 4 == 0): no workgroup memory; a thread filters 4 pixels × 8 rows
 *    from whole input words with a register ring of filtered rows (see below).
 *  - general: two pixel-kernel passes through an f32 intermediate, taps as uniforms
 *    (array<vec4<f32>, 64>, up to 255 taps), any width.
 *
 * Notes (H100, 16×1×2048×2048 u8, interleaved rounds, bench/ops/filters.bench.ts): sobel 3×3 →
 * f32: tiled 0.413 ms, strip 0.235 ms (49 % of copy bandwidth). Gaussian 5×5 → f32: tiled 0.493,
 * strip 0.534 (f16: 0.435 vs 0.530), so 5+ taps stay tiled. Tried and slower: 16-byte spans
 * per thread (vec4 input loads through a binding alias) 1.1–2.0 ms; the row loop unrolled in WGSL
 * 0.659; scalar f32 stores instead of a vec4 alias 2.0 (wide). Not yet known what bounds the strip
 * kernel at 5 taps (same loads as at 3 taps). H200 (2026-12-01): the tiled kernel with pixel
 * quads in workgroup memory, Gaussian 5×5 → f32 0.483 → 0.277 ms (stencil-tile.ts); the strip
 * path at 5 taps 0.524 ms (8 rows per thread) and 0.658 (16 rows) against 0.273 for the tile.
 */
import { BYTES_PER_ELEMENT, ELEMENTS_PER_WORD, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import type { BorderMode } from '../border.js';
import { checkImage, type ImageDims } from '../image.js';
import { wgslBorder } from '../border.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../pixel-kernel.js';
import { runStencilTile, STENCIL_MAX_RADIUS, stencilTileFits, stencilTileProgram, type StencilTileSpec } from '../stencil-tile.js';
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
  const taps = (r: number, w: 'wx' | 'wy', at: (d: number) => string) => Array.from({ length: 2 * r + 1 }, (_, k) => `u.${w}[${k >> 2}][${k & 3}] * ${at(k - r)}`).join(' + ');
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

// ---------------------------------------------------------------------------------------------
// Strip path: rows start on a whole span (W % S == 0). A thread owns S adjacent output pixels of
// M consecutive rows (S = 4, or with `wide` 16 bytes of input: 16 u8, 8 u16/f16, 4 f32/i32): it
// reads each input row of its window once as whole storage words (the span's four words as one
// vec4 load when wide), filters it horizontally in registers, keeps the last 2·ry+1 filtered rows
// in registers and writes each output row as whole words (vector stores where the row's bytes
// allow). No workgroup memory, no barriers. Threads whose window leaves the image take a compact
// per-pixel path with border resolution (loops with uniform bounds, so no compiler unrolls the
// rim code). Radii are compile-time constants, taps uniforms.
// ---------------------------------------------------------------------------------------------

/**
 * Shape of the strip kernel: `rows` output rows per thread, `tx` threads per workgroup row,
 * `wide` 16-byte input spans (else 4 pixels), `vecOut` vector stores, `unroll` the row loop
 * written out in WGSL (else a loop the driver may unroll; CPU adapters compile it much faster).
 */
export interface StripShape {
  rows: number;
  tx: number;
  wide: boolean;
  vecOut: boolean;
  unroll: boolean;
}
export const STRIP_SHAPE: StripShape = { rows: 8, tx: 32, wide: false, vecOut: true, unroll: false };
/** Largest radius the strip path is used for: measured faster than the tiled kernel at 3 taps only. */
export const STRIP_MAX_RADIUS = 1;
const STRIP_WG = 256;
const stripPrograms = new Map<string, ProgramInfo>();

/** Pixels per thread of a strip shape for an input dtype. */
export function stripSpan(inDtype: DType, shape: StripShape): number {
  return shape.wide ? 16 / BYTES_PER_ELEMENT[inDtype] : 4;
}

/** WGSL expression of pixel `lane` (a constant) of storage word `w` of dtype `dtype`. */
function lanePixel(dtype: DType, w: string, lane: number): string {
  switch (dtype) {
    case 'u8':
      return lane === 3 ? `f32(${w} >> 24u)` : `f32((${w} >> ${8 * lane}u) & 0xffu)`;
    case 'u16':
      return lane === 1 ? `f32(${w} >> 16u)` : `f32(${w} & 0xffffu)`;
    case 'f16':
      return `unpack2x16float(${w}).${lane === 0 ? 'x' : 'y'}`;
    case 'i32':
      return `f32(${w})`;
    case 'f32':
      return w;
  }
}

/** WGSL body of `fn ld(i: u32) -> f32`: element i through `word(j)`. */
function dynLoad(dtype: DType): string {
  switch (dtype) {
    case 'u8':
      return 'return f32((word(i >> 2u) >> ((i & 3u) * 8u)) & 0xffu);';
    case 'u16':
      return 'return f32((word(i >> 1u) >> ((i & 1u) * 16u)) & 0xffffu);';
    case 'f16':
      return 'let h = unpack2x16float(word(i >> 1u)); return select(h.x, h.y, (i & 1u) == 1u);';
    case 'i32':
      return 'return f32(word(i));';
    case 'f32':
      return 'return word(i);';
  }
}

/** WGSL of `fn store_span(o: u32, v: array<vec4<f32>, NQ>)` and the output alias it needs. */
function spanStore(dtype: DType, nq: number, vecOut: boolean): { alias: string | null; body: string } {
  const bytes = BYTES_PER_ELEMENT[dtype];
  const lines: string[] = [];
  if (bytes === 4) {
    for (let j = 0; j < nq; j++) {
      if (vecOut) lines.push(dtype === 'f32' ? `out_v[(o >> 2u) + ${j}u] = v[${j}];` : `out_v[(o >> 2u) + ${j}u] = vec4<i32>(sat_i32(v[${j}].x), sat_i32(v[${j}].y), sat_i32(v[${j}].z), sat_i32(v[${j}].w));`);
      else for (let c = 0; c < 4; c++) lines.push(`out_store(o + ${4 * j + c}u, v[${j}][${c}]);`);
    }
    return { alias: vecOut ? (dtype === 'f32' ? 'vec4<f32>' : 'vec4<i32>') : null, body: lines.join('\n  ') };
  }
  if (bytes === 2) {
    if (vecOut && nq % 2 === 0) {
      for (let m = 0; m < nq / 2; m++) lines.push(`out_v[(o >> 3u) + ${m}u] = vec4<u32>(out_pack(v[${2 * m}].xy), out_pack(v[${2 * m}].zw), out_pack(v[${2 * m + 1}].xy), out_pack(v[${2 * m + 1}].zw));`);
      return { alias: 'vec4<u32>', body: lines.join('\n  ') };
    }
    for (let j = 0; j < nq; j++) {
      if (vecOut) lines.push(`out_v[(o >> 2u) + ${j}u] = vec2<u32>(out_pack(v[${j}].xy), out_pack(v[${j}].zw));`);
      else lines.push(`out[(o >> 1u) + ${2 * j}u] = out_pack(v[${j}].xy);`, `out[(o >> 1u) + ${2 * j + 1}u] = out_pack(v[${j}].zw);`);
    }
    return { alias: vecOut ? 'vec2<u32>' : null, body: lines.join('\n  ') };
  }
  if (vecOut && nq === 4) return { alias: 'vec4<u32>', body: 'out_v[o >> 4u] = vec4<u32>(out_pack(v[0]), out_pack(v[1]), out_pack(v[2]), out_pack(v[3]));' };
  for (let j = 0; j < nq; j++) lines.push(`out[(o >> 2u) + ${j}u] = out_pack(v[${j}]);`);
  return { alias: null, body: lines.join('\n  ') };
}

export function separableStripProgram(inDtype: DType, outDtype: DType, border: BorderMode, rx: number, ry: number, shape: StripShape = STRIP_SHAPE): ProgramInfo {
  const id = `${inDtype}|${outDtype}|${border}|${rx}|${ry}|${shape.rows}|${shape.tx}|${shape.wide}|${shape.vecOut}|${shape.unroll}`;
  let p = stripPrograms.get(id);
  if (p) return p;
  const M = shape.rows;
  const E = ELEMENTS_PER_WORD[inDtype];
  const S = stripSpan(inDtype, shape);
  const NQ = S / 4;
  const wide = shape.wide;
  const inT = inDtype === 'f32' ? 'f32' : inDtype === 'i32' ? 'i32' : 'u32';
  // the words holding pixels −rx .. S−1+rx of the span, relative to the span's first word
  const w0 = Math.floor(-rx / E);
  const w1 = Math.floor((S - 1 + rx) / E);
  const loads: string[] = wide ? ['let c = src_v[rb >> 2u];'] : [];
  for (let k = w0; k <= w1; k++) {
    const name = `a${k - w0}`;
    if (wide && k >= 0 && k < 4) loads.push(`let ${name} = c[${k}];`);
    else loads.push(`let ${name} = word(${k < 0 ? `rb - ${-k}u` : k > 0 ? `rb + ${k}u` : 'rb'});`);
  }
  const px: string[] = [];
  for (let i = 0; i <= S - 1 + 2 * rx; i++) {
    const o = i - rx;
    const k = Math.floor(o / E);
    px.push(`let v${i} = ${lanePixel(inDtype, `a${k - w0}`, o - k * E)};`);
  }
  const hq: string[] = [];
  for (let j = 0; j < NQ; j++) {
    const terms: string[] = [];
    for (let k = 0; k <= 2 * rx; k++) terms.push(`u.wx[${k >> 2}][${k & 3}] * vec4<f32>(v${4 * j + k}, v${4 * j + k + 1}, v${4 * j + k + 2}, v${4 * j + k + 3})`);
    hq.push(terms.join(' + '));
  }
  const vsum = (row: (k: number) => string) => {
    const quads: string[] = [];
    for (let j = 0; j < NQ; j++) {
      const terms: string[] = [];
      for (let k = 0; k <= 2 * ry; k++) terms.push(`u.wy[${k >> 2}][${k & 3}] * ${row(k)}[${j}]`);
      quads.push(terms.join(' + '));
    }
    return `Span(${quads.join(',\n      ')})`;
  };
  const ring = Array.from({ length: 2 * ry }, (_, i) => `h${i}`);
  const shift = ry === 0 ? '' : [...ring.slice(1), 'hn'].map((h, i) => `h${i} = ${h};`).join(' ');
  let fast: string;
  if (shape.unroll) {
    const lines: string[] = [];
    for (let r = 0; r < M + 2 * ry; r++) {
      lines.push(`let hr${r} = hfast(b + ${r}u * sw);`);
      if (r >= 2 * ry) lines.push(`store_span(o + ${r - 2 * ry}u * s.w, ${vsum((k) => `hr${r - 2 * ry + k}`)});`);
    }
    fast = lines.join('\n    ');
  } else {
    fast = `${ring.map((h) => `var ${h} = Span();`).join(' ')}
    for (var r = 0u; r < M + 2u * RY; r++) {
      let hn = hfast(b + r * sw);
      if (r >= 2u * RY) { store_span(o + (r - 2u * RY) * s.w, ${vsum((k) => (k === 2 * ry ? 'hn' : `h${k}`))}); }
      ${shift}
    }`;
  }
  const store = spanStore(outDtype, NQ, shape.vecOut);
  p = {
    name: 'separable_strip',
    key: `r=${rx},${ry};border=${border};m=${M};tx=${shape.tx};wide=${wide};vec=${shape.vecOut};unroll=${shape.unroll}`,
    inputs: [{ name: 'src', dtype: inDtype }],
    outputs: [{ name: 'out', dtype: outDtype }],
    uniforms: [
      { name: 'shape', type: 'vec4u' },
      { name: 'taps', type: 'vec4u' },
      { name: 'border_value', type: 'f32' },
      { name: 'wx', type: { array: 'vec4f', length: TILED_TAP_VECS } },
      { name: 'wy', type: { array: 'vec4f', length: TILED_TAP_VECS } },
    ],
    workgroupSize: STRIP_WG,
    // Aliases re-declare a binding as vectors (program.ts order: uniforms 0, src 1, out 2); a
    // program then uses only the alias, never the scalar array, so the bindings do not collide.
    body: /* wgsl */ `
${wgslBorder(border)}
${wide ? `@group(0) @binding(1) var<storage, read> src_v: array<vec4<${inT}>>;\nfn word(i: u32) -> ${inT} { return src_v[i >> 2u][i & 3u]; }` : `fn word(i: u32) -> ${inT} { return src[i]; }`}
${store.alias ? `@group(0) @binding(2) var<storage, read_write> out_v: array<${store.alias}>;` : ''}
alias Span = array<vec4<f32>, ${NQ}>;
const M: u32 = ${M}u;
const TX: u32 = ${shape.tx}u;
const TY: u32 = ${STRIP_WG / shape.tx}u;
const S: u32 = ${S}u;
const RX: u32 = ${rx}u;
const RY: u32 = ${ry}u;
fn store_span(o: u32, v: Span) {
  ${store.body}
}
fn ld(i: u32) -> f32 { ${dynLoad(inDtype)} }
// One input row filtered horizontally, window inside the row: rb is the storage word of the span's first pixel.
fn hfast(rb: u32) -> Span {
  ${loads.join('\n  ')}
  ${px.join('\n  ')}
  return Span(${hq.join(',\n    ')});
}
fn src_px(plane: u32, gy: i32, xx: i32) -> f32 {
  let gx = border(xx, i32(u.shape.w));
  if (gy < 0 || gx < 0) { return u.border_value; }
  return ld(plane + u32(gy) * u.shape.w + u32(gx));
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let s = u.shape;
  let xs = (wid.x * TX + li % TX) * S;
  let ys = (wid.y * TY + li / TX) * M;
  if (xs >= s.w || ys >= s.z) { return; }
  let plane = wid.z * s.z * s.w;
  let o = plane + ys * s.w + xs;
  if (xs >= RX && xs + S + RX <= s.w && ys >= RY && ys + M + RY <= s.z) {
    let sw = s.w / ${E}u;
    let b = (o - RY * s.w) / ${E}u;
    ${fast}
  } else {
    // rim: every tap through the border (u.taps = (2·RX+1, 2·RY+1))
    for (var r = 0u; r < M; r++) {
      let y = ys + r;
      if (y >= s.z) { break; }
      var v = Span();
      for (var j = 0u; j < ${NQ}u; j++) {
        for (var ky = 0u; ky < u.taps.y; ky++) {
          let gy = border(i32(y + ky) - i32(RY), i32(s.z));
          var h = vec4<f32>(0.0);
          for (var kx = 0u; kx < u.taps.x; kx++) {
            let xx = i32(xs + 4u * j + kx) - i32(RX);
            h += u.wx[kx / 4u][kx % 4u] * vec4<f32>(src_px(plane, gy, xx), src_px(plane, gy, xx + 1), src_px(plane, gy, xx + 2), src_px(plane, gy, xx + 3));
          }
          v[j] += u.wy[ky / 4u][ky % 4u] * h;
        }
      }
      store_span(o + r * s.w, v);
    }
  }
}`,
  };
  stripPrograms.set(id, p);
  return p;
}

/** Workgroups of a strip dispatch. */
export function stripWorkgroups(inDtype: DType, d: ImageDims, shape: StripShape = STRIP_SHAPE): [number, number, number] {
  return [Math.ceil(d.w / stripSpan(inDtype, shape) / shape.tx), Math.ceil(d.h / (shape.rows * (STRIP_WG / shape.tx))), d.n * d.c];
}

/** The strip shape for a width: the default, narrowed to 4-pixel spans when rows do not start on 16 bytes. */
export function stripShapeFor(inDtype: DType, w: number): StripShape | null {
  if (w % 4 !== 0) return null;
  return w % stripSpan(inDtype, STRIP_SHAPE) === 0 ? STRIP_SHAPE : { ...STRIP_SHAPE, wide: false };
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
    const strip = stripShapeFor(x.dtype, d.w);
    if (strip && rx <= STRIP_MAX_RADIUS && ry <= STRIP_MAX_RADIUS && d.n * d.c <= 65535) {
      const gpu = x.gpu.gpu;
      const out = Tensor.empty(gpu, shape, a.dtype);
      gpu.dispatch({
        program: separableStripProgram(x.dtype, a.dtype, a.border, rx, ry, strip),
        inputs: [x.gpu.ref],
        outputs: [out.gpu.ref],
        uniforms: { shape, taps: [a.kx.length, a.ky.length, 0, 0], border_value: a.borderValue, wx: a.kx, wy: a.ky },
        workgroups: stripWorkgroups(x.dtype, d, strip),
      });
      return out;
    }
    const tile = separableTileSpec(x.dtype, a.dtype, a.border, rx, ry);
    if (stencilTileFits(tile, shape)) return runStencilTile(tile, x, { wx: a.kx, wy: a.ky }, a.borderValue);
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
    borders.flatMap((b) => [separablePass('h', dt, 'f32', b), separablePass('v', 'f32', dt, b), separableTiledProgram(dt, dt, b, 1, 1), separableTiledProgram(dt, dt, b, TILED_MAX_RADIUS, 2), separableTiledProgram(dt, 'f32', b, 2, 2, true), separableTiledProgram(dt, 'f32', b, 5, 0, true), separableStripProgram('u8', dt, b, 1, 1), separableStripProgram(dt, 'f32', b, TILED_MAX_RADIUS, 2), separableStripProgram(dt, dt, b, 0, 3, { ...STRIP_SHAPE, wide: false })]),
  );
}
