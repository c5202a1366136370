/**
 * `kensa doctor`: what this machine offers kensa, and whether the GPU path computes what the
 * CPU reference computes. Prints the WebGPU adapters, the chosen adapter (name, driver
 * description, features, limits), ONNX Runtime's execution providers (listSupportedBackends();
 * providers that are not bundled, such as cuda, count only when their libraries were installed),
 * the CPU cores, and a self-test of a few kernels GPU vs CPU reference (PASS/FAIL).
 * Exit code 0 when every self-test passes, 1 on a failure or without a GPU, 2 on bad flags.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { readElement } from '../dtype.js';
import { Gpu, listAdapters } from '../gpu/gpu.js';
import { gaussianBlur } from '../ops/filters/gaussian.js';
import { Tensor } from '../tensor.js';
import { benchInput } from './bench.js';
import { crackKernel } from './bench-ops.js';
import { EXIT_FAIL, EXIT_OK, adapterFlag, guard, parseFlags, table, type CliIO } from './io.js';

export const DOCTOR_HELP = `Usage: kensa doctor [options]

Lists WebGPU adapters, the chosen adapter's features and limits, ONNX Runtime's execution
providers and the CPU cores, then checks a few kernels on the GPU against the CPU reference.

Options:
  --adapter <i|name>   adapter index or name substring (default: the preferred adapter)
  -h, --help           show this help
`;

const FLAGS = {
  adapter: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ExecutionProvider {
  name: string;
  bundled: boolean;
  /** Bundled, or its provider library is present next to the binding. */
  installed: boolean;
  note: string;
}

/** ONNX Runtime's execution providers as onnxruntime-node lists them. */
export async function onnxProviders(): Promise<{ version: string; providers: ExecutionProvider[] }> {
  const ort = (await import('onnxruntime-node')) as unknown as {
    listSupportedBackends(): { name: string; bundled: boolean }[];
    env: { versions: Record<string, string | undefined> };
  };
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
      note: installed ? `installed (${lib})` : `not installed (${lib} missing; npm install onnxruntime-node --onnxruntime-node-install=cuda12)`,
    };
  });
  return { version: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown', providers };
}

export interface SelfTest {
  name: string;
  tolerance: number;
  input: Tensor;
  op: (x: Tensor) => Tensor;
}

export const SELF_TESTS: readonly SelfTest[] = [
  { name: 'gaussianBlur sigma 2', tolerance: 1, input: benchInput([2, 3, 37, 41], 'u8', 7), op: (x) => gaussianBlur(x, { sigma: 2 }) },
  { name: 'gaussianBlur ksize 5 → f32', tolerance: 1e-4, input: benchInput([1, 1, 33, 30], 'f32', 8), op: (x) => gaussianBlur(x, { ksize: 5, dtype: 'f32' }) },
  { name: 'crack kernel threshold 20', tolerance: 0, input: benchInput([2, 1, 37, 41], 'u8', 9), op: (x) => crackKernel(x, { uniforms: { threshold: 20 } }) },
];

/** Runs each self-test on the GPU and the CPU; returns the largest difference per test. */
export async function selfTest(gpu: Gpu, tests: readonly SelfTest[] = SELF_TESTS): Promise<{ name: string; shape: string; maxDiff: number; tolerance: number; pass: boolean; error?: string }[]> {
  const out = [];
  for (const t of tests) {
    const shape = `${t.input.shape.join('×')} ${t.input.dtype}`;
    try {
      const expected = t.op(t.input);
      const g = await t.input.toGpu(gpu);
      const r = t.op(g);
      const actual = await r.toCpu();
      r.dispose();
      g.dispose();
      let maxDiff = 0;
      for (let i = 0; i < expected.size; i++) {
        const d = Math.abs(readElement(actual.dtype, actual.data, i) - readElement(expected.dtype, expected.data, i));
        maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
      }
      out.push({ name: t.name, shape, maxDiff, tolerance: t.tolerance, pass: maxDiff <= t.tolerance });
    } catch (e) {
      out.push({ name: t.name, shape, maxDiff: Infinity, tolerance: t.tolerance, pass: false, error: String(e) });
    }
  }
  return out;
}

/** `selfTests` replaces the built-in checks (tests use it to exercise the FAIL path). */
export async function run(argv: readonly string[], io: CliIO, deps: { selfTests?: readonly SelfTest[] } = {}): Promise<number> {
  return guard('doctor', io, async () => {
    const { values } = parseFlags(() => parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
    if (values.help) {
      io.out.write(DOCTOR_HELP);
      return EXIT_OK;
    }
    const adapter = adapterFlag(values.adapter);
    const w = (s: string) => io.out.write(s);
    const cpus = os.cpus();
    w(`kensa doctor\n\n`);
    w(`Node ${process.version} on ${process.platform} ${process.arch}\n`);
    w(`CPU: ${os.availableParallelism()} cores available (os.availableParallelism)${cpus[0] ? `, ${cpus[0].model.trim()}` : ''}\n\n`);

    const adapters = await listAdapters();
    w(`WebGPU adapters (${adapters.length}):\n`);
    for (const a of adapters) w(`  [${a.index}] ${a.backend}  ${a.name}\n`);
    if (adapters.length === 0) w('  none (is a Vulkan / Metal / D3D12 driver installed?)\n');
    w('\n');

    let gpu: Gpu | null = null;
    try {
      gpu = await Gpu.open(adapter === undefined ? {} : { adapter });
    } catch (e) {
      w(`Chosen adapter: none: ${(e as Error).message}\n\n`);
    }
    if (gpu) {
      const i = gpu.info;
      // Gpu.info.name is the driver's description on some drivers (NVIDIA); name the listed adapter when it is known
      const needle = typeof adapter === 'string' ? adapter.toLowerCase() : '';
      const matching = adapter === undefined ? adapters : typeof adapter === 'number' ? adapters.filter((a) => a.index === adapter) : adapters.filter((a) => a.name.toLowerCase().includes(needle));
      const listed = matching.length === 1 ? matching[0]! : null;
      w(`Chosen adapter: ${listed ? `[${listed.index}] ${listed.name} (${listed.backend})` : i.name}\n`);
      w(`  vendor: ${i.vendor || '-'}   architecture: ${i.architecture || '-'}\n`);
      w(`  driver: ${i.description || '-'}\n`);
      w(`  CPU rasteriser: ${i.isCpu ? 'yes (runs on the CPU cores; kensa openBackend auto measures it against the CPU reference)' : 'no'}\n`);
      w(`  features: ${i.features.join(', ') || 'none'}\n`);
      w('  limits:\n');
      w(
        table(Object.entries(i.limits).map(([k, v]) => [`    ${k}`, String(v)]))
          .split('\n')
          .filter((l) => l)
          .map((l) => l + '\n')
          .join(''),
      );
      w('\n');
    }

    try {
      const { version, providers } = await onnxProviders();
      w(`ONNX Runtime ${version} execution providers:\n`);
      w(table(providers.map((p) => [`  ${p.name}`, p.note])));
    } catch (e) {
      w(`ONNX Runtime: not loadable (${(e as Error).message.split('\n')[0]})\n`);
    }
    w('\n');

    w('Self-test (GPU vs CPU reference):\n');
    if (!gpu) {
      w('  FAIL  no GPU adapter: nothing to test\n');
      return EXIT_FAIL;
    }
    let failed = 0;
    try {
      for (const r of await selfTest(gpu, deps.selfTests)) {
        if (!r.pass) failed++;
        const detail = r.error ? `error: ${r.error}` : `max |gpu − cpu| ${Number(r.maxDiff.toPrecision(3))} ${r.tolerance === 0 ? '= 0' : `≤ ${r.tolerance}`}`;
        w(`  ${r.pass ? 'PASS' : 'FAIL'}  ${r.name}, ${r.shape} (${detail})\n`);
      }
      await gpu.sync();
    } finally {
      gpu.destroy();
    }
    w(failed === 0 ? 'All self-tests passed.\n' : `${failed} self-test${failed > 1 ? 's' : ''} failed.\n`);
    return failed === 0 ? EXIT_OK : EXIT_FAIL;
  });
}
