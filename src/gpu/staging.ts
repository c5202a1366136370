/**
 * Host↔GPU transfers through reused mapped buffers. Upload: copy into a mapped MAP_WRITE buffer,
 * unmap, copy to the tensor; a multi-chunk upload submits each chunk at once and re-maps it, so
 * the DMA of one chunk overlaps the host copy of the next. Readback: MAP_READ buffers by size class.
 * The one JS thread's memcpy bounds uploads, not the DMA, hence the pipelined ring; fresh host
 * memory page-faults, hence `read(.., into)`. mapAsync needs no ticking (dawn.node polls while a
 * map is pending). Worker threads cannot share the copy: dawn.node's mapped ranges are not
 * transferable (a posted range arrives as a copy the GPU never sees).
 */
import { sizeClass } from './pool.js';
import { KensaError } from '../errors.js';

export class UploadRing {
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
    if (!next && (this.#out === 0 || this.#pending.length > 0))
      throw new KensaError('KENSA_ERR_INTERNAL', 'UploadRing.acquire: no buffer is ready or re-mapping (submit pending work first)');
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
    const next = buffer.mapAsync(GPUMapMode.WRITE).then(
      () => buffer,
      () => buffer,
    );
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
