/**
 * ONNX Runtime's execution providers: those onnxruntime-node lists, whether each is usable here
 * (bundled, or its provider library installed next to the binding: cuda, tensorrt), and the order
 * a model session tries them in when the user names none.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface ExecutionProviderInfo {
  name: string;
  bundled: boolean;
  /** Bundled, or its provider library is present next to the binding. */
  installed: boolean;
  note: string;
}

/** The providers a session may name, fastest first: the order of the default fallback. */
export const EXECUTION_PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

interface OrtListing {
  listSupportedBackends(): { name: string; bundled: boolean }[];
  env: { versions: Record<string, string | undefined> };
}

/** ONNX Runtime's execution providers as onnxruntime-node lists them. */
export async function onnxProviders(): Promise<{ version: string; providers: ExecutionProviderInfo[] }> {
  const ort = (await import('onnxruntime-node')) as unknown as OrtListing;
  const require = createRequire(import.meta.url);
  const binDir = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  const ext = process.platform === 'win32' ? '.dll' : process.platform === 'darwin' ? '.dylib' : '.so';
  const prefix = process.platform === 'win32' ? '' : 'lib';
  const providers = ort.listSupportedBackends().map(({ name, bundled }) => {
    if (bundled) return { name, bundled, installed: true, note: 'bundled' };
    const lib = `${prefix}onnxruntime_providers_${name}${ext}`;
    const installed = existsSync(join(binDir, lib));
    return {
      name,
      bundled,
      installed,
      note: installed ? `installed (${lib})` : `not installed (${lib} missing; see README "ONNX Runtime and CUDA")`,
    };
  });
  return { version: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown', providers };
}

/** The default order: cuda when installed, webgpu when bundled, then cpu. */
export async function defaultProviders(): Promise<ExecutionProvider[]> {
  const { providers } = await onnxProviders();
  const usable = new Set(providers.filter((p) => p.installed).map((p) => p.name));
  return EXECUTION_PROVIDERS.filter((p) => p === 'cpu' || usable.has(p));
}
