import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { BENCH_HELP, benchInput, run, surfaceBatch, type BenchReport } from '../../src/cli/bench.js';
import { benchOp, familyOps, OP_NAMES, tensorsOf } from '../../src/cli/bench-ops.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import type { Tensor } from '../../src/tensor.js';
import { tempDir } from '../_kit/tmp.js';
import { adapterSkip } from '../_kit/gpu.js';

const noAdapter = await adapterSkip();

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

function checkStats(s: { min: number; median: number; max: number; runs: number[] }, repeats: number, what: string) {
  assert.equal(s.runs.length, repeats, what);
  assert.ok(
    s.runs.every((v) => v > 0 && Number.isFinite(v)),
    what,
  );
  assert.equal(s.min, Math.min(...s.runs), what);
  assert.equal(s.max, Math.max(...s.runs), what);
  assert.ok(s.min <= s.median && s.median <= s.max, what);
}

describe('kensa bench', () => {
  test('times CPU and GPU side by side (text table)', { skip: noAdapter }, async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--size', '24x16', '--batch', '2', '--repeats', '3', '--warmup', '1'], io), 0, buf.err);
    const lines = buf.out.split('\n');
    assert.equal(lines[0], 'kensa bench: gaussian on 2×1×16×24 u8, 1 warm-up + 3 timed runs per device');
    assert.match(lines[1]!, /^device +adapter +min ms +median ms +max ms +gpu ms \(median\) +Mpx\/s$/);
    assert.match(lines[2]!, /^cpu +TypeScript reference +[\d.]+ +[\d.]+ +[\d.]+ +- +[\d.e+-]+$/);
    assert.match(lines[3]!, /^gpu +\S.* +[\d.]+ +[\d.]+ +[\d.]+ +([\d.]+|n\/a \(no timestamp-query\)) +[\d.e+-]+$/);
    assert.match(lines[4]!, /^GPU\/CPU speed-up \(median wall\): [\d.]+×$/);
    assert.equal(buf.err, '');
  });

  test('--json reports min/median/max wall time and timestamp-query GPU time', { skip: noAdapter }, async () => {
    const { buf, io } = capture();
    assert.equal(
      await run(['--op', 'crack', '--size', '17x9', '--batch', '3', '--channels', '3', '--repeats', '4', '--warmup', '0', '--json'], io),
      0,
      buf.err,
    );
    const report = JSON.parse(buf.out) as BenchReport;
    assert.equal(report.op, 'crack');
    assert.deepEqual(report.shape, [3, 3, 9, 17]);
    assert.equal(report.dtype, 'u8');
    assert.equal(report.repeats, 4);
    assert.equal(report.warmup, 0);
    assert.deepEqual(
      report.results.map((r) => r.device),
      ['cpu', 'gpu'],
    );
    for (const r of report.results) {
      checkStats(r.wallMs, 4, `${r.device} wall`);
      assert.ok(Math.abs(r.megapixelsPerSecond - (3 * 3 * 9 * 17) / 1e3 / r.wallMs.median) < 1e-9);
    }
    const g = report.results[1]!;
    if (g.gpuMs) {
      checkStats(g.gpuMs, 4, 'gpu time');
      assert.ok(g.gpuMs.median <= g.wallMs.max, 'GPU time of the passes fits in the wall time');
    }
  });

  test('--device cpu never opens a GPU; other dtypes', async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--device', 'cpu', '--dtype', 'f16', '--size', '8x8', '--batch', '1', '--repeats', '2', '--json'], io), 0);
    const report = JSON.parse(buf.out) as BenchReport;
    assert.deepEqual(
      report.results.map((r) => [r.device, r.name, r.gpuMs]),
      [['cpu', 'TypeScript reference', null]],
    );
  });

  test('--device gpu with no matching adapter reports it and exits 1', async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--device', 'gpu', '--adapter', 'no-such-adapter-zz9', '--size', '8x8', '--repeats', '1'], io), 1);
    assert.match(buf.err, /^kensa bench: no GPU: No WebGPU adapter matched "no-such-adapter-zz9"/);
  });

  test('bad flags exit 2 with a clear error and print nothing on stdout', async () => {
    const cases: [string[], RegExp][] = [
      [['--size', '2048'], /^kensa bench: --size expects <width>x<height> with sides between 1 and 65536 \(e\.g\. 2048x2048\) but received '2048'\n/],
      [['--size', '0x5'], /--size expects .* but received '0x5'/],
      [['--op', 'nope'], /^kensa bench: --op expects one of gaussian, crack.* but received 'nope'\n/],
      [['--op', 'toString'], /--op expects one of .* but received 'toString'/],
      [['--dtype', 'u32'], /^kensa bench: --dtype expects one of u8, u16, i32, f32, f16 but received 'u32'\n/],
      [['--device', 'tpu'], /^kensa bench: --device expects one of cpu, gpu, both but received 'tpu'\n/],
      [['--repeats', '0'], /^kensa bench: --repeats expects an integer between 1 and 100000 but received '0'\n/],
      [['--warmup=-1'], /--warmup expects an integer between 0 and 100000 but received '-1'/],
      [['--batch', 'four'], /--batch expects an integer between 1 and 65536 but received 'four'/],
      [['--bogus'], /^kensa bench: Unknown option '--bogus'/],
      [['gaussian'], /^kensa bench: Unexpected argument 'gaussian'/],
      [['--json=yes'], /^kensa bench: Option '--json' does not take an argument/],
    ];
    for (const [argv, message] of cases) {
      const { buf, io } = capture();
      assert.equal(await run(argv, io), 2, argv.join(' '));
      assert.match(buf.err, message, argv.join(' '));
      assert.match(buf.err, /\nRun 'kensa bench --help' for usage\.\n$/);
      assert.equal(buf.out, '', argv.join(' '));
    }
  });

  test('--help', async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--help'], io), 0);
    assert.equal(buf.out, BENCH_HELP);
    assert.match(BENCH_HELP, /--op <name> +op to time: gaussian, crack/);
  });

  test('benchInput: deterministic noise over each dtype range', () => {
    const a = benchInput([1, 1, 32, 32], 'u8', 3);
    assert.deepEqual([...a.data], [...benchInput([1, 1, 32, 32], 'u8', 3).data]);
    assert.notDeepEqual([...a.data], [...benchInput([1, 1, 32, 32], 'u8', 4).data]);
    const vals = [...a.data];
    assert.ok(Math.min(...vals) < 16 && Math.max(...vals) > 240);
    const f = benchInput([1, 1, 16, 16], 'f32');
    assert.ok([...f.data].every((v) => v >= 0 && v < 1));
    const h = benchInput([1, 1, 16, 16], 'f16');
    for (let i = 0; i < h.size; i++) assert.ok(h.at(i) >= 0 && h.at(i) <= 1);
  });

  test('--op times any family op by name with --args as its options (CPU, tiny sizes)', async () => {
    const { buf, io } = capture();
    assert.equal(
      await run(
        [
          '--op',
          'gaussianBlur',
          '--args',
          '{"sigma":2}',
          '--size',
          '16x8',
          '--batch',
          '2',
          '--dtype',
          'u8',
          '--device',
          'cpu',
          '--repeats',
          '2',
          '--warmup',
          '0',
        ],
        io,
      ),
      0,
      buf.err,
    );
    assert.match(buf.out, /^kensa bench: gaussianBlur \{"sigma":2\} on 2×1×8×16 u8, 0 warm-up \+ 2 timed runs per device\n/);
    assert.match(buf.out, /\ncpu +TypeScript reference +[\d.]+/);
    for (const [op, args, dtype] of [
      ['medianBlur', '{"ksize":3}', 'u8'],
      ['threshold', '{"thresh":100,"type":"binary"}', 'u8'],
      ['connectedComponents', '{"connectivity":4}', 'u8'],
      ['resize', '{"width":5,"height":4}', 'f32'],
    ] as const) {
      const c = capture();
      assert.equal(
        await run(['--op', op, '--args', args, '--size', '12x10', '--batch', '1', '--dtype', dtype, '--device', 'cpu', '--repeats', '1', '--json'], c.io),
        0,
        `${op}: ${c.buf.err}`,
      );
      const report = JSON.parse(c.buf.out) as BenchReport;
      assert.equal(report.op, op);
      assert.deepEqual(report.args, JSON.parse(args));
      checkStats(report.results[0]!.wallMs, 1, op);
    }
  });

  test('--recipe times a whole recipe (a built-in kind or a file) on synthetic surfaces', async () => {
    const dir = tempDir('kensa-bench-recipe-');
    writeFileSync(join(dir, 'my.yaml'), 'kind: classic\nname: mine\nthreshold:\n  value: 0.08\n');
    for (const recipe of ['classic', join(dir, 'my.yaml')]) {
      const { buf, io } = capture();
      assert.equal(
        await run(['--recipe', recipe, '--size', '48x40', '--batch', '2', '--device', 'cpu', '--repeats', '2', '--warmup', '0', '--json'], io),
        0,
        buf.err,
      );
      const report = JSON.parse(buf.out) as BenchReport;
      assert.equal(report.op, recipe === 'classic' ? 'recipe classic' : 'recipe mine');
      assert.deepEqual(report.shape, [2, 1, 40, 48]);
      checkStats(report.results[0]!.wallMs, 2, recipe);
    }
    const x = surfaceBatch([2, 1, 20, 24], 'u16');
    assert.deepEqual([x.dtype, ...x.shape], ['u16', 2, 1, 20, 24]);
    assert.ok(new Set(x.data).size > 10, 'a surface, not a constant');
  });

  test("--recipe opens the recipe's template and model as a run does (a kensa UNet, a golden template)", async () => {
    const dir = tempDir('kensa-bench-open-');
    const png = join(dir, 'golden.png');
    await sharp(new Uint8Array(48 * 40).fill(128), { raw: { width: 48, height: 40, channels: 1 } })
      .png()
      .toFile(png);
    const unet = fileURLToPath(new URL('../models/fixtures/unet-tiny.safetensors', import.meta.url));
    writeFileSync(join(dir, 'template.yaml'), `kind: classic\nname: golden\ntemplate:\n  path: ${png}\n`);
    writeFileSync(join(dir, 'unet.yaml'), `kind: model\nname: net\nmodel:\n  path: ${unet}\n  task: segmentation\n`);
    for (const name of ['template', 'unet']) {
      const { buf, io } = capture();
      const args = ['--recipe', join(dir, `${name}.yaml`), '--size', '48x40', '--batch', '2', '--device', 'cpu', '--repeats', '1', '--warmup', '0', '--json'];
      assert.equal(await run(args, io), 0, buf.err);
      checkStats((JSON.parse(buf.out) as BenchReport).results[0]!.wallMs, 1, name);
    }
  });

  test('--op / --args / --recipe misuse exits 2; an op rejecting its options exits 1 with one line', async () => {
    const cases: [string[], RegExp][] = [
      [['--args', 'sigma=2', '--op', 'gaussianBlur'], /--args expects a JSON object or array \(e\.g\. '\{"sigma":2\}'\) but received 'sigma=2'/],
      [['--args', '3', '--op', 'gaussianBlur'], /--args expects a JSON object or array/],
      [['--args', '{}'], /--args expects an op by name \(not a preset or a recipe\) but received --args with the preset 'gaussian'/],
      [['--op', 'crack', '--recipe', 'classic'], /--op and --recipe exclude each other/],
      [['--recipe', 'classic', '--dtype', 'f32'], /--recipe expects one channel of u8 or u16/],
      [['--op', 'sobelKernels'], /--op expects one of gaussian, crack or an op by name \(.*gaussianBlur.*\) but received 'sobelKernels'/],
    ];
    for (const [argv, message] of cases) {
      const { buf, io } = capture();
      assert.equal(await run([...argv, '--device', 'cpu', '--size', '8x8', '--repeats', '1'], io), 2, argv.join(' '));
      assert.match(buf.err, message, argv.join(' '));
    }
    const { buf, io } = capture();
    assert.equal(await run(['--op', 'gaussianBlur', '--args', '{"sigma":-1}', '--device', 'cpu', '--size', '8x8', '--repeats', '1'], io), 1);
    assert.match(buf.err, /^kensa bench: Expected .*sigma.* \[KENSA_ERR_INVALID_ARGUMENT\]\n$/);
  });

  test('the op registry: presets first, every family op, no program lists or parameter helpers', () => {
    assert.deepEqual(OP_NAMES.slice(0, 2), ['gaussian', 'crack']);
    for (const name of ['gaussianBlur', 'medianBlur', 'threshold', 'resize', 'dilate', 'connectedComponents', 'brightnessContrast', 'sobel'])
      assert.ok(name in familyOps, name);
    for (const name of OP_NAMES) assert.ok(!name.endsWith('Programs') && name !== 'structuringElement' && name !== 'sobelKernels', name);
    const x = benchInput([1, 1, 8, 8], 'u8', 2);
    assert.deepEqual([...(benchOp('gaussianBlur', { sigma: 1.5 })!(x) as Tensor).data], [...gaussianBlur(x, { sigma: 1.5 }).data]);
    assert.equal(benchOp('nope', undefined), undefined);
    assert.deepEqual(tensorsOf({ a: x, b: [x, 1], c: 'x' }), [x, x]);
  });
});
