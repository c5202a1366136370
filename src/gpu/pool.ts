/**
 * Reuses GPU buffers by size class (after tinygrad's LRUAllocator): a freed buffer goes back
 * to its class and the next request of that class takes it, so a steady-state pipeline
 * allocates nothing per batch. Classes are 4 per octave (at most 25% slack).
 * Reuse is safe without fences: every use of a buffer is ordered on the one GPU queue.
 */

export interface PoolStats {
  /** Buffers created by the pool since it opened. */
  created: number;
  /** Requests served from a freed buffer. */
  reused: number;
  /** Bytes in buffers handed out and not yet released. */
  bytesInUse: number;
  /** Bytes held in free lists. */
  bytesFree: number;
}

export function sizeClass(bytes: number): number {
  const min = 256;
  if (bytes <= min) return min;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  const step = octave / 4;
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  readonly #device: GPUDevice;
  readonly #usage: number;
  readonly #free = new Map<number, GPUBuffer[]>();
  /** Called before free buffers are destroyed (the device drops cached bind groups). */
  onTrim: (() => void) | undefined;
  readonly stats: PoolStats = { created: 0, reused: 0, bytesInUse: 0, bytesFree: 0 };

  constructor(device: GPUDevice, usage: number) {
    this.#device = device;
    this.#usage = usage;
  }

  /**
   * A buffer of at least `bytes`; `create` makes a new one (so the caller can scope its errors).
   * When `create` throws (out of memory), the free buffers are destroyed and it is tried once more.
   */
  acquire(bytes: number, create: (size: number) => GPUBuffer = (size) => this.#device.createBuffer({ size, usage: this.#usage })): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.#free.get(size);
    const reused = list?.pop();
    this.stats.bytesInUse += size;
    if (reused) {
      this.stats.reused++;
      this.stats.bytesFree -= size;
      return reused;
    }
    let buffer: GPUBuffer;
    try {
      buffer = create(size);
    } catch {
      this.trim();
      try {
        buffer = create(size);
      } catch (e) {
        this.stats.bytesInUse -= size;
        throw e;
      }
    }
    this.stats.created++;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    this.stats.bytesInUse -= size;
    this.stats.bytesFree += size;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, (list = []));
    list.push(buffer);
  }

  /** Destroys every free buffer (after an out-of-memory error, or to give memory back). */
  trim(): void {
    this.onTrim?.();
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.stats.bytesFree = 0;
  }
}
