/**
 * Per-image, per-channel histograms, as OpenCV's cv::calcHist with uniform bins over one channel:
 * `bins` equal bins over [lo, hi); lo inclusive, hi exclusive, values outside (and NaN) are ignored.
 * Output: i32 counts of shape [N, C, bins].
 *
 * Bin of a value v in [lo, hi):  clamp(floor((v − lo) · scale), 0, bins − 1),  scale = f32(bins / (hi − lo)),
 * evaluated in f32 on both backends in the same operation order (a subtraction, then a product:
 * no fused multiply-add is possible), so GPU and CPU counts are identical. OpenCV evaluates
 * floor(v·a + b) in double; on u8 images the two agree for every range whose bin width makes
 * (v − lo)·scale exact in f32 (default ranges, power-of-two widths, the usual cases tested), and can
 * differ only for a value lying exactly on a bin boundary that neither f32 nor double represents.
 * Default range: [0, 256) for u8, [0, 65536) for u16; i32, f32 and f16 images need `range`
 * (i32 values are converted to f32 first, as every kernel reads them).
 *
 * GPU: each workgroup histograms a chunk of one plane into workgroup memory
 * (var<workgroup> array<atomic<u32>>), then adds its non-zero bins to the output with one global
 * atomic per bin. Bins are limited to 4096 (16 KiB of workgroup memory, WebGPU's guaranteed size).
 * u8 planes of a multiple of 16 pixels take a faster kernel: 16 pixels per vec4<u32> load, counted
 * per byte value in COPIES interleaved copies (neighbouring lanes hit different banks, so runs of
 * equal values do not serialise on one atomic), then each value's count goes to its bin, computed
 * with the same f32 formula; a whole chunk's loads are issued in batches of 4.
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { UniformField } from '../../gpu/uniforms.js';
import { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, is } from '../../validate.js';
import { checkImage } from '../image.js';
import { wgslBatchedLoads } from '../../gpu/wgsl/common.js';

export interface HistogramOptions {
  /** Number of uniform bins, 1 to 4096. Default 256. */
  bins?: number;
  /** [lo, hi): lo inclusive, hi exclusive. Default [0, 256) for u8, [0, 65536) for u16; required for i32, f32, f16. */
  range?: readonly [number, number];
}

export const MAX_BINS = 4096;
/** Workgroup histogram capacities: one program variant each. */
const CAPACITIES = [256, 1024, 4096] as const;
const WG = 256;
/** Elements per thread per workgroup chunk (chunk = WG · ITEMS). */
const ITEMS = 64;
/** u8 kernel: vec4<u32> loads per thread per chunk (chunk = WG · U8_LOADS · 16 pixels). */
const U8_LOADS = 16;
const U8_CHUNK = WG * U8_LOADS * 16;
/** u8 kernel: interleaved copies of the 256 per-value counters. */
const COPIES = 8;

export interface ResolvedHistogram {
  bins: number;
  lo: number;
  hi: number;
  scale: number;
}

export function resolveHistogram(x: Tensor, o: HistogramOptions): ResolvedHistogram {
  checkImage('x', x);
  const bins = o.bins === undefined ? 256 : integerInRange('bins', o.bins, 1, MAX_BINS);
  let range: readonly [number, number];
  if (o.range === undefined) {
    if (x.dtype === 'u8') range = [0, 256];
    else if (x.dtype === 'u16') range = [0, 65536];
    else throw invalidParameter('range', `an array [lo, hi] (required for ${x.dtype} input)`, o.range);
  } else {
    const r = o.range as unknown;
    if (!Array.isArray(r) || r.length !== 2 || !is.number(r[0]) || !is.number(r[1]) || !(r[0] < r[1])) {
      throw invalidParameter('range', 'an array [lo, hi] of finite numbers with lo < hi', r);
    }
    range = [r[0], r[1]];
  }
  const lo = Math.fround(range[0]);
  const hi = Math.fround(range[1]);
  if (!(lo < hi)) throw invalidParameter('range', 'an array [lo, hi] with lo < hi in single precision', range);
  return { bins, lo, hi, scale: Math.fround(bins / (hi - lo)) };
}

function capacityFor(bins: number): number {
  return CAPACITIES.find((c) => bins <= c)!;
}

/** The uniforms of the bin formula, shared by both kernels. */
const BIN_FIELDS: readonly UniformField[] = [
  { name: 'bins', type: 'u32' },
  { name: 'lo', type: 'f32' },
  { name: 'hi', type: 'f32' },
  { name: 'scale', type: 'f32' },
];

export function histogramProgram(inDtype: DType, capacity: number): ProgramInfo {
  return {
    name: 'histogram',
    key: `cap=${capacity}`,
    inputs: [{ name: 'src', dtype: inDtype }],
    outputs: [{ name: 'hist', dtype: 'i32', atomic: true }],
    uniforms: [
      { name: 'groups', type: 'u32' },
      { name: 'chunks', type: 'u32' },
      { name: 'chunk_len', type: 'u32' },
      { name: 'plane_len', type: 'u32' },
      ...BIN_FIELDS,
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
var<workgroup> local_hist: array<atomic<u32>, ${capacity}>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= u.groups) { return; }
  for (var b = li; b < u.bins; b += WG) { atomicStore(&local_hist[b], 0u); }
  workgroupBarrier();
  let plane = g / u.chunks;
  let start = (g - plane * u.chunks) * u.chunk_len;
  let end = min(start + u.chunk_len, u.plane_len);
  let base = plane * u.plane_len;
  let top = f32(u.bins - 1u);
  for (var j = start + li; j < end; j += WG) {
    let v = src_load(base + j);
    if (v >= u.lo && v < u.hi) {
      let b = u32(clamp(floor((v - u.lo) * u.scale), 0.0, top));
      atomicAdd(&local_hist[b], 1u);
    }
  }
  workgroupBarrier();
  for (var b = li; b < u.bins; b += WG) {
    let count = atomicLoad(&local_hist[b]);
    if (count != 0u) { atomicAdd(&hist[plane * u.bins + b], i32(count)); }
  }
}`,
  };
}

/** The u8 kernel, for planes of a multiple of 16 pixels (so every plane starts on a vec4<u32>). */
export function histogramU8Program(): ProgramInfo {
  return {
    name: 'histogram_u8',
    key: '',
    // the input as vectors (only this one is used): 16 pixels per load
    inputs: [{ name: 'src', dtype: 'u8', views: { src_v: 'vec4<u32>' } }],
    outputs: [{ name: 'hist', dtype: 'i32', atomic: true }],
    uniforms: [{ name: 'groups', type: 'u32' }, { name: 'chunks', type: 'u32' }, { name: 'plane_vecs', type: 'u32' }, ...BIN_FIELDS],
    workgroupSize: WG,
    body: /* wgsl */ `
var<workgroup> counts: array<atomic<u32>, ${256 * COPIES}>;
fn count_vec(q: vec4<u32>, copy: u32) {
  for (var i = 0u; i < 4u; i++) {
    let w = q[i];
    atomicAdd(&counts[(w & 0xffu) * ${COPIES}u + copy], 1u);
    atomicAdd(&counts[((w >> 8u) & 0xffu) * ${COPIES}u + copy], 1u);
    atomicAdd(&counts[((w >> 16u) & 0xffu) * ${COPIES}u + copy], 1u);
    atomicAdd(&counts[(w >> 24u) * ${COPIES}u + copy], 1u);
  }
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= u.groups) { return; }
  for (var i = li; i < ${256 * COPIES}u; i += WG) { atomicStore(&counts[i], 0u); }
  workgroupBarrier();
  let plane = g / u.chunks;
  let start = (g - plane * u.chunks) * ${WG * U8_LOADS}u;
  let end = min(start + ${WG * U8_LOADS}u, u.plane_vecs);
  let base = plane * u.plane_vecs;
  let copy = li % ${COPIES}u;
  if (end - start == ${WG * U8_LOADS}u) {
    ${wgslBatchedLoads('src_v', 'base + start + li', 'WG', U8_LOADS, (q) => `count_vec(${q}, copy);`)}
  } else {
    for (var j = start + li; j < end; j += WG) { count_vec(src_v[base + j], copy); }
  }
  workgroupBarrier();
  // WG == 256: thread li moves the count of value li
  let v = f32(li);
  if (v >= u.lo && v < u.hi) {
    var count = 0u;
    for (var c = 0u; c < ${COPIES}u; c++) { count += atomicLoad(&counts[li * ${COPIES}u + c]); }
    if (count != 0u) {
      let b = u32(clamp(floor((v - u.lo) * u.scale), 0.0, f32(u.bins - 1u)));
      atomicAdd(&hist[plane * u.bins + b], i32(count));
    }
  }
}`,
  };
}

/**
 * Counts of each channel's values in `bins` uniform bins over [lo, hi), per image: i32 [N, C, bins].
 * Runs where `x` lives; a GPU result stays on the GPU.
 * @example histogram(gray)                                  // 256 bins over [0, 256) for u8
 * @example histogram(depth, { bins: 64, range: [0, 2.5] })  // f32 needs a range
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for bins outside 1..4096, a bad or missing range.
 */
export function histogram(x: Tensor, options: HistogramOptions = {}): Tensor {
  const d = checkImage('x', x);
  const r = resolveHistogram(x, options);
  const planes = d.n * d.c;
  const planeLen = d.h * d.w;
  return onDevice(x, {
    gpu: (gpu) => {
      const out = Tensor.empty(gpu, [d.n, d.c, r.bins], 'i32');
      gpu.clear(out.gpu.ref);
      const u8 = x.dtype === 'u8' && planeLen % 16 === 0;
      const chunks = Math.ceil(planeLen / (u8 ? U8_CHUNK : WG * ITEMS));
      const groups = planes * chunks;
      const bins = { bins: r.bins, lo: r.lo, hi: r.hi, scale: r.scale };
      gpu.dispatch({
        program: u8 ? histogramU8Program() : histogramProgram(x.dtype, capacityFor(r.bins)),
        inputs: [x.gpu.ref],
        outputs: [out.gpu.ref],
        uniforms: u8 ? { groups, chunks, plane_vecs: planeLen / 16, ...bins } : { groups, chunks, chunk_len: WG * ITEMS, plane_len: planeLen, ...bins },
        workgroups: groups,
      });
      return out;
    },
    cpu: () => {
      const src = x.data;
      const f16 = x.dtype === 'f16';
      const counts = new Int32Array(planes * r.bins);
      const top = r.bins - 1;
      for (let p = 0; p < planes; p++) {
        const base = p * planeLen;
        const hbase = p * r.bins;
        for (let j = 0; j < planeLen; j++) {
          const v = f16 ? x.at(base + j) : Math.fround(src[base + j]!);
          if (v >= r.lo && v < r.hi) {
            const b = Math.floor(Math.fround(Math.fround(v - r.lo) * r.scale));
            counts[hbase + Math.min(Math.max(b, 0), top)]!++;
          }
        }
      }
      return Tensor.fromArray(counts, [d.n, d.c, r.bins], 'i32');
    },
  });
}

/** Every program variant of this file, for compile-all tests. */
export function histogramPrograms(dtypes: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16']): ProgramInfo[] {
  return [...dtypes.flatMap((dt) => CAPACITIES.map((c) => histogramProgram(dt, c))), histogramU8Program()];
}
