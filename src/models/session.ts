/**
 * A model's ONNX Runtime sessions (Triton's instance group): `sessions` worker threads (piscina),
 * each holding one session of the model, so inference never blocks the event loop and up to that
 * many batches run at once. Each session tries the providers in order (default: cuda when
 * installed, webgpu, cpu), a provider counting only once it has run the warm-up shapes; one that
 * fails is reported with its reason and the next one tried, unless `strict`.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { KensaError } from '../errors.js';
import { integerInRange, oneOf } from '../validate.js';
import { defaultProviders, EXECUTION_PROVIDERS, type ExecutionProvider } from './providers.js';
import type { FromWorker, GraphOptimization, OutputData, ProviderFailure, SessionSetup, SessionTask, TensorInfo } from './session-worker.js';

export type { GraphOptimization, OutputData, ProviderFailure, TensorInfo } from './session-worker.js';

export const GRAPH_OPTIMIZATIONS: readonly GraphOptimization[] = ['disabled', 'basic', 'extended', 'all'];
export const MAX_SESSIONS = 16;

export interface SessionOptions {
  /** Providers in the order tried (default: cuda when installed, webgpu, cpu). */
  providers?: readonly ExecutionProvider[];
  /** Fail when the first provider fails instead of falling back to the next. */
  strict?: boolean;
  /** ONNX Runtime's graph optimization level (default 'all'). */
  graphOptimization?: GraphOptimization;
  /** Intra-op threads of each session, 0 … 256; 0 (default) lets ONNX Runtime choose. */
  intraOpThreads?: number;
  /** Sessions, each on its own thread, 1 … 16 (default 1). */
  sessions?: number;
  /** Input shapes each session runs once before it counts as ready (those the run will use; a dimension the model fixes takes the model's size). */
  warmUp?: readonly (readonly number[])[];
}

/** The element types a model's input and outputs may have. */
const FLOAT_TYPES = ['float32', 'float16'];

function failureList(fallbacks: readonly ProviderFailure[]): string {
  return fallbacks.map((f) => `${f.provider}: ${f.reason}`).join('; ');
}

type Ready = Extract<FromWorker, { kind: 'ready' }>;

export class ModelSession {
  /** Where the model came from (a path), for messages. */
  readonly name: string;
  /** The provider every session runs on. */
  readonly provider: ExecutionProvider;
  /** The providers tried before it, each with why it failed (a fallback, counted and shown). */
  readonly fallbacks: readonly ProviderFailure[];
  readonly input: TensorInfo;
  readonly outputs: readonly TensorInfo[];
  readonly #pool: Piscina<SessionTask, FromWorker>;

  private constructor(name: string, ready: Ready, pool: Piscina<SessionTask, FromWorker>) {
    this.name = name;
    this.provider = ready.provider;
    this.fallbacks = ready.fallbacks;
    this.input = ready.inputs[0]!;
    this.outputs = ready.outputs;
    this.#pool = pool;
  }

  /**
   * Opens `sessions` sessions of the model (its bytes; `name` says where they came from) and warms
   * them up. Throws KENSA_ERR_MODEL naming each provider's failure when none works, and when the
   * model's input or outputs are not what kensa can feed or read (one float input of rank 4).
   */
  static async load(model: Uint8Array, name: string, options: SessionOptions = {}): Promise<ModelSession> {
    const providers = options.providers ?? (await defaultProviders());
    if (providers.length === 0) throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', 'Expected at least one execution provider for providers but received none');
    for (const p of providers) oneOf('providers', p, EXECUTION_PROVIDERS);
    const sessions = integerInRange('sessions', options.sessions ?? 1, 1, MAX_SESSIONS);
    const setup: SessionSetup = {
      model,
      providers,
      strict: options.strict ?? false,
      graphOptimization: oneOf('graphOptimization', options.graphOptimization ?? 'all', GRAPH_OPTIMIZATIONS),
      intraOpThreads: integerInRange('intraOpThreads', options.intraOpThreads ?? 0, 0, 256),
      warmUp: options.warmUp ?? [],
    };
    const ext = extname(fileURLToPath(import.meta.url)); // .ts under tsx, .js when built
    const pool = new Piscina<SessionTask, FromWorker>({
      filename: new URL(`./session-worker${ext}`, import.meta.url).href,
      minThreads: sessions,
      maxThreads: sessions,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData: setup,
    });
    try {
      // one open task per thread: a thread holds one task at a time, so each answers for its own session
      const answers = await Promise.all(Array.from({ length: sessions }, () => pool.run({ kind: 'open' })));
      const failed = answers.find((a) => a.kind === 'failed');
      if (failed) {
        const how = setup.strict ? `${providers[0]} (strict: no fallback)` : `any of ${providers.join(', ')}`;
        throw new KensaError('KENSA_ERR_MODEL', `Model ${name} could not run on ${how}: ${failureList(failed.fallbacks)}`);
      }
      const ready = answers as Ready[];
      const other = ready.find((r) => r.provider !== ready[0]!.provider);
      if (other) throw new KensaError('KENSA_ERR_MODEL', `Model ${name}'s sessions opened on different providers: ${ready[0]!.provider} and ${other.provider}`);
      checkTensors(name, ready[0]!);
      return new ModelSession(name, ready[0]!, pool);
    } catch (e) {
      await pool.destroy();
      throw e;
    }
  }

  /** The provider, and those that failed before it. */
  get runsOn(): string {
    return `onnxruntime ${this.provider}${this.fallbacks.length > 0 ? ` (fell back from ${this.fallbacks.map((f) => f.provider).join(', ')})` : ''}`;
  }

  /** The input's element type as kensa names it. */
  get inputDType(): 'f32' | 'f16' {
    return this.input.type === 'float16' ? 'f16' : 'f32';
  }

  /**
   * Runs the model on one input (f32 values, or f16 bits for a float16 input) on the next free
   * session; `data` is transferred to its thread when it spans its buffer (detached here).
   */
  async run(data: Float32Array | Uint16Array, dims: number[]): Promise<OutputData[]> {
    const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    const r = await this.#pool.run({ kind: 'run', data, dims }, own ? { transferList: [data.buffer as ArrayBuffer] } : {});
    if (r.kind === 'result') return r.outputs;
    const why = r.kind === 'error' ? r.message : r.kind;
    throw new KensaError('KENSA_ERR_MODEL', `Model ${this.name} failed on an input of dims [${dims.join(', ')}]: ${why}`);
  }

  /**
   * Runs N inputs in batches the model takes: all at once when its batch dimension is dynamic (or
   * already N), else chunks of its fixed batch (the last one padded with zeros), run on the pool at
   * once; the outputs are concatenated along the batch, padding dropped.
   */
  async runBatch(data: Float32Array | Uint16Array, dims: number[]): Promise<OutputData[]> {
    const fixed = this.input.shape[0];
    const n = dims[0]!;
    if (typeof fixed !== 'number' || fixed <= 0 || fixed === n) return this.run(data, dims);
    const per = data.length / n;
    const Ctor = data.constructor as new (k: number) => Float32Array | Uint16Array;
    const chunks: Promise<OutputData[]>[] = [];
    for (let start = 0; start < n; start += fixed) {
      const chunk = new Ctor(fixed * per);
      chunk.set(data.subarray(start * per, Math.min(n, start + fixed) * per));
      chunks.push(this.run(chunk, [fixed, ...dims.slice(1)]));
    }
    const results = await Promise.all(chunks);
    return results[0]!.map((first, k) => {
      const size = first.data.length / fixed;
      const out = new (first.data.constructor as new (m: number) => Float32Array | Uint16Array)(n * size);
      for (const [i, r] of results.entries()) out.set(r[k]!.data.subarray(0, Math.min(fixed, n - i * fixed) * size), i * fixed * size);
      return { ...first, dims: [n, ...first.dims.slice(1)], data: out };
    });
  }

  /** Releases every session and stops their threads. */
  close(): Promise<void> {
    return this.#pool.destroy();
  }
}

/** One float input of rank 4 (N×C×H×W), float outputs. */
function checkTensors(model: string, ready: Ready): void {
  if (ready.inputs.length !== 1) throw new KensaError('KENSA_ERR_MODEL', `Model ${model}: expected one input (N×C×H×W) but it has ${ready.inputs.length}`);
  const { name, type, shape } = ready.inputs[0]!;
  if (!FLOAT_TYPES.includes(type)) throw new KensaError('KENSA_ERR_MODEL', `Model ${model}: expected a float32 or float16 input but input ${name} is ${type}`);
  if (shape.length !== 4)
    throw new KensaError(
      'KENSA_ERR_MODEL',
      `Model ${model}: expected an input of rank 4 (N×C×H×W) but input ${name} has rank ${shape.length} [${shape.join(', ')}]`,
    );
  for (const o of ready.outputs) {
    if (!FLOAT_TYPES.includes(o.type))
      throw new KensaError('KENSA_ERR_MODEL', `Model ${model}: expected float32 or float16 outputs but output ${o.name} is ${o.type}`);
  }
}
