/**
 * Per-image, per-channel statistics: f32 [N, C, 4] holding min, max, mean and standard deviation,
 * as cv::minMaxLoc and cv::meanStdDev (population std: sqrt(Σ(v − mean)² / count)) per plane.
 *
 * GPU: a deterministic two-pass parallel reduction, no float atomics.
 *  1. Each workgroup reduces a chunk of one plane. A thread accumulates its values shifted by its
 *     first value p (s1 = Σ(v − p), s2 = Σ(v − p)²; since (p − mean)² ≤ M2 the cancellation in
 *     M2 = s2 − s1²/n costs at most n + 1 ulps), then the workgroup merges (count, mean, M2, min, max)
 *     in a tree with Chan et al.'s pairwise update, which has no catastrophic cancellation.
 *     Means are kept relative to the plane's first value P, so a large offset with a small spread
 *     (1000 ± 0.01) does not lose the spread to the f32 rounding of the mean.
 *  2. One workgroup per plane merges the chunk partials the same way, adds P back to the mean.
 * Sums are f32 (pairwise), so mean and std match the f64 CPU reference to ~1e-6 relative
 * (tests: rtol 1e-5); min and max are exact. i32 values are read as f32 (exact up to 2^24).
 * NaN inputs give unspecified results on the GPU (WGSL min/max), NaN on the CPU.
 * u8 planes of a multiple of 16 pixels take a faster pass 1: 16 pixels per vec4<u32> load, and
 * each thread's sums are exact integers (Σv ≤ 2^16, n·Σv² < 2^32 for its 128 or 256 pixels), so its
 * record (n, mean, M2 = (n·Σv² − (Σv)²)/n) has one rounding; Σv and Σv² of 4 pixels are packed
 * 4×8-bit dot products; a whole chunk's loads are issued in batches of 4. Fusing the passes (the
 * last workgroup of a plane merging the partials) needs a device-scope release/acquire between
 * workgroups, which WGSL does not have (its atomics are relaxed, storageBarrier is workgroup-scope).
 */
import { onDevice } from '../../device.js';
import { readElement, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { checkImage } from '../image.js';
import { wgslBatchedLoads } from '../../gpu/wgsl/common.js';
import { overriding } from '../../kernels/tuning.js';

const WG = 256;
/** Elements per thread in pass 1 (chunk = WG · ITEMS per workgroup). */
const ITEMS = 16;
/** Kernel choices of the statistics (frozen; tests and benches run others through withStatsTuning). */
export interface StatsTuning {
  /**
   * u8 pass 1's vec4<u32> loads (16 pixels) per thread, 8 or 16 (16 the faster): up to 256 pixels
   * a thread's sums are exact in u32 (n·Σv² ≤ 256 · 256 · 255² < 2^32).
   */
  readonly u8Loads: 8 | 16;
}
let statsTuning: StatsTuning = Object.freeze({ u8Loads: 16 });

/** Runs `fn` with other statistics kernel choices (see kernels/tuning.ts). */
export function withStatsTuning<R>(overrides: Partial<StatsTuning>, fn: () => R): R {
  return overriding(statsTuning, (t) => (statsTuning = t), overrides, fn);
}
/** Floats per partial record: count, mean − P, M2, min, max, P (padded to 8). */
const REC = 8;

/** WGSL: the (count, mean, M2, min, max) record and Chan's pairwise merge. */
const WGSL_MOMENTS = /* wgsl */ `
struct Moments { n: f32, mean: f32, m2: f32, mn: f32, mx: f32 };
fn merge_moments(a: Moments, b: Moments) -> Moments {
  if (b.n == 0.0) { return a; }
  if (a.n == 0.0) { return b; }
  let n = a.n + b.n;
  let f = b.n / n;
  let d = b.mean - a.mean;
  return Moments(n, a.mean + d * f, a.m2 + b.m2 + d * d * a.n * f, min(a.mn, b.mn), max(a.mx, b.mx));
}
var<workgroup> sh: array<Moments, WG>;
// Tree merge of sh[0..WG) into sh[0]; every thread must call it.
fn tree_merge(li: u32) {
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (li < s) { sh[li] = merge_moments(sh[li], sh[li + s]); }
  }
  workgroupBarrier();
}
fn empty_moments() -> Moments { return Moments(0.0, 0.0, 0.0, bitcast<f32>(0x7f7fffffu), bitcast<f32>(0xff7fffffu)); }
`;

/** WGSL of pass 1's end: merges the threads' records `m` and writes workgroup g's record (every thread calls it). */
const WGSL_WRITE_PARTIAL = /* wgsl */ `
fn write_partial(li: u32, g: u32, m: Moments, pivot: f32) {
  sh[li] = m;
  tree_merge(li);
  if (li == 0u) {
    let r = sh[0];
    let o = g * ${REC}u;
    part[o] = r.n;
    part[o + 1u] = r.mean;
    part[o + 2u] = r.m2;
    part[o + 3u] = r.mn;
    part[o + 4u] = r.mx;
    part[o + 5u] = pivot;
  }
}`;

export function statsPartialProgram(inDtype: DType): ProgramInfo {
  return {
    name: 'stats_partial',
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    outputs: [{ name: 'part', dtype: 'f32' }],
    uniforms: [
      { name: 'groups', type: 'u32' },
      { name: 'chunks', type: 'u32' },
      { name: 'plane_len', type: 'u32' },
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
${WGSL_MOMENTS}
${WGSL_WRITE_PARTIAL}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= u.groups) { return; }
  let plane = g / u.chunks;
  let start = (g - plane * u.chunks) * (WG * ${ITEMS}u);
  let base = plane * u.plane_len;
  let pivot = src_load(base);
  var m = empty_moments();
  var p = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var cnt = 0u;
  for (var k = 0u; k < ${ITEMS}u; k++) {
    let j = start + li + k * WG;
    if (j < u.plane_len) {
      let v = src_load(base + j);
      if (cnt == 0u) { p = v; }
      let d = v - p;
      s1 += d;
      s2 += d * d;
      m.mn = min(m.mn, v);
      m.mx = max(m.mx, v);
      cnt++;
    }
  }
  if (cnt > 0u) {
    m.n = f32(cnt);
    m.mean = (p - pivot) + s1 / m.n;
    m.m2 = max(s2 - s1 * s1 / m.n, 0.0);
  }
  write_partial(li, g, m, pivot);
}`,
  };
}

/** Pass 1 for u8 planes of a multiple of 16 pixels; writes the records statsPartialProgram writes. */
export function statsPartialU8Program(loads: 8 | 16 = statsTuning.u8Loads): ProgramInfo {
  return {
    name: 'stats_partial_u8',
    key: `loads=${loads}`,
    // the input as vectors (only this one is used): 16 pixels per load
    inputs: [{ name: 'src', dtype: 'u8', views: { src_v: 'vec4<u32>' } }],
    outputs: [{ name: 'part', dtype: 'f32' }],
    uniforms: [
      { name: 'groups', type: 'u32' },
      { name: 'chunks', type: 'u32' },
      { name: 'plane_vecs', type: 'u32' },
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
${WGSL_MOMENTS}
${WGSL_WRITE_PARTIAL}
var<private> s1: u32;
var<private> s2: u32;
var<private> lo: vec4<u32>;
var<private> hi: vec4<u32>;
// 4 pixels: Σv and Σv² as packed 4×8-bit dot products (one instruction each where the GPU has them)
fn add_word(w: u32) {
  s1 += dot4U8Packed(w, 0x01010101u);
  s2 += dot4U8Packed(w, w);
  let v = unpack4xU8(w);
  lo = min(lo, v);
  hi = max(hi, v);
}
fn add_vec(q: vec4<u32>) {
  add_word(q.x);
  add_word(q.y);
  add_word(q.z);
  add_word(q.w);
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= u.groups) { return; }
  let plane = g / u.chunks;
  let start = (g - plane * u.chunks) * ${WG * loads}u;
  let base = plane * u.plane_vecs;
  let pivot = f32(src_v[base].x & 0xffu);
  s1 = 0u;
  s2 = 0u;
  lo = vec4<u32>(255u);
  hi = vec4<u32>(0u);
  var loads = 0u;
  if (start + ${WG * loads}u <= u.plane_vecs) {
    ${wgslBatchedLoads('src_v', 'base + start + li', 'WG', loads, (q) => `add_vec(${q});`)}
    loads = ${loads}u;
  } else {
    for (var j = start + li; j < u.plane_vecs && j < start + ${WG * loads}u; j += WG) {
      add_vec(src_v[base + j]);
      loads++;
    }
  }
  var m = empty_moments();
  if (loads > 0u) {
    let n = loads * 16u;
    let l = min(min(lo.x, lo.y), min(lo.z, lo.w));
    let h = max(max(hi.x, hi.y), max(hi.z, hi.w));
    m = Moments(f32(n), f32(s1) / f32(n) - pivot, f32(n * s2 - s1 * s1) / f32(n), f32(l), f32(h));
  }
  write_partial(li, g, m, pivot);
}`,
  };
}

export function statsFinalProgram(): ProgramInfo {
  return {
    name: 'stats_final',
    key: '',
    inputs: [{ name: 'part', dtype: 'f32' }],
    outputs: [{ name: 'stats', dtype: 'f32' }],
    uniforms: [
      { name: 'planes', type: 'u32' },
      { name: 'chunks', type: 'u32' },
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
${WGSL_MOMENTS}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let plane = linear_workgroup(wid, nwg);
  if (plane >= u.planes) { return; }
  var m = empty_moments();
  for (var c = li; c < u.chunks; c += WG) {
    let o = (plane * u.chunks + c) * ${REC}u;
    m = merge_moments(m, Moments(part[o], part[o + 1u], part[o + 2u], part[o + 3u], part[o + 4u]));
  }
  sh[li] = m;
  tree_merge(li);
  if (li == 0u) {
    let r = sh[0];
    let pivot = part[plane * u.chunks * ${REC}u + 5u];
    let o = plane * 4u;
    stats[o] = r.mn;
    stats[o + 1u] = r.mx;
    stats[o + 2u] = pivot + r.mean;
    stats[o + 3u] = sqrt(max(r.m2 / r.n, 0.0));
  }
}`,
  };
}

/**
 * GPU pass 1 alone: records it and returns the pending partial records ([planes · chunks, REC] f32)
 * and the chunks per plane (the bench times it apart from the final merge).
 */
export function statsPartials(x: Tensor, planes: number, planeLen: number): { part: Tensor; chunks: number } {
  const gpu = x.gpu.gpu;
  const u8 = x.dtype === 'u8' && planeLen % 16 === 0;
  const chunks = Math.ceil(planeLen / (u8 ? WG * statsTuning.u8Loads * 16 : WG * ITEMS));
  const groups = planes * chunks;
  const part = Tensor.empty(gpu, [groups, REC], 'f32');
  if (u8) {
    const uniforms = { groups, chunks, plane_vecs: planeLen / 16 };
    gpu.dispatch({ program: statsPartialU8Program(), inputs: [x.gpu.ref], outputs: [part.gpu.ref], uniforms, workgroups: groups });
  } else {
    gpu.dispatch({
      program: statsPartialProgram(x.dtype),
      inputs: [x.gpu.ref],
      outputs: [part.gpu.ref],
      uniforms: { groups, chunks, plane_len: planeLen },
      workgroups: groups,
    });
  }
  return { part, chunks };
}

/** GPU: records both passes; returns the pending f32 [N, C, 4] tensor. */
function statsGpu(x: Tensor, n: number, c: number, planeLen: number): Tensor {
  const planes = n * c;
  const { part, chunks } = statsPartials(x, planes, planeLen);
  const out = Tensor.empty(x.gpu.gpu, [n, c, 4], 'f32');
  x.gpu.gpu.dispatch({ program: statsFinalProgram(), inputs: [part.gpu.ref], outputs: [out.gpu.ref], uniforms: { planes, chunks }, workgroups: planes });
  part.dispose();
  return out;
}

/**
 * min, max, mean and population standard deviation of each channel of each image: f32 [N, C, 4].
 * Runs where `x` lives; a GPU result stays on the GPU.
 * @example const s = await imageStats(img).toCpu();   // s.data[(n*C + c)*4 + 2] is the mean
 */
export function imageStats(x: Tensor): Tensor {
  const d = checkImage('x', x);
  const planeLen = d.h * d.w;
  return onDevice(x, {
    gpu: () => statsGpu(x, d.n, d.c, planeLen),
    cpu: () => {
      const src = x.data;
      const f16 = x.dtype === 'f16';
      const out = new Float32Array(d.n * d.c * 4);
      const plane = new Float64Array(planeLen);
      for (let p = 0; p < d.n * d.c; p++) {
        const base = p * planeLen;
        let mn = Infinity;
        let mx = -Infinity;
        let sum = 0;
        for (let j = 0; j < planeLen; j++) {
          // i32 is read as f32, as on the GPU
          const v = f16 ? readElement('f16', src, base + j) : Math.fround(src[base + j]!);
          plane[j] = v;
          if (v < mn) mn = v;
          if (v > mx) mx = v;
          sum += v;
        }
        const mean = sum / planeLen;
        let m2 = 0;
        for (let j = 0; j < planeLen; j++) m2 += (plane[j]! - mean) ** 2;
        out.set([mn, mx, mean, Math.sqrt(m2 / planeLen)], p * 4);
      }
      return Tensor.fromArray(out, [d.n, d.c, 4], 'f32');
    },
  });
}

/** Every program variant of this file, for compile-all tests. */
export function imageStatsPrograms(dtypes: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16']): ProgramInfo[] {
  return [...dtypes.map((dt) => statsPartialProgram(dt)), statsPartialU8Program(8), statsPartialU8Program(16), statsFinalProgram()];
}
