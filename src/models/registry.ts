/**
 * The models open in this process, by the sha256 of their file: a run opens its model once
 * (warm-up included) before the first batch, and the model detector finds it by the recipe's
 * `model.sha256`, so a recipe stays data and any number of batches share it. Two kinds run behind
 * one interface (ModelRunner): an ONNX file (ONNX Runtime sessions) and a kensa UNet's
 * `.safetensors` file (kensa's nn engine, on the run's Gpu or the CPU).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { KensaError } from '../errors.js';
import type { Gpu } from '../gpu/gpu.js';
import { ModelSession, type OutputData, type SessionOptions, type TensorInfo } from './session.js';
import { UNetRunner } from './unet-runner.js';

/** What the model detector needs of a model: its declared tensors and a batched run on host arrays. */
export interface ModelRunner {
  /** Where the model came from (a path), for messages. */
  readonly name: string;
  readonly input: TensorInfo;
  readonly outputs: readonly TensorInfo[];
  readonly inputDType: 'f32' | 'f16';
  /** Where it runs, as a run's device records it. */
  readonly runsOn: string;
  /** The execution provider it runs on (`cuda`, `webgpu`, `cpu`; `kensa-webgpu` / `kensa-cpu` for a kensa UNet). */
  readonly provider: string;
  /** Providers that failed before it, with why (none for a kensa UNet). */
  readonly fallbacks: readonly { provider: string; reason: string }[];
  /** N inputs (f32 values, or f16 bits for a float16 input) in, the outputs for the N out. */
  runBatch(data: Float32Array | Uint16Array, dims: number[]): Promise<OutputData[]>;
  close(): Promise<void>;
}

const open = new Map<string, ModelRunner>();

export interface ModelFile {
  path: string;
  bytes: Uint8Array;
  /** sha256 hex of the bytes. */
  sha256: string;
}

/** Reads a model file (ONNX or a UNet's safetensors) and hashes it; KENSA_ERR_MODEL when it cannot be read. */
export async function readModelFile(path: string): Promise<ModelFile> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new KensaError('KENSA_ERR_MODEL', `Cannot read model ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)}`, { cause: e });
  }
  return { path, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export interface OpenModel {
  session: ModelRunner;
  /** Unregisters the model and closes it. */
  close(): Promise<void>;
}

/** A file of this name is a kensa UNet's weights (UNet.toSafetensors); any other an ONNX model. */
export function isUNetFile(path: string): boolean {
  return path.toLowerCase().endsWith('.safetensors');
}

/**
 * Opens the model and registers it under its sha256: a UNet's safetensors on `gpu` (the CPU when
 * null; ONNX Runtime's options do not apply), an ONNX file's sessions (see ModelSession.load).
 */
export async function openModel(file: ModelFile, options: SessionOptions, gpu: Gpu | null = null): Promise<OpenModel> {
  const session: ModelRunner = isUNetFile(file.path) ? await UNetRunner.open(file, gpu) : await ModelSession.load(file.bytes, file.path, options);
  open.set(file.sha256, session);
  return {
    session,
    close: async () => {
      if (open.get(file.sha256) === session) open.delete(file.sha256);
      await session.close();
    },
  };
}

/** The open model with this sha256; KENSA_ERR_MODEL naming the file when none is open. */
export function openedModel(sha256: string, path: string): ModelRunner {
  const session = open.get(sha256);
  if (!session)
    throw new KensaError(
      'KENSA_ERR_MODEL',
      `Model ${path} (sha256 ${sha256.slice(0, 12)}) is not open in this process: open it with openModel before detecting`,
    );
  return session;
}
