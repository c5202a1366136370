/**
 * Host↔GPU transfers through reused mapped buffers. Measured on the H100 machine
 * (2026-11-23): queue.writeBuffer uploads 1.4 GB/s, a ring of reused mapped buffers ~10 GB/s.
 * Upload: copy into a mapped MAP_WRITE buffer, unmap, record copyBufferToBuffer in the
 * pending command stream, re-map after submission. Readback: MAP_READ buffers by size class.
 */
import { sizeClass } from './pool.js';

export class UploadRing {
  readonly #device: GPUDevice;
  readonly chunkBytes: number;
  readonly #ready: GPUBuffer[] = [];
  readonly #remapping: Promise<GPUBuffer>[] = [];
  /** Used by commands not yet submitted; re-mapped by `submitted()`. */
  readonly #pending: GPUBuffer[] = [];

  constructor(device: GPUDevice, count: number, chunkBytes: number) {
    this.#device = device;
    this.chunkBytes = chunkBytes;
    for (let i = 0; i < count; i++) {
      this.#ready.push(device.createBuffer({ size: chunkBytes, usage: GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC, mappedAtCreation: true }));
    }
  }

  /** A mapped staging buffer, or null when every buffer is pending or re-mapping. */
  tryAcquire(): GPUBuffer | null {
    return this.#ready.pop() ?? null;
  }

  get hasPending(): boolean {
    return this.#pending.length > 0;
  }

  /** Waits for the oldest re-map; the caller must have submitted pending work first. */
  async acquire(): Promise<GPUBuffer> {
    const ready = this.#ready.pop();
    if (ready) return ready;
    const next = this.#remapping.shift();
    if (!next) throw new Error('UploadRing.acquire: no buffer is ready or re-mapping (submit pending work first)');
    return next;
  }

  /** Marks a buffer as used by the pending command stream. */
  used(buffer: GPUBuffer): void {
    this.#pending.push(buffer);
  }

  /** Called right after a submit: pending buffers start re-mapping. */
  submitted(): void {
    for (const b of this.#pending.splice(0)) {
      // a re-map aborted by device loss must not become an unhandled rejection; the Gpu reports the loss
      this.#remapping.push(b.mapAsync(GPUMapMode.WRITE).then(() => b, () => b));
    }
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
