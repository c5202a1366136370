/**
 * One ONNX Runtime session on its own thread (ModelSession's pool): onnxruntime-node's run computes
 * on the calling thread, so a session on the main thread would stall the event loop for the whole
 * inference. At start the worker tries the providers in order: a provider counts as working once
 * its session is created and has run the warm-up shapes (some create a session they cannot run).
 */
import { workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { ExecutionProvider } from './providers.js';

export type GraphOptimization = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionSetup {
  model: Uint8Array;
  providers: readonly ExecutionProvider[];
  /** Stop at the first provider that fails instead of trying the next. */
  strict: boolean;
  graphOptimization: GraphOptimization;
  /** ONNX Runtime's intra-op threads; 0 lets it choose. */
  intraOpThreads: number;
  /** Input shapes run once with zeros before the session counts as ready; a dimension the model fixes takes the model's size. */
  warmUp: readonly (readonly number[])[];
}

/** An input or output as the model declares it: dimensions are sizes or symbolic names. */
export interface TensorInfo {
  name: string;
  /** ONNX Runtime's element type name: float32, float16, int64… */
  type: string;
  shape: (number | string)[];
}

export interface OutputData {
  name: string;
  type: string;
  dims: number[];
  data: Float32Array | Uint16Array;
}

export type FromWorker =
  | { kind: 'ready'; provider: ExecutionProvider; fallbacks: ProviderFailure[]; inputs: TensorInfo[]; outputs: TensorInfo[] }
  | { kind: 'failed'; fallbacks: ProviderFailure[] }
  | { kind: 'result'; outputs: OutputData[] }
  | { kind: 'error'; message: string };

export interface ProviderFailure {
  provider: ExecutionProvider;
  reason: string;
}

function infoOf(m: ort.InferenceSession.ValueMetadata): TensorInfo {
  return m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] };
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
}

function zeros(input: ort.InferenceSession.ValueMetadata, asked: readonly number[]): ort.Tensor {
  const type = input.isTensor ? input.type : 'float32';
  const declared = input.isTensor ? input.shape : [];
  const dims = asked.map((d, i) => (typeof declared[i] === 'number' && declared[i] > 0 ? declared[i] : d));
  const n = dims.reduce((a, b) => a * b, 1);
  return type === 'float16' ? new ort.Tensor('float16', new Uint16Array(n), [...dims]) : new ort.Tensor('float32', new Float32Array(n), [...dims]);
}

async function open(setup: SessionSetup): Promise<{ session: ort.InferenceSession; message: FromWorker }> {
  const fallbacks: ProviderFailure[] = [];
  for (const provider of setup.providers) {
    let session: ort.InferenceSession | null = null;
    try {
      session = await ort.InferenceSession.create(setup.model, {
        executionProviders: [provider],
        graphOptimizationLevel: setup.graphOptimization,
        ...(setup.intraOpThreads > 0 ? { intraOpNumThreads: setup.intraOpThreads } : {}),
        logSeverityLevel: 4,
      });
      const input = session.inputMetadata[0]!;
      for (const dims of setup.warmUp) await session.run({ [input.name]: zeros(input, dims) });
      return {
        session,
        message: { kind: 'ready', provider, fallbacks, inputs: session.inputMetadata.map(infoOf), outputs: session.outputMetadata.map(infoOf) },
      };
    } catch (e) {
      await session?.release();
      fallbacks.push({ provider, reason: firstLine(e) });
      if (setup.strict) break;
    }
  }
  throw fallbacks;
}

/** What a session thread is asked: its session's state (opening it at the thread's start), or one inference. */
export type SessionTask = { kind: 'open' } | { kind: 'run'; data: Float32Array | Uint16Array; dims: number[] };

// a provider that fails is reported by its message; the runtime's own log would repeat it on stderr
ort.env.logLevel = 'fatal';

// each thread opens its session as soon as it starts; every task waits for it
const opened: Promise<{ session: ort.InferenceSession; message: FromWorker } | { failed: ProviderFailure[] }> = open(workerData as SessionSetup).catch(
  (failed: ProviderFailure[]) => ({ failed }),
);

export default async function task(t: SessionTask): Promise<FromWorker | ReturnType<typeof move>> {
  const o = await opened;
  if ('failed' in o) return { kind: 'failed', fallbacks: o.failed };
  if (t.kind === 'open') return o.message;
  const { session } = o;
  const input = session.inputMetadata[0]!;
  try {
    const x =
      input.isTensor && input.type === 'float16' ? new ort.Tensor('float16', t.data, t.dims) : new ort.Tensor('float32', t.data as Float32Array, t.dims);
    const result = await session.run({ [input.name]: x });
    const outputs = session.outputNames.map((name) => {
      const r = result[name]!;
      // a copy this thread owns: the runtime's output memory may not be transferable
      return { name, type: r.type, dims: [...r.dims], data: (r.data as Float32Array | Uint16Array).slice() };
    });
    const answer: FromWorker = { kind: 'result', outputs };
    return move({ [transferableSymbol]: outputs.map((out) => out.data.buffer), [valueSymbol]: answer });
  } catch (e) {
    return { kind: 'error', message: firstLine(e) };
  }
}
