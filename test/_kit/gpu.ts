/**
 * The GPU every backend test shares (one device per test file). On CI (`CI=true`) or with
 * KENSA_REQUIRE_GPU=1 a missing adapter fails the run; elsewhere GPU tests are skipped with
 * the reason (`{ skip: gpuSkip(gpu) }`), so a laptop without Vulkan still runs the CPU suite.
 * Every test file that touches a GPU imports this module: scripts/test.mjs runs those files
 * one at a time, beside the CPU-only files.
 */
import { after } from 'node:test';
import { Gpu, listAdapters } from '../../src/gpu/gpu.js';
import { tempDir } from './tmp.js';

// measured GEMM choices (src/nn/ops/gemm-store.ts) stay with the test file: none read from or left in the user's cache
process.env.KENSA_CACHE_DIR = tempDir('kensa-cache-');

const requireGpu = process.env.CI === 'true' || process.env.KENSA_REQUIRE_GPU === '1';
let shared: Promise<Gpu | null> | undefined;
let reason = '';

export function testGpu(): Promise<Gpu | null> {
  shared ??= Gpu.open().catch((e: unknown) => {
    if (requireGpu) throw e;
    reason = `no WebGPU adapter: ${e instanceof Error ? e.message : String(e)}`;
    return null;
  });
  // dawn.node keeps the process alive while a device exists
  after(async () => (await shared)?.destroy());
  return shared;
}

/** What `record` returns, and the names of the programs it dispatched on `gpu`, in order. */
export function dispatchedPrograms<T>(gpu: Gpu, record: () => T): { result: T; names: string[] } {
  const names: string[] = [];
  const dispatch = gpu.dispatch.bind(gpu);
  gpu.dispatch = (args) => {
    names.push(args.program.name);
    dispatch(args);
  };
  try {
    return { result: record(), names };
  } finally {
    gpu.dispatch = dispatch;
  }
}

/** What `run` resolves to, and the names of the programs dispatched on `gpu` until it settles (each once). */
export async function dispatchedProgramsWhile<T>(gpu: Gpu, run: () => Promise<T>): Promise<{ result: T; names: Set<string> }> {
  const names = new Set<string>();
  const dispatch = gpu.dispatch.bind(gpu);
  gpu.dispatch = (args) => {
    names.add(args.program.name);
    dispatch(args);
  };
  try {
    return { result: await run(), names };
  } finally {
    gpu.dispatch = dispatch;
  }
}

/** The `skip` option of a GPU test: false with a device, else why there is none. */
export function gpuSkip(gpu: Gpu | null): string | false {
  return gpu ? false : reason || 'no WebGPU adapter';
}

/**
 * The same for tests that open their own device (backends, CLI commands): false when an
 * adapter exists, else the reason; on CI a missing adapter throws instead.
 */
export async function adapterSkip(): Promise<string | false> {
  if ((await listAdapters()).length > 0) return false;
  const why = 'no WebGPU adapter: listAdapters() found none (is a Vulkan driver installed? see README "GPU set-up")';
  if (requireGpu) throw new Error(why);
  return why;
}

/** Backends a test loops over; KENSA_BACKENDS=cpu limits the run. */
export const BACKENDS = (process.env.KENSA_BACKENDS ?? 'cpu,gpu').split(',') as ('cpu' | 'gpu')[];
