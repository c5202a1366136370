/**
 * Median filter, as OpenCV's cv::medianBlur for ksize 3 and 5: each output pixel is the median
 * of its ksize × ksize window, per channel. The border is always replicate (OpenCV's medianBlur
 * takes no border argument and replicates); the output dtype is the input's, and values are
 * copied exactly (no rounding happens). Input dtypes u8, u16, f32, f16 (OpenCV: u8, u16, s16, f32;
 * i32 is refused because the GPU reads pixels as f32, which is inexact beyond 2^24).
 * NaN pixels give an unspecified result (WGSL's min/max leave NaN handling to the GPU).
 *
 * GPU: window rows and columns are clamped once (replicate), the window sits in registers and
 * a selection network (compare-exchanges reduced to the
 * min/max operations that reach the median output) picks the median: no sorting, no branches.
 * The networks are generated below from Batcher's odd-even merge sort, and from a
 * "sort columns, sort rows, sort the remaining candidates" scheme, whichever needs fewer
 * operations after pruning; the test checks them on every 0-1 input (the 0-1 principle).
 * u8 rows of a multiple of 4 pixels take a word kernel: a thread loads three storage words per
 * window row (its own and both neighbours, 12 pixels), runs the network on vec4<u32> (4 outputs at
 * once) and stores one word.
 * 3×3 on u8 rows of a multiple of 16 pixels takes the strip kernel (medianU8StripProgram: column
 * sorts shared by a thread's 16 pixels, streamed down 16 rows), the fastest of the three.
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { invalidParameter, is } from '../../validate.js';
import { checkDType, checkImage } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { runWordKernel, WORD_DIMS, WORD_MAIN, WORD_WG } from '../../kernels/word.js';
import { overriding } from '../../kernels/tuning.js';

export interface MedianBlurOptions {
  /** Window size: 3 or 5. */
  ksize: 3 | 5;
}

export const MEDIAN_DTYPES: readonly DType[] = ['u8', 'u16', 'f32', 'f16'];

/**
 * One operation of a selection network on wires i < j: a compare-exchange leaves the smaller
 * value on wire i and the larger on wire j; `min` / `max` say which of the two results is used.
 */
export type SelectOp = readonly [i: number, j: number, min: boolean, max: boolean];

export interface SelectionNetwork {
  /** Number of inputs (ksize²; input w is window row ⌊w/k⌋, column w mod k). */
  inputs: number;
  /** Wire holding the median at the end. */
  output: number;
  ops: readonly SelectOp[];
}

/** Batcher's odd-even merge sort on n (a power of 2) positions. */
function batcherPairs(n: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let s = 1; s < n; s *= 2) {
    for (let k = s; k >= 1; k = Math.floor(k / 2)) {
      for (let j = k % s; j + k < n; j += 2 * k) {
        for (let i = 0; i < Math.min(k, n - j - k); i++) {
          if (Math.floor((i + j) / (2 * s)) === Math.floor((i + j + k) / (2 * s))) pairs.push([i + j, i + j + k]);
        }
      }
    }
  }
  return pairs;
}

/**
 * Appends the compare-exchanges that sort `wires` (ascending) and returns the wires in sorted
 * order. The list is padded to a power of 2 with +∞ slots, which never move down, so comparators
 * touching them are dropped (or become a relabelling).
 */
function sortWires(ops: [number, number][], wires: readonly number[]): number[] {
  let n = 1;
  while (n < wires.length) n *= 2;
  const slots: (number | null)[] = [...wires, ...new Array<null>(n - wires.length).fill(null)];
  for (const [a, b] of batcherPairs(n)) {
    const lo = slots[a]!;
    const hi = slots[b]!;
    if (hi === null) continue;
    if (lo === null) {
      slots[a] = hi;
      slots[b] = null;
      continue;
    }
    ops.push([lo, hi]);
  }
  return slots.slice(0, wires.length) as number[];
}

/** Keeps only the operations whose results reach `output` (backward liveness). */
function prune(ops: readonly [number, number][], output: number): SelectOp[] {
  const live = new Set([output]);
  const kept: SelectOp[] = [];
  for (let q = ops.length - 1; q >= 0; q--) {
    const [i, j] = ops[q]!;
    const min = live.has(i);
    const max = live.has(j);
    if (!min && !max) continue;
    kept.push([i, j, min, max]);
    live.add(i);
    live.add(j);
  }
  return kept.reverse();
}

function cost(ops: readonly SelectOp[]): number {
  return ops.reduce((s, [, , mn, mx]) => s + (mn ? 1 : 0) + (mx ? 1 : 0), 0);
}

function sortAllNetwork(k: number): SelectionNetwork {
  const n = k * k;
  const ops: [number, number][] = [];
  const sorted = sortWires(
    ops,
    Array.from({ length: n }, (_, i) => i),
  );
  const output = sorted[(n - 1) / 2]!;
  return { inputs: n, output, ops: prune(ops, output) };
}

/**
 * Sort each column, then each row (columns stay sorted). Then element (r, c) is at least the
 * (r+1)(c+1) − 1 elements above-left of it and at most the (k−r)(k−c) − 1 below-right: those
 * certainly below or above the median drop out, and the median is found among the rest.
 */
function tableauNetwork(k: number): SelectionNetwork {
  const n = k * k;
  const rank = (n - 1) / 2;
  const ops: [number, number][] = [];
  const m = Array.from({ length: k }, (_, r) => Array.from({ length: k }, (_, c) => r * k + c));
  for (let c = 0; c < k; c++) {
    for (const [r, w] of sortWires(
      ops,
      m.map((row) => row[c]!),
    ).entries())
      m[r]![c] = w;
  }
  for (let r = 0; r < k; r++) m[r] = sortWires(ops, m[r]!);
  const candidates: number[] = [];
  let below = 0;
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < k; c++) {
      if ((k - r) * (k - c) - 1 > rank) below++;
      else if ((r + 1) * (c + 1) - 1 <= rank) candidates.push(m[r]![c]!);
    }
  }
  const output = sortWires(ops, candidates)[rank - below]!;
  return { inputs: n, output, ops: prune(ops, output) };
}

const networks = new Map<number, SelectionNetwork>();

/** The selection network the GPU uses for a ksize × ksize median. */
export function medianNetwork(ksize: 3 | 5): SelectionNetwork {
  let net = networks.get(ksize);
  if (!net) {
    const a = sortAllNetwork(ksize);
    const b = tableauNetwork(ksize);
    net = cost(a.ops) <= cost(b.ops) ? a : b;
    networks.set(ksize, net);
  }
  return net;
}

/** Number of min/max operations of a network (GPU work per pixel). */
export function networkCost(net: SelectionNetwork): number {
  return cost(net.ops);
}

/** Appends the network's min/max lines over the WGSL values `names` (scalars or vectors); returns the median's name. */
function emitNetwork(net: SelectionNetwork, names: string[], lines: string[]): string {
  net.ops.forEach(([i, j, mn, mx], t) => {
    const [a, b] = [names[i]!, names[j]!];
    if (mn) lines.push(`  let l${t} = min(${a}, ${b});`);
    if (mx) lines.push(`  let h${t} = max(${a}, ${b});`);
    if (mn) names[i] = `l${t}`;
    if (mx) names[j] = `h${t}`;
  });
  return names[net.output]!;
}

function networkWgsl(ksize: 3 | 5): string {
  const net = medianNetwork(ksize);
  const r = (ksize - 1) / 2;
  const lines: string[] = [];
  const names: string[] = [];
  // replicate border: clamp each window row and column once, then plain loads
  for (let d = 0; d < ksize; d++) {
    lines.push(`  let row${d} = (plane + u32(clamp(yi + (${d - r}), 0, i32(s.z) - 1))) * s.w;`);
    lines.push(`  let col${d} = u32(clamp(xi + (${d - r}), 0, i32(s.w) - 1));`);
  }
  for (let w = 0; w < net.inputs; w++) {
    lines.push(`  let v${w} = src_load(row${Math.floor(w / ksize)} + col${w % ksize});`);
    names.push(`v${w}`);
  }
  const median = emitNetwork(net, names, lines);
  return `fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let plane = (n * s.y + c) * s.z;
  let yi = i32(y);
  let xi = i32(x);
${lines.join('\n')}
  return ${median};
}`;
}

const wordPrograms = new Map<number, ProgramInfo>();

/** Byte `k` (0..11) of the three words l, m, r of a window row, as WGSL. */
function byteOf(row: number, k: number): string {
  return `((w${row}_${k >> 2} >> ${(k & 3) * 8}u) & 0xffu)`;
}

/** The u8 word kernel: one output word (4 pixels) per thread; needs W % 4 == 0. */
export function medianU8WordProgram(ksize: 3 | 5): ProgramInfo {
  let p = wordPrograms.get(ksize);
  if (p) return p;
  const net = medianNetwork(ksize);
  const r = (ksize - 1) / 2;
  const lines: string[] = [];
  const names: string[] = [];
  for (let d = 0; d < ksize; d++) {
    lines.push(`  let row${d} = (first + u32(clamp(i32(y) + (${d - r}), 0, i32(u.dims.y) - 1))) * u.dims.x;`);
    for (const [j, dq] of [-1, 0, 1].entries()) lines.push(`  let w${d}_${j} = row_word(row${d}, i32(q) + (${dq}));`);
  }
  for (let w = 0; w < net.inputs; w++) {
    const [row, dx] = [Math.floor(w / ksize), (w % ksize) - r];
    // lane i holds the pixel at x0 + i + dx: byte 4 + i + dx of (l, m, r)
    lines.push(`  let v${w} = vec4<u32>(${[0, 1, 2, 3].map((i) => byteOf(row, 4 + i + dx)).join(', ')});`);
    names.push(`v${w}`);
  }
  const m = emitNetwork(net, names, lines);
  p = {
    name: 'median_blur_u8_words',
    key: `k=${ksize}`,
    inputs: [{ name: 'src', dtype: 'u8' }],
    outputs: [{ name: 'out', dtype: 'u8' }],
    uniforms: [WORD_DIMS],
    workgroupSize: WORD_WG,
    body: /* wgsl */ `
// Word q of a row (row = its first word's index); beyond the row's ends the edge pixel repeats (replicate).
fn row_word(row: u32, q: i32) -> u32 {
  let last = i32(u.dims.x) - 1;
  let w = src[row + u32(clamp(q, 0, last))];
  if (q < 0) { return (w & 0xffu) * 0x01010101u; }
  if (q > last) { return (w >> 24u) * 0x01010101u; }
  return w;
}
${WORD_MAIN}
  let first = rows - y;
${lines.join('\n')}
  out[i] = ${m}.x | (${m}.y << 8u) | (${m}.z << 16u) | (${m}.w << 24u);
}`,
  };
  wordPrograms.set(ksize, p);
  return p;
}

const STRIP_WG: [number, number] = [64, 4];
/** Kernel choices of the median (frozen; tests and benches run others through withMedianTuning). */
export interface MedianTuning {
  /** Output rows a thread of the 3×3 u8 strip kernel streams down. */
  readonly stripRows: number;
}
let medianTuning: MedianTuning = Object.freeze({ stripRows: 16 });

/** Runs `fn` with other median kernel choices (see kernels/tuning.ts). */
export function withMedianTuning<R>(overrides: Partial<MedianTuning>, fn: () => R): R {
  return overriding(medianTuning, (t) => (medianTuning = t), overrides, fn);
}

/**
 * The 3×3 u8 strip kernel (W % 16 == 0): a thread streams 16 adjacent pixels (one vec4 of words)
 * down stripRows output rows. Each output row sorts the 18 window columns of its three input
 * rows (3 compare-exchanges each, four vec4<u32> columns and the two edge pixels), and each pixel's
 * median is med3(max of the low ends, med3 of the middles, min of the high ends) of its three
 * columns: 12 min/max per pixel plus the shared column sorts, ~19 against the network's 32
 * (medianNetwork(3)), on bytes unpacked once per input row.
 */
export function medianU8StripProgram(rowsPerThread = medianTuning.stripRows): ProgramInfo {
  const quads = [0, 1, 2, 3];
  // column values v (lo, md, hi) at offset d ∈ {-1, 0, 1} of quad j: lanes shifted in from the neighbour quad or edge pixel (vl, vr)
  const shifted = (v: string, j: number, d: number) => {
    if (d === 0) return `${v}${j}`;
    if (d < 0) return `vec4<u32>(${j === 0 ? `${v}l` : `${v}${j - 1}.w`}, ${v}${j}.xyz)`;
    return `vec4<u32>(${v}${j}.yzw, ${j === 3 ? `${v}r` : `${v}${j + 1}.x`})`;
  };
  const perQuad = quads.map((j) => {
    const at = (v: string, d: number) => shifted(v, j, d);
    return `    let a${j} = max(max(${at('lo', -1)}, lo${j}), ${at('lo', 1)});
    let c${j} = min(min(${at('hi', -1)}, hi${j}), ${at('hi', 1)});
    let b${j} = med3(${at('md', -1)}, md${j}, ${at('md', 1)});
    let m${j} = med3(a${j}, b${j}, c${j});`;
  });
  // each window column sorted into lo ≤ md ≤ hi: mid and below first, then above merged in
  // (columns c = the quads 0 … 3 as vec4s, and the edge pixels l and r; Row's field of column c is q0 … q3, l, r)
  const columnSorts = ['0', '1', '2', '3', 'l', 'r']
    .map((c) => {
      const f = c === 'l' || c === 'r' ? c : `q${c}`;
      return `    let p${c} = min(mid.${f}, below.${f});
    let P${c} = max(mid.${f}, below.${f});
    let lo${c} = min(above.${f}, p${c});
    let t${c} = max(above.${f}, p${c});
    let md${c} = min(t${c}, P${c});
    let hi${c} = max(t${c}, P${c});`;
    })
    .join('\n');
  return {
    name: 'median_blur_u8_strip',
    key: `rows=${rowsPerThread}`,
    // the bindings as vectors (only these are used): 16 pixels per access
    inputs: [{ name: 'src', dtype: 'u8', views: { src_q: 'vec4<u32>' } }],
    outputs: [{ name: 'out', dtype: 'u8', views: { out_q: 'vec4<u32>' } }],
    // 16-pixel units per row, rows per plane
    uniforms: [{ name: 'dims', type: 'vec4u' }],
    workgroupSize: STRIP_WG[0] * STRIP_WG[1],
    body: /* wgsl */ `
// A row's 16 pixels as four quads of bytes and the pixels left (l) and right (r) of them.
struct Row { q0: vec4<u32>, q1: vec4<u32>, q2: vec4<u32>, q3: vec4<u32>, l: u32, r: u32 };
fn load_row(row: u32, k: u32) -> Row {
  let m = src_q[row + k];
  var l = m.x & 0xffu;
  var r = m.w >> 24u;
  if (k > 0u) { l = src_q[row + k - 1u].w >> 24u; }
  if (k + 1u < u.dims.x) { r = src_q[row + k + 1u].x & 0xffu; }
  return Row(unpack4xU8(m.x), unpack4xU8(m.y), unpack4xU8(m.z), unpack4xU8(m.w), l, r);
}
fn med3(a: vec4<u32>, b: vec4<u32>, c: vec4<u32>) -> vec4<u32> { return max(min(a, b), min(max(a, b), c)); }
@compute @workgroup_size(${STRIP_WG[0]}, ${STRIP_WG[1]}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let k = wid.x * ${STRIP_WG[0]}u + lid.x;
  let y0 = (wid.y * ${STRIP_WG[1]}u + lid.y) * ${rowsPerThread}u;
  let h = u.dims.y;
  if (k >= u.dims.x || y0 >= h) { return; }
  let plane = wid.z * h * u.dims.x;
  // replicate border: rows clamp
  var above = load_row(plane + u32(max(i32(y0) - 1, 0)) * u.dims.x, k);
  var mid = load_row(plane + y0 * u.dims.x, k);
  for (var y = y0; y < min(y0 + ${rowsPerThread}u, h); y++) {
    let below = load_row(plane + min(y + 1u, h - 1u) * u.dims.x, k);
${columnSorts}
${perQuad.join('\n')}
    out_q[plane + y * u.dims.x + k] = vec4<u32>(pack4xU8(m0), pack4xU8(m1), pack4xU8(m2), pack4xU8(m3));
    above = mid;
    mid = below;
  }
}`,
  };
}

function runMedianU8Strip(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape as Dims4;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, x.shape, 'u8');
  const rows = medianTuning.stripRows;
  gpu.dispatch({
    program: medianU8StripProgram(rows),
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { dims: [w / 16, h, 0, 0] },
    workgroups: [Math.ceil(w / 16 / STRIP_WG[0]), Math.ceil(h / (rows * STRIP_WG[1])), n * c],
  });
  return out;
}

export function medianProgram(dtype: DType, ksize: 3 | 5): ProgramInfo {
  return pixelProgram({
    name: 'median_blur',
    key: `k=${ksize}`,
    inputs: [{ name: 'src', dtype }],
    output: dtype,
    border: 'replicate',
    uniforms: [],
    pixel: networkWgsl(ksize),
  });
}

/**
 * Median of each ksize × ksize window, per channel of an N×C×H×W batch (border replicate).
 * Runs where `x` lives.
 * @example medianBlur(img, { ksize: 3 })     // cv.medianBlur(img, 3)
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for ksize other than 3 or 5; KENSA_ERR_DTYPE for i32.
 */
export function medianBlur(x: Tensor, options: MedianBlurOptions): Tensor {
  const d = checkImage('x', x);
  if (!is.defined(options) || typeof options !== 'object') throw invalidParameter('options', 'an object with ksize', options);
  const ksize = options.ksize;
  if (ksize !== 3 && ksize !== 5) throw invalidParameter('ksize', '3 or 5', ksize);
  checkDType('x', x, MEDIAN_DTYPES);
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  return onDevice(x, {
    gpu: () => {
      if (x.dtype === 'u8' && ksize === 3 && d.w % 16 === 0 && d.n * d.c <= 65535 && x.size > 0) return runMedianU8Strip(x);
      if (x.dtype === 'u8' && d.w % 4 === 0 && x.size > 0) return runWordKernel(medianU8WordProgram(ksize), x, d.w / 4);
      return runPixelProgram(medianProgram(x.dtype, ksize), [x], shape, x.dtype, {});
    },
    cpu: () => {
      const src = cpuAccessor(x, 'replicate');
      const r = (ksize - 1) / 2;
      const window = new Float64Array(ksize * ksize);
      return cpuPixelKernel(shape, x.dtype, (n, c, y, xx) => {
        let i = 0;
        for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) window[i++] = src(n, c, y + dy, xx + dx);
        window.sort();
        return window[(window.length - 1) / 2]!;
      });
    },
  });
}

/** Every program variant of medianBlur, for compile-all tests. */
export function medianPrograms(): ProgramInfo[] {
  return [
    ...MEDIAN_DTYPES.flatMap((dt) => [medianProgram(dt, 3), medianProgram(dt, 5)]),
    medianU8WordProgram(3),
    medianU8WordProgram(5),
    medianU8StripProgram(),
  ];
}
