/**
 * In-place accumulation y ← y + alpha · x (BLAS axpy), the step gradients and optimizer updates
 * need: one program reads and writes `y`, so no tensor is made. `y` is f32; `x` any dtype of the
 * same shape, read as f32. f32 arithmetic on both backends: alpha · x rounded to f32, then the sum
 * (a GPU compiler may fuse the two into one multiply-add: within one f32 ulp of the reference).
 */
import { defineOp } from '../../device.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { readElement } from '../../dtype.js';
import type { DType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, numberInRange } from '../../validate.js';
import { checkDType, checkSameShape } from '../image.js';

const WG = 256;

export interface AxpyOptions {
  /** Multiplier of x; any number between -1e30 and 1e30. Default 1. */
  alpha?: number;
}

const programs = new Map<DType, ProgramInfo>();

/** The accumulate program for an `x` of `dtype` (y is an f32 read-write output). */
export function axpyProgram(dtype: DType): ProgramInfo {
  let p = programs.get(dtype);
  if (!p) {
    p = {
      name: 'axpy',
      key: '',
      inputs: [{ name: 'x', dtype }],
      outputs: [{ name: 'y', dtype: 'f32' }],
      uniforms: [
        { name: 'numel', type: 'u32' },
        { name: 'alpha', type: 'f32' },
      ],
      workgroupSize: WG,
      body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.numel) { return; }
  y[i] = y[i] + u.alpha * x_load(i);
}`,
    };
    programs.set(dtype, p);
  }
  return p;
}

const accumulate = defineOp({
  name: 'axpy',
  gpu: ([y, x]: readonly [Tensor, Tensor], alpha: number) => {
    const gpu = y.gpu.gpu;
    // a buffer bound both read-only and read-write in one dispatch is invalid in WebGPU
    if (x.gpu.ref.buffer === y.gpu.ref.buffer) throw invalidParameter('x', 'a tensor apart from y (for y += alpha · y, scale y)', 'a view of y');
    gpu.dispatch({
      program: axpyProgram(x.dtype),
      inputs: [x.gpu.ref],
      outputs: [y.gpu.ref],
      uniforms: { numel: y.size, alpha },
      workgroups: Math.ceil(y.size / WG),
    });
    return y;
  },
  cpu: ([y, x]: readonly [Tensor, Tensor], alpha: number) => {
    const out = y.data as Float32Array;
    const a = Math.fround(alpha);
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i]! + Math.fround(a * readElement(x.dtype, x.data, i)));
    return y;
  },
});

/**
 * Adds alpha · x into y in place and returns y. Runs where `y` and `x` live (one device).
 * @example axpy(grad, g)                     // grad += g
 * @example axpy(weights, grad, { alpha: -0.01 })   // a plain SGD step
 * @throws KensaError KENSA_ERR_DTYPE for a y other than f32; KENSA_ERR_SHAPE for x of another shape; KENSA_ERR_INVALID_ARGUMENT for alpha outside ±1e30.
 */
export function axpy(y: Tensor, x: Tensor, options: AxpyOptions = {}): Tensor {
  checkDType('y', y, ['f32']);
  checkSameShape('y', y, 'x', x);
  const alpha = options.alpha === undefined ? 1 : numberInRange('alpha', options.alpha, -1e30, 1e30);
  return accumulate([y, x], alpha);
}

/** Every program variant of this family, for compile-all tests. */
export function axpyPrograms(): ProgramInfo[] {
  return (['u8', 'u16', 'i32', 'f32', 'f16'] as const).map(axpyProgram);
}
