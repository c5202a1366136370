/**
 * Run progress: processed / total, images per second, ETA, queue depths and errors, as a
 * snapshot the pipeline emits; `formatProgressLine` renders the live TTY bar, JSON lines are
 * the snapshot itself. A stage waiting for its database adds `paused` to the last snapshot.
 */
import { type DatabasePause, formatPause } from './retry.js';

export interface ProgressSnapshot {
  done: number;
  total: number | null;
  ok: number;
  ng: number;
  errors: number;
  skipped: number;
  elapsedMs: number;
  imagesPerSecond: number;
  etaMs: number | null;
  queues: { decoded: number; batches: number; batching: number };
  /** A stage waiting for its database; null when the wait just ended (absent otherwise). */
  paused?: DatabasePause | null;
}

export class ProgressMeter {
  readonly #start = performance.now();
  readonly total: number | null;
  done = 0;
  ok = 0;
  ng = 0;
  errors = 0;
  skipped = 0;

  constructor(total: number | null) {
    this.total = total;
  }

  snapshot(queues: ProgressSnapshot['queues']): ProgressSnapshot {
    const elapsedMs = performance.now() - this.#start;
    const rate = elapsedMs > 0 ? (this.done / elapsedMs) * 1000 : 0;
    const left = this.total === null ? null : Math.max(0, this.total - this.skipped - this.done);
    return {
      done: this.done,
      total: this.total,
      ok: this.ok,
      ng: this.ng,
      errors: this.errors,
      skipped: this.skipped,
      // whole milliseconds: the JSON progress lines carry no false precision
      elapsedMs: Math.round(elapsedMs),
      imagesPerSecond: rate,
      etaMs: left === null || rate === 0 ? null : Math.round((left / rate) * 1000),
      queues,
    };
  }
}

/** m:ss of a duration, as the progress lines show an ETA. */
export function formatClock(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function formatProgressLine(p: ProgressSnapshot, width = 30): string {
  const total = p.total === null ? null : p.total - p.skipped;
  const frac = total ? Math.min(1, p.done / total) : 0;
  const filled = Math.round(frac * width);
  const bar = total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(1)}%` : '';
  return `${bar} ${p.done}${total === null ? '' : `/${total}`} · ${p.imagesPerSecond.toFixed(1)} img/s · ETA ${p.etaMs === null ? '?' : formatClock(p.etaMs)} · OK ${p.ok} NG ${p.ng} err ${p.errors} · queues d${p.queues.decoded} b${p.queues.batching}/${p.queues.batches}${p.paused ? ` · ${formatPause(p.paused)}` : ''}`;
}
