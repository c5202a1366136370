/**
 * Dynamic batching (Triton's and the seed's `max_pixels`): decoded frames of one geometry
 * (width, height, channels, dtype) are grouped; a group is released when it holds `maxCount`
 * frames, when adding the next frame would pass `maxPixels`, or when its oldest frame has waited
 * `maxWaitMs` — whichever comes first. Frames of other sizes form their own groups.
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
  pixels: number;
  since: number;
}

export class Batcher<T extends { geometry: Geometry }> {
  readonly #limits: BatchLimits;
  readonly #groups = new Map<string, Group<T>>();
  readonly #now: () => number;

  constructor(limits: BatchLimits, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
  }

  static key(g: Geometry): string {
    return `${g.width}x${g.height}x${g.channels}:${g.dtype}`;
  }

  /** Adds a frame; returns the batches it completes (zero, one, or two when it overflows a group). */
  add(item: T): T[][] {
    const out: T[][] = [];
    const key = Batcher.key(item.geometry);
    const px = item.geometry.width * item.geometry.height * item.geometry.channels;
    let g = this.#groups.get(key);
    if (g && g.items.length > 0 && g.pixels + px > this.#limits.maxPixels) {
      out.push(g.items);
      g = undefined;
    }
    if (!g || g.items.length === 0) {
      g = { items: [], pixels: 0, since: this.#now() };
      this.#groups.set(key, g);
    }
    g.items.push(item);
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
