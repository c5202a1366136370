/**
 * `kensa doctor`: what this machine offers kensa, and whether the GPU path computes what the
 * CPU reference computes. Prints the WebGPU adapters, the chosen adapter (name, driver
 * description, features, limits), ONNX Runtime's execution providers (listSupportedBackends();
 * providers that are not bundled, such as cuda, count only when their libraries were installed),
 * the CPU cores, a self-test of the CPU backend against known values, and a self-test of a few
 * kernels GPU vs CPU reference (PASS/FAIL). Without a GPU the CPU backend is what kensa runs on:
 * exit code 0 when every self-test that could run passes, 1 on a failure or when the adapter
 * asked for with --adapter is missing, 2 on bad flags.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { readElement } from '../dtype.js';
import { EXECUTION_PROVIDERS, onnxProviders, type ExecutionProvider } from '../models/providers.js';
import { ModelSession } from '../models/session.js';
import { tinyUnet } from '../models/tiny.js';
import { Gpu, listAdapters, type AdapterDescription, type GpuInfo } from '../gpu/gpu.js';
import { gaussianBlur } from '../ops/filters/gaussian.js';
import { Tensor } from '../tensor.js';
import { benchInput } from './bench.js';
import { crackKernel } from './bench-ops.js';
import { plural } from '../report/html.js';
import { EXIT_FAIL, EXIT_OK, adapterFlag, guard, parseFlags, table, type CliIO } from './io.js';

export const DOCTOR_HELP = `Usage: kensa doctor [options]

Lists WebGPU adapters, the chosen adapter's features, f16 support, subgroup-matrix (tensor core)
configurations and limits, ONNX Runtime's execution providers (each usable one runs a tiny
model) and the CPU cores, then checks the CPU backend against known values and a few kernels on
the GPU against the CPU reference.
Without a GPU, kensa runs on the CPU backend: doctor exits 0 when its self-test passes.

Options:
  --adapter <i|name>   adapter index or name substring (default: the preferred adapter)
  -h, --help           show this help
`;

const FLAGS = {
  adapter: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Whether a provider runs the tiny UNet (a warm-up batch of 1×1×32×32): 'runs a test model', or why not. */
async function modelCheck(provider: string): Promise<string> {
  if (!(EXECUTION_PROVIDERS as readonly string[]).includes(provider)) return 'not used by kensa';
  try {
    const session = await ModelSession.load(tinyUnet({ width: 4 }), 'tiny UNet', {
      providers: [provider as ExecutionProvider],
      strict: true,
      warmUp: [[1, 1, 32, 32]],
    });
    await session.close();
    return 'runs a test model';
  } catch (e) {
    return `fails a test model: ${(e as Error).message.replace(/^.*?: \w+: /, '')}`;
  }
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

/** A CPU-backend check against values known without running kensa. */
export interface CpuSelfTest {
  name: string;
  run: () => boolean;
}

/** A 1×1×5×6 u8 image, 10 left of column 3 and 90 from it on: a vertical step edge. */
function stepEdge(): Tensor {
  const data = new Uint8Array(30);
  for (let i = 0; i < 30; i++) data[i] = i % 6 < 3 ? 10 : 90;
  return Tensor.fromArray(data, [1, 1, 5, 6], 'u8');
}

export const CPU_SELF_TESTS: readonly CpuSelfTest[] = [
  // a normalised blur leaves a constant image as it is
  {
    name: 'gaussianBlur sigma 2 keeps a constant image',
    run: () => [...gaussianBlur(Tensor.fromArray(new Uint8Array(64).fill(77), [1, 1, 8, 8], 'u8'), { sigma: 2 }).data].every((v) => v === 77),
  },
  // the gradient across the step is (90 − 10) = 80 > 2·20 in columns 2 and 3 only
  {
    name: 'crack kernel finds a step edge',
    run: () => [...crackKernel(stepEdge(), { uniforms: { threshold: 20 } }).data].every((v, i) => v === (i % 6 === 2 || i % 6 === 3 ? 255 : 0)),
  },
];

/** Runs each CPU self-test; an exception counts as a failure with its message. */
export function cpuSelfTest(tests: readonly CpuSelfTest[] = CPU_SELF_TESTS): { name: string; pass: boolean; error?: string }[] {
  return tests.map((t) => {
    try {
      return { name: t.name, pass: t.run() };
    } catch (e) {
      return { name: t.name, pass: false, error: String(e) };
    }
  });
}

/** The f16 and subgroup-matrix lines of the chosen adapter. */
export function matrixLines(info: GpuInfo): string[] {
  const configs = info.subgroupMatrixConfigs;
  const lines = [`  f16 arithmetic (shader-f16): ${info.f16 ? 'yes' : 'no'}`];
  if (configs.length === 0) lines.push('  subgroup-matrix configurations (tensor cores): none offered by the driver');
  else {
    lines.push(`  subgroup-matrix configurations (tensor cores): ${configs.length}`);
    for (const c of configs) lines.push(`    ${c.M}×${c.N}×${c.K}  ${c.componentType} → ${c.resultComponentType}`);
  }
  return lines;
}

/** Runs each self-test on the GPU and the CPU; returns the largest difference per test. */
export async function selfTest(
  gpu: Gpu,
  tests: readonly SelfTest[] = SELF_TESTS,
): Promise<{ name: string; shape: string; maxDiff: number; tolerance: number; pass: boolean; error?: string }[]> {
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

/** What tests replace: the checks (to exercise the FAIL path) and the GPU discovery (to test a machine without one). */
export interface DoctorDeps {
  selfTests?: readonly SelfTest[];
  cpuSelfTests?: readonly CpuSelfTest[];
  listAdapters?: () => Promise<AdapterDescription[]>;
  openGpu?: (adapter: number | string | undefined) => Promise<Gpu>;
}

export async function run(argv: readonly string[], io: CliIO, deps: DoctorDeps = {}): Promise<number> {
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

    const adapters = await (deps.listAdapters ?? listAdapters)();
    w(`WebGPU adapters (${adapters.length}):\n`);
    for (const a of adapters) w(`  [${a.index}] ${a.backend}  ${a.name}\n`);
    if (adapters.length === 0) w('  none (is a Vulkan / Metal / D3D12 driver installed?)\n');
    w('\n');

    let gpu: Gpu | null = null;
    try {
      gpu = await (deps.openGpu ?? ((a) => Gpu.open(a === undefined ? {} : { adapter: a })))(adapter);
    } catch (e) {
      w(`Chosen adapter: none: ${(e as Error).message}\n\n`);
    }
    if (gpu) {
      const i = gpu.info;
      // Gpu.info.name is the driver's description on some drivers (NVIDIA); name the listed adapter when it is known
      const needle = typeof adapter === 'string' ? adapter.toLowerCase() : '';
      const matching =
        adapter === undefined
          ? adapters
          : typeof adapter === 'number'
            ? adapters.filter((a) => a.index === adapter)
            : adapters.filter((a) => a.name.toLowerCase().includes(needle));
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
          .map((l) => `${l}\n`)
          .join(''),
      );
      for (const line of matrixLines(i)) w(`${line}\n`);
      w('\n');
    }

    try {
      const { version, providers } = await onnxProviders();
      w(`ONNX Runtime ${version} execution providers:\n`);
      const rows = [];
      for (const p of providers) rows.push([`  ${p.name}`, p.note, p.installed ? await modelCheck(p.name) : '']);
      w(table(rows));
    } catch (e) {
      w(`ONNX Runtime: not loadable (${(e as Error).message.split('\n')[0]})\n`);
    }
    w('\n');

    let failed = 0;
    const cpu = cpuSelfTest(deps.cpuSelfTests);
    const cpuFailed = cpu.filter((r) => !r.pass);
    failed += cpuFailed.length;
    w(
      `CPU backend (TypeScript reference): ${cpuFailed.length === 0 ? 'working' : 'FAILING'} (${cpu.length - cpuFailed.length} of ${plural(cpu.length, 'check')} against known values pass)\n`,
    );
    for (const r of cpuFailed) w(`  FAIL  ${r.name}${r.error ? ` (error: ${r.error})` : ''}\n`);
    w('\n');
    w('Self-test (GPU vs CPU reference):\n');
    if (!gpu) {
      // an adapter the user named is a failure; no GPU at all leaves the CPU backend, which works
      if (adapter !== undefined) {
        w('  FAIL  no GPU adapter: nothing to test\n');
        return EXIT_FAIL;
      }
      w('  skipped: no GPU adapter; kensa runs on the CPU backend (--device cpu, or auto)\n');
      w(failed === 0 ? 'CPU backend working; no GPU.\n' : `${plural(failed, 'self-test')} failed.\n`);
      return failed === 0 ? EXIT_OK : EXIT_FAIL;
    }
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
    w(failed === 0 ? 'All self-tests passed.\n' : `${plural(failed, 'self-test')} failed.\n`);
    return failed === 0 ? EXIT_OK : EXIT_FAIL;
  });
}
