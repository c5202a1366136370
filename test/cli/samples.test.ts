import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SAMPLES_HELP, run } from '../../src/cli/samples.js';

const root = mkdtempSync(join(tmpdir(), 'kensa-cli-samples-'));
after(() => rmSync(root, { recursive: true, force: true }));

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

async function usage(argv: string[], message: string) {
  const { buf, io } = capture();
  assert.equal(await run(argv, io), 2, argv.join(' '));
  assert.equal(buf.err, `kensa samples: ${message}\nRun 'kensa samples --help' for usage.\n`);
  assert.equal(buf.out, '');
}

describe('kensa samples', () => {
  test('writes images, masks and labels, and says what it wrote', async () => {
    const out = join(root, 'set');
    const { buf, io } = capture();
    assert.equal(await run(['--out', out, '--count', '4', '--size', '48x32', '--seed', '9', '--kind', 'noisy', '--jobs', '1'], io), 0, buf.err);
    const lines = buf.out.split('\n');
    assert.match(
      lines[0]!,
      new RegExp(
        `^kensa samples: wrote 4 images of 48×32 \\(png, 8-bit, noisy, seed 9\\) to ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} in [\\d.]+ s \\([\\d.]+ images/s, 1 job\\)$`,
      ),
    );
    assert.match(lines[1]!, /^ {2}\d+ NG, \d+ OK; defects: \d+ cracks?, \d+ scratch(es)?, \d+ spots?$/);
    assert.equal(lines[2], `  images: ${join(out, 'images')}  masks: ${join(out, 'masks')}  labels: ${join(out, 'labels.json')}`);
    assert.equal(readdirSync(join(out, 'images')).length, 4);
    assert.equal(readdirSync(join(out, 'masks')).length, 4);
    const labels = JSON.parse(readFileSync(join(out, 'labels.json'), 'utf8')) as { options: { kind: string; seed: number }; images: unknown[] };
    assert.equal(labels.options.kind, 'noisy');
    assert.equal(labels.images.length, 4);
  });

  test('--json prints the summary; --force replaces; 16-bit and jpg', async () => {
    const out = join(root, 'json');
    let c = capture();
    assert.equal(await run(['--out', out, '--count', '2', '--size', '16x16', '--depth', '16', '--json', '--jobs', '1'], c.io), 0, c.buf.err);
    const s = JSON.parse(c.buf.out) as { count: number; depth: number; format: string; ok: number; ng: number };
    assert.equal(s.count, 2);
    assert.equal(s.depth, 16);
    assert.equal(s.ok + s.ng, 2);
    await usage(
      ['--out', out, '--count', '1'],
      `--out already holds samples (${join(out, 'images')}, ${join(out, 'masks')} not empty); pass --force to replace them or choose another folder`,
    );
    c = capture();
    assert.equal(await run(['--out', out, '--count', '1', '--size', '16x16', '--format', 'jpg', '--force', '--jobs', '1'], c.io), 0, c.buf.err);
    assert.deepEqual(readdirSync(join(out, 'images')), ['sample-0000.jpg']);
  });

  test('--help prints the options', async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--help'], io), 0);
    assert.equal(buf.out, SAMPLES_HELP);
  });

  test('bad flags exit 2 with a pinned message and write nothing', async () => {
    const out = join(root, 'never');
    await usage([], '--out is required (the folder to write images/, masks/ and labels.json to)');
    await usage(['--out', out, '--count', '0'], "--count expects an integer between 1 and 10000000 but received '0'");
    writeFileSync(join(root, 'afile'), '');
    await usage(['--out', join(root, 'afile')], `--out expects a folder to write to but '${join(root, 'afile')}' is a file`);
    await usage(['--out', out, '--count', 'many'], "--count expects an integer between 1 and 10000000 but received 'many'");
    await usage(['--out', out, '--size', '64'], "--size expects <width>x<height> with sides between 1 and 16384 (e.g. 2048x2048) but received '64'");
    await usage(
      ['--out', out, '--size', '20000x10'],
      "--size expects <width>x<height> with sides between 1 and 16384 (e.g. 2048x2048) but received '20000x10'",
    );
    await usage(['--out', out, '--seed=-3'], "--seed expects an integer between 0 and 4294967295 but received '-3'");
    await usage(['--out', out, '--kind', 'rusty'], "--kind expects one of brushed, textured, noisy, mixed but received 'rusty'");
    await usage(['--out', out, '--format', 'gif'], "--format expects one of png, jpg but received 'gif'");
    await usage(['--out', out, '--depth', '12'], "--depth expects one of 8, 16 but received '12'");
    await usage(['--out', out, '--depth', '16', '--format', 'jpg'], '--depth 16 needs --format png (JPEG holds 8 bits)');
    await usage(['--out', out, '--ok-fraction', '1.5'], "--ok-fraction expects a number between 0 and 1 but received '1.5'");
    await usage(['--out', out, '--max-defects', '51'], "--max-defects expects an integer between 1 and 50 but received '51'");
    await usage(['--out', out, '--jobs', '0'], "--jobs expects an integer between 1 and 256 but received '0'");
    await usage(['--out', out, '--frob'], "Unknown option '--frob'");
    assert.equal(readdirSync(root).includes('never'), false);
  });
});
