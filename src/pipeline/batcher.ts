/**
 * Dynamic batching (Triton's and the seed's `max_pixels`): decoded frames of one geometry
 * (width, height, channels, dtype) are grouped; a group is released when it holds `maxCount`
 * frames, when adding the next frame would pass `maxPixels`, or when its oldest frame has waited
 * `maxWaitMs` — whichever comes first. Frames of other sizes form their own groups. A server
 * pulls as well: when a device slot is free, `takePreferred` releases a group's first frames as
 * soon as they reach one of its preferred batch sizes (Triton's `preferred_batch_size`), and
 * `remove` takes back a frame whose request gave up (its deadline passed) before it was batched.
 */
export interface BatchLimits {
  maxCount: number;
  maxPixels: number;
  maxWaitMs: number;
}

export interface Geometry {
  width: number;
  height: number;
  channels: number;
  dtype: string;
}

interface Group<T> {
  items: T[];
  /** When each item was added (the oldest first). */
  arrivals: number[];
  pixels: number;
  since: number;
}

function pixelsOf(g: Geometry): number {
  return g.width * g.height * g.channels;
}

export class Batcher<T extends { geometry: Geometry }> {
  readonly #limits: BatchLimits;
  readonly #groups = new Map<string, Group<T>>();
  readonly #now: () => number;

  constructor(limits: BatchLimits, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
  }

  /** The limits it forms batches by. */
  get limits(): Readonly<BatchLimits> {
    return this.#limits;
  }

  static key(g: Geometry): string {
    return `${g.width}x${g.height}x${g.channels}:${g.dtype}`;
  }

  /** Adds a frame; returns the batches it completes (zero, one, or two when it overflows a group). */
  add(item: T): T[][] {
    const out: T[][] = [];
    const key = Batcher.key(item.geometry);
    const px = pixelsOf(item.geometry);
    let g = this.#groups.get(key);
    if (g && g.items.length > 0 && g.pixels + px > this.#limits.maxPixels) {
      out.push(g.items);
      g = undefined;
    }
    if (!g || g.items.length === 0) {
      g = { items: [], arrivals: [], pixels: 0, since: this.#now() };
      this.#groups.set(key, g);
    }
    g.items.push(item);
    g.arrivals.push(this.#now());
    g.pixels += px;
    if (g.items.length >= this.#limits.maxCount || g.pixels >= this.#limits.maxPixels) {
      out.push(g.items);
      this.#groups.delete(key);
    }
    return out;
  }

  /** Batches whose oldest frame has waited at least maxWaitMs. */
  due(): T[][] {
    const out: T[][] = [];
    const now = this.#now();
    for (const [key, g] of this.#groups) {
      if (now - g.since >= this.#limits.maxWaitMs) {
        out.push(g.items);
        this.#groups.delete(key);
      }
    }
    return out;
  }

  /** Milliseconds until the next group is due, or null when nothing waits. */
  nextDueIn(): number | null {
    let best: number | null = null;
    const now = this.#now();
    for (const g of this.#groups.values()) {
      const left = Math.max(0, g.since + this.#limits.maxWaitMs - now);
      best = best === null ? left : Math.min(best, left);
    }
    return best;
  }

  /**
   * With a device slot free: the oldest group holding at least one of the `preferred` sizes gives
   * its first frames, as many as the largest such size; the rest keep waiting. Null when no group
   * is that large.
   */
  takePreferred(preferred: readonly number[]): T[] | null {
    let best: [string, Group<T>, number] | null = null;
    for (const [key, g] of this.#groups) {
      const size = Math.max(0, ...preferred.filter((p) => p <= g.items.length));
      if (size > 0 && (best === null || g.since < best[1].since)) best = [key, g, size];
    }
    if (best === null) return null;
    const [key, g, size] = best;
    const taken = g.items.splice(0, size);
    g.arrivals.splice(0, size);
    if (g.items.length === 0) this.#groups.delete(key);
    else {
      g.pixels -= taken.reduce((sum, t) => sum + pixelsOf(t.geometry), 0);
      g.since = g.arrivals[0]!;
    }
    return taken;
  }

  /** Takes a waiting frame back out of its group; false when it is not waiting (already batched). */
  remove(item: T): boolean {
    const key = Batcher.key(item.geometry);
    const g = this.#groups.get(key);
    const at = g ? g.items.indexOf(item) : -1;
    if (!g || at < 0) return false;
    g.items.splice(at, 1);
    g.arrivals.splice(at, 1);
    g.pixels -= pixelsOf(item.geometry);
    if (g.items.length === 0) this.#groups.delete(key);
    else g.since = g.arrivals[0]!;
    return true;
  }

  /** Everything still waiting (end of input). */
  drain(): T[][] {
    const out = [...this.#groups.values()].map((g) => g.items);
    this.#groups.clear();
    return out;
  }

  get waiting(): number {
    let n = 0;
    for (const g of this.#groups.values()) n += g.items.length;
    return n;
  }
}
