/**
 * The model sessions open in this process, by the sha256 of their file: a run opens its model's
 * sessions once (warm-up included) before the first batch, and the model detector finds them by
 * the recipe's `model.sha256`, so a recipe stays data and any number of batches share the sessions.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { KensaError } from '../errors.js';
import { ModelSession, type SessionOptions } from './session.js';

const open = new Map<string, ModelSession>();

export interface ModelFile {
  path: string;
  bytes: Uint8Array;
  /** sha256 hex of the bytes. */
  sha256: string;
}

/** Reads an ONNX file and hashes it; KENSA_ERR_MODEL when it cannot be read. */
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
  session: ModelSession;
  /** Unregisters the sessions and closes them. */
  close(): Promise<void>;
}

/** Opens the model's sessions (see ModelSession.load) and registers them under its sha256. */
export async function openModel(file: ModelFile, options: SessionOptions): Promise<OpenModel> {
  const session = await ModelSession.load(file.bytes, file.path, options);
  open.set(file.sha256, session);
  return {
    session,
    close: async () => {
      if (open.get(file.sha256) === session) open.delete(file.sha256);
      await session.close();
    },
  };
}

/** The open sessions of the model with this sha256; KENSA_ERR_MODEL naming the file when none are open. */
export function openedModel(sha256: string, path: string): ModelSession {
  const session = open.get(sha256);
  if (!session)
    throw new KensaError(
      'KENSA_ERR_MODEL',
      `Model ${path} (sha256 ${sha256.slice(0, 12)}) is not open in this process: open it with openModel before detecting`,
    );
  return session;
}
