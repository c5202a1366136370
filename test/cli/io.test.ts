import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import { describe, test } from 'node:test';
import { KensaError } from '../../src/errors.js';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  adapterFlag,
  choiceFlag,
  EXIT_FAIL,
  EXIT_USAGE,
  formatMs,
  guard,
  intFlag,
  median,
  outputFlag,
  printable,
  parseFlags,
  table,
  UsageError,
} from '../../src/cli/io.js';
import { tempDir } from '../_kit/tmp.js';

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

describe('cli io helpers', () => {
  test('flag parsers accept good values and reject bad ones with a clear message', () => {
    assert.equal(intFlag('batch', undefined, 4, 1, 10), 4);
    assert.equal(intFlag('batch', '7', 4, 1, 10), 7);
    assert.throws(() => intFlag('batch', '0', 4, 1, 10), { name: 'UsageError', message: "--batch expects an integer between 1 and 10 but received '0'" });
    assert.throws(() => intFlag('batch', '2.5', 4, 1, 10), /--batch expects an integer between 1 and 10 but received '2.5'/);
    assert.throws(() => intFlag('batch', 'four', 4, 1, 10), /received 'four'/);
    assert.equal(choiceFlag('device', 'gpu', 'both', ['cpu', 'gpu', 'both']), 'gpu');
    assert.throws(() => choiceFlag('device', 'tpu', 'both', ['cpu', 'gpu', 'both']), { message: "--device expects one of cpu, gpu, both but received 'tpu'" });
    assert.equal(adapterFlag('1'), 1);
    assert.equal(adapterFlag('llvmpipe'), 'llvmpipe');
    assert.equal(adapterFlag(undefined), undefined);
    assert.throws(() => adapterFlag(''), /--adapter expects an index or a name substring but received ''/);
  });

  test('an output path is checked before any work: a folder it can create, a file in an existing folder', () => {
    const dir = tempDir('kensa-cli-out-');
    writeFileSync(join(dir, 'afile'), '');
    mkdirSync(join(dir, 'sub'));
    assert.equal(outputFlag('out', join(dir, 'new', 'deeper'), 'folder'), join(dir, 'new', 'deeper'));
    assert.equal(outputFlag('out', join(dir, 'sub'), 'folder'), join(dir, 'sub'));
    assert.equal(outputFlag('out', join(dir, 'sub', 'r.yaml'), 'file'), join(dir, 'sub', 'r.yaml'));
    assert.throws(() => outputFlag('out', join(dir, 'afile'), 'folder'), {
      name: 'UsageError',
      message: `--out expects a folder to write to but '${join(dir, 'afile')}' is a file`,
    });
    assert.throws(() => outputFlag('out', join(dir, 'afile', 'run'), 'folder'), {
      message: `--out expects a path in a folder but '${join(dir, 'afile')}' is a file`,
    });
    assert.throws(() => outputFlag('out', join(dir, 'sub'), 'file'), { message: `--out expects a file to write but '${join(dir, 'sub')}' is a folder` });
    assert.throws(() => outputFlag('plot', join(dir, 'none', 'x.png'), 'file'), {
      message: `--plot expects a path in an existing folder but '${join(dir, 'none')}' does not exist`,
    });
    // root writes anywhere: the permission case only bites other users
    if (process.getuid?.() !== 0) {
      mkdirSync(join(dir, 'locked'));
      chmodSync(join(dir, 'locked'), 0o500);
      assert.throws(() => outputFlag('out', join(dir, 'locked', 'r.yaml'), 'file'), /is not writable/);
    }
  });

  test('printable keeps a file name with control characters on one line', () => {
    assert.equal(printable('new\nline.png'), 'new\\nline.png');
    assert.equal(printable('a\tb\x1b[31m.png'), 'a\\tb\\x1b[31m.png');
    assert.equal(printable('plain é.png'), 'plain é.png');
  });

  test('parseArgs errors become usage errors; guard maps them to exit code 2', async () => {
    const parse = (args: string[]) => parseFlags(() => parseArgs({ args, options: { n: { type: 'string' } }, strict: true }));
    assert.equal(parse(['--n', '3']).values.n, '3');
    assert.throws(
      () => parse(['--m']),
      (e: unknown) => e instanceof UsageError && /Unknown option '--m'/.test(e.message),
    );
    const { buf, io } = capture();
    assert.equal(
      await guard('bench', io, async () => {
        parse(['--m']);
        return 0;
      }),
      EXIT_USAGE,
    );
    assert.match(buf.err, /^kensa bench: Unknown option '--m'.*\nRun 'kensa bench --help' for usage\.\n$/s);
    await assert.rejects(
      guard('bench', io, async () => Promise.reject(new Error('boom'))),
      /boom/,
    );
  });

  test('a KensaError prints one line with its code and exits 1; its stack only with KENSA_DEBUG=1', async () => {
    const fail = async () => Promise.reject(new KensaError('KENSA_ERR_RECIPE', 'Expected a number for blur.sigma but received "x" of type string'));
    let c = capture();
    assert.equal(await guard('inspect', c.io, fail, {}), EXIT_FAIL);
    assert.equal(c.buf.err, 'kensa inspect: Expected a number for blur.sigma but received "x" of type string [KENSA_ERR_RECIPE]\n');
    assert.equal(c.buf.out, '');
    c = capture();
    assert.equal(await guard('inspect', c.io, fail, { KENSA_DEBUG: '1' }), EXIT_FAIL);
    assert.match(c.buf.err, /^kensa inspect: .* \[KENSA_ERR_RECIPE\]\nKensaError: Expected .*\n {4}at /);
  });

  test('formatting', () => {
    assert.equal(median([1, 2, 3]), 2);
    assert.equal(median([1, 2, 3, 10]), 2.5);
    assert.equal(formatMs(1234.4), '1234');
    assert.equal(formatMs(12.345), '12.3');
    assert.equal(formatMs(1.2345), '1.23');
    assert.equal(
      table([
        ['a', 'bb', 'c'],
        ['ccc', 'd', 'eeee'],
      ]),
      'a    bb  c\nccc  d   eeee\n',
    );
  });
});
