/** The pipeline benches' decode-only measurement: images decoded as `kensa inspect` decodes them (its worker threads too), a pool of concurrent decodes. */
import os from 'node:os';
import { DEFAULT_MAX_PIXELS, type DecodeScale } from '../../src/pipeline/decode.js';
import { readAndDecodeItem, resolvePostWorkers, WorkerPool } from '../../src/pipeline/workers.js';

export interface Pass {
  /** Wall milliseconds of the pass. */
  wall: number;
  /** CPU milliseconds of this process (every libvips thread included) over the pass. */
  cpu: number;
}

/** Runs `job(0)` … `job(count − 1)`, `concurrency` at a time. */
export async function pooled(count: number, concurrency: number, job: (i: number) => Promise<unknown>): Promise<Pass> {
  let next = 0;
  const c = process.cpuUsage();
  const t = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await job(next++);
    }),
  );
  const used = process.cpuUsage(c);
  return { wall: performance.now() - t, cpu: (used.user + used.system) / 1000 };
}

/**
 * Images/s of reading and decoding `paths` as a GPU run does (gray, at `scale`; colour converted on
 * a run's worker threads, readAndDecodeItem), `concurrency` decodes at a time (default: cores, as a run).
 */
export async function decodeRate(paths: readonly string[], scale: DecodeScale = 1, concurrency = os.availableParallelism()): Promise<number> {
  const pool = new WorkerPool(resolvePostWorkers(undefined));
  try {
    const options = { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS, scale } as const;
    const pass = await pooled(paths.length, concurrency, (i) => readAndDecodeItem(pool, paths[i]!, options));
    return paths.length / (pass.wall / 1000);
  } finally {
    await pool.destroy();
  }
}
