import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, test } from 'node:test';
import { crackKernel } from '../../src/cli/bench-ops.js';
import { CPU_SELF_TESTS, cpuSelfTest, DOCTOR_HELP, matrixLines, run, SELF_TESTS, type SelfTest } from '../../src/cli/doctor.js';
import { onnxProviders } from '../../src/models/providers.js';
import { KensaError } from '../../src/errors.js';
import type { GpuInfo } from '../../src/gpu/gpu.js';
import { listAdapters } from '../../src/gpu/gpu.js';
import { customKernel } from '../../src/ops/custom/kernel.js';
import { adapterSkip } from '../_kit/gpu.js';
import { randomImage } from '../_kit/images.js';

const noAdapter = await adapterSkip();
const adapters = await listAdapters();

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

describe('kensa doctor', () => {
  test('prints adapters, the chosen adapter, ORT providers, CPU cores, and passes its self-test', { skip: noAdapter }, async () => {
    const { buf, io } = capture();
    assert.equal(await run([], io), 0, buf.out + buf.err);
    const out = buf.out;
    assert.match(out, new RegExp(`CPU: ${os.availableParallelism()} cores available`));
    assert.ok(out.includes(`WebGPU adapters (${adapters.length}):\n`));
    for (const a of adapters) assert.ok(out.includes(`  [${a.index}] ${a.backend}  ${a.name}\n`), a.name);
    assert.match(out, /\nChosen adapter: \S.*\n {2}vendor: .*\n {2}driver: .*\n {2}CPU rasteriser: (yes|no)/);
    if (adapters.length === 1) assert.ok(out.includes(`\nChosen adapter: [0] ${adapters[0]!.name} (${adapters[0]!.backend})\n`));
    assert.match(out, /\n {2}features: .*\n {2}limits:\n {4}maxStorageBufferBindingSize +\d+\n/);
    assert.match(out, /\nONNX Runtime \d+\.\d+\.\d+ execution providers:\n {2}cpu +bundled +runs a test model\n/);
    assert.match(out, /\n {2}PASS {2}gaussianBlur sigma 2, 2×3×37×41 u8 \(max \|gpu − cpu\| [01] ≤ 1\)\n/);
    assert.match(out, /\n {2}PASS {2}crack kernel threshold 20, 2×1×37×41 u8 \(max \|gpu − cpu\| 0 = 0\)\n/);
    assert.equal((out.match(/ {2}PASS {2}/g) ?? []).length, SELF_TESTS.length);
    assert.ok(out.endsWith('All self-tests passed.\n'));
    assert.equal(buf.err, '');
  });

  test('a self-test whose GPU result differs from the CPU reference prints FAIL and exits 1', { skip: noAdapter }, async () => {
    // a kernel whose CPU mirror is deliberately wrong by 3
    const skewed = customKernel({
      name: 'skewed',
      pixel: 'fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 { return x_px(n, c, y, x); }',
      cpu: ({ x }, _u, n, c, y, xx) => x.px(n, c, y, xx) + 3,
    });
    const tests: SelfTest[] = [
      { name: 'crack kernel', tolerance: 0, input: randomImage([1, 1, 9, 9], 'u8', 2), op: (x) => crackKernel(x, { uniforms: { threshold: 20 } }) },
      { name: 'skewed copy', tolerance: 1, input: randomImage([1, 1, 9, 9], 'f32', 3), op: (x) => skewed(x) },
      { name: 'throws', tolerance: 0, input: randomImage([1, 1, 4, 4], 'u8', 3), op: (x) => skewed(x, { shape: [0, 1, 1, 1] }) },
    ];
    const { buf, io } = capture();
    assert.equal(await run([], io, { selfTests: tests }), 1);
    assert.match(buf.out, /\n {2}PASS {2}crack kernel, 1×1×9×9 u8/);
    assert.match(buf.out, /\n {2}FAIL {2}skewed copy, 1×1×9×9 f32 \(max \|gpu − cpu\| 3 ≤ 1\)\n/);
    assert.match(buf.out, /\n {2}FAIL {2}throws, 1×1×4×4 u8 \(error: KensaError: Expected \[N, C, H, W\] of positive integers for shape/);
    assert.ok(buf.out.endsWith('2 self-tests failed.\n'));
  });

  test('no matching adapter: the report still prints, the self-test fails, exit 1', async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--adapter', 'no-such-adapter-zz9'], io), 1);
    assert.match(buf.out, /\nChosen adapter: none: No WebGPU adapter matched "no-such-adapter-zz9"/);
    assert.match(buf.out, /ONNX Runtime .* execution providers:/);
    assert.ok(buf.out.endsWith('Self-test (GPU vs CPU reference):\n  FAIL  no GPU adapter: nothing to test\n'));
  });

  test('ONNX Runtime providers: bundled ones are installed, others only with their library', async () => {
    const { version, providers } = await onnxProviders();
    assert.match(version, /^\d+\.\d+\.\d+/);
    const cpu = providers.find((p) => p.name === 'cpu');
    assert.deepEqual(cpu, { name: 'cpu', bundled: true, installed: true, note: 'bundled' });
    for (const p of providers.filter((q) => !q.bundled)) {
      const lib = /(lib)?onnxruntime_providers_\w+\.(so|dll|dylib)/.exec(p.note)?.[0];
      assert.ok(lib, p.note);
      assert.equal(p.installed, p.note.startsWith('installed'));
    }
  });

  test('--help and bad flags', async () => {
    let c = capture();
    assert.equal(await run(['--help'], c.io), 0);
    assert.equal(c.buf.out, DOCTOR_HELP);
    c = capture();
    assert.equal(await run(['--frob'], c.io), 2);
    assert.match(c.buf.err, /^kensa doctor: Unknown option '--frob'.*\nRun 'kensa doctor --help' for usage\.\n$/s);
    assert.equal(c.buf.out, '');
    c = capture();
    assert.equal(await run(['extra'], c.io), 2);
    assert.match(c.buf.err, /^kensa doctor: Unexpected argument 'extra'/);
    c = capture();
    assert.equal(await run(['--adapter'], c.io), 2);
    assert.match(c.buf.err, /^kensa doctor: Option '--adapter <value>' argument missing/);
  });

  test('without any GPU: the CPU backend is reported working and doctor exits 0', async () => {
    const { buf, io } = capture();
    const noGpu = { listAdapters: () => Promise.resolve([]), openGpu: () => Promise.reject(new KensaError('KENSA_ERR_NO_ADAPTER', 'No WebGPU adapter found')) };
    assert.equal(await run([], io, noGpu), 0, buf.out);
    assert.match(buf.out, /WebGPU adapters \(0\):\n {2}none/);
    assert.match(buf.out, /\nChosen adapter: none: No WebGPU adapter found\n/);
    assert.ok(
      buf.out.includes(
        `\nCPU backend (TypeScript reference): working (${CPU_SELF_TESTS.length} of ${CPU_SELF_TESTS.length} checks against known values pass)\n`,
      ),
    );
    assert.ok(
      buf.out.endsWith(
        'Self-test (GPU vs CPU reference):\n  skipped: no GPU adapter; kensa runs on the CPU backend (--device cpu, or auto)\nCPU backend working; no GPU.\n',
      ),
      buf.out,
    );
    assert.doesNotMatch(buf.out, /FAIL/);
  });

  test('without any GPU, a failing CPU self-test still exits 1', async () => {
    const { buf, io } = capture();
    const deps = {
      listAdapters: () => Promise.resolve([]),
      openGpu: () => Promise.reject(new KensaError('KENSA_ERR_NO_ADAPTER', 'No WebGPU adapter found')),
      cpuSelfTests: [
        { name: 'always wrong', run: () => false },
        {
          name: 'throws',
          run: () => {
            throw new Error('boom');
          },
        },
      ],
    };
    assert.equal(await run([], io, deps), 1);
    assert.match(
      buf.out,
      /\nCPU backend \(TypeScript reference\): FAILING \(0 of 2 checks against known values pass\)\n {2}FAIL {2}always wrong\n {2}FAIL {2}throws \(error: Error: boom\)\n/,
    );
    assert.ok(buf.out.endsWith('2 self-tests failed.\n'));
  });

  test('the built-in CPU self-tests pass on the CPU reference', () => {
    assert.deepEqual(
      cpuSelfTest(),
      CPU_SELF_TESTS.map((t) => ({ name: t.name, pass: true })),
    );
  });

  test('f16 and subgroup-matrix configurations are listed, or their absence stated', () => {
    const base: GpuInfo = {
      name: 'x',
      vendor: 'v',
      architecture: 'a',
      description: 'd',
      isCpu: false,
      features: [],
      limits: {},
      f16: false,
      subgroupMatrixConfigs: [],
    };
    assert.deepEqual(matrixLines(base), ['  f16 arithmetic (shader-f16): no', '  subgroup-matrix configurations (tensor cores): none offered by the driver']);
    assert.deepEqual(matrixLines({ ...base, features: ['shader-f16'], f16: true })[0], '  f16 arithmetic (shader-f16): yes');
    const withMatrices = {
      ...base,
      f16: true,
      subgroupMatrixConfigs: [
        { M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' },
        { M: 8, N: 8, K: 8, componentType: 'f32', resultComponentType: 'f32' },
      ],
    };
    assert.deepEqual(matrixLines(withMatrices), [
      '  f16 arithmetic (shader-f16): yes',
      '  subgroup-matrix configurations (tensor cores): 2',
      '    16×16×16  f16 → f32',
      '    8×8×8  f32 → f32',
    ]);
  });

  test('the chosen adapter lists f16 and subgroup matrices', { skip: adapters.length === 0 }, async () => {
    const { buf, io } = capture();
    assert.equal(await run([], io), 0);
    assert.match(
      buf.out,
      /\n {2}limits:\n(?: {4}.*\n)+ {2}f16 arithmetic \(shader-f16\): (yes|no)\n {2}subgroup-matrix configurations \(tensor cores\): (none offered by the driver|\d+)\n/,
    );
  });
});
