/**
 * Grey-level morphology, as OpenCV's cv::erode, cv::dilate and cv::morphologyEx:
 *   erode(x)(y, x)  = min over the element's nonzero (i, j) of x(y + i − ay, x + j − ax)
 *   dilate(x)(y, x) = max over the same neighbourhood
 *   open = dilate(erode(x)), close = erode(dilate(x)), gradient = dilate(x) − erode(x),
 *   tophat = x − open(x), blackhat = close(x) − x   (integer results saturate at 0, as OpenCV's)
 * The anchor is the element's centre (floor(w/2), floor(h/2)), OpenCV's default.
 * Border: by default OpenCV's BORDER_CONSTANT with morphologyDefaultBorderValue, i.e. +∞ for
 * erode and −∞ for dilate: pixels outside the image never win. 'reflect101', 'replicate', or
 * 'constant' with an explicit borderValue (converted like OpenCV: saturated to the dtype) are
 * also accepted.
 * iterations: as OpenCV, an all-ones element with iterations > 1 becomes one rectangle of
 * w + (it − 1)(w − 1) × h + (it − 1)(h − 1) with the anchor scaled by it (exactly what OpenCV
 * does, whatever the border); other elements are applied `iterations` times. iterations 0 and
 * 1×1 elements copy the input (as OpenCV; a 1×1 element is used as [[1]]).
 * Dtypes u8, u16, f32, f16; the output has the input's dtype (min/max are exact; f16 clamps ±∞
 * to ±65504 as kensa's f16 packing does).
 * Differences from OpenCV: no custom anchor; an element without a nonzero entry is rejected
 * (OpenCV's behaviour is undefined there); elements up to 255×255 with at most 256 row spans.
 * GPU: u8 rectangles up to 9×9 (halo ±4) on widths that are a multiple of 16 run through the stencil
 * strips (../stencil-strip.ts, rectStripSpec); other u8 rectangles on widths that are a multiple of 4 run
 * in one pass over packed words (a row-streaming kernel for windows up to 9×9 pixels of halo ±4,
 * else a workgroup-memory tile);
 * other rectangles are separable (a row min/max pass into an intermediate of the input dtype,
 * then a column pass; min/max commute with saturation, so this equals the direct 2-D
 * definition, and the u8 kernels take the outside value saturated to u8 for the same reason);
 * other elements are passed as uniforms, one (dy, x0, x1) span per run of ones in a row.
 */
import { onDevice } from '../../device.js';
import { saturate, type DType } from '../../dtype.js';
import { foldWorkgroups } from '../../gpu/gpu.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, numberInRange, oneOf } from '../../validate.js';
import { BORDER_MODES, wgslBorder, type BorderMode } from '../../kernels/border.js';
import { checkDType, checkImage } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { runStencilStrip, stencilStripFits, stencilStripProgram } from '../../kernels/stencil-strip.js';
import type { StencilTileSpec } from '../../kernels/stencil-tile.js';
import { overriding } from '../../kernels/tuning.js';
import { checkElementSize, ELEMENT_SHAPES, MAX_ELEMENT_SIZE, structuringElement, type ElementShape } from './element.js';

export const MORPH_DTYPES: readonly DType[] = ['u8', 'u16', 'f32', 'f16'];
export const MORPH_OPS = ['erode', 'dilate', 'open', 'close', 'gradient', 'tophat', 'blackhat'] as const;
export type MorphOp = (typeof MORPH_OPS)[number];
/** Most row spans (runs of ones) an element may have on the GPU. */
export const MAX_SPANS = 256;
const MAX_ITERATIONS = 1000;

export interface MorphologyOptions {
  /** A named shape (with ksize) or the element itself as rows of 0/1 (nonzero = on). Default 'rect'. */
  element?: ElementShape | readonly (readonly number[])[];
  /** Size of a named element: a side or [width, height], 1 to 255. Default 3. Ignored for array elements. */
  ksize?: number | readonly [number, number];
  /** Default 1; 0 copies the input. */
  iterations?: number;
  /** Default 'constant' with the neutral value (the border never wins). */
  border?: BorderMode;
  /** For border 'constant': the outside value; default neutral (+∞ for erode, −∞ for dilate). */
  borderValue?: number;
}

export interface MorphologyExOptions extends MorphologyOptions {
  op: MorphOp;
}

type Extremum = 'min' | 'max';

interface Resolved {
  /** Runs of ones: [dy, dx0, dx1] relative to the anchor (inclusive). */
  spans: [number, number, number][];
  /** All-ones element of lo..hi offsets, when rectangular. */
  rect: { x0: number; x1: number; y0: number; y1: number } | null;
  iterations: number;
  border: BorderMode;
  borderValue: number | null;
}

function elementRows(v: unknown, ksize: unknown): number[][] {
  if (v === undefined || typeof v === 'string') {
    const shape = v === undefined ? 'rect' : oneOf('element', v, ELEMENT_SHAPES);
    return structuringElement(shape, checkElementSize('ksize', ksize ?? 3));
  }
  const expected = `one of ${ELEMENT_SHAPES.map((s) => JSON.stringify(s)).join(', ')} or rows of equal length (1 to ${MAX_ELEMENT_SIZE}) of numbers`;
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_ELEMENT_SIZE) throw invalidParameter('element', expected, v);
  const w = Array.isArray(v[0]) ? v[0].length : 0;
  for (const row of v) {
    if (!Array.isArray(row) || row.length !== w || w < 1 || w > MAX_ELEMENT_SIZE || !row.every((e) => typeof e === 'number' && Number.isFinite(e))) {
      throw invalidParameter('element', expected, v);
    }
  }
  const rows = (v as number[][]).map((r) => r.map((e) => (e !== 0 ? 1 : 0)));
  if (rows.length === 1 && w === 1) return [[1]];
  if (!rows.some((r) => r.includes(1))) throw invalidParameter('element', 'an element with at least one nonzero entry', v);
  return rows;
}

/** Validates options into spans; applies OpenCV's rectangle-iterations rule. */
export function resolveMorphology(x: Tensor, o: MorphologyOptions): Resolved {
  checkImage('x', x);
  checkDType('x', x, MORPH_DTYPES);
  let rows = elementRows(o.element, o.ksize);
  let iterations = o.iterations === undefined ? 1 : integerInRange('iterations', o.iterations, 0, MAX_ITERATIONS);
  const border = o.border === undefined ? 'constant' : oneOf('border', o.border, BORDER_MODES);
  const borderValue = o.borderValue === undefined ? null : numberInRange('borderValue', o.borderValue, -3.4e38, 3.4e38);
  let h = rows.length;
  let w = rows[0]!.length;
  let ax = Math.floor(w / 2);
  let ay = Math.floor(h / 2);
  if (iterations === 0 || w * h === 1) {
    rows = [[1]];
    w = h = 1;
    ax = ay = 0;
    iterations = 1;
  }
  const allOnes = rows.every((r) => r.every((e) => e === 1));
  if (allOnes && iterations > 1) {
    ax *= iterations;
    ay *= iterations;
    w += (iterations - 1) * (w - 1);
    h += (iterations - 1) * (h - 1);
    iterations = 1;
    if (w > 4096 || h > 4096) throw invalidParameter('iterations', 'a count keeping the grown rectangle within 4096 pixels', o.iterations);
    rows = Array.from({ length: h }, () => new Array<number>(w).fill(1));
  }
  const spans: [number, number, number][] = [];
  rows.forEach((r, i) => {
    for (let j = 0; j < w; j++) {
      if (r[j] !== 1) continue;
      let k = j;
      while (k + 1 < w && r[k + 1] === 1) k++;
      spans.push([i - ay, j - ax, k - ax]);
      j = k;
    }
  });
  const rect = allOnes ? { x0: -ax, x1: w - 1 - ax, y0: -ay, y1: h - 1 - ay } : null;
  if (!rect && spans.length > MAX_SPANS) throw invalidParameter('element', `an element of at most ${MAX_SPANS} runs of ones`, `${spans.length} runs`);
  return { spans, rect, iterations, border, borderValue };
}

function outsideValue(r: Resolved, op: Extremum): number {
  if (r.border !== 'constant') return 0;
  return r.borderValue ?? (op === 'min' ? Infinity : -Infinity);
}

function rectPass(axis: 'h' | 'v', op: Extremum, dtype: DType, border: BorderMode): ProgramInfo {
  const at = axis === 'h' ? 'src_at(n, c, i32(y), i32(x) + d)' : 'src_at(n, c, i32(y) + d, i32(x))';
  const at0 = at.replace('+ d', '+ u.lo');
  return pixelProgram({
    name: `morph_rect_${axis}`,
    key: `op=${op}`,
    inputs: [{ name: 'src', dtype }],
    output: dtype,
    border,
    uniforms: [
      { name: 'lo', type: 'i32' },
      { name: 'hi', type: 'i32' },
    ],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  var m = ${at0};
  for (var d = u.lo + 1; d <= u.hi; d++) { m = ${op}(m, ${at}); }
  return m;
}`,
  });
}

// ---------------------------------------------------------------------------------------------
// u8 rectangles, one pass: a workgroup loads a tile of packed words (plus halo) into workgroup
// memory, takes the row min/max four pixels at a time (SWAR on bytes), then the column min/max.

const TILE_W = 32; // output words per tile row (128 pixels)
const TILE_H = 32; // output rows per tile
const TILE_IN_WORDS = 2560;
const TILE_H_WORDS = 1536;

interface TileGeometry {
  /** Halo words left and right of the tile. */
  left: number;
  right: number;
  /** Input rows a tile reads. */
  rows: number;
}

/** Tile geometry of a rectangle for the one-pass u8 kernel, or null when it does not fit. */
export function rectTileGeometry(rect: { x0: number; x1: number; y0: number; y1: number }): TileGeometry | null {
  const left = Math.ceil(-rect.x0 / 4);
  const right = Math.ceil(rect.x1 / 4);
  const rows = TILE_H + rect.y1 - rect.y0;
  if (TILE_W * rows > TILE_H_WORDS || (TILE_W + left + right) * rows > TILE_IN_WORDS) return null;
  return { left, right, rows };
}

/** WGSL: op(… op(op(at(a), at(a + 1)), …), at(b)), the min or max of the terms at a … b. */
function pickChain(op: Extremum, a: number, b: number, at: (d: number) => string): string {
  let e = at(a);
  for (let d = a + 1; d <= b; d++) e = `${op}(${e}, ${at(d)})`;
  return e;
}

/** WGSL `pick(a, b)`: bytewise max (or min) of 4 packed u8 (ge = 0xff in each byte where a ≥ b). */
function wgslPick(op: Extremum): string {
  return `fn pick(a: u32, b: u32) -> u32 {
  let t = (a | 0x80808080u) - (b & 0x7f7f7f7fu);
  let m = ((a & ~b) | (~(a ^ b) & t)) & 0x80808080u;
  let ge = (m >> 7u) * 0xffu;
  return ${op === 'max' ? '(a & ge) | (b & ~ge)' : '(b & ge) | (a & ~ge)'};
}`;
}

// Small rectangles (|x0|, x1 ≤ 4 pixels: one halo word each side; height ≤ MAX_ROWS_KH): a
// thread streams WORDS (1 or 2) adjacent word columns down 16 output rows, loading WORDS + 2 words per
// input row (the halo words come from L1), taking the row min/max of each pixel as a u32 lane
// and the column min/max over a rolling window of KH registers. The window is part of the
// variant key, so every tap is a constant shift. Rows resolve their border once (uniform across
// a warp); only the first and last word columns build a halo word pixel by pixel.
const MAX_ROWS_KH = 9;
const ROWS_WG: [number, number] = [64, 4];
/** Kernel choices for u8 rectangles (frozen; tests and benches run others through withMorphTuning). */
export interface MorphTuning {
  /** false keeps u8 rectangles off the stencil strips. */
  readonly strip: boolean;
  /** false sends every u8 rectangle the strips do not take through the tiled kernel. */
  readonly rowsKernel: boolean;
  readonly rowsPerThread: number;
  /** 0: 2 words for windows up to 5 pixels wide, else 1 (the faster on the GPU machine). */
  readonly wordsPerThread: number;
}
let morphTuning: MorphTuning = Object.freeze({ strip: true, rowsKernel: true, rowsPerThread: 16, wordsPerThread: 0 });

/** Runs `fn` with other kernel choices for u8 rectangles (see kernels/tuning.ts). */
export function withMorphTuning<R>(overrides: Partial<MorphTuning>, fn: () => R): R {
  return overriding(morphTuning, (t) => (morphTuning = t), overrides, fn);
}

function rowsWords(x0: number, x1: number): number {
  return morphTuning.wordsPerThread || (x1 - x0 + 1 <= 5 ? 2 : 1);
}

export function rowsKernelFits(rect: { x0: number; x1: number; y0: number; y1: number }): boolean {
  return rect.x0 >= -4 && rect.x1 <= 4 && rect.y1 - rect.y0 + 1 <= MAX_ROWS_KH;
}

function rectRowsProgram(op: Extremum, border: BorderMode, x0: number, x1: number, kh: number, rows = morphTuning.rowsPerThread, words = rowsWords(x0, x1)): ProgramInfo {
  // word k of the row (k = −1 … words) and its byte b
  const name = (k: number) => (k < 0 ? 'wl' : k >= words ? 'wr' : `w${k}`);
  const hrow: string[] = [];
  for (let j = 0; j < words; j++) {
    const byte = (q: number): string => {
      const w = name(j + Math.floor(q / 4));
      const b = ((q % 4) + 4) % 4;
      return b === 0 ? `(${w} & 0xffu)` : b === 3 ? `(${w} >> 24u)` : `((${w} >> ${8 * b}u) & 0xffu)`;
    };
    const tap = (d: number) => `vec4u(${[0, 1, 2, 3].map((b) => byte(b + d)).join(', ')})`;
    hrow.push(`h[${j}] = ${pickChain(op, x0, x1, tap)};`);
  }
  const win = Array.from({ length: kh }, (_, k) => `v${k}`);
  const roll = win.slice(0, -1).map((w, k) => `${w} = v${k + 1};`).join(' ');
  const stores: string[] = [];
  for (let j = 0; j < words; j++) {
    const m = pickChain(op, 0, kh - 1, (k) => `v${k}[${j}]`);
    stores.push(`if (wc + ${j} < i32(ww)) { let m = ${m}; out[ob + u32(wc + ${j})] = m.x | (m.y << 8u) | (m.z << 16u) | (m.w << 24u); }`);
  }
  return {
    name: 'morph_rect_u8_rows',
    key: `op=${op};border=${border};x=${x0}..${x1};kh=${kh};rows=${rows};words=${words}`,
    inputs: [{ name: 'src', dtype: 'u8' }],
    outputs: [{ name: 'out', dtype: 'u8' }],
    uniforms: [
      // W, H, words per row, y0 (first row offset, as bits)
      { name: 'shape', type: 'vec4u' },
      // outside byte splatted to a word
      { name: 'bv', type: 'vec4u' },
    ],
    workgroupSize: ROWS_WG[0] * ROWS_WG[1],
    body: /* wgsl */ `
${wgslBorder(border)}
alias Row = array<vec4u, ${words}>;
var<private> pbase: u32;
// word wc of the row starting at rb; outside the row, built pixel by pixel with the border
fn word(rb: u32, wc: i32) -> u32 {
  if (wc >= 0 && wc < i32(u.shape.z)) { return src[rb + u32(wc)]; }
  var v = 0u;
  for (var b = 0; b < 4; b++) {
    let ix = border(wc * 4 + b, i32(u.shape.x));
    var byte = u.bv.x & 0xffu;
    if (ix >= 0) { byte = (src[rb + u32(ix >> 2u)] >> (u32(ix & 3) * 8u)) & 0xffu; }
    v |= byte << (u32(b) * 8u);
  }
  return v;
}
// row min/max of the pixels of word columns wc … wc + WORDS − 1 in image row yy
fn hrow(yy: i32, wc: i32) -> Row {
  var h: Row;
  var iy = yy;
  if (yy < 0 || yy >= i32(u.shape.y)) { iy = border(yy, i32(u.shape.y)); }
  if (iy < 0) {
    for (var j = 0; j < ${words}; j++) { h[j] = vec4u(u.bv.x & 0xffu); }
    return h;
  }
  let rb = pbase + u32(iy) * u.shape.z;
  let wl = ${x0 < 0 ? 'word(rb, wc - 1)' : '0u'};
  let w0 = src[rb + u32(wc)];
  ${Array.from({ length: words - 1 }, (_, k) => `let w${k + 1} = word(rb, wc + ${k + 1});`).join(' ')}
  let wr = ${x1 > 0 ? `word(rb, wc + ${words})` : '0u'};
  ${hrow.join('\n  ')}
  return h;
}
@compute @workgroup_size(${ROWS_WG[0]}, ${ROWS_WG[1]}, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let ww = u.shape.z;
  let wc = i32(g.x * ${words}u);
  let y0 = g.y * ${rows}u;
  if (wc >= i32(ww) || y0 >= u.shape.y) { return; }
  pbase = g.z * u.shape.y * ww;
  let ry = i32(y0) + bitcast<i32>(u.shape.w);
  ${win.map((w) => `var ${w}: Row;`).join(' ')}
  // the first KH − 1 rows only fill the window (one call site: hrow is inlined once)
  for (var i = 0u; i < ${rows + kh - 1}u; i++) {
    ${roll}
    v${kh - 1} = hrow(ry + i32(i), wc);
    let y = y0 + i - ${kh - 1}u;
    if (i >= ${kh - 1}u && y < u.shape.y) {
      let ob = pbase + y * ww;
      ${stores.join('\n      ')}
    }
  }
}`,
  };
}

/**
 * A u8 rectangle as a stencil spec (row min/max over dx = x0 … x1, then over dy = y0 … y1 of those)
 * for ../stencil-strip.ts, which rectangles of halo ≤ 4 on rows of a multiple of 16 pixels take
 * (faster there than the rows kernel). The outside value is passed saturated to u8, as for the
 * rows kernel.
 */
export function rectStripSpec(op: Extremum, border: BorderMode, rect: { x0: number; x1: number; y0: number; y1: number }): StencilTileSpec {
  const { x0, x1, y0, y1 } = rect;
  return {
    name: 'morph_rect',
    key: `op=${op};x=${x0}..${x1};y=${y0}..${y1}`,
    inDtype: 'u8',
    outDtype: 'u8',
    border,
    rx: Math.max(-x0, x1),
    ry: Math.max(-y0, y1),
    uniforms: [],
    rows: { h: (p) => pickChain(op, x0, x1, p) },
    combine: (r) => `let v = ${pickChain(op, y0, y1, (dy) => r('h', dy))};`,
  };
}

function runRectRows(x: Tensor, r: Resolved, op: Extremum, bv: number): Tensor {
  const [n, c, h, w] = dims(x);
  const { x0, x1, y0, y1 } = r.rect!;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, [n, c, h, w], 'u8');
  const ww = w / 4;
  const rowsPerThread = morphTuning.rowsPerThread;
  const wordsPerThread = rowsWords(x0, x1);
  gpu.dispatch({
    program: rectRowsProgram(op, r.border, x0, x1, y1 - y0 + 1),
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { shape: [w, h, ww, y0 >>> 0], bv: [saturate('u8', bv) * 0x01010101, 0, 0, 0] },
    workgroups: [Math.ceil(ww / (wordsPerThread * ROWS_WG[0])), Math.ceil(h / (rowsPerThread * ROWS_WG[1])), n * c],
  });
  return out;
}

function rectTileProgram(op: Extremum, border: BorderMode): ProgramInfo {
  return {
    name: 'morph_rect_u8_tile',
    key: `op=${op};border=${border}`,
    inputs: [{ name: 'src', dtype: 'u8' }],
    outputs: [{ name: 'out', dtype: 'u8' }],
    uniforms: [
      // W, H, words per row, planes
      { name: 'shape', type: 'vec4u' },
      // x0, x1 (pixel offsets), y0, kh
      { name: 'win', type: 'vec4i' },
      // halo words left, tile row stride (words), tiles in x, tiles in y
      { name: 'tile', type: 'vec4u' },
      // outside byte splatted to a word, total tiles
      { name: 'bv', type: 'vec4u' },
    ],
    workgroupSize: 256,
    body: /* wgsl */ `
${wgslBorder(border)}
const TW: u32 = ${TILE_W}u;
const TH: u32 = ${TILE_H}u;
var<workgroup> tin: array<u32, ${TILE_IN_WORDS}>;
var<workgroup> th: array<u32, ${TILE_H_WORDS}>;
${wgslPick(op)}
// 4 pixels starting at pixel offset d from word w of a tile row (d may be negative)
fn shifted(w: u32, d: i32) -> u32 {
  let q = u32(i32(w) + (d >> 2u));
  let s = u32(d & 3) * 8u;
  let lo = tin[q];
  if (s == 0u) { return lo; }
  return (lo >> s) | (tin[q + 1u] << (32u - s));
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = linear_workgroup(wid, nwg);
  if (t >= u.bv.y) { return; }
  let W = i32(u.shape.x);
  let H = i32(u.shape.y);
  let ww = u.shape.z;
  let tx = t % u.tile.z;
  let t2 = t / u.tile.z;
  let ty = t2 % u.tile.w;
  let plane = t2 / u.tile.w;
  let pbase = plane * u.shape.y * ww;
  let stride = u.tile.y;
  let rows = TH + u32(u.win.w) - 1u;
  let row0 = i32(ty * TH) + u.win.z;
  let col0 = i32(tx * TW) - i32(u.tile.x);
  // 1. input tile with halo, borders resolved
  for (var i = li; i < stride * rows; i += WG) {
    let r = i / stride;
    let wc = col0 + i32(i - r * stride);
    let iy = border(row0 + i32(r), H);
    var v = u.bv.x;
    if (iy >= 0) {
      let rb = pbase + u32(iy) * ww;
      if (wc >= 0 && wc < i32(ww)) {
        v = src[rb + u32(wc)];
      } else {
        v = 0u;
        for (var b = 0; b < 4; b++) {
          let ix = border(wc * 4 + b, W);
          var byte = u.bv.x & 0xffu;
          if (ix >= 0) { byte = (src[rb + u32(ix >> 2u)] >> (u32(ix & 3) * 8u)) & 0xffu; }
          v |= byte << (u32(b) * 8u);
        }
      }
    }
    tin[i] = v;
  }
  workgroupBarrier();
  // 2. row min/max of every tile row
  for (var i = li; i < TW * rows; i += WG) {
    let r = i / TW;
    let w = r * stride + u.tile.x + (i % TW);
    var m = shifted(w, u.win.x);
    for (var d = u.win.x + 1; d <= u.win.y; d++) { m = pick(m, shifted(w, d)); }
    th[i] = m;
  }
  workgroupBarrier();
  // 3. column min/max, written where inside the image
  let j = li % TW;
  let wc = tx * TW + j;
  for (var r = li / TW; r < TH; r += WG / TW) {
    let y = ty * TH + r;
    if (wc >= ww || y >= u.shape.y) { continue; }
    var m = th[r * TW + j];
    for (var k = 1u; k < u32(u.win.w); k++) { m = pick(m, th[(r + k) * TW + j]); }
    out[pbase + y * ww + wc] = m;
  }
}`,
  };
}

function runRectTile(x: Tensor, r: Resolved, op: Extremum, g: TileGeometry, bv: number): Tensor {
  const [n, c, h, w] = dims(x);
  const rect = r.rect!;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, [n, c, h, w], 'u8');
  const ww = w / 4;
  const tilesX = Math.ceil(ww / TILE_W);
  const tilesY = Math.ceil(h / TILE_H);
  const total = tilesX * tilesY * n * c;
  const byte = saturate('u8', bv);
  gpu.dispatch({
    program: rectTileProgram(op, r.border),
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: {
      shape: [w, h, ww, n * c],
      win: [rect.x0, rect.x1, rect.y0, rect.y1 - rect.y0 + 1],
      tile: [g.left, TILE_W + g.left + g.right, tilesX, tilesY],
      bv: [byte * 0x01010101, total, 0, 0],
    },
    workgroups: foldWorkgroups(total),
  });
  return out;
}

function spanPass(op: Extremum, dtype: DType, border: BorderMode): ProgramInfo {
  return pixelProgram({
    name: 'morph_spans',
    key: `op=${op}`,
    inputs: [{ name: 'src', dtype }],
    output: dtype,
    border,
    uniforms: [
      { name: 'count', type: 'u32' },
      { name: 'spans', type: { array: 'vec4i', length: MAX_SPANS } },
    ],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s0 = u.spans[0];
  var m = src_at(n, c, i32(y) + s0.x, i32(x) + s0.y);
  for (var s = 0u; s < u.count; s++) {
    let sp = u.spans[s];
    let yy = i32(y) + sp.x;
    for (var d = sp.y; d <= sp.z; d++) { m = ${op}(m, src_at(n, c, yy, i32(x) + d)); }
  }
  return m;
}`,
  });
}

function subtractProgram(dtype: DType): ProgramInfo {
  return pixelProgram({
    name: 'morph_subtract',
    key: '',
    inputs: [
      { name: 'a', dtype },
      { name: 'b', dtype },
    ],
    output: dtype,
    border: 'replicate',
    uniforms: [],
    pixel: 'fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 { return a_px(n, c, y, x) - b_px(n, c, y, x); }',
  });
}

function dims(x: Tensor): Dims4 {
  return x.shape as unknown as Dims4;
}

/** One erosion or dilation (all iterations) of a validated input. */
function morphOnce(x: Tensor, r: Resolved, op: Extremum): Tensor {
  const shape = dims(x);
  const bv = outsideValue(r, op);
  return onDevice(x, {
    gpu: () => {
      if (r.rect) {
        const { x0, x1, y0, y1 } = r.rect;
        const strip = x.dtype === 'u8' && morphTuning.strip ? rectStripSpec(op, r.border, r.rect) : null;
        if (strip && stencilStripFits(strip, shape)) return runStencilStrip(strip, x, {}, saturate('u8', bv));
        const g = x.dtype === 'u8' && shape[3] % 4 === 0 ? rectTileGeometry(r.rect) : null;
        if (g && morphTuning.rowsKernel && rowsKernelFits(r.rect) && shape[0] * shape[1] <= 65535) return runRectRows(x, r, op, bv);
        if (g) return runRectTile(x, r, op, g, bv);
        const tmp = runPixelProgram(rectPass('h', op, x.dtype, r.border), [x], shape, x.dtype, { lo: x0, hi: x1 }, bv);
        const out = runPixelProgram(rectPass('v', op, x.dtype, r.border), [tmp], shape, x.dtype, { lo: y0, hi: y1 }, bv);
        tmp.dispose();
        return out;
      }
      const spans = r.spans.flatMap(([dy, a, b]) => [dy, a, b, 0]);
      let cur = x;
      for (let it = 0; it < r.iterations; it++) {
        const next = runPixelProgram(spanPass(op, x.dtype, r.border), [cur], shape, x.dtype, { count: r.spans.length, spans }, bv);
        if (cur !== x) cur.dispose();
        cur = next;
      }
      return cur;
    },
    cpu: () => {
      const pick = op === 'min' ? Math.min : Math.max;
      let cur = x;
      for (let it = 0; it < r.iterations; it++) {
        const src = cpuAccessor(cur, r.border, bv);
        cur = cpuPixelKernel(shape, x.dtype, (n, c, y, xx) => {
          let m = op === 'min' ? Infinity : -Infinity;
          for (const [dy, a, b] of r.spans) for (let d = a; d <= b; d++) m = pick(m, src(n, c, y + dy, xx + d));
          return m;
        });
      }
      return cur;
    },
  });
}

function subtract(a: Tensor, b: Tensor): Tensor {
  return onDevice([a, b], {
    gpu: () => runPixelProgram(subtractProgram(a.dtype), [a, b], dims(a), a.dtype, {}),
    cpu: () => {
      const A = cpuAccessor(a, 'replicate');
      const B = cpuAccessor(b, 'replicate');
      return cpuPixelKernel(dims(a), a.dtype, (n, c, y, x) => A(n, c, y, x) - B(n, c, y, x));
    },
  });
}

function run(x: Tensor, op: MorphOp, r: Resolved): Tensor {
  const chain = (first: Extremum, second: Extremum): Tensor => {
    const t = morphOnce(x, r, first);
    const out = morphOnce(t, r, second);
    t.dispose();
    return out;
  };
  const diff = (a: Tensor, b: Tensor, dispose: Tensor[]): Tensor => {
    const out = subtract(a, b);
    for (const t of dispose) t.dispose();
    return out;
  };
  switch (op) {
    case 'erode':
      return morphOnce(x, r, 'min');
    case 'dilate':
      return morphOnce(x, r, 'max');
    case 'open':
      return chain('min', 'max');
    case 'close':
      return chain('max', 'min');
    case 'gradient': {
      const d = morphOnce(x, r, 'max');
      const e = morphOnce(x, r, 'min');
      return diff(d, e, [d, e]);
    }
    case 'tophat': {
      const o = chain('min', 'max');
      return diff(x, o, [o]);
    }
    case 'blackhat': {
      const c = chain('max', 'min');
      return diff(c, x, [c]);
    }
  }
}

/**
 * Grey-level erosion (cv::erode): the minimum over the element. Runs where `x` lives.
 * @example erode(mask, { element: 'ellipse', ksize: 5 })
 * @throws KensaError KENSA_ERR_DTYPE for i32 inputs; KENSA_ERR_INVALID_ARGUMENT for bad elements or sizes.
 */
export function erode(x: Tensor, options: MorphologyOptions = {}): Tensor {
  return run(x, 'erode', resolveMorphology(x, options ?? {}));
}

/**
 * Grey-level dilation (cv::dilate): the maximum over the element. Runs where `x` lives.
 * @example dilate(mask, { ksize: [5, 3], iterations: 2 })
 */
export function dilate(x: Tensor, options: MorphologyOptions = {}): Tensor {
  return run(x, 'dilate', resolveMorphology(x, options ?? {}));
}

/**
 * cv::morphologyEx: erode, dilate, open, close, gradient, tophat, blackhat. Runs where `x` lives.
 * @example morphologyEx(img, { op: 'tophat', element: 'rect', ksize: 15 })
 */
export function morphologyEx(x: Tensor, options: MorphologyExOptions): Tensor {
  const o = options ?? ({} as MorphologyExOptions);
  const op = oneOf('op', o.op, MORPH_OPS);
  return run(x, op, resolveMorphology(x, o));
}

/** Every program variant of this file, for compile-all tests. */
export function morphologyPrograms(dtypes: readonly DType[] = MORPH_DTYPES, borders: readonly BorderMode[] = BORDER_MODES): ProgramInfo[] {
  return dtypes.flatMap((dt) => [
    subtractProgram(dt),
    ...(dt === 'u8'
      ? borders.flatMap((b) => [
          rectTileProgram('min', b),
          rectTileProgram('max', b),
          // the extreme windows of the row kernel (every x0..x1 and height is the same template)
          rectRowsProgram('max', b, -1, 1, 3),
          rectRowsProgram('min', b, -4, 4, MAX_ROWS_KH),
          rectRowsProgram('max', b, 0, 0, 1, 8, 2),
          rectRowsProgram('min', b, -2, 1, 2, 16, 4),
          stencilStripProgram(rectStripSpec('max', b, { x0: -1, x1: 1, y0: -1, y1: 1 })),
          stencilStripProgram(rectStripSpec('min', b, { x0: -1, x1: 0, y0: 0, y1: 1 })),
        ])
      : []),
    ...borders.flatMap((b) => (['min', 'max'] as const).flatMap((op) => [rectPass('h', op, dt, b), rectPass('v', op, dt, b), spanPass(op, dt, b)])),
  ]);
}
