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
 * GPU paths, each one spec or program of a shared engine:
 *  - u8 rectangles of halo ≤ 4 on widths of a multiple of 16: the stencil strips (rectStripSpec),
 *    the fastest for small windows (no workgroup memory);
 *  - other u8 rectangles on widths of a multiple of 4: the same spec on the stencil tile's wide
 *    variant, one pass instead of the separable pair; a rectangle of halo > 24 runs as a chain of
 *    tile passes whose windows sum to it (exact for the constant and replicate borders, where
 *    min/max over a window of windows is the min/max over their sum; reflect101 is not);
 *  - other rectangles: separable pixel programs (a row min/max pass into an intermediate of the
 *    input dtype, then a column pass; min/max commute with saturation, so this equals the direct
 *    2-D definition, and the u8 engines take the outside value saturated to u8 for the same reason);
 *  - other elements: one pixel program reading one (dy, x0, x1) span per run of ones from uniforms.
 * CPU reference: rectangles by rows then columns, each line by the van Herk / Gil–Werman running
 * extremum (slidingExtremum: its cost does not grow with the side); other elements span by span.
 */
import { onDevice } from '../../device.js';
import { saturate, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, numberInRange, oneOf } from '../../validate.js';
import { BORDER_MODES, type BorderMode } from '../../kernels/border.js';
import { checkDType, checkImage } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { runStencilStrip, stencilStripFits, stencilStripProgram } from '../../kernels/stencil-strip.js';
import { runStencilTile, STENCIL_WIDE_RADIUS, stencilTileFits, stencilTileProgram, type StencilTileSpec } from '../../kernels/stencil-tile.js';
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

/** Window offsets relative to the anchor, inclusive. */
type Rect = { x0: number; x1: number; y0: number; y1: number };

interface Resolved {
  /** Runs of ones: [dy, dx0, dx1] relative to the anchor (inclusive). */
  spans: [number, number, number][];
  /** All-ones element of lo..hi offsets, when rectangular. */
  rect: Rect | null;
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

/** Kernel choices for u8 rectangles (frozen; tests and benches run others through withMorphTuning). */
export interface MorphTuning {
  /** false sends the u8 rectangles the strips take through the stencil tile instead. */
  readonly strip: boolean;
}
let morphTuning: MorphTuning = Object.freeze({ strip: true });

/** Runs `fn` with other kernel choices for u8 rectangles (see kernels/tuning.ts). */
export function withMorphTuning<R>(overrides: Partial<MorphTuning>, fn: () => R): R {
  return overriding(morphTuning, (t) => (morphTuning = t), overrides, fn);
}

/** WGSL: op(… op(op(at(a), at(a + 1)), …), at(b)), the min or max of the terms at a … b. */
function pickChain(op: Extremum, a: number, b: number, at: (d: number) => string): string {
  let e = at(a);
  for (let d = a + 1; d <= b; d++) e = `${op}(${e}, ${at(d)})`;
  return e;
}

/**
 * A u8 rectangle as a stencil spec (row min/max over dx = x0 … x1, then over dy = y0 … y1 of those),
 * run by the stencil strips or the stencil tile's wide variant; the outside value is passed
 * saturated to u8.
 */
export function rectStripSpec(op: Extremum, border: BorderMode, rect: Rect): StencilTileSpec {
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

/** The fewest rectangles of halo ≤ radius whose Minkowski sum is `rect` (offsets shared out evenly). */
function rectPieces(rect: Rect, radius: number): Rect[] {
  const k = Math.max(1, ...[-rect.x0, rect.x1, -rect.y0, rect.y1].map((v) => Math.ceil(v / radius)));
  const share = (total: number, i: number) => Math.trunc(total / k) + (i < Math.abs(total) % k ? Math.sign(total) : 0);
  return Array.from({ length: k }, (_, i) => ({ x0: share(rect.x0, i), x1: share(rect.x1, i), y0: share(rect.y0, i), y1: share(rect.y1, i) }));
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
        if (x.dtype === 'u8') {
          const spec = rectStripSpec(op, r.border, r.rect);
          if (morphTuning.strip && stencilStripFits(spec, shape)) return runStencilStrip(spec, x, {}, saturate('u8', bv));
          const pieces = r.border === 'reflect101' ? [r.rect] : rectPieces(r.rect, STENCIL_WIDE_RADIUS);
          const specs = pieces.map((p) => rectStripSpec(op, r.border, p));
          if (specs.every((s) => stencilTileFits(s, shape, STENCIL_WIDE_RADIUS))) {
            let cur = x;
            for (const s of specs) {
              const next = runStencilTile(s, cur, {}, saturate('u8', bv));
              if (cur !== x) cur.dispose();
              cur = next;
            }
            return cur;
          }
        }
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
      if (r.rect) {
        // separable, as the GPU's rectangles: the padded image is a product of row and column maps, so row then column extrema equal the 2-D one
        const { x0, x1, y0, y1 } = r.rect;
        const [N, C, H, W] = shape;
        const src = cpuAccessor(x, r.border, bv);
        const rowExtrema = new Float64Array(N * C * H * W);
        const row = new Float64Array(W + x1 - x0);
        for (let p = 0; p < N * C; p++)
          for (let y = 0; y < H; y++) {
            const [n, c] = [Math.floor(p / C), p % C];
            for (let k = 0; k < row.length; k++) row[k] = src(n, c, y, k + x0);
            slidingExtremum(row, x1 - x0 + 1, op, rowExtrema, (p * H + y) * W, 1);
          }
        using rows = cpuPixelKernel(shape, x.dtype, (n, c, y, xx) => rowExtrema[((n * C + c) * H + y) * W + xx]!);
        const mid = cpuAccessor(rows, r.border, bv);
        const out = new Float64Array(N * C * H * W);
        const column = new Float64Array(H + y1 - y0);
        for (let p = 0; p < N * C; p++)
          for (let xx = 0; xx < W; xx++) {
            const [n, c] = [Math.floor(p / C), p % C];
            for (let k = 0; k < column.length; k++) column[k] = mid(n, c, k + y0, xx);
            slidingExtremum(column, y1 - y0 + 1, op, out, p * H * W + xx, W);
          }
        return cpuPixelKernel(shape, x.dtype, (n, c, y, xx) => out[((n * C + c) * H + y) * W + xx]!);
      }
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

/**
 * out[at + i·stride] = the extremum of line[i … i + size − 1] for every i: van Herk / Gil–Werman,
 * three comparisons per value whatever the size (blocks of `size`: a running extremum from each
 * block's start and one from its end; a window spans the end of one block and the start of the next).
 */
export function slidingExtremum(line: Float64Array, size: number, op: Extremum, out: Float64Array, at: number, stride: number): void {
  const count = line.length - size + 1;
  const pick = op === 'min' ? Math.min : Math.max;
  const fromStart = new Float64Array(line.length);
  const toEnd = new Float64Array(line.length);
  for (let i = 0; i < line.length; i++) fromStart[i] = i % size === 0 ? line[i]! : pick(fromStart[i - 1]!, line[i]!);
  for (let i = line.length - 1; i >= 0; i--) toEnd[i] = i % size === size - 1 || i === line.length - 1 ? line[i]! : pick(toEnd[i + 1]!, line[i]!);
  for (let i = 0; i < count; i++) out[at + i * stride] = pick(toEnd[i]!, fromStart[i + size - 1]!);
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
          stencilStripProgram(rectStripSpec('max', b, { x0: -1, x1: 1, y0: -1, y1: 1 })),
          stencilStripProgram(rectStripSpec('min', b, { x0: -1, x1: 0, y0: 0, y1: 1 })),
          // the tile: an even (off-centre) window, a row, a column and the widest (every window is the same template)
          stencilTileProgram(rectStripSpec('min', b, { x0: -5, x1: 4, y0: -2, y1: 1 }), true),
          stencilTileProgram(rectStripSpec('max', b, { x0: -7, x1: 7, y0: 0, y1: 0 }), true),
          stencilTileProgram(rectStripSpec('min', b, { x0: 0, x1: 0, y0: -10, y1: 10 }), true),
          stencilTileProgram(rectStripSpec('max', b, { x0: -24, x1: 24, y0: -24, y1: 24 }), true),
        ])
      : []),
    ...borders.flatMap((b) => (['min', 'max'] as const).flatMap((op) => [rectPass('h', op, dt, b), rectPass('v', op, dt, b), spanPass(op, dt, b)])),
  ]);
}
