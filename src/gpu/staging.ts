/**
 * Host↔GPU transfers through reused mapped buffers. Upload: copy into a mapped MAP_WRITE buffer,
 * unmap, copy to the tensor; a multi-chunk upload submits each chunk at once and re-maps it, so
 * the DMA of one chunk overlaps the host copy of the next. Readback: MAP_READ buffers by size class.
 * NOTES (H100 machine, 2026-11-23): DMA is not the bound (64 MiB in 1.3 ms each way, ~50 GB/s);
 * the one JS thread's memcpy is (6.5 GB/s, piece size 64 KiB..64 MiB makes no difference), so
 * upload went 5.2 → 6.8 GB/s (pipelined, 4 × 4 MiB ring; 8 × 8 MiB pipelined 5.1–5.7). Readback:
 * fresh host memory page-faults at ~1.4 GB/s in this VM; an uninitialised allocation reuses freed
 * heap below glibc's 32 MiB mmap threshold (26 MiB: 21 → 5.0 ms); `read(.., into)` 3.7 ms; 64 MiB
 * stays ~50 ms unless read into a reused array (12 ms). Tried: queue.writeBuffer (1.0–1.2 GB/s),
 * chunked pipelined readback (no gain: DMA is 4% of it), GLIBC_TUNABLES=glibc.malloc.hugetlb=1
 * (64 MiB read 50 → 20 ms, a deployment knob), a worker thread pre-faulting transferred buffers
 * (64 MiB 13–17 ms, not adopted: a hidden thread). mapAsync needs no ticking: dawn.node polls
 * ProcessEvents on setImmediate while a map is pending (empty submit→done round trip 27 µs).
 * Worker threads cannot share the copy: a mapped range posted to a worker in the transfer list
 * arrives as a copy (dawn.node's mapped ArrayBuffers are not transferable), so the GPU never sees
 * what the worker writes (tried 2026-12-04 on lavapipe). H200 machine, 2026-12-04: 6.9 GB/s with
 * the default ring (bench/results/2026-12-04-h200-c).
 */
import { sizeClass } from './pool.js';
import { KensaError } from '../errors.js';

export class UploadRing {
  readonly #device: GPUDevice;
  readonly chunkBytes: number;
  readonly #ready: GPUBuffer[] = [];
  readonly #remapping: Promise<GPUBuffer>[] = [];
  /** Used by commands not yet submitted; re-mapped by `submitted()`. */
  readonly #pending: GPUBuffer[] = [];
  /** Concurrent uploads waiting for a buffer that another upload holds. */
  readonly #waiters: ((next: Promise<GPUBuffer>) => void)[] = [];
  /** Buffers handed out and not yet given back through `used()` or `remap()`. */
  #out = 0;

  constructor(device: GPUDevice, count: number, chunkBytes: number) {
    this.#device = device;
    this.chunkBytes = chunkBytes;
    for (let i = 0; i < count; i++) {
      this.#ready.push(device.createBuffer({ size: chunkBytes, usage: GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC, mappedAtCreation: true }));
    }
  }

  /** A mapped staging buffer, or null when every buffer is pending or re-mapping. */
  tryAcquire(): GPUBuffer | null {
    const b = this.#ready.pop() ?? null;
    if (b) this.#out++;
    return b;
  }

  get hasPending(): boolean {
    return this.#pending.length > 0;
  }

  /** An upload waits for a buffer: whoever leaves one in the pending stream must submit it. */
  get hasWaiters(): boolean {
    return this.#waiters.length > 0;
  }

  /**
   * Waits for the oldest re-map, or, when other uploads hold every buffer, for the next one they
   * give back. The caller must have submitted pending work first.
   */
  async acquire(): Promise<GPUBuffer> {
    const ready = this.#ready.pop();
    if (ready) {
      this.#out++;
      return ready;
    }
    const next = this.#remapping.shift();
    if (!next && (this.#out === 0 || this.#pending.length > 0)) throw new KensaError('KENSA_ERR_INTERNAL', 'UploadRing.acquire: no buffer is ready or re-mapping (submit pending work first)');
    this.#out++;
    return next ?? new Promise<GPUBuffer>((resolve) => this.#waiters.push(resolve));
  }

  /** Marks a buffer as used by the pending command stream. */
  used(buffer: GPUBuffer): void {
    this.#out--;
    this.#pending.push(buffer);
  }

  /** Called right after a submit: pending buffers start re-mapping. */
  submitted(): void {
    for (const b of this.#pending.splice(0)) {
      this.#out++; // remap() counts it back
      this.remap(b);
    }
  }

  /** A buffer whose copy was just submitted on its own starts re-mapping (ready in FIFO order). */
  remap(buffer: GPUBuffer): void {
    this.#out--;
    // a re-map aborted by device loss must not become an unhandled rejection; the Gpu reports the loss
    const next = buffer.mapAsync(GPUMapMode.WRITE).then(() => buffer, () => buffer);
    const waiter = this.#waiters.shift();
    if (waiter) waiter(next);
    else this.#remapping.push(next);
  }
}

export class ReadbackPool {
  readonly #device: GPUDevice;
  readonly #free = new Map<number, GPUBuffer[]>();

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    return this.#free.get(size)?.pop() ?? this.#device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  release(buffer: GPUBuffer): void {
    let list = this.#free.get(buffer.size);
    if (!list) this.#free.set(buffer.size, (list = []));
    list.push(buffer);
  }
}
