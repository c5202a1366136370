/**
 * Canny edge detector, as OpenCV's cv.Canny(src, dst, low, high, ksize, L2gradient) on u8 input:
 *  - Sobel derivatives dx, dy with aperture ksize 3, 5 or 7 and BORDER_REPLICATE, in integers (CV_16S);
 *    for ksize 7 OpenCV scales the derivatives by 1/16 (rounded half to even, as saturate_cast<short>)
 *    and divides both thresholds by 16; so does this op.
 *  - magnitude |dx| + |dy| (L1, default) or dx² + dy² (l2gradient; the thresholds are then squared,
 *    after clamping to 32767), thresholds floored to integers; low and high are swapped when low > high.
 *  - non-maximum suppression in 4 sectors with OpenCV's integer tangent test (tan 22.5° = 13573 / 2^15):
 *    horizontal m > left && m >= right, vertical m > up && m >= down, diagonals strict on both sides;
 *    magnitudes outside the image count as 0.
 *  - hysteresis: candidates are pixels with m > low that survive NMS, strong ones have m > high; an edge
 *    is every candidate 8-connected (through candidates) to a strong one. Output u8 255 / 0.
 * Input: a u8 single-channel batch N×1×H×W (OpenCV's multi-channel variant is not provided: convert
 * to gray first). Integer math throughout, so the CPU reference reproduces OpenCV bit for bit and the
 * GPU reproduces the CPU reference bit for bit.
 *
 * GPU: (1) one pixel kernel computes the Sobel gradient at the pixel and, for the NMS comparison, at its
 * two neighbours along the gradient sector, and writes a candidate map (0 none, 1 weak, 2 strong);
 * (2) hysteresis is connected-component labelling of the candidate map (the block union-find of
 * components.ts: init, merge, compress), where compress also flags each tree that holds a strong pixel;
 * (3) a pixel kernel writes 255 for candidates whose tree is flagged. A fixed five dispatches, no
 * iterate-until-no-change loop and no readback, however long the edge chains are.
 */
import { onDevice } from '../../device.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { invalidParameter, numberInRange } from '../../validate.js';
import { checkDType, checkImage } from '../image.js';
import { pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { hysteresisCpu, hysteresisKeepProgram, recordHysteresis } from './hysteresis.js';
import { cclCompressProgram } from './components.js';

export type CannyKsize = 3 | 5 | 7;

export interface CannyOptions {
  /** Lower hysteresis threshold (0 to 1e6), in magnitude units as OpenCV's threshold1. */
  low: number;
  /** Upper hysteresis threshold (0 to 1e6), as OpenCV's threshold2. */
  high: number;
  /** Sobel aperture 3, 5 or 7 (default 3). */
  ksize?: CannyKsize;
  /** L2 magnitude sqrt(dx² + dy²) instead of |dx| + |dy| (default false). */
  l2gradient?: boolean;
}

const SOBEL: Record<CannyKsize, { smooth: number[]; deriv: number[] }> = {
  3: { smooth: [1, 2, 1], deriv: [-1, 0, 1] },
  5: { smooth: [1, 4, 6, 4, 1], deriv: [-1, -2, 0, 2, 1] },
  7: { smooth: [1, 6, 15, 20, 15, 6, 1], deriv: [-1, -4, -5, 0, 5, 4, 1] },
};
const TG22 = 13573;

interface Resolved {
  ksize: CannyKsize;
  l2: boolean;
  low: number;
  high: number;
}

/** OpenCV's threshold handling: /16 for ksize 7, swap, clamp and square for L2, floor. */
export function cannyThresholds(low: number, high: number, ksize: CannyKsize, l2: boolean): [number, number] {
  let lo = low;
  let hi = high;
  if (ksize === 7) {
    lo /= 16;
    hi /= 16;
  }
  if (lo > hi) [lo, hi] = [hi, lo];
  if (l2) {
    lo = Math.min(32767, lo);
    hi = Math.min(32767, hi);
    if (lo > 0) lo *= lo;
    if (hi > 0) hi *= hi;
  }
  return [Math.floor(lo), Math.floor(hi)];
}

function resolve(x: Tensor, o: CannyOptions): Resolved {
  checkImage('x', x, [1]);
  checkDType('x', x, ['u8']);
  const low = numberInRange('low', o.low, 0, 1e6);
  const high = numberInRange('high', o.high, 0, 1e6);
  const ksize = o.ksize === undefined ? 3 : o.ksize;
  if (ksize !== 3 && ksize !== 5 && ksize !== 7) throw invalidParameter('ksize', '3, 5 or 7', o.ksize);
  const l2 = o.l2gradient === undefined ? false : o.l2gradient;
  if (typeof l2 !== 'boolean') throw invalidParameter('l2gradient', 'a boolean', o.l2gradient);
  if (x.size >= 2 ** 31) throw invalidParameter('x', 'fewer than 2^31 pixels', `[${x.shape.join(', ')}]`);
  const [lo, hi] = cannyThresholds(low, high, ksize, l2);
  return { ksize, l2, low: lo, high: hi };
}

export function cannyNmsProgram(ksize: CannyKsize, l2: boolean): ProgramInfo {
  const { smooth, deriv } = SOBEL[ksize];
  const r = (ksize - 1) / 2;
  return pixelProgram({
    name: 'canny_nms',
    key: `k=${ksize};l2=${l2}`,
    inputs: [{ name: 'src', dtype: 'u8' }],
    output: 'u8',
    border: 'replicate',
    uniforms: [
      { name: 'low', type: 'i32' },
      { name: 'high', type: 'i32' },
    ],
    pixel: /* wgsl */ `
const K: i32 = ${ksize};
const R: i32 = ${r};
// ksize 7: OpenCV scales the derivative by 1/16 with saturate_cast<short> (round half to even)
fn scale16(v: i32) -> i32 {
  let q = v >> 4u;
  let rem = v & 15;
  if (rem > 8 || (rem == 8 && (q & 1) == 1)) { return q + 1; }
  return q;
}
fn grad(n: u32, y: i32, x: i32) -> vec2<i32> {
  var sm = array<i32, ${ksize}>(${smooth.join(', ')});
  var de = array<i32, ${ksize}>(${deriv.join(', ')});
  var gx = 0;
  var gy = 0;
  for (var i = 0; i < K; i++) {
    for (var j = 0; j < K; j++) {
      let v = i32(src_at(n, 0u, y + i - R, x + j - R));
      gx += sm[i] * de[j] * v;
      gy += de[i] * sm[j] * v;
    }
  }
  ${ksize === 7 ? 'return vec2<i32>(scale16(gx), scale16(gy));' : 'return vec2<i32>(gx, gy);'}
}
fn magnitude(d: vec2<i32>) -> i32 {
  ${l2 ? 'return d.x * d.x + d.y * d.y;' : 'return abs(d.x) + abs(d.y);'}
}
fn mag_at(n: u32, y: i32, x: i32) -> i32 {
  let s = u.src_shape;
  if (y < 0 || x < 0 || y >= i32(s.z) || x >= i32(s.w)) { return 0; }
  return magnitude(grad(n, y, x));
}
// 0: not an edge, 1: weak candidate, 2: strong
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let yi = i32(y);
  let xi = i32(x);
  let d = grad(n, yi, xi);
  let m = magnitude(d);
  if (m <= u.low) { return 0.0; }
  let ax = abs(d.x);
  let ay = abs(d.y) << 15u;
  let tg22x = ax * ${TG22};
  var keep = false;
  if (ay < tg22x) {
    keep = m > mag_at(n, yi, xi - 1) && m >= mag_at(n, yi, xi + 1);
  } else {
    let tg67x = tg22x + (ax << 16u);
    if (ay > tg67x) {
      keep = m > mag_at(n, yi - 1, xi) && m >= mag_at(n, yi + 1, xi);
    } else {
      let s = select(1, -1, (d.x ^ d.y) < 0);
      keep = m > mag_at(n, yi - 1, xi - s) && m > mag_at(n, yi + 1, xi + s);
    }
  }
  if (!keep) { return 0.0; }
  return select(1.0, 2.0, m > u.high);
}`,
  });
}

/** Every program variant, for the compile-all test. */
export function cannyPrograms(): ProgramInfo[] {
  const out: ProgramInfo[] = [];
  for (const k of [3, 5, 7] as const) for (const l2 of [false, true]) out.push(cannyNmsProgram(k, l2));
  out.push(cclCompressProgram(8, 'u8', 'flag'), hysteresisKeepProgram(8));
  return out;
}

/**
 * Canny edges of each image of a u8 N×1×H×W batch; u8 output, 255 on edges. Runs where `x` lives.
 * @example canny(gray, { low: 50, high: 150 })
 * @example canny(gray, { low: 20, high: 60, ksize: 5, l2gradient: true })
 * @throws KensaError for non-u8 or multi-channel input, thresholds outside 0..1e6, ksize not 3, 5 or 7.
 */
export function canny(x: Tensor, options: CannyOptions): Tensor {
  const o = resolve(x, options);
  const [N, , H, W] = x.shape as [number, number, number, number];
  const shape: Dims4 = [N, 1, H, W];
  return onDevice(x, {
    gpu: (gpu) => {
      using st = runPixelProgram(cannyNmsProgram(o.ksize, o.l2), [x], shape, 'u8', { low: o.low, high: o.high });
      return recordHysteresis(gpu, st, 8);
    },
    cpu: () => cannyCpu(x, o),
  });
}

/** Candidate map of the CPU reference: 0 none, 1 weak, 2 strong (same encoding as the GPU). */
function cannyCandidates(src: ArrayLike<number>, off: number, H: number, W: number, o: Resolved): Uint8Array {
  const { smooth, deriv } = SOBEL[o.ksize];
  const r = (o.ksize - 1) / 2;
  const dx = new Int32Array(H * W);
  const dy = new Int32Array(H * W);
  const mag = new Int32Array((H + 2) * (W + 2)); // zero frame, as OpenCV's magnitude ring buffer
  const clampi = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  const scale16 = (v: number) => {
    const q = Math.floor(v / 16);
    const rem = v - q * 16;
    return rem > 8 || (rem === 8 && (q & 1) === 1) ? q + 1 : q;
  };
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let gx = 0;
      let gy = 0;
      for (let i = 0; i < o.ksize; i++) {
        const row = off + clampi(y + i - r, H) * W;
        for (let j = 0; j < o.ksize; j++) {
          const v = src[row + clampi(x + j - r, W)]!;
          gx += smooth[i]! * deriv[j]! * v;
          gy += deriv[i]! * smooth[j]! * v;
        }
      }
      if (o.ksize === 7) {
        gx = scale16(gx);
        gy = scale16(gy);
      }
      dx[y * W + x] = gx;
      dy[y * W + x] = gy;
      mag[(y + 1) * (W + 2) + x + 1] = o.l2 ? gx * gx + gy * gy : Math.abs(gx) + Math.abs(gy);
    }
  }
  const M = (y: number, x: number) => mag[(y + 1) * (W + 2) + x + 1]!;
  const st = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const m = M(y, x);
      if (m <= o.low) continue;
      const xs = dx[y * W + x]!;
      const ys = dy[y * W + x]!;
      const ax = Math.abs(xs);
      const ay = Math.abs(ys) * 32768;
      const tg22x = ax * TG22;
      let keep: boolean;
      if (ay < tg22x) keep = m > M(y, x - 1) && m >= M(y, x + 1);
      else if (ay > tg22x + ax * 65536) keep = m > M(y - 1, x) && m >= M(y + 1, x);
      else {
        const s = (xs ^ ys) < 0 ? -1 : 1;
        keep = m > M(y - 1, x - s) && m > M(y + 1, x + s);
      }
      if (keep) st[y * W + x] = m > o.high ? 2 : 1;
    }
  }
  return st;
}

function cannyCpu(x: Tensor, o: Resolved): Tensor {
  const [N, , H, W] = x.shape as [number, number, number, number];
  const out = new Uint8Array(N * H * W);
  const src = x.data;
  for (let n = 0; n < N; n++) {
    const off = n * H * W;
    // hysteresis: flood from strong pixels through candidates, 8-connected (OpenCV's stack)
    hysteresisCpu(cannyCandidates(src, off, H, W, o), H, W, 8, out, off);
  }
  return Tensor.fromArray(out, [N, 1, H, W], 'u8');
}
