/**
 * The GPU compute core: one WebGPU device (Dawn through npm `webgpu`), a buffer pool, an
 * upload ring, a pipeline cache and one pending command stream. Ops call `dispatch()`, which
 * records into the open compute pass; nothing is submitted until a readback, `flush()`, or a
 * full uniform arena, so a recipe of a dozen ops is one command buffer and one submission.
 * Errors from WebGPU (validation, out-of-memory, device loss) surface as KensaErrors at the
 * next synchronisation point (`sync()`, `read()`), naming the programs involved.
 */
import { create, globals } from 'webgpu';
import { KensaError } from '../errors.js';
import { BufferPool, type PoolStats } from './pool.js';
import { buildSource, cacheKey, sizedProgram, type CompiledProgram, type ProgramInfo, type WgslOptions } from './program.js';
import { ReadbackPool, UploadRing } from './staging.js';
import type { UniformValues } from './uniforms.js';

// @webgpu/types declares GPUBufferUsage & co. as globals; dawn.node provides them as exports.
for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });

export interface GpuOpenOptions {
  /** Index into listAdapters(), or a substring of an adapter's name. Default: the preferred adapter. */
  adapter?: number | string;
  powerPreference?: GPUPowerPreference;
  /** Upload ring: buffer count and size. Default 4 × 4 MiB (a small ring stays in the host cache; see staging.ts). */
  uploadRing?: { count: number; chunkBytes: number };
  /** Native f16 arithmetic where the adapter has `shader-f16` (default true); false keeps the packed-half path. */
  shaderF16?: boolean;
}

export interface AdapterDescription {
  index: number;
  backend: string;
  name: string;
}

export interface GpuInfo {
  name: string;
  vendor: string;
  architecture: string;
  description: string;
  /** Software rasterisers (lavapipe, SwiftShader) run on the CPU cores. */
  isCpu: boolean;
  features: string[];
  limits: Record<string, number>;
  /** Native f16 arithmetic (`shader-f16`) is enabled: programs with f16 tensors convert with f16 types. */
  f16: boolean;
  /** Subgroup-matrix (tensor core) shapes the adapter offers; empty without `chromium-experimental-subgroup-matrix`. */
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
}

export interface SubgroupMatrixConfig {
  M: number;
  N: number;
  K: number;
  componentType: string;
  resultComponentType: string;
}

/** A region of a GPU buffer as tensors hold it. */
export interface BufferRef {
  readonly buffer: GPUBuffer;
  /** Bytes the tensor uses (multiple of 4); the buffer may be larger (pool size classes). */
  readonly bytes: number;
}

export interface DispatchArgs {
  program: ProgramInfo;
  inputs: readonly BufferRef[];
  outputs: readonly BufferRef[];
  uniforms: UniformValues;
  /** Workgroup count: a number is folded into a 2-D grid when over the 65535 limit. */
  workgroups: number | readonly [number, number, number];
}

export interface TransferStats {
  uploads: number;
  uploadBytes: number;
  downloads: number;
  downloadBytes: number;
  /** Bytes of uniforms written for dispatches: each one's struct in its aligned slot of the arena. */
  uniformBytes: number;
}

export interface GpuStats {
  dispatches: number;
  submits: number;
  pipelines: number;
  transfers: TransferStats;
  pool: PoolStats;
}

/** GPU time of the passes recorded between `startTimer()` and `stop()`. */
export interface GpuTimer {
  stop(): Promise<{ gpuMs: number; passes: number }>;
}

/** Features requested when the adapter has them (subgroup matrices need allow_unsafe_apis). */
const WANTED_FEATURES = ['timestamp-query', 'subgroups', 'shader-f16', 'chromium-experimental-subgroup-matrix'] as GPUFeatureName[];
const LIMITS: (keyof GPUSupportedLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
];
// Dawn quantizes timestamps (to 100 µs) unless told not to; kensa times kernels of ~0.1 ms.
// On NVIDIA, Dawn hides shader-f16 (and the f16 subgroup-matrix shapes) without its f16 toggle;
// subgroup matrices are an experimental feature behind allow_unsafe_apis.
const DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization', 'enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'];
const UNIFORM_ARENA_BYTES = 1 << 20;
const MAX_QUERIES = 4096;

type GPUNavigator = ReturnType<typeof create>;

interface PipelineEntry {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  compiled: CompiledProgram;
  id: number;
}

// Dawn prints "maxDynamic…BuffersPerPipelineLayout artificially reduced" to stderr from native
// code when an instance first gathers the adapters' limits on drivers reporting huge ones
// (lavapipe, RADV), whatever limits kensa requests; one instance per flag set prints it once.
const instances = new Map<string, GPUNavigator>();
function instance(flags: string[]): GPUNavigator {
  const key = flags.join('\n');
  let navigator = instances.get(key);
  if (!navigator) instances.set(key, (navigator = create(flags)));
  return navigator;
}

let adapterList: Promise<AdapterDescription[]> | undefined;

export function listAdapters(): Promise<AdapterDescription[]> {
  adapterList ??= (async () => {
    try {
      await instance(['adapter=\u0000kensa-list']).requestAdapter();
    } catch (e) {
      const out: AdapterDescription[] = [];
      for (const m of String(e).matchAll(/backend: '([^']*)', name: '([^']*)'/g)) out.push({ index: out.length, backend: m[1]!, name: m[2]! });
      return out;
    }
    return [];
  })();
  return adapterList;
}

export class Gpu {
  readonly device: GPUDevice;
  readonly info: GpuInfo;
  readonly pool: BufferPool;
  readonly hasTimestamps: boolean;
  readonly #navigator: GPUNavigator;
  readonly #upload: UploadRing;
  readonly #readback: ReadbackPool;
  readonly #pipelines = new Map<string, PipelineEntry>();
  /** Programs are often rebuilt per call with equal content; the object memo skips the key string. */
  readonly #programMemo = new WeakMap<ProgramInfo, PipelineEntry>();
  /** Bind groups by (layout, buffers, sizes): the pool hands back the same buffers each batch. */
  readonly #bindGroups = new Map<string, GPUBindGroup>();
  readonly #bufferIds = new WeakMap<GPUBuffer, number>();
  #nextBufferId = 1;
  readonly #uniformBuffer: GPUBuffer;
  readonly #uniformData = new ArrayBuffer(UNIFORM_ARENA_BYTES);
  readonly #uniformView = new DataView(this.#uniformData);
  readonly #uniformAlign: number;
  readonly #wgsl: WgslOptions;
  #uniformUsed = 0;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  /** Program names in the pending stream, for error messages. */
  #pendingNames = new Set<string>();
  #errors: Promise<KensaError | null>[] = [];
  #lost: string | null = null;
  #querySet: GPUQuerySet | null = null;
  #queryCount = 0;
  #timing = false;
  /** timePass's passes in the pending stream: read back after the flush that submits them. */
  #passTimings: PassTiming[] = [];
  readonly stats: Omit<GpuStats, 'pool'> = {
    dispatches: 0,
    submits: 0,
    pipelines: 0,
    transfers: { uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0, uniformBytes: 0 },
  };

  private constructor(navigator: GPUNavigator, adapter: GPUAdapter, device: GPUDevice, opts: GpuOpenOptions) {
    this.#navigator = navigator;
    this.device = device;
    const ai = adapter.info;
    const hasMatrices = device.features.has('chromium-experimental-subgroup-matrix');
    const limits: Record<string, number> = {};
    for (const k of LIMITS) limits[k] = Number(device.limits[k]);
    // subgroup sizes the adapter may use (0 where Dawn does not say): kernels that split a workgroup into subgroups need them
    const sizes = ai as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    limits.subgroupMinSize = sizes.subgroupMinSize ?? 0;
    limits.subgroupMaxSize = sizes.subgroupMaxSize ?? 0;
    this.info = {
      // NVIDIA's description is the driver version; its `device` is the product name
      name: (ai.architecture === 'software' ? ai.description : ai.device || ai.description) || ai.vendor,
      vendor: ai.vendor,
      architecture: ai.architecture,
      description: ai.description,
      isCpu: ai.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(ai.description),
      features: [...device.features].sort(),
      limits,
      f16: device.features.has('shader-f16'),
      subgroupMatrixConfigs: hasMatrices ? subgroupMatrixConfigs(ai) : [],
    };
    this.#wgsl = { f16: this.info.f16 };
    this.hasTimestamps = device.features.has('timestamp-query');
    this.pool = new BufferPool(device, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.pool.onTrim = () => this.#bindGroups.clear();
    // 4 × 8 MiB: the faster ring on the GPU machine
    const ring = opts.uploadRing ?? { count: 4, chunkBytes: 8 << 20 };
    this.#upload = new UploadRing(device, ring.count, ring.chunkBytes);
    this.#readback = new ReadbackPool(device);
    this.#uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    this.#uniformBuffer = device.createBuffer({ size: UNIFORM_ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    void device.lost.then((info) => {
      this.#lost = `${info.reason}: ${info.message}`;
    });
    device.addEventListener('uncapturederror', (ev) => {
      const error = (ev as GPUUncapturedErrorEvent).error;
      this.#errors.push(Promise.resolve(this.#wrapError(error, 'uncaptured')));
    });
  }

  /** Acquires an adapter and a device with the features and limits kensa needs. */
  static async open(opts: GpuOpenOptions = {}): Promise<Gpu> {
    let flags = [...DAWN_FLAGS];
    if (opts.adapter !== undefined) {
      let name = opts.adapter;
      if (typeof name === 'number') {
        const all = await listAdapters();
        const found = all[name];
        if (!found) throw new KensaError('KENSA_ERR_NO_ADAPTER', `Expected adapter index between 0 and ${all.length - 1} but received ${name}`);
        name = found.name;
      }
      flags = [...flags, `adapter=${name}`];
    }
    const navigator = instance(flags);
    let adapter: GPUAdapter | null = null;
    try {
      adapter = await navigator.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
    } catch (e) {
      throw new KensaError('KENSA_ERR_NO_ADAPTER', `No WebGPU adapter matched ${JSON.stringify(opts.adapter ?? 'default')}: ${String(e)}`, { cause: e });
    }
    if (!adapter) {
      const what = opts.adapter === undefined ? 'found' : `matched ${JSON.stringify(opts.adapter)}`;
      throw new KensaError('KENSA_ERR_NO_ADAPTER', `No WebGPU adapter ${what} (is a Vulkan driver installed? see README "GPU set-up")`);
    }
    const wanted = opts.shaderF16 === false ? WANTED_FEATURES.filter((f) => f !== 'shader-f16') : WANTED_FEATURES;
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
    const requiredLimits: Record<string, number> = {};
    for (const k of LIMITS) requiredLimits[k] = Number(adapter.limits[k]);
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
    return new Gpu(navigator, adapter, device, opts);
  }

  get lost(): boolean {
    return this.#lost !== null;
  }

  #assertAlive(): void {
    if (this.#lost !== null) throw new KensaError('KENSA_ERR_DEVICE_LOST', `The GPU device was lost (${this.#lost}); open a new one with Gpu.open()`);
  }

  #wrapError(error: GPUError, where: string): KensaError {
    const programs = [...this.#pendingNames].join(', ') || 'none';
    if (error instanceof GPUOutOfMemoryError) {
      this.pool.trim();
      return new KensaError('KENSA_ERR_GPU_OUT_OF_MEMORY', `GPU out of memory (${where}; programs: ${programs}): ${error.message}`);
    }
    return new KensaError('KENSA_ERR_GPU_VALIDATION', `WebGPU rejected a command (${where}; programs: ${programs}): ${error.message}`);
  }

  #scoped<T>(where: string, fn: () => T): T {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    try {
      return fn();
    } finally {
      const validation = this.device.popErrorScope();
      const oom = this.device.popErrorScope();
      this.#errors.push(
        Promise.all([validation, oom]).then(([v, o]) => {
          const e = o ?? v;
          return e ? this.#wrapError(e, where) : null;
        }),
      );
    }
  }

  /** Pooled storage buffer for a tensor of `bytes` (rounded up to whole words). */
  alloc(bytes: number): BufferRef {
    this.#assertAlive();
    const words = Math.max(4, Math.ceil(bytes / 4) * 4);
    const max = this.info.limits.maxStorageBufferBindingSize!;
    if (words > max) {
      throw new KensaError(
        'KENSA_ERR_GPU_OUT_OF_MEMORY',
        `A tensor of ${words} bytes exceeds this adapter's largest storage binding (${max} bytes); use a smaller batch`,
      );
    }
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    return { buffer: this.pool.acquire(words, (size) => this.#scoped('alloc', () => this.device.createBuffer({ size, usage }))), bytes: words };
  }

  free(ref: BufferRef): void {
    if (this.#lost === null) this.pool.release(ref.buffer);
  }

  #pipeline(program: ProgramInfo): PipelineEntry {
    const memo = this.#programMemo.get(program);
    if (memo) return memo;
    const key = cacheKey(program, this.#wgsl);
    let entry = this.#pipelines.get(key);
    if (!entry) {
      const compiled = buildSource(program, this.#wgsl);
      entry = this.#scoped(`compile ${program.name}[${program.key}]`, () => {
        const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } }];
        for (let i = 0; i < program.inputs.length; i++)
          entries.push({ binding: 1 + i, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } });
        for (let i = 0; i < program.outputs.length; i++)
          entries.push({ binding: 1 + program.inputs.length + i, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } });
        const layout = this.device.createBindGroupLayout({ entries });
        const module = this.device.createShaderModule({ code: compiled.source, label: key });
        const pipeline = this.device.createComputePipeline({
          layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
          compute: { module, entryPoint: 'main' },
          label: key,
        });
        return { pipeline, layout, compiled, id: this.#pipelines.size };
      });
      this.#pipelines.set(key, entry);
      this.stats.pipelines++;
    }
    this.#programMemo.set(program, entry);
    return entry;
  }

  /**
   * Compiles a program now and reports WGSL errors with line numbers (tests compile every
   * variant this way; the ORT pad.ts bracket bug shows why).
   */
  async compile(program: ProgramInfo): Promise<void> {
    this.#assertAlive();
    const compiled = buildSource(program, this.#wgsl);
    // scoped, so a failed compile is reported here and not again by the next sync()
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: compiled.source });
    const info = await module.getCompilationInfo();
    await this.device.popErrorScope();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      const lines = compiled.source.split('\n');
      const detail = errors.map((m) => `line ${m.lineNum}: ${m.message}\n  ${lines[m.lineNum - 1]?.trim() ?? ''}`).join('\n');
      throw new KensaError('KENSA_ERR_SHADER', `WGSL of ${program.name}[${program.key}] failed to compile:\n${detail}`);
    }
    this.device.pushErrorScope('validation');
    this.#pipeline(program);
    const e = await this.device.popErrorScope();
    if (e) throw new KensaError('KENSA_ERR_SHADER', `Pipeline of ${program.name}[${program.key}] was rejected: ${e.message}`);
  }

  #openPass(): GPUComputePassEncoder {
    if (this.#pass) return this.#pass;
    this.#encoder ??= this.device.createCommandEncoder();
    let timestampWrites: GPUComputePassTimestampWrites | undefined;
    if (this.#timing && this.#querySet && this.#queryCount + 2 <= MAX_QUERIES) {
      timestampWrites = { querySet: this.#querySet, beginningOfPassWriteIndex: this.#queryCount, endOfPassWriteIndex: this.#queryCount + 1 };
      this.#queryCount += 2;
    }
    this.#pass = this.#encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    return this.#pass;
  }

  #encoderWithoutPass(): GPUCommandEncoder {
    this.#pass?.end();
    this.#pass = null;
    this.#encoder ??= this.device.createCommandEncoder();
    return this.#encoder;
  }

  /** Records one kernel launch into the pending command stream. */
  dispatch(args: DispatchArgs): void {
    this.#assertAlive();
    // sized uniform arrays (per-sample parameters) hold what this dispatch's values fill
    const program = sizedProgram(args.program, args.uniforms);
    const entry = this.#pipeline(program);
    const size = entry.compiled.layout.size;
    const slot = Math.ceil(size / this.#uniformAlign) * this.#uniformAlign;
    if (this.#uniformUsed + slot > UNIFORM_ARENA_BYTES) this.flush();
    const offset = this.#uniformUsed;
    new Uint8Array(this.#uniformData, offset, size).fill(0);
    entry.compiled.layout.pack(args.uniforms, this.#uniformView, offset);
    this.#uniformUsed += slot;
    this.stats.transfers.uniformBytes += slot;
    const bindGroup = this.#bindGroup(entry, size, args.inputs, args.outputs);
    const [x, y, z] = typeof args.workgroups === 'number' ? foldWorkgroups(args.workgroups) : args.workgroups;
    const pass = this.#openPass();
    pass.setPipeline(entry.pipeline);
    pass.setBindGroup(0, bindGroup, [offset]);
    pass.dispatchWorkgroups(x, y, z);
    this.#pendingNames.add(program.name);
    this.stats.dispatches++;
  }

  #bufferId(b: GPUBuffer): number {
    let id = this.#bufferIds.get(b);
    if (id === undefined) this.#bufferIds.set(b, (id = this.#nextBufferId++));
    return id;
  }

  #bindGroup(entry: PipelineEntry, uniformSize: number, inputs: readonly BufferRef[], outputs: readonly BufferRef[]): GPUBindGroup {
    let key = `${entry.id}`;
    for (const r of inputs) key += `,${this.#bufferId(r.buffer)}:${r.bytes}`;
    for (const r of outputs) key += `,${this.#bufferId(r.buffer)}:${r.bytes}`;
    let group = this.#bindGroups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.#uniformBuffer, offset: 0, size: uniformSize } }];
      let binding = 1;
      for (const ref of inputs) entries.push({ binding: binding++, resource: { buffer: ref.buffer, offset: 0, size: ref.bytes } });
      for (const ref of outputs) entries.push({ binding: binding++, resource: { buffer: ref.buffer, offset: 0, size: ref.bytes } });
      group = this.device.createBindGroup({ layout: entry.layout, entries });
      if (this.#bindGroups.size >= 8192) this.#bindGroups.clear();
      this.#bindGroups.set(key, group);
    }
    return group;
  }

  /** Records zero-filling of a buffer (pooled buffers hold stale data; accumulators need zeros). */
  clear(ref: BufferRef): void {
    this.#assertAlive();
    this.#encoderWithoutPass().clearBuffer(ref.buffer, 0, ref.bytes);
  }

  /** Records a copy of `bytes` bytes from `src` at `srcOffset` to `dst` at `dstOffset` (all multiples of 4). */
  copy(src: BufferRef, srcOffset: number, dst: BufferRef, dstOffset: number, bytes: number): void {
    this.#assertAlive();
    this.#encoderWithoutPass().copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
  }

  /** Submits the pending command stream (no wait). */
  flush(): void {
    this.#assertAlive();
    if (!this.#encoder) return;
    const encoder = this.#encoderWithoutPass();
    this.#scoped('submit', () => {
      if (this.#uniformUsed > 0) this.device.queue.writeBuffer(this.#uniformBuffer, 0, this.#uniformData, 0, this.#uniformUsed);
      this.device.queue.submit([encoder.finish()]);
    });
    this.#encoder = null;
    this.#uniformUsed = 0;
    this.stats.submits++;
    this.#upload.submitted();
    for (const t of this.#passTimings.splice(0)) readPassTiming(t);
  }

  /**
   * GPU milliseconds of the dispatches `record` makes, recorded in a compute pass of their own
   * (the GEMM autotune's measurement): resolves once a flush has submitted the pass and it has run;
   * NaN when `record` flushed midway (part of it ran untimed). Null, with `record` still run,
   * where the adapter has no timestamp-query.
   */
  timePass(record: () => void): Promise<number> | null {
    this.#assertAlive();
    if (!this.hasTimestamps) {
      record();
      return null;
    }
    const encoder = this.#encoderWithoutPass();
    const querySet = this.device.createQuerySet({ type: 'timestamp', count: 2 });
    const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    this.#pass = pass;
    record();
    const whole = this.#encoder === encoder && this.#pass === pass;
    const resolve = this.device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = this.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const after = this.#encoderWithoutPass();
    after.resolveQuerySet(querySet, 0, 2, resolve, 0);
    after.copyBufferToBuffer(resolve, 0, read, 0, 16);
    return new Promise((done, fail) => this.#passTimings.push({ querySet, resolve, read, whole, done, fail }));
  }

  /** Waits for all submitted work and throws the first error WebGPU reported since the last sync. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.#throwErrors();
  }

  async #throwErrors(): Promise<void> {
    const pending = this.#errors.splice(0);
    const names = this.#pendingNames;
    const results = await Promise.all(pending);
    const first = results.find((e) => e !== null);
    this.#pendingNames = new Set();
    this.#assertAlive();
    if (first) {
      names.clear();
      throw first;
    }
  }

  /**
   * Copies host bytes into a GPU buffer through the upload ring, ordered with pending dispatches.
   * `data` may be several parts (the frames of a batch), uploaded as if concatenated: no host-side
   * copy assembles them first. An upload of one ring chunk is recorded into the pending command
   * stream. A larger one flushes the stream and submits each chunk's copy on its own, so the DMA of
   * one chunk overlaps the host copy into the next staging buffer (the host memcpy bounds the
   * rate; see staging.ts).
   */
  async upload(dst: BufferRef, data: Uint8Array | readonly Uint8Array[], dstOffset = 0): Promise<void> {
    this.#assertAlive();
    const parts = data instanceof Uint8Array ? [data] : data;
    const ring = this.#upload;
    const chunk = ring.chunkBytes;
    const total = parts.reduce((n, p) => n + p.byteLength, 0);
    const direct = total > chunk;
    let part = 0;
    let offset = 0;
    for (let start = 0; start < total; start += chunk) {
      const length = Math.min(chunk, total - start);
      let staging = ring.tryAcquire();
      if (!staging) {
        if (ring.hasPending) this.flush();
        staging = await ring.acquire();
        this.#assertAlive();
      }
      const bytes = Math.ceil(length / 4) * 4;
      const mapped = new Uint8Array(staging.getMappedRange(0, bytes));
      for (let filled = 0; filled < length; ) {
        const p = parts[part]!;
        const n = Math.min(p.byteLength - offset, length - filled);
        mapped.set(p.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (offset === p.byteLength) {
          part++;
          offset = 0;
        }
      }
      if (bytes > length) mapped.fill(0, length);
      staging.unmap();
      if (direct) {
        // dispatches recorded before this point (also while awaiting a staging buffer) go first
        if (this.#encoder) this.flush();
        const encoder = this.device.createCommandEncoder();
        encoder.copyBufferToBuffer(staging, 0, dst.buffer, dstOffset + start, bytes);
        this.device.queue.submit([encoder.finish()]);
        this.stats.submits++;
        ring.remap(staging);
      } else {
        this.#encoderWithoutPass().copyBufferToBuffer(staging, 0, dst.buffer, dstOffset + start, bytes);
        ring.used(staging);
        // a concurrent upload waits for this buffer: submit, so it re-maps
        if (ring.hasWaiters) this.flush();
      }
    }
    this.stats.transfers.uploads++;
    this.stats.transfers.uploadBytes += total;
  }

  /**
   * Reads `bytes` from a GPU buffer; submits pending work first. Returns a new ArrayBuffer of
   * exactly `bytes`, or, given `into` (at least `bytes` long), fills it and returns
   * `into.subarray(0, bytes)`: a reused destination skips the page faults of fresh memory.
   */
  read(src: BufferRef, bytes?: number): Promise<ArrayBuffer>;
  read(src: BufferRef, bytes: number, into: Uint8Array): Promise<Uint8Array>;
  async read(src: BufferRef, bytes = src.bytes, into?: Uint8Array): Promise<ArrayBuffer | Uint8Array> {
    this.#assertAlive();
    if (into && into.byteLength < bytes) {
      throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected a destination of at least ${bytes} bytes but received ${into.byteLength}`);
    }
    const padded = Math.ceil(bytes / 4) * 4;
    const staging = this.#readback.acquire(padded);
    this.#encoderWithoutPass().copyBufferToBuffer(src.buffer, 0, staging, 0, padded);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, padded);
    } catch (e) {
      this.#assertAlive();
      await this.#throwErrors();
      throw new KensaError('KENSA_ERR_GPU_VALIDATION', `Readback failed: ${String(e)}`, { cause: e });
    }
    const mapped = new Uint8Array(staging.getMappedRange(0, padded), 0, bytes);
    let out: ArrayBuffer | Uint8Array;
    if (into) {
      into.set(mapped);
      out = into.subarray(0, bytes);
    } else {
      out = hostCopy(mapped);
    }
    staging.unmap();
    this.#readback.release(staging);
    await this.#throwErrors();
    this.stats.transfers.downloads++;
    this.stats.transfers.downloadBytes += bytes;
    return out;
  }

  /**
   * Times the GPU passes recorded until `stop()` with timestamp queries.
   * Throws when the adapter has no `timestamp-query`.
   */
  startTimer(): GpuTimer {
    if (!this.hasTimestamps) throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `The adapter ${this.info.name} has no timestamp-query feature`);
    this.flush();
    this.#querySet ??= this.device.createQuerySet({ type: 'timestamp', count: MAX_QUERIES });
    this.#queryCount = 0;
    this.#timing = true;
    this.#pass?.end();
    this.#pass = null;
    return {
      stop: async () => {
        this.#timing = false;
        const count = this.#queryCount;
        const encoder = this.#encoderWithoutPass();
        const bytes = Math.max(8, count * 8);
        const resolve = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
        if (count > 0) encoder.resolveQuerySet(this.#querySet!, 0, count, resolve, 0);
        const raw = new BigUint64Array(await this.read({ buffer: resolve, bytes }, bytes));
        resolve.destroy();
        let ns = 0n;
        for (let i = 0; i + 1 < count; i += 2) ns += raw[i + 1]! - raw[i]!;
        return { gpuMs: Number(ns) / 1e6, passes: count / 2 };
      },
    };
  }

  allStats(): GpuStats {
    return { ...this.stats, transfers: { ...this.stats.transfers }, pool: { ...this.pool.stats } };
  }

  /** Full WGSL of a program as this device compiles it. */
  source(program: ProgramInfo): string {
    return buildSource(program, this.#wgsl).source;
  }

  /** Releases the device; tensors on it become unusable. */
  destroy(): void {
    this.#pass = null;
    this.#encoder = null;
    this.pool.trim();
    this.device.destroy();
    this.#lost ??= 'destroyed';
    void this.#navigator;
  }
}

/** A timed pass waiting for its submit: its queries, their resolve and readback buffers, and who waits. */
interface PassTiming {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  read: GPUBuffer;
  /** Whether every dispatch of the pass ran inside it (no flush midway). */
  whole: boolean;
  done: (ms: number) => void;
  fail: (e: unknown) => void;
}

function readPassTiming(t: PassTiming): void {
  const release = () => {
    t.querySet.destroy();
    t.resolve.destroy();
    t.read.destroy();
  };
  t.read.mapAsync(GPUMapMode.READ).then(
    () => {
      const [begin, end] = new BigUint64Array(t.read.getMappedRange());
      t.read.unmap();
      release();
      t.done(t.whole ? Number(end! - begin!) / 1e6 : Number.NaN);
    },
    (e: unknown) => {
      release();
      t.fail(e);
    },
  );
}

/** Dawn lists the shapes on the adapter info (`GPUSubgroupMatrixConfig`, not yet in @webgpu/types). */
function subgroupMatrixConfigs(info: GPUAdapterInfo): SubgroupMatrixConfig[] {
  const configs = (info as GPUAdapterInfo & { subgroupMatrixConfigs?: Iterable<SubgroupMatrixConfig> }).subgroupMatrixConfigs ?? [];
  return [...configs].map((c) => ({ M: c.M, N: c.N, K: c.K, componentType: String(c.componentType), resultComponentType: String(c.resultComponentType) }));
}

/**
 * A new ArrayBuffer holding a copy of `bytes`. Fresh memory costs a page fault per 4 KiB page
 * (slower than the copy itself); an uninitialised allocation at least skips zeroing it first, and
 * below glibc's mmap threshold reuses freed heap.
 */
function hostCopy(bytes: Uint8Array): ArrayBuffer {
  const out = Buffer.allocUnsafeSlow(bytes.byteLength);
  out.set(bytes);
  return out.buffer as ArrayBuffer;
}

/** Splits a linear workgroup count into a grid within the 65535-per-dimension limit. */
export function foldWorkgroups(n: number): [number, number, number] {
  const max = 65535;
  if (n <= max) return [Math.max(1, n), 1, 1];
  const y = Math.ceil(n / max);
  const x = Math.ceil(n / y);
  return [x, y, 1];
}
