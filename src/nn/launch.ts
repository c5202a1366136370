/**
 * What every nn kernel shares: the launch counter (a step's kernel launches, counted the same on
 * both devices so a CPU test pins what the GPU will dispatch), output allocation on an input's
 * device, and the layout helpers (broadcast strides, collapsed dimensions) the engines index with.
 */
import { deviceOf } from '../device.js';
import { KensaError } from '../errors.js';
import type { DispatchArgs, Gpu } from '../gpu/gpu.js';
import { type Shape, Tensor } from '../tensor.js';

let launches = 0;

/** Kernel launches made by nn primitives in this process (a GPU dispatch, or its CPU reference run). */
export function nnDispatches(): number {
  return launches;
}

export function launchGpu(gpu: Gpu, args: DispatchArgs): void {
  launches++;
  gpu.dispatch(args);
}

/** Counts a launch that is not a launchGpu: a CPU reference run (the one launch its GPU program would be), or another family's program. */
export function launchCpu(): void {
  launches++;
}

/**
 * Runs another family's op (the convolution family dispatches itself) and counts its launches:
 * the dispatches it recorded on the GPU, one for its CPU reference.
 */
export function countedOp<T>(like: Tensor, op: () => T): T {
  const gpu = gpuOf(like);
  if (!gpu) {
    launches++;
    return op();
  }
  const before = gpu.stats.dispatches;
  const result = op();
  launches += gpu.stats.dispatches - before;
  return result;
}

/** The Gpu a tensor lives on, or null on the CPU. */
export function gpuOf(t: Tensor): Gpu | null {
  return deviceOf(t).gpu;
}

/** An f32 output on `like`'s device; uninitialised on the GPU, zeros on the CPU. */
export function emptyOn(like: Tensor, shape: Shape): Tensor {
  const gpu = gpuOf(like);
  return gpu ? Tensor.empty(gpu, shape, 'f32') : Tensor.zeros(shape, 'f32');
}

/** An f32 tensor of zeros on `like`'s device (a cleared buffer on the GPU, no program). */
export function zerosOn(like: Tensor, shape: Shape): Tensor {
  const gpu = gpuOf(like);
  if (!gpu) return Tensor.zeros(shape, 'f32');
  const t = Tensor.empty(gpu, shape, 'f32');
  gpu.clear(t.gpu.ref);
  return t;
}

/** The numbers of a CPU tensor's storage (views index it through offset and strides). */
export function cpuStorage(t: Tensor): ArrayLike<number> & { [i: number]: number } {
  const s = t.storage;
  if (!('data' in s))
    throw new KensaError('KENSA_ERR_DEVICE_MISMATCH', 'Expected all tensors of an operation on one device but received tensors on different devices');
  return s.data as Float32Array;
}

/** Shape `a` and `b` broadcast to (NumPy rules, aligned on the right); KENSA_ERR_SHAPE when they do not. */
export function broadcastShape(nameA: string, a: Shape, nameB: string, b: Shape): number[] {
  const r = Math.max(a.length, b.length);
  const out = new Array<number>(r);
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1)
      throw new KensaError('KENSA_ERR_SHAPE', `Expected shapes that broadcast for ${nameA} and ${nameB} but received [${a.join(', ')}] and [${b.join(', ')}]`);
    out[i] = Math.max(da, db);
  }
  return out;
}

/** Strides reading tensor `t` (or view) over `shape` it broadcasts to: 0 along broadcast axes. */
export function broadcastStrides(t: Tensor, shape: Shape): number[] {
  const r = shape.length;
  const lead = r - t.shape.length;
  return shape.map((d, i) => (i < lead || (t.shape[i - lead] === 1 && d !== 1) ? 0 : t.strides[i - lead]!));
}

/**
 * Drops axes of size 1 and merges neighbours that every operand walks as one axis, so kernels
 * index few dimensions (a contiguous elementwise op over any shape becomes one axis).
 */
export function collapse(shape: Shape, strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * size)) {
      outShape[last] = outShape[last]! * size;
      for (const [k, s] of strides.entries()) outStrides[k]![last] = s[d]!;
    } else {
      outShape.push(size);
      for (const [k, s] of strides.entries()) outStrides[k]!.push(s[d]!);
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

/** Pads a list of at most 8 axis values to the 8 lanes of an `array<vec4u, 2>` uniform (leading lanes). */
export function lanes8(values: readonly number[], fill: number): number[] {
  if (values.length > 8) throw new KensaError('KENSA_ERR_SHAPE', `Expected at most 8 axes but received ${values.length}`);
  return [...new Array<number>(8 - values.length).fill(fill), ...values];
}
