/**
 * The backend contract (after tinygrad's Allocator/Program and Kysely's dialect): allocate, free,
 * upload, download and run an op. Two devices implement it: WebGPU (one Gpu; ops record their
 * programs into its one command stream per submission) and the CPU reference (typed arrays; ops
 * run their TypeScript reference). An op is a pair of implementations (defineOp); the device its
 * input tensors share picks one, so op code never asks where it runs.
 */
import { KensaError } from './errors.js';
import type { Tensor } from './tensor.js';
import type { BufferRef, Gpu } from './gpu/gpu.js';

/** One step's two implementations; the device of its inputs runs one of them. */
export interface Impl<R> {
  /** Records the program(s) on `gpu`, the inputs' GPU. */
  readonly gpu: (gpu: Gpu) => R;
  /** The CPU reference. */
  readonly cpu: () => R;
}

/** An op's two implementations over the same arguments: the inputs first, then its parameters. */
export interface Op<A extends OpArgs, R> {
  readonly name: string;
  readonly gpu: (...args: A) => R;
  readonly cpu: (...args: A) => R;
}

/** The inputs (one tensor or a list, all on one device), then any parameters. */
export type OpArgs = [Tensor | readonly Tensor[], ...unknown[]];

export interface Device<H = unknown> {
  readonly kind: 'cpu' | 'gpu';
  /** The open Gpu for 'gpu'; null for 'cpu'. */
  readonly gpu: Gpu | null;
  /** Storage for `bytes` bytes (GPU: a pooled buffer; CPU: a zeroed byte array). */
  alloc(bytes: number): H;
  /** Gives storage back (GPU: to the pool). */
  free(handle: H): void;
  upload(handle: H, bytes: Uint8Array): Promise<void>;
  /** The first `bytes` bytes of the storage. */
  download(handle: H, bytes: number): Promise<Uint8Array>;
  /** Runs this device's implementation. */
  run<R>(impl: Impl<R>): R;
}

export const cpuDevice: Device<Uint8Array> = Object.freeze({
  kind: 'cpu',
  gpu: null,
  alloc: (bytes: number) => new Uint8Array(bytes),
  free: () => {},
  upload: async (handle: Uint8Array, bytes: Uint8Array) => handle.set(bytes),
  download: async (handle: Uint8Array, bytes: number) => handle.slice(0, bytes),
  run: <R>(impl: Impl<R>): R => impl.cpu(),
});

const gpuDevices = new WeakMap<Gpu, Device<BufferRef>>();

/** The contract over one Gpu (one object per Gpu). */
export function webgpuDevice(gpu: Gpu): Device<BufferRef> {
  let d = gpuDevices.get(gpu);
  if (!d) {
    d = Object.freeze({
      kind: 'gpu',
      gpu,
      alloc: (bytes: number) => gpu.alloc(bytes),
      free: (ref: BufferRef) => gpu.free(ref),
      upload: (ref: BufferRef, bytes: Uint8Array) => gpu.upload(ref, bytes),
      download: async (ref: BufferRef, bytes: number) => new Uint8Array(await gpu.read(ref, bytes)),
      run: <R>(impl: Impl<R>): R => impl.gpu(gpu),
    });
    gpuDevices.set(gpu, d);
  }
  return d;
}

/** The device a tensor lives on. */
export function deviceOf(t: Tensor): Device {
  const s = t.storage;
  return 'gpu' in s ? webgpuDevice(s.gpu) : cpuDevice;
}

/** The one device all tensors live on; KENSA_ERR_DEVICE_MISMATCH when they differ. */
export function sharedDevice(tensors: readonly Tensor[]): Device {
  const first = deviceOf(tensors[0]!);
  for (const t of tensors) {
    if (deviceOf(t) !== first)
      throw new KensaError('KENSA_ERR_DEVICE_MISMATCH', 'Expected all tensors of an operation on one device but received tensors on different devices');
  }
  return first;
}

/** Runs `impl` on the one device `inputs` share (KENSA_ERR_DEVICE_MISMATCH when they differ). */
export function onDevice<R>(inputs: Tensor | readonly Tensor[], impl: Impl<R>): R {
  return sharedDevice(Array.isArray(inputs) ? inputs : [inputs as Tensor]).run(impl);
}

/**
 * An op as a function: its inputs must share one device, whose implementation runs.
 * @example const scale = defineOp({ name: 'scale', gpu: (x: Tensor, k: number) => …, cpu: (x: Tensor, k: number) => … });
 */
export function defineOp<A extends OpArgs, R>(op: Op<A, R>): (...args: A) => R {
  return (...args: A): R => onDevice(args[0], { gpu: () => op.gpu(...args), cpu: () => op.cpu(...args) });
}
