/**
 * The one tensor type of kensa: images (N×C×H×W), masks, feature maps and the neural-net
 * engine's values. Contiguous row-major storage; `strides` are derived. A tensor lives on
 * the CPU (a typed array) or on one Gpu (a pooled buffer); moving it is explicit and counted
 * (`gpu.stats.transfers`). f16 tensors hold IEEE half bits (Uint16Array on the CPU).
 */
import { allocTyped, BYTES_PER_ELEMENT, DTYPES, ELEMENTS_PER_WORD, readElement, viewTyped, type AnyTypedArray, type DType } from './dtype.js';
import { KensaError } from './errors.js';
import type { BufferRef, Gpu } from './gpu/gpu.js';
import { stridedCopyProgram } from './gpu/strided.js';
import { invalidParameter } from './validate.js';

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

function checkShape(shape: Shape): void {
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 8 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw invalidParameter('shape', 'an array of 1 to 8 positive integers', shape);
  }
}

function expectedArray(dtype: DType): string {
  return { u8: 'Uint8Array', u16: 'Uint16Array', f16: 'Uint16Array of half bits', i32: 'Int32Array', f32: 'Float32Array' }[dtype];
}

function matchesDType(data: AnyTypedArray, dtype: DType): boolean {
  switch (dtype) {
    case 'u8':
      return data instanceof Uint8Array;
    case 'u16':
    case 'f16':
      return data instanceof Uint16Array;
    case 'i32':
      return data instanceof Int32Array;
    case 'f32':
      return data instanceof Float32Array;
  }
}

// Node 20 before 20.4 has no Symbol.dispose, which `using` and Tensor's dispose key need (the
// registered symbol is the one esbuild's `using` helper falls back to)
(Symbol as { dispose?: symbol }).dispose ??= Symbol.for('Symbol.dispose');

/** Open tidy() scopes, innermost last; each collects the tensors made while it runs. */
const scopes: Set<Tensor>[] = [];
let live = 0;

/** Tensors made and not yet disposed, in this process (views count one each). */
export function liveTensors(): number {
  return live;
}

function collect(v: unknown, into: Set<Tensor>, seen: Set<object>): void {
  if (v instanceof Tensor) into.add(v);
  else if (typeof v === 'object' && v !== null && !seen.has(v)) {
    seen.add(v);
    const proto = Object.getPrototypeOf(v) as unknown;
    if (v instanceof Map) for (const item of v.values()) collect(item, into, seen);
    else if (Array.isArray(v) || proto === Object.prototype || proto === null) for (const item of Object.values(v)) collect(item, into, seen);
  }
}

/**
 * Runs `fn` and disposes every tensor made inside it except those it returns (found in arrays,
 * maps and plain objects of the result); the returned ones belong to the enclosing scope.
 * Synchronous only: in async code use `using t = op(x)` (Tensor is Disposable).
 * @example const mask = tidy(() => threshold(gaussianBlur(x, { sigma: 2 }), { thresh: 128 }));  // the blur is freed
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT when `fn` returns a Promise (its tensors are disposed first).
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    for (const t of scope) t.dispose();
    throw e;
  } finally {
    scopes.pop();
  }
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    for (const t of scope) t.dispose();
    throw invalidParameter('fn', 'a synchronous function (use `using` in async code)', 'a function returning a Promise');
  }
  const kept = new Set<Tensor>();
  collect(result, kept, new Set());
  const parent = scopes.at(-1);
  for (const t of scope) {
    if (!kept.has(t)) t.dispose();
    else parent?.add(t);
  }
  return result;
}

/** Takes `t` out of the open tidy() scopes: it outlives them and its owner disposes it (a cache). */
export function keep(t: Tensor): Tensor {
  for (const scope of scopes) scope.delete(t);
  return t;
}

/** GPU storage is shared by reshaped views; the buffer returns to the pool when the last view is disposed. */
type Storage = { kind: 'cpu'; data: AnyTypedArray } | { kind: 'gpu'; gpu: Gpu; ref: BufferRef; views: { count: number } } | { kind: 'disposed' };

export class Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  /** Element strides into the storage: row-major for a tensor, any for a view (slice, permute). */
  readonly strides: Shape;
  /** First element's index in the storage (0 but for views). */
  readonly offset: number;
  readonly size: number;
  /** Elements of the storage (the size of the tensor a view was taken from). */
  readonly #storageSize: number;
  readonly #contiguous: boolean;
  #storage: Storage;

  private constructor(shape: Shape, dtype: DType, storage: Storage, view?: { strides: Shape; offset: number; storageSize: number }) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.strides = Object.freeze(view ? [...view.strides] : contiguousStrides(shape));
    this.offset = view ? view.offset : 0;
    this.size = numel(shape);
    this.#storageSize = view ? view.storageSize : this.size;
    const c = view ? contiguousStrides(shape) : this.strides;
    this.#contiguous = this.offset === 0 && this.size === this.#storageSize && shape.every((d, i) => d === 1 || this.strides[i] === c[i]);
    this.#storage = storage;
    live++;
    scopes.at(-1)?.add(this);
  }

  /** Wraps a typed array (not copied) as a CPU tensor. */
  static fromArray(data: AnyTypedArray, shape: Shape, dtype: DType): Tensor {
    if (!DTYPES.includes(dtype)) throw invalidParameter('dtype', `one of ${DTYPES.join(', ')}`, dtype);
    checkShape(shape);
    if (!matchesDType(data, dtype)) throw invalidParameter('data', `a ${expectedArray(dtype)} for dtype ${dtype}`, data.constructor.name);
    if (data.length !== numel(shape)) throw invalidParameter('data', `${numel(shape)} elements for shape [${shape.join(', ')}]`, `${data.length} elements`);
    return new Tensor(shape, dtype, { kind: 'cpu', data });
  }

  /**
   * One tensor from equal-dtype frames laid end to end (a batch from decoded images): on the GPU
   * when `gpu` is given, uploading each frame straight from its own array (one counted transfer,
   * no host copy assembles the batch), else a CPU tensor holding their concatenation.
   */
  static async fromFrames(frames: readonly AnyTypedArray[], shape: Shape, dtype: DType, gpu?: Gpu): Promise<Tensor> {
    if (!DTYPES.includes(dtype)) throw invalidParameter('dtype', `one of ${DTYPES.join(', ')}`, dtype);
    checkShape(shape);
    let total = 0;
    for (const [i, f] of frames.entries()) {
      if (!matchesDType(f, dtype)) throw invalidParameter(`frames[${i}]`, `a ${expectedArray(dtype)} for dtype ${dtype}`, f.constructor.name);
      total += f.length;
    }
    if (total !== numel(shape)) throw invalidParameter('frames', `${numel(shape)} elements in all for shape [${shape.join(', ')}]`, `${total} elements`);
    if (!gpu) {
      const data = allocTyped(dtype, total);
      let at = 0;
      for (const f of frames) {
        // same element type as `data` (checked above), so set() copies element for element
        (data as { set(src: ArrayLike<number>, offset: number): void }).set(f, at);
        at += f.length;
      }
      return new Tensor(shape, dtype, { kind: 'cpu', data });
    }
    const out = Tensor.empty(gpu, shape, dtype);
    await gpu.upload(
      out.gpu.ref,
      frames.map((f) => new Uint8Array(f.buffer, f.byteOffset, f.byteLength)),
    );
    return out;
  }

  static zeros(shape: Shape, dtype: DType): Tensor {
    checkShape(shape);
    return new Tensor(shape, dtype, { kind: 'cpu', data: allocTyped(dtype, numel(shape)) });
  }

  /** An uninitialised GPU tensor from the device's pool (kernels' outputs). */
  static empty(gpu: Gpu, shape: Shape, dtype: DType): Tensor {
    checkShape(shape);
    return new Tensor(shape, dtype, { kind: 'gpu', gpu, ref: gpu.alloc(numel(shape) * BYTES_PER_ELEMENT[dtype]), views: { count: 1 } });
  }

  get device(): 'cpu' | 'gpu' {
    const s = this.#live();
    return s.kind;
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  #live(): Exclude<Storage, { kind: 'disposed' }> {
    if (this.#storage.kind === 'disposed') throw new KensaError('KENSA_ERR_DISPOSED', 'This tensor was disposed');
    return this.#storage;
  }

  /** Whether the elements fill the storage row-major (false for views but a whole-tensor one). */
  get isContiguous(): boolean {
    return this.#contiguous;
  }

  #assertContiguous(): void {
    if (!this.isContiguous)
      throw new KensaError(
        'KENSA_ERR_NOT_CONTIGUOUS',
        `This tensor is a strided view (shape [${this.shape.join(', ')}], strides [${this.strides.join(', ')}], offset ${this.offset}): call contiguous() first`,
      );
  }

  /** The CPU data; throws for a GPU tensor (call `toCpu()` first) and for a strided view (call `contiguous()`). */
  get data(): AnyTypedArray {
    this.#assertContiguous();
    const s = this.#live();
    if (s.kind !== 'cpu') throw new KensaError('KENSA_ERR_DEVICE_MISMATCH', 'This tensor is on the GPU: call await tensor.toCpu() to read it');
    return s.data;
  }

  /**
   * The storage under this tensor or view, for engines that index views themselves (element
   * `offset + Σ index·strides`); ops read `data` / `gpu`, which refuse views.
   */
  get storage(): { readonly data: AnyTypedArray } | { readonly gpu: Gpu; readonly ref: BufferRef } {
    return this.#live();
  }

  /** The GPU device and buffer; throws for a CPU tensor and for a strided view. */
  get gpu(): { gpu: Gpu; ref: BufferRef } {
    this.#assertContiguous();
    const s = this.#live();
    if (s.kind !== 'gpu') throw new KensaError('KENSA_ERR_DEVICE_MISMATCH', 'This tensor is on the CPU: call await tensor.toGpu(gpu) first');
    return s;
  }

  /** Element at flat index i as a number (f16 decoded); CPU tensors only. */
  at(i: number): number {
    return readElement(this.dtype, this.data, i);
  }

  /** Same data, another shape of the same element count (no copy; a strided view is refused). */
  reshape(shape: Shape): Tensor {
    checkShape(shape);
    this.#assertContiguous();
    if (numel(shape) !== this.size) throw invalidParameter('shape', `a shape of ${this.size} elements`, shape);
    const s = this.#live();
    if (s.kind === 'gpu') s.views.count++;
    return new Tensor(shape, this.dtype, s);
  }

  /**
   * A view of a window of this tensor, no copy: `ranges[d]` is [start, end) along axis d (omitted:
   * the whole axis). Crop windows, channel and batch slices.
   * @example x.slice([undefined, [1, 2]])                        // channel 1 of N×C×H×W
   * @example x.slice([undefined, undefined, [y0, y1], [x0, x1]])  // a crop window
   */
  slice(ranges: readonly (readonly [number, number] | undefined)[]): Tensor {
    if (!Array.isArray(ranges) || ranges.length > this.shape.length)
      throw invalidParameter('ranges', `an array of at most ${this.shape.length} [start, end) pairs`, ranges);
    let offset = this.offset;
    const shape = this.shape.map((d, i) => {
      const r = ranges[i];
      if (r === undefined) return d;
      const [a, b] = r;
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b > d || a >= b)
        throw invalidParameter(`ranges[${i}]`, `[start, end) with 0 ≤ start < end ≤ ${d}`, r);
      offset += a * this.strides[i]!;
      return b - a;
    });
    return this.#view(shape, this.strides, offset);
  }

  /**
   * A view with the axes in another order, no copy.
   * @example x.permute([0, 1, 3, 2])   // transposes each plane
   */
  permute(order: readonly number[]): Tensor {
    const r = this.shape.length;
    if (!Array.isArray(order) || order.length !== r || [...order].sort((a, b) => a - b).some((v, i) => v !== i)) {
      throw invalidParameter('order', `a permutation of 0 … ${r - 1}`, order);
    }
    return this.#view(
      order.map((a) => this.shape[a]!),
      order.map((a) => this.strides[a]!),
      this.offset,
    );
  }

  #view(shape: Shape, strides: Shape, offset: number): Tensor {
    const s = this.#live();
    if (s.kind === 'gpu') s.views.count++;
    return new Tensor(shape, this.dtype, s, { strides, offset, storageSize: this.#storageSize });
  }

  /**
   * This tensor if contiguous, else a new contiguous copy of the view (on its device; the GPU
   * copy is one recorded program).
   */
  contiguous(): Tensor {
    if (this.isContiguous) return this;
    const s = this.#live();
    if (s.kind === 'cpu') {
      const data = allocTyped(this.dtype, this.size);
      const r = this.shape.length;
      const idx = new Array<number>(r).fill(0);
      let src = this.offset;
      for (let i = 0; i < this.size; i++) {
        (data as { [k: number]: number })[i] = (s.data as { [k: number]: number })[src]!;
        // odometer over the view's indices, keeping the storage index in step
        for (let d = r - 1; d >= 0; d--) {
          src += this.strides[d]!;
          if (++idx[d]! < this.shape[d]!) break;
          src -= this.strides[d]! * this.shape[d]!;
          idx[d] = 0;
        }
      }
      return new Tensor(this.shape, this.dtype, { kind: 'cpu', data });
    }
    if (this.shape.length > 4)
      throw new KensaError('KENSA_ERR_SHAPE', `Expected a view of at most 4 axes for a GPU contiguous() but received [${this.shape.join(', ')}]`);
    const pad = 4 - this.shape.length;
    const shape = [...new Array<number>(pad).fill(1), ...this.shape];
    const strides = [...new Array<number>(pad).fill(0), ...this.strides];
    const out = Tensor.empty(s.gpu, this.shape, this.dtype);
    const words = Math.ceil(this.size / ELEMENTS_PER_WORD[this.dtype]);
    s.gpu.dispatch({
      program: stridedCopyProgram(this.dtype),
      inputs: [s.ref],
      outputs: [out.gpu.ref],
      uniforms: { shape, strides, offset: this.offset, numel: this.size, words },
      workgroups: Math.ceil(words / 256),
    });
    return out;
  }

  /** Uploads to the GPU (one counted transfer of the compact bytes). */
  async toGpu(gpu: Gpu): Promise<Tensor> {
    if (!this.isContiguous) {
      const c = this.contiguous();
      const out = await c.toGpu(gpu);
      if (c !== out) c.dispose();
      return out;
    }
    const s = this.#live();
    if (s.kind === 'gpu') {
      if (s.gpu === gpu) return this;
      return (await this.toCpu()).toGpu(gpu);
    }
    const out = Tensor.empty(gpu, this.shape, this.dtype);
    await gpu.upload(out.gpu.ref, new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength));
    return out;
  }

  /** Downloads to the CPU (one counted transfer); a CPU tensor is returned as is. */
  async toCpu(): Promise<Tensor> {
    const s = this.#live();
    if (s.kind === 'cpu') return this;
    if (!this.isContiguous) {
      const c = this.contiguous();
      const out = await c.toCpu();
      c.dispose();
      return out;
    }
    const bytes = await s.gpu.read(s.ref, this.byteLength);
    return new Tensor(this.shape, this.dtype, { kind: 'cpu', data: viewTyped(this.dtype, bytes, this.size) });
  }

  /** Returns the GPU buffer to the pool. CPU tensors just drop their array. */
  dispose(): void {
    const s = this.#storage;
    if (s.kind === 'disposed') return;
    live--;
    if (s.kind === 'gpu' && --s.views.count === 0) s.gpu.free(s.ref);
    this.#storage = { kind: 'disposed' };
  }

  /** `using t = op(x)` disposes t when its block ends. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
