/**
 * Otsu's threshold, as OpenCV's cv::threshold(src, dst, 0, maxval, type | THRESH_OTSU) on CV_8UC1:
 * a 256-bin histogram, then OpenCV's search (getThreshVal_Otsu) for the level t maximising the
 * between-class variance q1·q2·(μ1 − μ2)², in IEEE doubles and in OpenCV's exact order of
 * operations (including its skipping of levels where min(q1, q2) < FLT_EPSILON and the first
 * maximum winning), then dst = src > t ? maxval : 0 (binary) or the inverse.
 * Each channel plane (n, c) gets its own threshold (OpenCV accepts only one channel; for C = 1 this
 * is the same). u8 only: OpenCV also takes 16-bit images, kensa does not (yet).
 *
 * Result: `{ mask, thresholds }` with `thresholds` an f32 tensor of shape [N, C] on the input's
 * device, NOT numbers: on the GPU the whole pipeline (histogram → search → threshold) is recorded
 * without any host synchronisation; `await thresholds.toCpu()` reads the levels when needed.
 *
 * GPU: (1) histogram: each workgroup counts a chunk of one plane in workgroup-memory atomics and
 * adds its nonzero bins to the plane's global histogram (zero-filled first); (2) search: one
 * thread per plane runs OpenCV's loop in software binary64 (./f64.ts, bit-exact with the CPU's
 * doubles; WGSL has no f64), so the threshold equals OpenCV's to the bit; (3) a pointwise
 * threshold pass reading the per-plane level. Planes up to 2^23 pixels are bit-exact (larger ones
 * could meet subnormal intermediates, which the WGSL doubles flush to zero).
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { numberInRange, oneOf } from '../../validate.js';
import { checkDType, checkImage } from '../image.js';
import { cpuThreshold, runThresholdPlanes, THRESHOLD_TYPES, thresholdPlanesProgram, type ThresholdType } from './binary.js';
import { WGSL_F64 } from '../../gpu/wgsl/f64.js';

export interface OtsuOptions {
  /** Value of pixels above the threshold; default 255 (saturated to u8). */
  maxval?: number;
  /** 'binary' (default) or 'binary_inv'. */
  type?: ThresholdType;
}

export interface OtsuResult {
  /** u8 mask of the input's shape. */
  mask: Tensor;
  /** Otsu level of each plane, f32 [N, C], on the input's device. */
  thresholds: Tensor;
}

const WORKGROUP = 256;
/** Pixels a histogram workgroup counts (then 256 global atomics at most). */
const CHUNK = WORKGROUP * 64;
const FLT_EPSILON = 1.1920928955078125e-7;

export function histogramProgram(): ProgramInfo {
  return {
    name: 'otsu_histogram',
    key: '',
    inputs: [{ name: 'x', dtype: 'u8' }],
    outputs: [{ name: 'hist', dtype: 'i32', atomic: true }],
    uniforms: [
      { name: 'plane_size', type: 'u32' },
      { name: 'chunks', type: 'u32' },
      { name: 'groups', type: 'u32' },
    ],
    workgroupSize: WORKGROUP,
    body: /* wgsl */ `
var<workgroup> bins: array<atomic<u32>, 256>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg);
  atomicStore(&bins[li], 0u);
  workgroupBarrier();
  let valid = g < u.groups;
  let plane = g / max(u.chunks, 1u);
  let chunk = g - plane * u.chunks;
  let start = chunk * ${CHUNK}u;
  let end = min(start + ${CHUNK}u, u.plane_size);
  let base = plane * u.plane_size;
  if (valid) {
    for (var i = start + li; i < end; i += WG) {
      atomicAdd(&bins[u32(x_load(base + i))], 1u);
    }
  }
  workgroupBarrier();
  let count = atomicLoad(&bins[li]);
  if (valid && count != 0u) { atomicAdd(&hist[plane * 256u + li], i32(count)); }
}`,
  };
}

export function otsuSearchProgram(): ProgramInfo {
  return {
    name: 'otsu_search',
    key: '',
    inputs: [{ name: 'hist', dtype: 'i32' }],
    outputs: [{ name: 'thr', dtype: 'f32' }],
    uniforms: [
      { name: 'planes', type: 'u32' },
      { name: 'plane_size', type: 'u32' },
    ],
    workgroupSize: 64,
    body: /* wgsl */ `
${WGSL_F64}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let plane = linear_workgroup(wid, nwg) * WG + li;
  if (plane >= u.planes) { return; }
  let base = plane * 256u;
  let one = vec2<u32>(0u, 0x3ff00000u);
  let eps = vec2<u32>(0u, 0x3e800000u);          // FLT_EPSILON = 2^-23
  let one_m_eps = vec2<u32>(0xc0000000u, 0x3fefffffu);  // 1 - 2^-23
  // mu = sum(i * h[i]) is an exact integer (as in OpenCV's double sum), then scaled.
  var sum = vec2<u32>(0u, 0u);
  for (var i = 0u; i < 256u; i++) { sum = u64_add(sum, u32_mul_wide(i, u32(hist[base + i]))); }
  let scale = f64_div(one, f64_from_u32(u.plane_size));
  let mu = f64_mul(f64_from_u64(sum), scale);
  var mu1 = vec2<u32>(0u, 0u);
  var q1 = vec2<u32>(0u, 0u);
  var max_sigma = vec2<u32>(0u, 0u);
  var max_val = 0u;
  for (var i = 0u; i < 256u; i++) {
    let p = f64_mul(f64_from_u32(u32(hist[base + i])), scale);
    mu1 = f64_mul(mu1, q1);
    q1 = f64_add(q1, p);
    let q2 = f64_sub(one, q1);
    if (f64_lt(q1, eps) || f64_lt(q2, eps) || f64_lt(one_m_eps, q1) || f64_lt(one_m_eps, q2)) { continue; }
    mu1 = f64_div(f64_add(mu1, f64_mul(f64_from_u32(i), p)), q1);
    let mu2 = f64_div(f64_sub(mu, f64_mul(q1, mu1)), q2);
    let dm = f64_sub(mu1, mu2);
    let sigma = f64_mul(f64_mul(f64_mul(q1, q2), dm), dm);
    if (f64_lt(max_sigma, sigma)) { max_sigma = sigma; max_val = i; }
  }
  thr_store(plane, f32(max_val));
}`,
  };
}

/** OpenCV's getThreshVal_Otsu on a 256-bin histogram of `total` pixels, in doubles as OpenCV computes it. */
export function otsuLevel(h: ArrayLike<number>, total: number): number {
  let mu = 0;
  const scale = 1 / total;
  for (let i = 0; i < 256; i++) mu += i * h[i]!;
  mu *= scale;
  let mu1 = 0;
  let q1 = 0;
  let maxSigma = 0;
  let maxVal = 0;
  for (let i = 0; i < 256; i++) {
    const p = h[i]! * scale;
    mu1 *= q1;
    q1 += p;
    const q2 = 1 - q1;
    if (Math.min(q1, q2) < FLT_EPSILON || Math.max(q1, q2) > 1 - FLT_EPSILON) continue;
    mu1 = (mu1 + i * p) / q1;
    const mu2 = (mu - q1 * mu1) / q2;
    const sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
    if (sigma > maxSigma) {
      maxSigma = sigma;
      maxVal = i;
    }
  }
  return maxVal;
}

/**
 * Binarises each plane of a u8 batch at its Otsu level. Runs where `x` lives, without host syncs.
 * @example const { mask, thresholds } = otsuThreshold(gray);  const levels = (await thresholds.toCpu()).data;
 * @throws KensaError KENSA_ERR_DTYPE for inputs other than u8; KENSA_ERR_INVALID_ARGUMENT for a bad maxval or type.
 */
export function otsuThreshold(x: Tensor, options: OtsuOptions = {}): OtsuResult {
  const d = checkImage('x', x);
  checkDType('x', x, ['u8']);
  const o = options ?? {};
  const maxval = o.maxval === undefined ? 255 : numberInRange('maxval', o.maxval, -3.4e38, 3.4e38);
  const type: ThresholdType = o.type === undefined ? 'binary' : oneOf('type', o.type, THRESHOLD_TYPES);
  const planes = d.n * d.c;
  const planeSize = d.h * d.w;
  return onDevice(x, {
    gpu: (gpu) => {
      const hist = Tensor.empty(gpu, [planes, 256], 'i32');
      gpu.clear(hist.gpu.ref);
      const chunks = Math.ceil(planeSize / CHUNK);
      gpu.dispatch({
        program: histogramProgram(),
        inputs: [x.gpu.ref],
        outputs: [hist.gpu.ref],
        uniforms: { plane_size: planeSize, chunks, groups: planes * chunks },
        workgroups: planes * chunks,
      });
      const thresholds = Tensor.empty(gpu, [d.n, d.c], 'f32');
      gpu.dispatch({
        program: otsuSearchProgram(),
        inputs: [hist.gpu.ref],
        outputs: [thresholds.gpu.ref],
        uniforms: { planes, plane_size: planeSize },
        workgroups: Math.ceil(planes / 64),
      });
      hist.dispose();
      return { mask: runThresholdPlanes(x, 'u8', type, maxval, thresholds), thresholds };
    },
    cpu: () => {
      const data = x.data;
      const levels = new Float32Array(planes);
      const h = new Int32Array(256);
      for (let p = 0; p < planes; p++) {
        h.fill(0);
        for (let i = p * planeSize; i < (p + 1) * planeSize; i++) h[data[i]!]!++;
        levels[p] = otsuLevel(h, planeSize);
      }
      const mask = cpuThreshold(x, 'u8', type, (p) => levels[p]!, maxval);
      return { mask, thresholds: Tensor.fromArray(levels, [d.n, d.c], 'f32') };
    },
  });
}

/** Every program variant of this file, for compile-all tests. */
export function otsuPrograms(): ProgramInfo[] {
  return [histogramProgram(), otsuSearchProgram(), ...THRESHOLD_TYPES.map((t) => thresholdPlanesProgram('u8' as DType, 'u8', t))];
}
