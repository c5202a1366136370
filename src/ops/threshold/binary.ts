/**
 * Fixed-level thresholding, as OpenCV's cv::threshold with THRESH_BINARY / THRESH_BINARY_INV:
 *   binary      dst = src >  thresh ? maxval : 0
 *   binary_inv  dst = src >  thresh ? 0 : maxval
 * The comparison is strict and made in f32 (OpenCV casts thresh to float for 32F images; for
 * integer images it compares against cvFloor(thresh), which is the same predicate for integer
 * pixels). maxval is written with saturate_cast to the output dtype (round half to even and
 * clamp; f16 clamps to ±65504), so u8 output of maxval 300 is 255 as in OpenCV.
 * Defaults: maxval 255 for integer inputs, 1 for float inputs (f32, f16); output dtype = input's.
 * Differences from OpenCV: an output `dtype` option (OpenCV always writes the input depth); i32
 * inputs are accepted and compared in f32 (exact for |v| < 2^24); no 3-channel special casing is
 * needed since every channel plane is thresholded alike. No border: the op is pointwise.
 * GPU: a fixed level is an elementwise pointwise op (pointwise.ts: 16 pixels per thread with
 * 16-byte loads and stores where planes hold a multiple of 16 pixels); Otsu's per-plane levels
 * take a program of their own, one thread per 32-bit output word.
 */
import { onDevice } from '../../device.js';
import { ELEMENTS_PER_WORD, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { numberInRange, oneOf } from '../../validate.js';
import { checkImage, outDType } from '../image.js';
import { cpuLoader, cpuPixelKernel, packExpr, type Dims4 } from '../../kernels/pixel.js';
import { pointwisePrograms, runPointwise, type PointwiseSpec } from '../../kernels/pointwise.js';

export const THRESHOLD_TYPES = ['binary', 'binary_inv'] as const;
export type ThresholdType = (typeof THRESHOLD_TYPES)[number];

export interface ThresholdOptions {
  /** Threshold; pixels strictly above it are "on". Any finite number. */
  thresh: number;
  /** Value of "on" pixels; default 255 for integer inputs, 1 for f32/f16 inputs. */
  maxval?: number;
  /** 'binary' (default) or 'binary_inv'. */
  type?: ThresholdType;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

const WORKGROUP = 256;

/** Default maxval of a dtype: 255 for integer inputs, 1 for float ones. */
export function defaultMaxval(dtype: DType): number {
  return dtype === 'f32' || dtype === 'f16' ? 1 : 255;
}

/** The elementwise spec of a fixed-level threshold (uniforms thresh, maxval). */
function thresholdSpec(inDtype: DType, outDtype: DType, type: ThresholdType): PointwiseSpec {
  const [on, off] = type === 'binary' ? ['u.maxval', '0.0'] : ['0.0', 'u.maxval'];
  return {
    name: 'threshold',
    key: `type=${type}`,
    input: inDtype,
    output: outDtype,
    planes: false,
    elementwise: true,
    uniforms: [
      { name: 'thresh', type: 'f32' },
      { name: 'maxval', type: 'f32' },
    ],
    body: /* wgsl */ `
fn map4(v: vec4<f32>, c: u32) -> vec4<f32> {
  return select(vec4<f32>(${off}), vec4<f32>(${on}), v > vec4<f32>(u.thresh));
}`,
  };
}

/** Threshold program with per-plane levels: the level of plane p = (n·C + c) is read from the f32 tensor `thr` (Otsu). */
export function thresholdPlanesProgram(inDtype: DType, outDtype: DType, type: ThresholdType): ProgramInfo {
  const k = ELEMENTS_PER_WORD[outDtype];
  const { decl, store } = packExpr(outDtype);
  const [on, off] = type === 'binary' ? ['u.maxval', '0.0'] : ['0.0', 'u.maxval'];
  return {
    name: 'threshold_planes',
    key: `type=${type}`,
    inputs: [
      { name: 'x', dtype: inDtype },
      { name: 'thr', dtype: 'f32' },
    ],
    outputs: [{ name: 'out', dtype: outDtype }],
    uniforms: [
      { name: 'numel', type: 'u32' },
      { name: 'words', type: 'u32' },
      { name: 'maxval', type: 'f32' },
      { name: 'plane_size', type: 'u32' },
      { name: 'planes', type: 'u32' },
    ],
    workgroupSize: WORKGROUP,
    body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let w = linear_workgroup(wid, nwg) * WG + li;
  if (w >= u.words) { return; }
  var i = w * ${k}u;
  var p = i / u.plane_size;
  var next = (p + 1u) * u.plane_size;
  var t = thr_load(min(p, u.planes - 1u));
  ${decl}
  for (var j = 0u; j < ${k}u; j++) {
    if (i >= next) { p++; next += u.plane_size; t = thr_load(min(p, u.planes - 1u)); }
    if (i < u.numel) { v[j] = select(${off}, ${on}, x_load(i) > t); }
    i++;
  }
  ${store}
}`,
  };
}

/** Records a fixed-level threshold of a GPU tensor. */
export function runThreshold(x: Tensor, outDtype: DType, type: ThresholdType, thresh: number, maxval: number): Tensor {
  return runPointwise(thresholdSpec(x.dtype, outDtype, type), x, x.shape as Dims4, { thresh, maxval });
}

/** Records a threshold of a GPU tensor with per-plane levels `thr` ([planes] f32). */
export function runThresholdPlanes(x: Tensor, outDtype: DType, type: ThresholdType, maxval: number, thr: Tensor): Tensor {
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, x.shape, outDtype);
  const words = Math.ceil(x.size / ELEMENTS_PER_WORD[outDtype]);
  const [, , H, W] = x.shape as Dims4;
  gpu.dispatch({
    program: thresholdPlanesProgram(x.dtype, outDtype, type),
    inputs: [x.gpu.ref, thr.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { numel: x.size, words, maxval, plane_size: H * W, planes: x.size / (H * W) },
    workgroups: Math.ceil(words / WORKGROUP),
  });
  return out;
}

/** CPU reference of the pointwise threshold; `thrOf(plane)` gives the threshold of a plane. */
export function cpuThreshold(x: Tensor, outDtype: DType, type: ThresholdType, thrOf: (plane: number) => number, maxval: number): Tensor {
  const [N, C, H, W] = x.shape as Dims4;
  const load = cpuLoader(x);
  const m = Math.fround(maxval);
  const [on, off] = type === 'binary' ? [m, 0] : [0, m];
  return cpuPixelKernel([N, C, H, W], outDtype, (n, c, y, xx) => {
    const i = ((n * C + c) * H + y) * W + xx;
    const v = Math.fround(load(i));
    return v > Math.fround(thrOf(n * C + c)) ? on : off;
  });
}

/**
 * Thresholds every pixel against a fixed level (cv::threshold THRESH_BINARY / _INV). Runs where `x` lives.
 * @example threshold(gray, { thresh: 128 })                       // u8 → 0 / 255
 * @example threshold(prob, { thresh: 0.5, dtype: 'u8', maxval: 255 })  // f32 → u8 mask
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for a non-finite thresh or maxval, an unknown type.
 */
export function threshold(x: Tensor, options: ThresholdOptions): Tensor {
  checkImage('x', x);
  const o = options ?? ({} as ThresholdOptions);
  const thresh = numberInRange('thresh', o.thresh, -3.4e38, 3.4e38);
  const maxval = o.maxval === undefined ? defaultMaxval(x.dtype) : numberInRange('maxval', o.maxval, -3.4e38, 3.4e38);
  const type = o.type === undefined ? 'binary' : oneOf('type', o.type, THRESHOLD_TYPES);
  const dtype = outDType(o.dtype, x.dtype);
  return onDevice(x, {
    gpu: () => runThreshold(x, dtype, type, thresh, maxval),
    cpu: () => cpuThreshold(x, dtype, type, () => thresh, maxval),
  });
}

/** Every program variant of this file, for compile-all tests. */
export function thresholdPrograms(inDtypes: readonly DType[], outDtypes: readonly DType[]): ProgramInfo[] {
  return inDtypes.flatMap((i) =>
    outDtypes.flatMap((o) => THRESHOLD_TYPES.flatMap((t) => [...pointwisePrograms(thresholdSpec(i, o, t)), thresholdPlanesProgram(i, o, t)])),
  );
}
