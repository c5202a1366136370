/**
 * Measured GEMM choices kept on disk, so a process does not time every candidate of a problem that
 * an earlier process on the same GPU already timed. One JSON file per adapter (vendor,
 * architecture, device, driver) in `$KENSA_CACHE_DIR` (default `~/.cache/kensa`): each problem's
 * fastest kernel (its program key) and K slices. A problem's key holds a hash of its kernels' WGSL,
 * so a changed kernel is measured again. The file is a cache: one that cannot be read, parsed or
 * written is ignored.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { GpuInfo } from '../../gpu/gpu.js';
import { textHash } from '../../gpu/program.js';

/** A stored choice: the program key of the kernel and its K slices. */
export interface StoredGemmChoice {
  readonly kernel: string;
  readonly splits: number;
}

/** The cache file of an adapter. */
export function gemmStorePath(info: GpuInfo): string {
  const dir = process.env.KENSA_CACHE_DIR || join(homedir(), '.cache', 'kensa');
  return join(dir, `gemm-${textHash(`${info.vendor}|${info.architecture}|${info.name}|${info.description}`)}.json`);
}

/** The choices stored for an adapter (empty when there is no readable file). */
export function loadGemmChoices(info: GpuInfo): Map<string, StoredGemmChoice> {
  try {
    const parsed = JSON.parse(readFileSync(gemmStorePath(info), 'utf8')) as { choices?: Record<string, StoredGemmChoice> };
    const entries = Object.entries(parsed.choices ?? {}).filter(([, c]) => typeof c?.kernel === 'string' && Number.isInteger(c?.splits) && c.splits >= 1);
    return new Map(entries);
  } catch {
    return new Map();
  }
}

/** Writes an adapter's choices (whole file, through a rename, so a reader never sees half of it). */
export function saveGemmChoices(info: GpuInfo, choices: ReadonlyMap<string, StoredGemmChoice>): void {
  const path = gemmStorePath(info);
  try {
    mkdirSync(join(path, '..'), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(
      tmp,
      `${JSON.stringify({ adapter: { vendor: info.vendor, name: info.name, driver: info.description }, choices: Object.fromEntries(choices) }, null, 1)}\n`,
    );
    renameSync(tmp, path);
  } catch {
    // a cache: an unwritable directory only means measuring again next time
  }
}
