/**
 * Backend selection: where an application's tensors live and its ops run.
 * A Backend is a Device (src/device.ts: alloc, free, upload, download, run) chosen here.
 *   'cpu'   the TypeScript reference implementations; never opens a GPU.
 *   'gpu'   a WebGPU adapter (KENSA_ERR_NO_ADAPTER when none matches).
 *   'auto'  (default) a hardware GPU when there is one; the CPU when there is no adapter; when
 *           the only adapter is a CPU rasteriser (lavapipe, SwiftShader: `gpu.info.isCpu`),
 *           whichever of the two measures faster on a Gaussian blur (sigma 2, 1×1×512×512 u8;
 *           GPU timed with upload and readback, best of 3 each). `backend.reason` says why.
 * The environment variable KENSA_DEVICE (cpu | gpu | auto) replaces the default; an explicit
 * `device` option wins over it.
 */
import { KensaError } from './errors.js';
import { cpuDevice, webgpuDevice, type Device } from './device.js';
import { Gpu } from './gpu/gpu.js';
import { gaussianBlur } from './ops/filters/gaussian.js';
import type { AnyTypedArray, DType } from './dtype.js';
import { Tensor, type Shape } from './tensor.js';
import { invalidParameter, oneOf } from './validate.js';

export const DEVICES = ['cpu', 'gpu', 'auto'] as const;
export type DeviceChoice = (typeof DEVICES)[number];

export interface BackendOptions {
  /** Default: KENSA_DEVICE from the environment, else 'auto'. */
  device?: DeviceChoice;
  /** Index into listAdapters() or a substring of an adapter's name (ignored for 'cpu'). */
  adapter?: number | string;
}

/** What 'auto' measured on a CPU-rasteriser adapter (milliseconds, best of the runs). */
export interface BackendMeasurement {
  gpuMs: number;
  cpuMs: number;
  runs: number;
  op: string;
}

/** The device contract (alloc, free, upload, download, run) plus how and why it was chosen. */
export interface Backend extends Device {
  /** Adapter name, or "cpu (TypeScript reference)". */
  readonly name: string;
  /** Why this backend was chosen (the request, the adapter, and any measurement). */
  readonly reason: string;
  /** Set when 'auto' had to measure. */
  readonly measurement: BackendMeasurement | null;
  /** Moves a tensor where this backend computes (no copy when it is there already). */
  toDevice(t: Tensor): Promise<Tensor>;
  /** A batch from equal-dtype frames, where this backend computes (Tensor.fromFrames). */
  framesToDevice(frames: readonly AnyTypedArray[], shape: Shape, dtype: DType): Promise<Tensor>;
  /** Waits for recorded GPU work and surfaces its errors; nothing to do on the CPU. */
  sync(): Promise<void>;
  /** Releases the GPU device (tensors on it become unusable). */
  close(): void;
}

const CPU_NAME = 'cpu (TypeScript reference)';

function checkDevice(v: unknown, name: string): DeviceChoice {
  return oneOf(name, v, DEVICES);
}

function checkAdapter(v: unknown): number | string | undefined {
  if (v === undefined) return undefined;
  if ((typeof v === 'number' && Number.isInteger(v) && v >= 0) || (typeof v === 'string' && v.length > 0)) return v;
  throw invalidParameter('adapter', 'an adapter index (integer ≥ 0) or a non-empty name substring', v);
}

function cpuBackend(reason: string, measurement: BackendMeasurement | null = null): Backend {
  return {
    ...cpuDevice,
    name: CPU_NAME,
    reason,
    measurement,
    toDevice: (t) => t.toCpu(),
    framesToDevice: (frames, shape, dtype) => Tensor.fromFrames(frames, shape, dtype),
    sync: async () => {},
    close: () => {},
  };
}

function gpuBackend(gpu: Gpu, reason: string, measurement: BackendMeasurement | null = null): Backend {
  return {
    ...webgpuDevice(gpu),
    name: gpu.info.name,
    reason,
    measurement,
    toDevice: (t) => t.toGpu(gpu),
    framesToDevice: (frames, shape, dtype) => Tensor.fromFrames(frames, shape, dtype, gpu),
    sync: () => gpu.sync(),
    close: () => gpu.destroy(),
  };
}

/**
 * Times the 'auto' probe on both backends: Gaussian blur sigma 2 of a 1×1×size×size u8 image;
 * the GPU run includes the upload and the readback (what a CPU-resident frame costs). Best of `runs`.
 */
export async function measureBackends(gpu: Gpu, size = 512, runs = 3): Promise<BackendMeasurement> {
  const data = new Uint8Array(size * size);
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  const x = Tensor.fromArray(data, [1, 1, size, size], 'u8');
  const blur = (t: Tensor) => gaussianBlur(t, { sigma: 2 });
  // compile the pipelines outside the timed runs
  const warm = await x.toGpu(gpu);
  const w = blur(warm);
  await w.toCpu();
  w.dispose();
  warm.dispose();
  let gpuMs = Infinity;
  let cpuMs = Infinity;
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    const g = await x.toGpu(gpu);
    const out = blur(g);
    await out.toCpu();
    gpuMs = Math.min(gpuMs, performance.now() - t0);
    out.dispose();
    g.dispose();
    t0 = performance.now();
    blur(x);
    cpuMs = Math.min(cpuMs, performance.now() - t0);
  }
  await gpu.sync();
  return { gpuMs, cpuMs, runs, op: `gaussianBlur sigma 2 on 1×1×${size}×${size} u8` };
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

/** 'auto' measures once per adapter per process. */
const measured = new Map<string, BackendMeasurement>();

/**
 * Opens the backend an application computes on.
 * @example const be = await openBackend();               // auto (or KENSA_DEVICE)
 * @example const be = await openBackend({ device: 'gpu', adapter: 'NVIDIA' });
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for an unknown device; KENSA_ERR_NO_ADAPTER for 'gpu' without an adapter.
 */
export async function openBackend(options: BackendOptions = {}): Promise<Backend> {
  if (typeof options !== 'object' || options === null) throw invalidParameter('options', 'an object', options);
  const env = process.env.KENSA_DEVICE;
  const fromEnv = options.device === undefined && env !== undefined && env !== '';
  const device = options.device !== undefined ? checkDevice(options.device, 'device') : fromEnv ? checkDevice(env, 'KENSA_DEVICE') : 'auto';
  const adapter = checkAdapter(options.adapter);
  const asked = fromEnv ? `KENSA_DEVICE=${device}` : `device '${device}'`;
  if (device === 'cpu') return cpuBackend(`${asked} requested`);
  if (device === 'gpu') {
    const gpu = await Gpu.open(adapter === undefined ? {} : { adapter });
    return gpuBackend(gpu, `${asked} requested; adapter ${gpu.info.name}`);
  }
  let gpu: Gpu;
  try {
    gpu = await Gpu.open(adapter === undefined ? {} : { adapter });
  } catch (e) {
    if (e instanceof KensaError && e.code === 'KENSA_ERR_NO_ADAPTER') return cpuBackend(`${asked}: no WebGPU adapter (${e.message}); using the CPU`);
    throw e;
  }
  if (!gpu.info.isCpu) return gpuBackend(gpu, `${asked}: hardware adapter ${gpu.info.name}`);
  const earlier = measured.get(gpu.info.name);
  const m = earlier ?? (await measureBackends(gpu));
  measured.set(gpu.info.name, m);
  const when = earlier ? ' (earlier in this process)' : '';
  const why = `${asked}: the only adapter, ${gpu.info.name}, is a CPU rasteriser; measured${when} ${m.op}, best of ${m.runs}: GPU ${fmt(m.gpuMs)} (upload + blur + readback) vs CPU ${fmt(m.cpuMs)}`;
  if (m.gpuMs < m.cpuMs) return gpuBackend(gpu, `${why}; using the GPU`, m);
  gpu.destroy();
  return cpuBackend(`${why}; using the CPU`, m);
}
