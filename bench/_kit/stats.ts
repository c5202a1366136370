/** Benchmark helpers (kornia's methodology contract): warm-up, repeats, median + IQR, metadata. */
import { execSync } from 'node:child_process';
import os from 'node:os';

export interface Summary {
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
  n: number;
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  return { median: q(0.5), min: s[0]!, max: s[s.length - 1]!, q1: q(0.25), q3: q(0.75), n: s.length };
}

export async function repeat(warmup: number, repeats: number, once: () => Promise<number>): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) samples.push(await once());
  return summarize(samples);
}

export function metadata(device: string): Record<string, string | number> {
  let commit = process.env.KENSA_COMMIT ?? '';
  if (!commit) {
    try {
      commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      commit = 'unknown';
    }
  }
  return { date: new Date().toISOString(), commit, device, node: process.version, cpus: os.availableParallelism(), host: os.cpus()[0]?.model ?? '' };
}
