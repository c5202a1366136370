import { PerformanceObserver } from 'node:perf_hooks';

/**
 * Main-thread time spent in V8 garbage collection, from the 'gc' performance entries: a share of
 * wall time that neither the host's timers around a call nor the GPU's timestamps show.
 */
export class GcClock {
  #ms = 0;
  readonly #observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.#ms += e.duration;
  });

  constructor() {
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** GC milliseconds so far; entries arrive asynchronously, so this lets a macrotask pass first. */
  async ms(): Promise<number> {
    await new Promise((resolve) => setImmediate(resolve));
    return this.#ms;
  }

  stop(): void {
    this.#observer.disconnect();
  }
}
