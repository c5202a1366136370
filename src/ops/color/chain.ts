/**
 * A chain of pointwise colour steps applied in one pass, each step's parameters one per sample:
 * the engine of augmentation's colour transforms (RandomBrightnessContrast, RandomGamma,
 * HueSaturationValue, ColorJitter, ToGray) and of their fusion, since consecutive colour
 * transforms concatenate their steps. Images are u8, u16, f32 or f16 of M = 255, 65535, 1, 1
 * (floats in [0, 1], as albumentations and torchvision take them); the output keeps the dtype.
 * Each step works on the pixel's RGB triple in f32 (a 1-channel or other non-RGB image runs every
 * channel alone, its grey the value itself) and its result is clamped to [0, M], as the unfused
 * transforms clamp (but do not round) between steps; integer outputs round half to even at the end.
 * Steps, in the units of the pixel values:
 *   affine      v · alpha + beta
 *   gamma       M · (v / M)^gamma
 *   hsv         hue + hue° (mod 360), saturation + saturation (clamped to [0, 1]), value + value · M;
 *               RGB → HSV → RGB in f32 (OpenCV's float formulas, H in degrees); non-RGB: value only
 *   saturation  g + factor · (v − g), g = 0.299 R + 0.587 G + 0.114 B (torchvision adjust_saturation)
 *   contrast    m + factor · (v − m), m = the grey mean of the chain's input, mapped through the
 *               affine steps before this one (torchvision adjust_contrast takes the mean after them,
 *               clipping included: the two differ only where an earlier step saturated pixels)
 *   gray        every channel g
 * On the GPU, planes that start on a storage word run by words (an RGB chain's thread reads and
 * writes the same word of the three planes, each pixel's chain run once), and so do chains read
 * through per-sample flips of rows on words (each word read from its mirrored place); others, and
 * chains read through other maps, run one pixel program evaluation per output element.
 * GPU and CPU agree to ±1 on integer outputs and 1e-4 on floats: WGSL's division and pow are not
 * correctly rounded (affine-only and gray chains agree exactly). The contrast step's means come from
 * imageStats on the chain's device, so no value returns to the host.
 */
import { onDevice } from '../../device.js';
import { allocTyped, ELEMENTS_PER_WORD, readElement, saturate, type DType } from '../../dtype.js';
import { KensaError } from '../../errors.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { UniformField } from '../../gpu/uniforms.js';
import { Tensor } from '../../tensor.js';
import { invalidParameter, is } from '../../validate.js';
import { checkDType, checkImage, numberItem, perSample, type PerSample, type PerSampleItem } from '../image.js';
import { FLIP_UNIFORMS, flipUniformValues } from '../geometry/flip-words.js';
import type { FlipFlags } from '../../kernels/word.js';
import { pixelProgram, runPixelProgram, type Dims4, type MappedInput } from '../../kernels/pixel.js';
import { imageStats } from '../analysis/stats.js';
import { GRAY_WEIGHTS } from './gray.js';

/** Dtypes of a colour chain's images (integers of a known full scale, floats in [0, 1]). */
export const COLOR_CHAIN_DTYPES: readonly DType[] = ['u8', 'u16', 'f32', 'f16'];

/** M, the full scale of a colour chain's dtype: 255 (u8), 65535 (u16), 1 (floats). */
export function colorFullScale(dtype: DType): number {
  return dtype === 'u8' ? 255 : dtype === 'u16' ? 65535 : 1;
}

/** Most steps of one batch, samples × steps (one uniform vec4 each, 48 KiB; a dispatch holds its size class). */
export const MAX_COLOR_STEPS = 3072;

export type ColorStep =
  | { readonly kind: 'affine'; readonly alpha?: PerSample<number>; readonly beta?: PerSample<number> }
  | { readonly kind: 'gamma'; readonly gamma: PerSample<number> }
  | { readonly kind: 'hsv'; readonly hue?: PerSample<number>; readonly saturation?: PerSample<number>; readonly value?: PerSample<number> }
  | { readonly kind: 'saturation'; readonly factor: PerSample<number> }
  | { readonly kind: 'contrast'; readonly factor: PerSample<number> }
  | { readonly kind: 'gray' };

export type ColorStepKind = ColorStep['kind'];

/** Step codes in the WGSL switch; 0 is the identity that pads shorter per-sample chains. */
const KIND_CODE: Record<ColorStepKind, number> = { affine: 1, gamma: 2, hsv: 3, saturation: 4, contrast: 5, gray: 6 };
const KINDS = Object.keys(KIND_CODE) as ColorStepKind[];

export interface ColorChainOptions {
  /**
   * The steps, applied in order: one list for the batch (parameters a number or one per sample),
   * or one list per sample (numbers only; shorter lists are padded with identities).
   */
  steps: readonly ColorStep[] | readonly (readonly ColorStep[])[];
}

const GAMMA_ITEM: PerSampleItem<number> = {
  what: ['a number', 'numbers'],
  check: (name: string, v: unknown) => {
    if (!is.number(v) || v <= 0 || v > 100) throw invalidParameter(name, 'number above 0 and at most 100', v);
    return v;
  },
};

/** A step's parameter: its key, its default (none: required), its range and its checker. */
interface StepParam {
  readonly key: string;
  readonly fallback?: number;
  readonly lo: number;
  readonly hi: number;
  /** Whether lo itself is out of range (gamma > 0). */
  readonly above?: boolean;
  readonly item: PerSampleItem<number>;
}

const param = (key: string, fallback: number | undefined, lo: number, hi: number): StepParam => ({ key, fallback, lo, hi, item: numberItem(lo, hi) });

/** Each kind's parameters in (p0, p1, p2) order, built once rather than per step of every call. */
const STEP_PARAMS: Record<ColorStepKind, readonly StepParam[]> = {
  affine: [param('alpha', 1, 0, 1000), param('beta', 0, -1e9, 1e9)],
  gamma: [{ key: 'gamma', lo: 0, hi: 100, above: true, item: GAMMA_ITEM }],
  hsv: [param('hue', 0, -360, 360), param('saturation', 0, -1, 1), param('value', 0, -1, 1)],
  saturation: [param('factor', undefined, 0, 1000)],
  contrast: [param('factor', undefined, 0, 1000)],
  gray: [],
};

/**
 * Sample n's (p0, p1, p2, code) of a step whose numbers were read for a batch of `count`. A number
 * in range is taken as is; anything else goes through perSample, which names it (`name` is built
 * only then: augment's per-sample chains pass thousands of valid numbers per second).
 */
function stepRows(step: ColorStep, name: () => string, count: number): (n: number) => number[] {
  if (!is.defined(step) || typeof step !== 'object' || !KINDS.includes(step.kind))
    throw invalidParameter(`${name()}.kind`, `one of ${KINDS.map((k) => JSON.stringify(k)).join(', ')}`, (step as { kind?: unknown } | undefined)?.kind);
  const params = STEP_PARAMS[step.kind];
  // f32 as the GPU reads them, so the CPU reference computes with the same numbers
  const row = [0, 0, 0, KIND_CODE[step.kind]];
  let lists: (readonly number[] | undefined)[] | undefined;
  for (const [k, { key, fallback, lo, hi, above, item }] of params.entries()) {
    const v = (step as unknown as Record<string, unknown>)[key];
    if (v === undefined && fallback !== undefined) row[k] = fallback;
    else if (typeof v === 'number' && v <= hi && (above ? v > lo : v >= lo)) row[k] = Math.fround(v);
    else {
      // a parameter without a default (undefined fallback) is required: perSample reports it missing
      const read = perSample(`${name()}.${key}`, v, count, item);
      if (read.perSample) (lists ??= [])[k] = read.values;
      else row[k] = Math.fround(read.values[0]!);
    }
  }
  if (lists === undefined) return () => row.slice();
  const perSampleLists = lists;
  return (n) => row.map((v, k) => (perSampleLists[k] ? Math.fround(perSampleLists[k][n]!) : v));
}

/** The batch's rows: rows[n][s] = (p0, p1, p2, code) of sample n's step s. */
export function colorChainRows(steps: ColorChainOptions['steps'], n: number): number[][][] {
  if (!Array.isArray(steps)) throw invalidParameter('steps', 'an array of colour steps, or one array per sample', steps);
  if (steps.length > 0 && steps.every(Array.isArray)) {
    const chains = steps as readonly (readonly ColorStep[])[];
    if (chains.length !== n) throw invalidParameter('steps', `one array of colour steps per sample (${n})`, `an array of ${chains.length}`);
    const rows = chains.map((chain, i) => chain.map((s, j) => stepRows(s, () => `steps[${i}][${j}]`, 1)(0)));
    const length = Math.max(...rows.map((r) => r.length));
    return rows.map((r) => [...r, ...Array.from({ length: length - r.length }, () => [0, 0, 0, 0])]);
  }
  const each = (steps as readonly ColorStep[]).map((s, j) => stepRows(s, () => `steps[${j}]`, n));
  return Array.from({ length: n }, (_, i) => each.map((row) => row(i)));
}

const chainPrograms = new Map<string, ProgramInfo>();

/** The chain's program per dtype, means input and input map, built once (its spec carries the whole WGSL text). */
function chainProgram(dtype: DType, withMeans: boolean, map?: MappedInput): ProgramInfo {
  const id = `${dtype}|${withMeans}|${map?.key ?? ''}`;
  let program = chainPrograms.get(id);
  if (!program) chainPrograms.set(id, (program = buildChainProgram(dtype, withMeans, map)));
  return program;
}

/** WGSL of `chain_in`, the chain's input value of (n, c, y, x): in place, or read through a map. */
function chainInput(map: MappedInput | undefined): string {
  if (!map) return 'fn chain_in(n: u32, c: u32, y: u32, x: u32) -> f32 { return src_px(n, c, y, x); }';
  return `${map.wgsl}
fn chain_in(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let p = map_coord(n, y, x);
  return src_at(n, c, p.y, p.x);
}`;
}

/** The uniforms every chain program reads (its steps, the RGB flag and the full scale). */
const CHAIN_UNIFORMS: readonly UniformField[] = [
  { name: 'step_count', type: 'u32' },
  { name: 'rgb', type: 'u32' },
  { name: 'max', type: 'f32' },
  { name: 'inv_max', type: 'f32' },
  { name: 'steps', type: { array: 'vec4f', length: MAX_COLOR_STEPS, sized: true } },
];

/**
 * WGSL of the steps, shared by the chain's programs: `run_chain(n, c, v)` is sample n's chain on
 * the pixel's RGB triple v (channel c's value thrice when the chain is not RGB).
 */
function chainSteps(withMeans: boolean): string {
  return /* wgsl */ `
fn grey(v: vec3<f32>) -> f32 {
  if (u.rgb == 0u) { return v.x; }
  return ${GRAY_WEIGHTS[0]} * v.x + ${GRAY_WEIGHTS[1]} * v.y + ${GRAY_WEIGHTS[2]} * v.z;
}
fn hsv_shift(v: vec3<f32>, p: vec4<f32>) -> vec3<f32> {
  let mx = max(max(v.x, v.y), v.z);
  let val = clamp(mx + p.z * u.max, 0.0, u.max);
  if (u.rgb == 0u) { return vec3<f32>(val); }
  let d = mx - min(min(v.x, v.y), v.z);
  var h = 0.0;
  if (d > 0.0) {
    if (mx == v.x) { h = 60.0 * (v.y - v.z) / d; }
    else if (mx == v.y) { h = 120.0 + 60.0 * (v.z - v.x) / d; }
    else { h = 240.0 + 60.0 * (v.x - v.y) / d; }
  }
  var s = 0.0;
  if (mx > 0.0) { s = d / mx; }
  h = h + p.x;
  h = h - 360.0 * floor(h / 360.0);
  s = clamp(s + p.y, 0.0, 1.0);
  let hh = h / 60.0;
  let i = floor(hh);
  let f = hh - i;
  let a = val * (1.0 - s);
  let b = val * (1.0 - s * f);
  let c = val * (1.0 - s * (1.0 - f));
  switch (u32(i) % 6u) {
    case 0u: { return vec3<f32>(val, c, a); }
    case 1u: { return vec3<f32>(b, val, a); }
    case 2u: { return vec3<f32>(a, val, c); }
    case 3u: { return vec3<f32>(a, b, val); }
    case 4u: { return vec3<f32>(c, a, val); }
    default: { return vec3<f32>(val, a, b); }
  }
}
fn input_mean(n: u32, c: u32) -> f32 {
${
  withMeans
    ? `  let C = u.src_shape.y;
  if (u.rgb == 0u) { return stats_load((n * C + c) * 4u + 2u); }
  return grey(vec3<f32>(stats_load(n * 12u + 2u), stats_load(n * 12u + 6u), stats_load(n * 12u + 10u)));`
    : '  return 0.0;'
}
}
fn run_chain(n: u32, c: u32, v0: vec3<f32>) -> vec3<f32> {
  var v = v0;
  var m = input_mean(n, c);
  let lo = vec3<f32>(0.0);
  let hi = vec3<f32>(u.max);
  for (var s = 0u; s < u.step_count; s++) {
    let p = u.steps[n * u.step_count + s];
    switch (u32(p.w)) {
      case 1u: { v = v * p.x + p.y; m = clamp(m * p.x + p.y, 0.0, u.max); }
      case 2u: { let t = v * u.inv_max; v = select(vec3<f32>(0.0), pow(t, vec3<f32>(p.x)), t > lo) * u.max; }
      case 3u: { v = hsv_shift(v, p); }
      case 4u: { let g = grey(v); v = g + p.x * (v - g); }
      case 5u: { v = m + p.x * (v - m); }
      case 6u: { v = vec3<f32>(grey(v)); }
      default: {}
    }
    v = clamp(v, lo, hi);
  }
  return v;
}`;
}

function buildChainProgram(dtype: DType, withMeans: boolean, map: MappedInput | undefined): ProgramInfo {
  return pixelProgram({
    name: 'color_chain',
    key: `${withMeans ? 'means' : ''}${map ? `;map=${map.key}` : ''}`,
    inputs: [{ name: 'src', dtype }, ...(withMeans ? [{ name: 'stats', dtype: 'f32' as const }] : [])],
    output: dtype,
    border: map?.border ?? 'replicate',
    uniforms: [...CHAIN_UNIFORMS, ...(map?.uniforms ?? [])],
    pixel: /* wgsl */ `
${chainInput(map)}
${chainSteps(withMeans)}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  var v: vec3<f32>;
  if (u.rgb == 1u) {
    v = vec3<f32>(chain_in(n, 0u, y, x), chain_in(n, 1u, y, x), chain_in(n, 2u, y, x));
  } else {
    v = vec3<f32>(chain_in(n, c, y, x));
  }
  v = run_chain(n, c, v);
  if (u.rgb == 0u || c == 0u) { return v.x; }
  return select(v.z, v.y, c == 1u);
}`,
  });
}

/** WGSL of the f32 values of storage word `w` of `dtype` (vec4 for u8, vec2 for u16 and f16, f32). */
function wordValues(dtype: DType, w: string): string {
  if (dtype === 'u8') return `u8x4_f32(${w})`;
  if (dtype === 'u16') return `vec2<f32>(small_f32(${w} & 0xffffu), small_f32(${w} >> 16u))`;
  if (dtype === 'f16') return `unpack_f16x2(${w})`;
  return w;
}

const wordPrograms = new Map<string, ProgramInfo>();

/**
 * WGSL of `run_lanes(n, c, v)`: run_chain of a chain that is not RGB on a word's elements at once
 * (type `vec`): each step's per-element formula of run_chain, where a lone channel's hsv is its
 * value shift and saturation and gray leave it as it is. The same f32 operations per element.
 */
function chainLanes(vec: string): string {
  return /* wgsl */ `
fn run_lanes(n: u32, c: u32, v0: ${vec}) -> ${vec} {
  var v = v0;
  var m = input_mean(n, c);
  let lo = ${vec}(0.0);
  let hi = ${vec}(u.max);
  for (var s = 0u; s < u.step_count; s++) {
    let p = u.steps[n * u.step_count + s];
    switch (u32(p.w)) {
      case 1u: { v = v * p.x + p.y; m = clamp(m * p.x + p.y, 0.0, u.max); }
      case 2u: { let t = v * u.inv_max; v = select(${vec}(0.0), pow(t, ${vec}(p.x)), t > lo) * u.max; }
      case 3u: { v = clamp(v + p.z * u.max, lo, hi); }
      case 5u: { v = m + p.x * (v - m); }
      default: {}
    }
    v = clamp(v, lo, hi);
  }
  return v;
}`;
}

/** WGSL of storage word `w`'s values with their order reversed (a mirrored row's word). */
function reversedValues(dtype: DType, v: string): string {
  const k = ELEMENTS_PER_WORD[dtype];
  return k === 4 ? `${v}.wzyx` : k === 2 ? `${v}.yx` : v;
}

/**
 * The chain by storage words, for planes that start on a word (H·W a multiple of the elements
 * per word): an RGB chain's thread reads the same word of the three planes, runs the chain once
 * per pixel and writes the three words; another chain's thread maps one word of one plane. The
 * same arithmetic as the pixel program, so the two agree bit for bit. `mirrored`: each word is
 * read from sample n's flipped image (flags u.flips[n · u.per_sample]; rows on whole words), so a
 * per-sample flip and the chain are one pass.
 */
function chainWordsProgram(dtype: DType, withMeans: boolean, rgb: boolean, mirrored: boolean): ProgramInfo {
  const id = `${dtype}|${withMeans}|${rgb}|${mirrored}`;
  let program = wordPrograms.get(id);
  if (program) return program;
  const k = ELEMENTS_PER_WORD[dtype];
  const vec = k === 1 ? 'f32' : `vec${k}<f32>`;
  const lane = (v: string) => (k === 1 ? v : `${v}[j]`);
  const lanes = (statements: string) => (k === 1 ? statements : `for (var j = 0u; j < ${k}u; j++) {\n    ${statements}\n  }`);
  const main = rgb
    ? `let n = i / pw;
  // word of the R plane: (3n)·pw + (i − n·pw)
  let w = i + 2u * n * pw;
  let r = word_in(n, w);
  let g = word_in(n, w + pw);
  let b = word_in(n, w + 2u * pw);
  var ro: ${vec};
  var go: ${vec};
  var bo: ${vec};
  ${lanes(`let v = run_chain(n, 0u, vec3<f32>(${lane('r')}, ${lane('g')}, ${lane('b')}));
    ${lane('ro')} = v.x;
    ${lane('go')} = v.y;
    ${lane('bo')} = v.z;`)}
  out[w] = out_pack(ro);
  out[w + pw] = out_pack(go);
  out[w + 2u * pw] = out_pack(bo);`
    : `let plane = i / pw;
  let n = plane / u.src_shape.y;
  let c = plane - n * u.src_shape.y;
  out[i] = out_pack(run_lanes(n, c, word_in(n, i)));`;
  const wordIn = mirrored
    ? `fn word_in(n: u32, w: u32) -> ${vec} {
  let f = u.flips[n * u.per_sample];
  let pw = u.plane_words;
  let rw = u.row_words;
  let start = w - w % pw;
  let row = (w - start) / rw;
  let q = w - start - row * rw;
  let j = start + select(row, u.src_shape.z - 1u - row, f.y != 0) * rw + select(q, rw - 1u - q, f.x != 0);
  let v = ${wordValues(dtype, 'src[j]')};
  return select(v, ${reversedValues(dtype, 'v')}, f.x != 0);
}`
    : `fn word_in(n: u32, w: u32) -> ${vec} { return ${wordValues(dtype, 'src[w]')}; }`;
  program = {
    name: 'color_chain_words',
    key: `${withMeans ? 'means' : ''};rgb=${rgb};mirrored=${mirrored}`,
    inputs: [{ name: 'src', dtype }, ...(withMeans ? [{ name: 'stats', dtype: 'f32' as const }] : [])],
    outputs: [{ name: 'out', dtype }],
    uniforms: [
      { name: 'src_shape', type: 'vec4u' },
      // words per plane, threads
      { name: 'plane_words', type: 'u32' },
      { name: 'units', type: 'u32' },
      ...(mirrored ? [{ name: 'row_words', type: 'u32' } as const, ...FLIP_UNIFORMS] : []),
      ...CHAIN_UNIFORMS,
    ],
    workgroupSize: 256,
    body: /* wgsl */ `
${chainSteps(withMeans)}
${rgb ? '' : chainLanes(vec)}
${wordIn}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.units) { return; }
  let pw = u.plane_words;
  ${main}
}`,
  };
  wordPrograms.set(id, program);
  return program;
}

/**
 * Records the chain of a GPU tensor by words where its planes start on a word (with `flips`, of
 * its per-sample flipped image, where its rows do); null otherwise.
 */
function runChainWords(x: Tensor, c: ReturnType<typeof prepareChain>, stats: Tensor | null, flips?: FlipFlags): Tensor | null {
  const [n, ch, h, w] = c.shape;
  const k = ELEMENTS_PER_WORD[x.dtype];
  if ((flips ? w : h * w) % k !== 0 || x.size === 0) return null;
  const pw = (h * w) / k;
  const units = pw * n * (c.rgb ? 1 : ch);
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, c.shape, x.dtype);
  const mirror = flips && { row_words: w / k, ...flipUniformValues(flips) };
  gpu.dispatch({
    program: chainWordsProgram(x.dtype, stats !== null, c.rgb, flips !== undefined),
    inputs: stats ? [x.gpu.ref, stats.gpu.ref] : [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { ...c.uniforms, src_shape: c.shape, plane_words: pw, units, ...mirror },
    workgroups: Math.ceil(units / 256),
  });
  return out;
}

const f = Math.fround;

function cpuGrey(rgb: boolean, r: number, g: number, b: number): number {
  return rgb ? f(f(f(GRAY_WEIGHTS[0] * r) + f(GRAY_WEIGHTS[1] * g)) + f(GRAY_WEIGHTS[2] * b)) : r;
}

function cpuHsv(rgb: boolean, max: number, v: [number, number, number], p: readonly number[]): [number, number, number] {
  const [r, g, b] = v;
  const mx = Math.max(r, g, b);
  const val = Math.min(max, Math.max(0, f(mx + f(p[2]! * max))));
  if (!rgb) return [val, val, val];
  const d = f(mx - Math.min(r, g, b));
  let h = 0;
  if (d > 0) {
    if (mx === r) h = f(f(60 * f(g - b)) / d);
    else if (mx === g) h = f(120 + f(f(60 * f(b - r)) / d));
    else h = f(240 + f(f(60 * f(r - g)) / d));
  }
  const s0 = mx > 0 ? f(d / mx) : 0;
  h = f(h + p[0]!);
  h = f(h - f(360 * Math.floor(f(h / 360))));
  const s = Math.min(1, Math.max(0, f(s0 + p[1]!)));
  const hh = f(h / 60);
  const i = Math.floor(hh);
  const fr = f(hh - i);
  const a = f(val * f(1 - s));
  const bb = f(val * f(1 - f(s * fr)));
  const c = f(val * f(1 - f(s * f(1 - fr))));
  switch (i % 6) {
    case 0:
      return [val, c, a];
    case 1:
      return [bb, val, a];
    case 2:
      return [a, val, c];
    case 3:
      return [a, bb, val];
    case 4:
      return [c, a, val];
    default:
      return [val, a, bb];
  }
}

function cpuChain(x: Tensor, shape: Dims4, rows: readonly (readonly (readonly number[])[])[], rgb: boolean, max: number, stats: Tensor | null): Tensor {
  const [N, C, H, W] = shape;
  const plane = H * W;
  const src = x.data;
  const load = (i: number) => f(readElement(x.dtype, src, i));
  const out = allocTyped(x.dtype, N * C * plane);
  const invMax = f(1 / max);
  const clamp = (t: number) => Math.min(max, Math.max(0, t));
  const channels = rgb ? 1 : C;
  for (let n = 0; n < N; n++) {
    for (let ch = 0; ch < channels; ch++) {
      let mean0 = 0;
      if (stats) {
        const s = stats.data;
        mean0 = rgb ? cpuGrey(true, s[n * 12 + 2]!, s[n * 12 + 6]!, s[n * 12 + 10]!) : s[(n * C + ch) * 4 + 2]!;
      }
      for (let i = 0; i < plane; i++) {
        const base = (n * C + ch) * plane + i;
        let v: [number, number, number] = rgb ? [load(base), load(base + plane), load(base + 2 * plane)] : [load(base), load(base), load(base)];
        let m = mean0;
        for (const p of rows[n]!) {
          switch (p[3]) {
            case 1:
              v = v.map((t) => f(f(t * p[0]!) + p[1]!)) as typeof v;
              m = clamp(f(f(m * p[0]!) + p[1]!));
              break;
            case 2:
              v = v.map((t) => {
                const q = f(t * invMax);
                return q > 0 ? f(f(q ** f(p[0]!)) * max) : 0;
              }) as typeof v;
              break;
            case 3:
              v = cpuHsv(rgb, max, v, p);
              break;
            case 4: {
              const g = cpuGrey(rgb, ...v);
              v = v.map((t) => f(g + f(p[0]! * f(t - g)))) as typeof v;
              break;
            }
            case 5:
              v = v.map((t) => f(m + f(p[0]! * f(t - m)))) as typeof v;
              break;
            case 6: {
              const g = cpuGrey(rgb, ...v);
              v = [g, g, g];
              break;
            }
          }
          v = v.map(clamp) as typeof v;
        }
        if (rgb) for (let k = 0; k < 3; k++) out[base + k * plane] = saturate(x.dtype, v[k]!);
        else out[base] = saturate(x.dtype, v[0]);
      }
    }
  }
  return Tensor.fromArray(out, shape, x.dtype);
}

/**
 * Applies a chain of colour steps to an N×C×H×W batch in one pass (see the file header for each
 * step's formula). Runs where `x` lives.
 * @example colorChain(img, { steps: [{ kind: 'affine', alpha: 1.2, beta: -10 }, { kind: 'hsv', hue: 15 }] })
 * @example colorChain(batch2, { steps: [[{ kind: 'gray' }], [{ kind: 'gamma', gamma: 0.8 }]] })   // a chain per sample
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for an unknown step or a parameter out of its range;
 *   KENSA_ERR_SHAPE for hsv, saturation or gray steps on images of 2 or more than 3 channels;
 *   KENSA_ERR_DTYPE for i32 images.
 */
export function colorChain(x: Tensor, options: ColorChainOptions): Tensor {
  const c = prepareChain(x, options);
  return onDevice(x, {
    gpu: () => {
      const stats = c.withMeans ? imageStats(x) : null;
      const out = runChainWords(x, c, stats) ?? runPixelProgram(chainProgram(x.dtype, c.withMeans), stats ? [x, stats] : [x], c.shape, x.dtype, c.uniforms);
      stats?.dispose();
      return out;
    },
    cpu: () => cpuChain(x, c.shape, c.rows, c.rgb, c.uniforms.max, c.withMeans ? imageStats(x) : null),
  });
}

/**
 * colorChain of the image `map` makes of `x` (e.g. a nearest warp), in one pass on the GPU: each
 * pixel reads its input through the map, so the mapped image is never written. The same values as
 * colorChain(map.mapped(), options), which runs where the pass cannot read through the map: on the
 * CPU, and for a contrast step (its means are the mapped image's).
 */
export function colorChainThrough(x: Tensor, options: ColorChainOptions, map: MappedInput): Tensor {
  const c = prepareChain(x, options);
  if (x.device !== 'gpu' || c.withMeans) return colorChain(map.mapped(), options);
  const words = map.flips ? runChainWords(x, c, null, map.flips) : null;
  if (words) return words;
  return runPixelProgram(chainProgram(x.dtype, false, map), [x], map.shape, x.dtype, { ...map.values, ...c.uniforms }, map.borderValue);
}

/** A validated chain of `x`: its rows, the program's uniforms, whether it reads RGB triples and means. */
function prepareChain(x: Tensor, options: ColorChainOptions) {
  const d = checkImage('x', x);
  checkDType('x', x, COLOR_CHAIN_DTYPES);
  const rows = colorChainRows((options ?? ({} as ColorChainOptions)).steps, d.n);
  const stepCount = rows[0]?.length ?? 0;
  const codes = new Set(rows.flatMap((r) => r.map((p) => p[3]!)));
  // chains of per-element steps (affine, gamma) read one channel per output, not the triple
  const rgb = d.c === 3 && [KIND_CODE.hsv, KIND_CODE.saturation, KIND_CODE.gray, KIND_CODE.contrast].some((k) => codes.has(k));
  if (d.c !== 3 && d.c !== 1 && [KIND_CODE.hsv, KIND_CODE.saturation, KIND_CODE.gray].some((k) => codes.has(k)))
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected x with 1 or 3 channels for hsv, saturation and gray steps but received ${d.c} (shape [${x.shape.join(', ')}])`,
    );
  if (d.n * stepCount > MAX_COLOR_STEPS) throw invalidParameter('steps', `at most ${MAX_COLOR_STEPS} steps in all (samples × steps)`, `${d.n} × ${stepCount}`);
  const max = colorFullScale(x.dtype);
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  const uniforms = { step_count: stepCount, rgb: rgb ? 1 : 0, max, inv_max: 1 / max, steps: rows.flat().flat() };
  return { rows, rgb, shape, withMeans: codes.has(KIND_CODE.contrast), uniforms };
}

/** Every program variant of colorChain, for compile-all tests; with `map`, also those of colorChainThrough reading through it. */
export function colorChainPrograms(map?: MappedInput): ProgramInfo[] {
  return COLOR_CHAIN_DTYPES.flatMap((dt) => [
    chainProgram(dt, false),
    chainProgram(dt, true),
    ...[false, true].flatMap((means) => [false, true].flatMap((rgb) => [false, true].map((mirrored) => chainWordsProgram(dt, means, rgb, mirrored)))),
    ...(map ? [chainProgram(dt, false, map)] : []),
  ]);
}
