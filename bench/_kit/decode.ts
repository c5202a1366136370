/** The pipeline benches' decode-only measurement: images decoded as `kensa inspect` decodes them, a pool of concurrent decodes. */
import os from 'node:os';
import { decodeFile, DEFAULT_MAX_PIXELS, type DecodeScale } from '../../src/pipeline/decode.js';

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

/** Images/s of reading and decoding `paths` as a run does (gray, at `scale`), `concurrency` decodes at a time (default: cores, as a run). */
export async function decodeRate(paths: readonly string[], scale: DecodeScale = 1, concurrency = os.availableParallelism()): Promise<number> {
  const pass = await pooled(paths.length, concurrency, (i) => decodeFile(paths[i]!, { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS, scale }));
  return paths.length / (pass.wall / 1000);
}
