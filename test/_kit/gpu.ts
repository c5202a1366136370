/**
 * The GPU every backend test shares (one device per test file). On CI (`CI=true`) or with
 * KENSA_REQUIRE_GPU=1 a missing adapter fails the run; elsewhere GPU tests are skipped with
 * the reason, so a laptop without Vulkan still runs the CPU suite.
 */
import { after } from 'node:test';
import { Gpu } from '../../src/gpu/gpu.js';

let shared: Promise<Gpu | null> | undefined;
export let gpuSkipReason = '';

export function testGpu(): Promise<Gpu | null> {
  shared ??= Gpu.open().catch((e: unknown) => {
    if (process.env.CI === 'true' || process.env.KENSA_REQUIRE_GPU === '1') throw e;
    gpuSkipReason = `no WebGPU adapter: ${String(e)}`;
    return null;
  });
  // dawn.node keeps the process alive while a device exists
  after(async () => (await shared)?.destroy());
  return shared;
}

/** Backends a test loops over; KENSA_BACKENDS=cpu limits the run. */
export const BACKENDS = (process.env.KENSA_BACKENDS ?? 'cpu,gpu').split(',') as ('cpu' | 'gpu')[];
