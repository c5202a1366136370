import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { BENCH_HELP } from '../../src/cli/bench.js';
import { DOCTOR_HELP } from '../../src/cli/doctor.js';
import { COMMANDS, MAIN_HELP, run } from '../../src/cli/main.js';

/** The commands in the order help lists them. */
const EXPECTED_COMMANDS = [
  'inspect',
  'samples',
  'augment',
  'eval',
  'tune',
  'train',
  'slim',
  'export',
  'serve',
  'dashboard',
  'worker',
  'status',
  'doctor',
  'bench',
];

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

describe('kensa (main)', () => {
  test('--help lists the commands; help <command> and <command> --help print its options', async () => {
    let c = capture();
    assert.equal(await run(['--help'], c.io), 0);
    assert.equal(c.buf.out, MAIN_HELP);
    assert.match(c.buf.out, /^Usage: kensa <command> \[options\]/);
    for (const name of EXPECTED_COMMANDS) assert.match(c.buf.out, new RegExp(`\\n  ${name} +\\S`));
    c = capture();
    assert.equal(await run(['help', 'bench'], c.io), 0);
    assert.equal(c.buf.out, BENCH_HELP);
    c = capture();
    assert.equal(await run(['doctor', '--help'], c.io), 0);
    assert.equal(c.buf.out, DOCTOR_HELP);
    c = capture();
    assert.equal(await run(['bench', '-h'], c.io), 0);
    assert.equal(c.buf.out, BENCH_HELP);
    assert.deepEqual(Object.keys(COMMANDS), EXPECTED_COMMANDS);
  });

  test('--version prints the package version', async () => {
    const c = capture();
    assert.equal(await run(['--version'], c.io), 0);
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(c.buf.out, `kensa ${version}\n`);
  });

  test('no command, an unknown command or option exit 2 with a clear error', async () => {
    let c = capture();
    assert.equal(await run([], c.io), 2);
    assert.equal(c.buf.err, MAIN_HELP);
    c = capture();
    assert.equal(await run(['frob'], c.io), 2);
    assert.equal(c.buf.err, `kensa: unknown command 'frob' (commands: ${EXPECTED_COMMANDS.join(', ')})\nRun 'kensa --help' for usage.\n`);
    assert.equal(c.buf.out, '');
    c = capture();
    assert.equal(await run(['--frob'], c.io), 2);
    assert.match(c.buf.err, /^kensa: unknown option '--frob'/);
    c = capture();
    assert.equal(await run(['help', 'frob'], c.io), 2);
    assert.match(c.buf.err, /unknown command 'frob'/);
    c = capture();
    assert.equal(await run(['bench', '--size', '12'], c.io), 2);
    assert.match(c.buf.err, /^kensa bench: --size expects <width>x<height>/);
  });

  test('the file is an executable entry point with a node shebang that sets the exit code', () => {
    const file = new URL('../../src/cli/main.ts', import.meta.url);
    assert.ok(readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n'));
    const ok = spawnSync(process.execPath, ['--import', 'tsx', file.pathname, '--help'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, MAIN_HELP);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', file.pathname, 'bench', '--bogus'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /kensa bench: Unknown option '--bogus'/);
  });
});
