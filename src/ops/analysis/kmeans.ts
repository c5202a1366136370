/**
 * k-means on pixel values (1-channel images), per image: Lloyd's algorithm with a fixed number
 * of iterations and a deterministic initialisation, for quantising an image into k intensity classes.
 *
 * Initial centres (the same rule on both backends):
 *  - default: k centres spread evenly between the image's min and max, at the middles of k equal
 *    intervals: c_j = min + (max − min)·(2j + 1)/(2k). No randomness, no quantiles.
 *  - `seed`: the values of k pseudo-random pixels (mulberry32(seed) positions, the same positions in
 *    every image of the batch), like OpenCV's KMEANS_RANDOM_CENTERS but reproducible.
 *  - `init`: k given centres, used for every image.
 * Each iteration assigns every pixel to its nearest centre (|v − c| in f32; ties go to the lower
 * index) and moves each centre to the mean of its pixels; an empty cluster keeps its centre.
 * After the iterations the centres are sorted ascending (stable) and every pixel gets the index of
 * its nearest final centre, so label 0 is the darkest class and results do not depend on the
 * initial order. Output: labels u8 [N, 1, H, W], centers f32 [N, k].
 *
 * Differences from cv::kmeans: no kmeans++ / attempts / epsilon criterion (a fixed number of
 * iterations), empty clusters are not re-seeded, and labels come from the final centres, sorted.
 *
 * GPU, u8 input: the assignment depends only on the value, so the iterations run on a per-image
 * 256-bin histogram (exact integer sums; see kmeansGpuU8); labels come from a 256-entry table.
 * GPU, other dtypes: per iteration two dispatches recorded without host synchronisation: (1) assignment fused with
 * per-workgroup partial sums and counts per cluster (a deterministic tree reduction in workgroup
 * memory, no float atomics), (2) a centre update that reduces the partials per image. Sums are f32
 * on the GPU and f64 on the CPU, so centres agree to ~1e-6 relative; a pixel lying exactly halfway
 * between two centres can then take the other label (and move a centre slightly), which is the only
 * source of label differences between backends. NaN pixels give unspecified results.
 * i32 values are read as f32 (exact up to 2^24).
 */
import { onDevice } from '../../device.js';
import { readElement, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, is } from '../../validate.js';
import { checkImage } from '../image.js';
import { pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { imageStats } from './stats.js';
import { mulberry32 } from '../../rng.js';

export interface KMeansOptions {
  /** Number of clusters, 2 to 16. */
  k: number;
  /** Lloyd iterations (assign + update), 0 to 1000. Default 10. */
  iterations?: number;
  /** Initialise from k pseudo-random pixels chosen by this seed (integer 0 to 2^32 − 1). */
  seed?: number;
  /** k initial centres (finite numbers), used for every image. */
  init?: readonly number[];
}

export interface KMeansResult {
  /** Cluster index per pixel, clusters sorted by centre ascending: u8 [N, 1, H, W]. */
  labels: Tensor;
  /** Final centres per image, ascending: f32 [N, k]. */
  centers: Tensor;
}

export const MAX_K = 16;
const WG = 64;
/** Pixels per thread in the assignment pass (chunk = WG · ITEMS per workgroup). */
const ITEMS = 64;
const CHUNK = WG * ITEMS;
const VEC4S = MAX_K / 4;

type Init = { mode: 'spread' } | { mode: 'pick'; positions: number[] } | { mode: 'values'; values: number[] };

interface ResolvedKMeans {
  k: number;
  iterations: number;
  init: Init;
}

function resolveKMeans(o: KMeansOptions, planeLen: number): ResolvedKMeans {
  if (o === null || typeof o !== 'object') throw invalidParameter('options', 'an object with k', o);
  const k = integerInRange('k', o.k, 2, MAX_K);
  const iterations = o.iterations === undefined ? 10 : integerInRange('iterations', o.iterations, 0, 1000);
  let init: Init = { mode: 'spread' };
  if (o.init !== undefined) {
    if (o.seed !== undefined) throw invalidParameter('seed', 'undefined when init is given', o.seed);
    const v = o.init as unknown;
    if (!Array.isArray(v) || v.length !== k || !v.every((c) => is.number(c))) throw invalidParameter('init', `an array of ${k} finite numbers`, v);
    init = { mode: 'values', values: v.map(Math.fround) };
  } else if (o.seed !== undefined) {
    const r = mulberry32(integerInRange('seed', o.seed, 0, 4294967295));
    init = { mode: 'pick', positions: Array.from({ length: k }, () => Math.floor(r() * planeLen)) };
  }
  return { k, iterations, init };
}

/** Fractions (2j + 1)/(2k) of the default initialisation, as f32. */
function spreadFractions(k: number): number[] {
  return Array.from({ length: k }, (_, j) => Math.fround((2 * j + 1) / (2 * k)));
}

function pad16(v: readonly number[]): number[] {
  const out = new Array<number>(MAX_K).fill(0);
  for (const [i, x] of v.entries()) out[i] = x;
  return out;
}

// ---------------------------------------------------------------- GPU programs

export function kmeansInitProgram(mode: Init['mode'], inDtype: DType): ProgramInfo {
  const inputs = mode === 'spread' ? [{ name: 'stats', dtype: 'f32' as DType }] : mode === 'pick' ? [{ name: 'src', dtype: inDtype }] : [];
  const value =
    mode === 'spread'
      ? 'let mn = stats[img * 4u]; let v = mn + (stats[img * 4u + 1u] - mn) * u.vals[j / 4u][j % 4u];'
      : mode === 'pick'
        ? 'let v = src_load(img * u.plane_len + u.pos[j / 4u][j % 4u]);'
        : 'let v = u.vals[j / 4u][j % 4u];';
  return {
    name: 'kmeans_init',
    key: mode,
    inputs,
    outputs: [{ name: 'ctr', dtype: 'f32' }],
    uniforms: [
      { name: 'total', type: 'u32' },
      { name: 'k', type: 'u32' },
      { name: 'plane_len', type: 'u32' },
      { name: 'vals', type: { array: 'vec4f', length: VEC4S } },
      { name: 'pos', type: { array: 'vec4u', length: VEC4S } },
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.total) { return; }
  let img = i / u.k;
  let j = i - img * u.k;
  ${value}
  ctr[i] = v;
}`,
  };
}

export function kmeansAssignProgram(inDtype: DType): ProgramInfo {
  return {
    name: 'kmeans_assign',
    key: '',
    inputs: [
      { name: 'src', dtype: inDtype },
      { name: 'ctr', dtype: 'f32' },
    ],
    outputs: [{ name: 'part', dtype: 'f32' }],
    uniforms: [
      { name: 'groups', type: 'u32' },
      { name: 'chunks', type: 'u32' },
      { name: 'plane_len', type: 'u32' },
      { name: 'k', type: 'u32' },
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
const ITEMS: u32 = ${ITEMS}u;
var<workgroup> cen: array<f32, ${MAX_K}>;
var<workgroup> acc_s: array<f32, ${MAX_K * WG}>;
var<workgroup> acc_n: array<u32, ${MAX_K * WG}>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= u.groups) { return; }
  let img = g / u.chunks;
  let start = (g - img * u.chunks) * (WG * ITEMS);
  let base = img * u.plane_len;
  let k = u.k;
  if (li < k) { cen[li] = ctr[img * k + li]; }
  workgroupBarrier();
  // each thread accumulates into its own column of acc_s / acc_n: no races, no atomics
  for (var c = 0u; c < k; c++) {
    acc_s[c * WG + li] = 0.0;
    acc_n[c * WG + li] = 0u;
  }
  for (var i = 0u; i < ITEMS; i++) {
    let j = start + li + i * WG;
    if (j < u.plane_len) {
      let v = src_load(base + j);
      var lab = 0u;
      var best = abs(v - cen[0]);
      for (var c = 1u; c < k; c++) {
        let d = abs(v - cen[c]);
        if (d < best) { best = d; lab = c; }
      }
      acc_s[lab * WG + li] += v;
      acc_n[lab * WG + li] += 1u;
    }
  }
  for (var st = WG / 2u; st > 0u; st = st >> 1u) {
    workgroupBarrier();
    if (li < st) {
      for (var c = 0u; c < k; c++) {
        acc_s[c * WG + li] += acc_s[c * WG + li + st];
        acc_n[c * WG + li] += acc_n[c * WG + li + st];
      }
    }
  }
  workgroupBarrier();
  if (li < k) {
    let o = (g * ${MAX_K}u + li) * 2u;
    part[o] = acc_s[li * WG];
    part[o + 1u] = f32(acc_n[li * WG]);
  }
}`,
  };
}

export function kmeansUpdateProgram(): ProgramInfo {
  return {
    name: 'kmeans_update',
    key: '',
    inputs: [{ name: 'part', dtype: 'f32' }],
    outputs: [{ name: 'ctr', dtype: 'f32' }],
    uniforms: [
      { name: 'images', type: 'u32' },
      { name: 'chunks', type: 'u32' },
      { name: 'k', type: 'u32' },
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
var<workgroup> red_s: array<f32, ${MAX_K * WG}>;
var<workgroup> red_n: array<u32, ${MAX_K * WG}>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let img = linear_workgroup(wid, nwg);
  if (img >= u.images) { return; }
  let k = u.k;
  for (var c = 0u; c < k; c++) {
    var s = 0.0;
    var n = 0u;
    for (var g = li; g < u.chunks; g += WG) {
      let o = ((img * u.chunks + g) * ${MAX_K}u + c) * 2u;
      s += part[o];
      n += u32(part[o + 1u]);
    }
    red_s[c * WG + li] = s;
    red_n[c * WG + li] = n;
  }
  for (var st = WG / 2u; st > 0u; st = st >> 1u) {
    workgroupBarrier();
    if (li < st) {
      for (var c = 0u; c < k; c++) {
        red_s[c * WG + li] += red_s[c * WG + li + st];
        red_n[c * WG + li] += red_n[c * WG + li + st];
      }
    }
  }
  workgroupBarrier();
  if (li < k) {
    let n = red_n[li * WG];
    if (n > 0u) { ctr[img * k + li] = red_s[li * WG] / f32(n); }
  }
}`,
  };
}

/** Sorts each image's k centres ascending (stable insertion sort, one thread per image). */
export function kmeansSortProgram(): ProgramInfo {
  return {
    name: 'kmeans_sort',
    key: '',
    inputs: [{ name: 'ctr', dtype: 'f32' }],
    outputs: [{ name: 'sorted', dtype: 'f32' }],
    uniforms: [
      { name: 'images', type: 'u32' },
      { name: 'k', type: 'u32' },
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let img = linear_workgroup(wid, nwg) * WG + li;
  if (img >= u.images) { return; }
  let k = u.k;
  var c: array<f32, ${MAX_K}>;
  for (var i = 0u; i < k; i++) {
    let v = ctr[img * k + i];
    var j = i;
    while (j > 0u && c[j - 1u] > v) { c[j] = c[j - 1u]; j--; }
    c[j] = v;
  }
  for (var i = 0u; i < k; i++) { sorted[img * k + i] = c[i]; }
}`,
  };
}

/** Final labelling: index of the nearest (sorted) centre, as a pixel kernel with u8 output. */
export function kmeansLabelProgram(inDtype: DType): ProgramInfo {
  return pixelProgram({
    name: 'kmeans_label',
    key: '',
    inputs: [
      { name: 'src', dtype: inDtype },
      { name: 'ctr', dtype: 'f32' },
    ],
    output: 'u8',
    border: 'replicate',
    uniforms: [{ name: 'k', type: 'u32' }],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let v = src_px(n, c, y, x);
  let b = n * u.k;
  var lab = 0u;
  var best = abs(v - ctr_load(b));
  for (var j = 1u; j < u.k; j++) {
    let d = abs(v - ctr_load(b + j));
    if (d < best) { best = d; lab = j; }
  }
  return f32(lab);
}`,
  });
}

// ---------------------------------------------------------------- u8 fast path: a histogram
// The assignment of a pixel depends only on its value, so for u8 images every Lloyd iteration can run
// on the 256-bin histogram of the image (counted once) instead of on the pixels: sums are exact
// integers (Σ value·count, 64-bit), all iterations, the sort and a 256-entry label table are one
// workgroup per image, and the final labelling is a table look-up over 4-pixel words.

const HIST_WG = 256;
/** Words per thread in the histogram pass (a workgroup counts HIST_WG · HIST_WORDS · 4 pixels). */
const HIST_WORDS = 16;
const HIST_CHUNK = HIST_WG * HIST_WORDS * 4;

/** Per-image 256-bin histogram of a u8 batch; consecutive equal values are counted in registers. */
export function kmeansHistProgram(): ProgramInfo {
  return {
    name: 'kmeans_hist',
    key: '',
    inputs: [{ name: 'src', dtype: 'u8' }],
    outputs: [{ name: 'hist', dtype: 'f32', atomic: true }],
    uniforms: [
      { name: 'groups', type: 'u32' },
      { name: 'chunks', type: 'u32' },
      { name: 'plane_len', type: 'u32' },
    ],
    workgroupSize: HIST_WG,
    body: /* wgsl */ `
const WORDS: u32 = ${HIST_WORDS}u;
var<workgroup> lh: array<atomic<u32>, 256>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= u.groups) { return; }
  atomicStore(&lh[li], 0u);
  workgroupBarrier();
  let img = g / u.chunks;
  let a = img * u.plane_len + (g - img * u.chunks) * (WG * WORDS * 4u);
  let b = min(a + WG * WORDS * 4u, (img + 1u) * u.plane_len);
  let w0 = a >> 2u;
  var cur = 0u;
  var cnt = 0u;
  for (var i = 0u; i < WORDS; i++) {
    let wi = w0 + li + i * WG;
    let p0 = wi * 4u;
    if (p0 >= b) { break; }
    let word = src[wi];
    if (p0 >= a && p0 + 4u <= b && (word >> 8u) == (word & 0xffffffu) && (word & 0xffu) == (word >> 24u)) {
      // four equal bytes
      let v = word & 0xffu;
      if (v != cur) { if (cnt != 0u) { atomicAdd(&lh[cur], cnt); } cur = v; cnt = 0u; }
      cnt += 4u;
    } else {
      for (var e = 0u; e < 4u; e++) {
        let p = p0 + e;
        if (p >= a && p < b) {
          let v = (word >> (e * 8u)) & 0xffu;
          if (v != cur) { if (cnt != 0u) { atomicAdd(&lh[cur], cnt); } cur = v; cnt = 0u; }
          cnt++;
        }
      }
    }
  }
  if (cnt != 0u) { atomicAdd(&lh[cur], cnt); }
  workgroupBarrier();
  let c = atomicLoad(&lh[li]);
  if (c != 0u) { atomicAdd(&hist[img * 256u + li], c); }
}`,
  };
}

/**
 * One workgroup (256 threads, one per value) per image: initial centres, all Lloyd iterations on the
 * histogram, the stable sort, the sorted centres and the value → label table.
 */
export function kmeansSolveProgram(mode: Init['mode']): ProgramInfo {
  const init =
    mode === 'spread'
      ? 'let v = mn + (mx - mn) * u.vals[j / 4u][j % 4u];'
      : mode === 'pick'
        ? 'let v = src_load(img * u.plane_len + u.pos[j / 4u][j % 4u]);'
        : 'let v = u.vals[j / 4u][j % 4u];';
  return {
    name: 'kmeans_solve',
    key: mode,
    inputs: [
      { name: 'src', dtype: 'u8' },
      { name: 'hist', dtype: 'i32' },
    ],
    outputs: [
      { name: 'centers', dtype: 'f32' },
      { name: 'lut', dtype: 'i32' },
    ],
    uniforms: [
      { name: 'images', type: 'u32' },
      { name: 'k', type: 'u32' },
      { name: 'iterations', type: 'u32' },
      { name: 'plane_len', type: 'u32' },
      { name: 'vals', type: { array: 'vec4f', length: VEC4S } },
      { name: 'pos', type: { array: 'vec4u', length: VEC4S } },
    ],
    workgroupSize: 256,
    body: /* wgsl */ `
var<workgroup> cen: array<f32, ${MAX_K}>;
var<workgroup> s_lo: array<atomic<u32>, ${MAX_K}>;
var<workgroup> s_hi: array<atomic<u32>, ${MAX_K}>;
var<workgroup> s_n: array<atomic<u32>, ${MAX_K}>;
var<workgroup> lo_hi: array<atomic<u32>, 2>;
fn nearest(v: f32, k: u32) -> u32 {
  var lab = 0u;
  var best = abs(v - cen[0]);
  for (var c = 1u; c < k; c++) {
    let d = abs(v - cen[c]);
    if (d < best) { best = d; lab = c; }
  }
  return lab;
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let img = linear_workgroup(wid, nwg);
  if (img >= u.images) { return; }
  let k = u.k;
  let cnt = u32(hist[img * 256u + li]);
  let val = f32(li);
  // b·cnt as 64 bits: cnt = ch·2^16 + cl, b·cnt = (b·ch)·2^16 + b·cl
  let p1 = li * (cnt & 0xffffu);
  let p2 = li * (cnt >> 16u);
  let plo = p1 + (p2 << 16u);
  let phi = (p2 >> 16u) + select(0u, 1u, plo < p1);
  if (li == 0u) { atomicStore(&lo_hi[0], 255u); atomicStore(&lo_hi[1], 0u); }
  workgroupBarrier();
  if (cnt != 0u) { atomicMin(&lo_hi[0], li); atomicMax(&lo_hi[1], li); }
  workgroupBarrier();
  let mn = f32(atomicLoad(&lo_hi[0]));
  let mx = f32(atomicLoad(&lo_hi[1]));
  if (li < k) {
    let j = li;
    ${init}
    cen[j] = v;
  }
  for (var it = 0u; it < u.iterations; it++) {
    if (li < k) { atomicStore(&s_lo[li], 0u); atomicStore(&s_hi[li], 0u); atomicStore(&s_n[li], 0u); }
    workgroupBarrier();
    if (cnt != 0u) {
      let lab = nearest(val, k);
      atomicAdd(&s_n[lab], cnt);
      let old = atomicAdd(&s_lo[lab], plo);
      let carry = select(0u, 1u, old + plo < old);
      if (phi + carry != 0u) { atomicAdd(&s_hi[lab], phi + carry); }
    }
    workgroupBarrier();
    if (li < k) {
      let n = atomicLoad(&s_n[li]);
      if (n != 0u) { cen[li] = (f32(atomicLoad(&s_hi[li])) * 4294967296.0 + f32(atomicLoad(&s_lo[li]))) / f32(n); }
    }
    workgroupBarrier();
  }
  workgroupBarrier();
  if (li == 0u) {
    // stable insertion sort
    for (var i = 1u; i < k; i++) {
      let v = cen[i];
      var j = i;
      while (j > 0u && cen[j - 1u] > v) { cen[j] = cen[j - 1u]; j--; }
      cen[j] = v;
    }
  }
  workgroupBarrier();
  if (li < k) { centers[img * k + li] = cen[li]; }
  lut[img * 256u + li] = i32(nearest(val, k));
}`,
  };
}

/** Labels by table look-up, one output word (4 pixels) per thread. */
export function kmeansLutLabelProgram(): ProgramInfo {
  return {
    name: 'kmeans_lut_label',
    key: '',
    inputs: [
      { name: 'src', dtype: 'u8' },
      { name: 'lut', dtype: 'i32' },
    ],
    outputs: [{ name: 'labels', dtype: 'i32' }],
    uniforms: [
      { name: 'words', type: 'u32' },
      { name: 'total', type: 'u32' },
      { name: 'plane_len', type: 'u32' },
    ],
    workgroupSize: HIST_WG,
    body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let wi = linear_workgroup(wid, nwg) * WG + li;
  if (wi >= u.words) { return; }
  let word = src[wi];
  let p0 = wi * 4u;
  var img = p0 / u.plane_len;
  var next = (img + 1u) * u.plane_len;
  var o = 0u;
  for (var e = 0u; e < 4u; e++) {
    let p = p0 + e;
    if (p < u.total) {
      if (p >= next) { img++; next += u.plane_len; }
      o |= u32(lut[img * 256u + ((word >> (e * 8u)) & 0xffu)]) << (e * 8u);
    }
  }
  labels[wi] = i32(o);
}`,
  };
}

function kmeansGpuU8(x: Tensor, n: number, h: number, w: number, r: ResolvedKMeans): KMeansResult {
  const gpu = x.gpu.gpu;
  const { k } = r;
  const planeLen = h * w;
  const hist = Tensor.empty(gpu, [n, 256], 'i32');
  gpu.clear(hist.gpu.ref);
  const chunks = Math.ceil(planeLen / HIST_CHUNK);
  gpu.dispatch({
    program: kmeansHistProgram(),
    inputs: [x.gpu.ref],
    outputs: [hist.gpu.ref],
    uniforms: { groups: n * chunks, chunks, plane_len: planeLen },
    workgroups: n * chunks,
  });
  const centers = Tensor.empty(gpu, [n, k], 'f32');
  const lut = Tensor.empty(gpu, [n, 256], 'i32');
  const vals = r.init.mode === 'spread' ? spreadFractions(k) : r.init.mode === 'values' ? r.init.values : [];
  const pos = r.init.mode === 'pick' ? r.init.positions : [];
  gpu.dispatch({
    program: kmeansSolveProgram(r.init.mode),
    inputs: [x.gpu.ref, hist.gpu.ref],
    outputs: [centers.gpu.ref, lut.gpu.ref],
    uniforms: { images: n, k, iterations: r.iterations, plane_len: planeLen, vals: pad16(vals), pos: pad16(pos) },
    workgroups: n,
  });
  hist.dispose();
  const total = n * planeLen;
  const words = Math.ceil(total / 4);
  // the u8 labels tensor, written as i32 words (4 labels each) through a same-buffer view
  const labels = Tensor.empty(gpu, [n, 1, h, w], 'u8');
  gpu.dispatch({
    program: kmeansLutLabelProgram(),
    inputs: [x.gpu.ref, lut.gpu.ref],
    outputs: [labels.gpu.ref],
    uniforms: { words, total, plane_len: planeLen },
    workgroups: Math.ceil(words / HIST_WG),
  });
  lut.dispose();
  return { labels, centers };
}

function kmeansGpu(x: Tensor, n: number, h: number, w: number, r: ResolvedKMeans): KMeansResult {
  if (x.dtype === 'u8') return kmeansGpuU8(x, n, h, w, r);
  const gpu = x.gpu.gpu;
  const { k } = r;
  const planeLen = h * w;
  const ctr = Tensor.empty(gpu, [n, k], 'f32');
  // init
  const initUniforms = { total: n * k, k, plane_len: planeLen, vals: pad16([]), pos: pad16([]) };
  const initGroups = Math.ceil((n * k) / WG);
  if (r.init.mode === 'spread') {
    const stats = imageStats(x);
    gpu.dispatch({
      program: kmeansInitProgram('spread', x.dtype),
      inputs: [stats.gpu.ref],
      outputs: [ctr.gpu.ref],
      uniforms: { ...initUniforms, vals: pad16(spreadFractions(k)) },
      workgroups: initGroups,
    });
    stats.dispose();
  } else if (r.init.mode === 'pick') {
    gpu.dispatch({
      program: kmeansInitProgram('pick', x.dtype),
      inputs: [x.gpu.ref],
      outputs: [ctr.gpu.ref],
      uniforms: { ...initUniforms, pos: pad16(r.init.positions) },
      workgroups: initGroups,
    });
  } else {
    gpu.dispatch({
      program: kmeansInitProgram('values', x.dtype),
      inputs: [],
      outputs: [ctr.gpu.ref],
      uniforms: { ...initUniforms, vals: pad16(r.init.values) },
      workgroups: initGroups,
    });
  }
  // Lloyd iterations
  if (r.iterations > 0) {
    const chunks = Math.ceil(planeLen / CHUNK);
    const groups = n * chunks;
    const part = Tensor.empty(gpu, [groups, MAX_K, 2], 'f32');
    const assign = kmeansAssignProgram(x.dtype);
    const update = kmeansUpdateProgram();
    for (let it = 0; it < r.iterations; it++) {
      gpu.dispatch({
        program: assign,
        inputs: [x.gpu.ref, ctr.gpu.ref],
        outputs: [part.gpu.ref],
        uniforms: { groups, chunks, plane_len: planeLen, k },
        workgroups: groups,
      });
      gpu.dispatch({ program: update, inputs: [part.gpu.ref], outputs: [ctr.gpu.ref], uniforms: { images: n, chunks, k }, workgroups: n });
    }
    part.dispose();
  }
  // sort, label
  const centers = Tensor.empty(gpu, [n, k], 'f32');
  gpu.dispatch({ program: kmeansSortProgram(), inputs: [ctr.gpu.ref], outputs: [centers.gpu.ref], uniforms: { images: n, k }, workgroups: Math.ceil(n / WG) });
  ctr.dispose();
  const ctr4 = centers.reshape([n, k, 1, 1]);
  const labels = runPixelProgram(kmeansLabelProgram(x.dtype), [x, ctr4], [n, 1, h, w] as Dims4, 'u8', { k });
  ctr4.dispose();
  return { labels, centers };
}

// ---------------------------------------------------------------- CPU reference

function nearest(v: number, c: ArrayLike<number>, k: number): number {
  let lab = 0;
  let best = Math.abs(Math.fround(v - c[0]!));
  for (let j = 1; j < k; j++) {
    const d = Math.abs(Math.fround(v - c[j]!));
    if (d < best) {
      best = d;
      lab = j;
    }
  }
  return lab;
}

function kmeansCpu(x: Tensor, n: number, h: number, w: number, r: ResolvedKMeans): KMeansResult {
  const { k } = r;
  const planeLen = h * w;
  const src = x.data;
  const f16 = x.dtype === 'f16';
  const labels = new Uint8Array(n * planeLen);
  const centers = new Float32Array(n * k);
  const v = new Float32Array(planeLen);
  const sums = new Float64Array(k);
  const counts = new Float64Array(k);
  for (let img = 0; img < n; img++) {
    // i32 is read as f32, as on the GPU
    for (let j = 0; j < planeLen; j++) v[j] = f16 ? readElement('f16', src, img * planeLen + j) : src[img * planeLen + j]!;
    const c = new Float32Array(k);
    if (r.init.mode === 'spread') {
      let mn = Infinity;
      let mx = -Infinity;
      for (let j = 0; j < planeLen; j++) {
        if (v[j]! < mn) mn = v[j]!;
        if (v[j]! > mx) mx = v[j]!;
      }
      const fr = spreadFractions(k);
      const span = Math.fround(mx - mn);
      for (let j = 0; j < k; j++) c[j] = mn + Math.fround(span * fr[j]!);
    } else if (r.init.mode === 'pick') {
      for (let j = 0; j < k; j++) c[j] = v[r.init.positions[j]!]!;
    } else c.set(r.init.values);
    for (let it = 0; it < r.iterations; it++) {
      sums.fill(0);
      counts.fill(0);
      for (let j = 0; j < planeLen; j++) {
        const lab = nearest(v[j]!, c, k);
        sums[lab]! += v[j]!;
        counts[lab]!++;
      }
      for (let j = 0; j < k; j++) if (counts[j]! > 0) c[j] = sums[j]! / counts[j]!;
    }
    c.sort();
    centers.set(c, img * k);
    for (let j = 0; j < planeLen; j++) labels[img * planeLen + j] = nearest(v[j]!, c, k);
  }
  return { labels: Tensor.fromArray(labels, [n, 1, h, w], 'u8'), centers: Tensor.fromArray(centers, [n, k], 'f32') };
}

/**
 * Clusters the pixel values of each 1-channel image into k classes (Lloyd's k-means).
 * Runs where `x` lives; on the GPU every step is recorded without reading back.
 * @example const { labels, centers } = kmeans(gray, { k: 3 });        // dark / mid / bright
 * @example kmeans(gray, { k: 2, init: [0, 255], iterations: 20 })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for k outside 2..16, bad iterations, seed or init;
 *         KENSA_ERR_SHAPE for images with more than one channel.
 */
export function kmeans(x: Tensor, options: KMeansOptions): KMeansResult {
  const d = checkImage('x', x, [1]);
  const r = resolveKMeans(options, d.h * d.w);
  return onDevice(x, { gpu: () => kmeansGpu(x, d.n, d.h, d.w, r), cpu: () => kmeansCpu(x, d.n, d.h, d.w, r) });
}

/** Every program variant of this file, for compile-all tests. */
export function kmeansPrograms(dtypes: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16']): ProgramInfo[] {
  return [
    ...dtypes.flatMap((dt) => [kmeansInitProgram('pick', dt), kmeansAssignProgram(dt), kmeansLabelProgram(dt)]),
    kmeansInitProgram('spread', 'f32'),
    kmeansInitProgram('values', 'f32'),
    kmeansUpdateProgram(),
    kmeansSortProgram(),
    kmeansHistProgram(),
    kmeansSolveProgram('spread'),
    kmeansSolveProgram('pick'),
    kmeansSolveProgram('values'),
    kmeansLutLabelProgram(),
  ];
}
