import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { INSPECT_HELP, resumeCommand, run } from '../../src/cli/inspect.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';
import { writeFrames } from '../pipeline/_images.js';

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

describe('kensa inspect --post-workers', () => {
  test('takes 0 … 256; anything else is a usage error', async () => {
    assert.match(INSPECT_HELP, /\n {2}--post-workers N {6}worker threads/);
    for (const bad of ['257', '1.5', 'two']) {
      const { buf, io } = capture();
      assert.equal(await run(['imgs', '--post-workers', bad], io), 2);
      assert.equal(
        buf.err,
        `kensa inspect: --post-workers expects an integer between 0 and 256 but received '${bad}'\nRun 'kensa inspect --help' for usage.\n`,
      );
    }
  });

  test('a CPU run on worker threads and one on the main thread judge alike', async () => {
    const dir = tempDir('kensa-cli-inspect-');
    const { defective } = await writeFrames(join(dir, 'images'), 6, 48);
    const counts: unknown[] = [];
    for (const n of ['2', '0']) {
      const { buf, io } = capture();
      assert.equal(
        await run([join(dir, 'images'), '--db', join(dir, `w${n}.db`), '--device', 'cpu', '--post-workers', n, '--progress', 'none', '--json'], io),
        0,
        buf.err,
      );
      counts.push((JSON.parse(buf.out) as { counts: unknown }).counts);
    }
    assert.deepEqual(counts[0], { total: 6, ok: 6 - defective.size, ng: defective.size, error: 0 });
    assert.deepEqual(counts[1], counts[0]);
  });
});

describe('kensa inspect: what the user sees', () => {
  test('the run id and the exact resume command come first; the summary keeps inspection and report time apart; plurals', async () => {
    const dir = tempDir('kensa-cli-start-');
    await writeFrames(join(dir, 'images'), 6, 48);
    const db = join(dir, 'my runs.db');
    const argv = [join(dir, 'images'), '--db', db, '--device', 'cpu', '--post-workers', '0', '--progress', 'none', '--report', join(dir, 'report')];
    const { buf, io } = capture();
    assert.equal(await run(argv, io), 0, buf.err);
    const id = /^kensa inspect: run (\S+) started on .+; if it stops, resume with:\n/.exec(buf.err)?.[1];
    assert.ok(id, buf.err);
    assert.ok(
      buf.err.includes(
        `\n  kensa inspect ${join(dir, 'images')} --db '${db}' --device cpu --post-workers 0 --progress none --report ${join(dir, 'report')} --resume ${id}\n`,
      ),
      buf.err,
    );
    assert.match(buf.out, /\n6 images inspected in [\d.]+ s \([\d.]+ img\/s\)\nwall time [\d.]+ s with the report \([\d.]+ s\): [\d.]+ img\/s overall\n/);
    assert.doesNotMatch(buf.out, /scratchs|\b[2-9] (spot|crack|scratch)\b/);
    // the printed command resumes the run (nothing left to do: every item is skipped)
    const again = capture();
    assert.equal(await run([...argv, '--resume', id, '--json'], again.io), 0, again.buf.err);
    assert.match(again.buf.err, new RegExp(`^kensa inspect: run ${id} resumed on `));
    const summary = JSON.parse(again.buf.out) as { run: string; skipped: number; reportMs: number; wallMs: number; elapsedMs: number };
    assert.equal(summary.run, id);
    assert.equal(summary.skipped, 6);
    assert.ok(summary.reportMs > 0 && summary.wallMs >= summary.elapsedMs + summary.reportMs - 1);
  });

  test('resumeCommand replaces an earlier --resume and quotes what the shell would split', () => {
    assert.equal(resumeCommand(['imgs', '--resume', 'old', '--db', 'a b.db'], 'new'), "kensa inspect imgs --db 'a b.db' --resume new");
    assert.equal(resumeCommand(['--resume=old', "it's"], 'r1'), "kensa inspect 'it'\\''s' --resume r1");
  });

  test('a missing folder: one line, exit 1, and no run is left in the store', async () => {
    const dir = tempDir('kensa-cli-missing-');
    const db = join(dir, 'kensa.db');
    const { buf, io } = capture();
    assert.equal(await run([join(dir, 'nope'), '--db', db, '--device', 'cpu', '--progress', 'none'], io), 1);
    assert.equal(
      buf.err,
      `kensa inspect: Expected an existing file, folder, glob, @list or - for source but received ${JSON.stringify(join(dir, 'nope'))} [KENSA_ERR_INVALID_ARGUMENT]\n`,
    );
    const store = await openStore(db);
    assert.deepEqual(await store.listRuns(), []);
    await store.close();
    // an empty --db is refused, not taken for the default kensa.db
    await writeFrames(join(dir, 'frames'), 1, 32);
    const empty = capture();
    assert.equal(await run([join(dir, 'frames'), '--db', '', '--device', 'cpu', '--progress', 'none'], empty.io), 1);
    assert.match(empty.buf.err, /URL for url but received "" of type string \[KENSA_ERR_INVALID_ARGUMENT\]/);
  });

  test('an empty folder warns; a link loop is reported as skipped with its reason', async () => {
    const dir = tempDir('kensa-cli-empty-');
    mkdirSync(join(dir, 'empty'));
    const { buf, io } = capture();
    assert.equal(await run([join(dir, 'empty'), '--db', join(dir, 'k.db'), '--device', 'cpu', '--progress', 'none'], io), 0, buf.err);
    assert.match(buf.err, new RegExp(`\nkensa inspect: warning: "${join(dir, 'empty')}" holds no images \\(extensions \\.jpg .*\\)\n`));
    assert.match(buf.out, /\n0 images inspected in /);
    await writeFrames(join(dir, 'imgs'), 1, 48);
    symlinkSync(join(dir, 'imgs', 'loop.png'), join(dir, 'imgs', 'loop.png'));
    const c = capture();
    assert.equal(await run([join(dir, 'imgs'), '--db', join(dir, 'k.db'), '--device', 'cpu', '--progress', 'none'], c.io), 0, c.buf.err);
    assert.ok(c.buf.err.includes(`\nkensa inspect: skipped 1 entry: 1 × symbolic link loop (${join(dir, 'imgs', 'loop.png')})\n`), c.buf.err);
  });

  test('--progress auto writes JSON lines when stderr is not a terminal, the bar when it is', async () => {
    const dir = tempDir('kensa-cli-progress-');
    await writeFrames(join(dir, 'imgs'), 2, 48);
    for (const isTTY of [false, true]) {
      const { buf, io } = capture();
      (io.err as { isTTY?: boolean }).isTTY = isTTY;
      assert.equal(await run([join(dir, 'imgs'), '--db', join(dir, `k${isTTY}.db`), '--device', 'cpu', '--json'], io), 0, buf.err);
      const progress = buf.err.split('\n').filter((l) => l.startsWith('{') || l.includes('img/s'));
      assert.ok(progress.length > 0, buf.err);
      if (isTTY) assert.match(buf.err, /\r\[#+\.*\] 100\.0% 2\/2/);
      else for (const l of progress) assert.equal((JSON.parse(l) as { type: string }).type, 'progress');
    }
  });

  test('a bad recipe field: one line with the code, no stack trace (the real command)', () => {
    const dir = tempDir('kensa-cli-recipe-');
    mkdirSync(join(dir, 'imgs'));
    writeFileSync(join(dir, 'bad.yaml'), 'kind: classic\ndenoise:\n  sigma: fuzzy\n');
    const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', main, 'inspect', join(dir, 'imgs'), '--recipe', join(dir, 'bad.yaml'), '--db', join(dir, 'k.db'), '--device', 'cpu'],
      { encoding: 'utf8', env: { ...process.env, KENSA_DEBUG: '' } },
    );
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('kensa') || l.startsWith('    at '));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^kensa inspect: Invalid recipe .*bad\.yaml: .*sigma.* \[KENSA_ERR_RECIPE\]$/);
  });
});

test('a second SIGINT quits at once with one line naming the run and how to resume it', async () => {
  const dir = tempDir('kensa-cli-sigint-');
  // frames large enough that draining what is in flight outlasts the second signal
  await writeFrames(join(dir, 'images'), 40, 512);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'inspect',
      join(dir, 'images'),
      '--db',
      join(dir, 'k.db'),
      '--device',
      'cpu',
      '--batch',
      '2',
      '--decode-threads',
      '1',
      '--progress',
      'none',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  const started = new Promise<void>((resolve) =>
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('resume with:')) resolve();
      // the second signal as soon as the first is taken
      if (err.includes('finishing what is in flight') && !err.includes('SIGINT again')) child.kill('SIGINT');
    }),
  );
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await started;
  child.kill('SIGINT');
  assert.equal(await closed, 130, err);
  const id = /run (\S+) started/.exec(err)![1]!;
  assert.ok(
    err
      .trimEnd()
      .endsWith(
        `kensa: SIGINT again: quit; run ${id} is left resumable: ${resumeCommand([join(dir, 'images'), '--db', join(dir, 'k.db'), '--device', 'cpu', '--batch', '2', '--decode-threads', '1', '--progress', 'none'], id)}`,
      ),
    err,
  );
});

describe('kensa inspect: what a first run says', () => {
  test('no image in any source (an empty folder, a glob matching nothing): warnings, no run, no database', async () => {
    const dir = tempDir('kensa-cli-none-');
    mkdirSync(join(dir, 'empty'));
    const { buf, io } = capture();
    const db = join(dir, 'k.db');
    assert.equal(await run([join(dir, 'empty'), `${dir}/empty/*.png`, '--db', db, '--device', 'cpu', '--progress', 'none'], io), 0, buf.err);
    assert.ok(buf.err.includes(`kensa inspect: warning: ${JSON.stringify(join(dir, 'empty'))} holds no images`), buf.err);
    assert.ok(buf.err.includes(`kensa inspect: warning: ${JSON.stringify(`${dir}/empty/*.png`)} matches no images`), buf.err);
    assert.doesNotMatch(buf.err, /started on/);
    assert.match(buf.err, /^kensa inspect: no source holds an image; no run was created\n/);
    assert.equal(existsSync(db), false);
  });

  test('a corrupt file counts as an error, not an inspected image; the CPU device is named once; progress in whole ms', async () => {
    const dir = tempDir('kensa-cli-corrupt-');
    writeFileSync(join(dir, 'bad.png'), 'not an image');
    const { buf, io } = capture();
    assert.equal(await run([join(dir, 'bad.png'), '--db', join(dir, 'k.db'), '--device', 'cpu', '--progress', 'json'], io), 0, buf.err);
    assert.match(buf.out, /\n0 images inspected, 1 error in [\d.]+ s/);
    assert.match(buf.out, / · device cpu \(TypeScript reference\)\n/);
    const progress = buf.err.split('\n').filter((l) => l.startsWith('{'));
    assert.ok(progress.length > 0, buf.err);
    for (const l of progress) {
      const p = JSON.parse(l) as { elapsedMs: number; etaMs: number | null };
      assert.ok(Number.isInteger(p.elapsedMs) && (p.etaMs === null || Number.isInteger(p.etaMs)), l);
    }
  });

  test('an unknown --recipe and a YAML syntax error: one line each', async () => {
    const dir = tempDir('kensa-cli-recipe-');
    mkdirSync(join(dir, 'imgs'));
    const a = capture();
    assert.equal(await run([join(dir, 'imgs'), '--recipe', 'nosuch', '--db', join(dir, 'k.db'), '--device', 'cpu'], a.io), 1);
    assert.match(
      a.buf.err,
      /^kensa inspect: Cannot read recipe nosuch: neither a built-in recipe \(classic[^)]*\) nor a readable file \(no such file\) \[KENSA_ERR_RECIPE\]\n$/,
    );
    writeFileSync(join(dir, 'bad.yaml'), 'kind: classic\ndenoise: [1, 2\n  sigma: : 3\n');
    const b = capture();
    assert.equal(await run([join(dir, 'imgs'), '--recipe', join(dir, 'bad.yaml'), '--db', join(dir, 'k.db'), '--device', 'cpu'], b.io), 1);
    assert.match(b.buf.err, /^kensa inspect: Cannot parse recipe .*bad\.yaml: [^\n]+[^:] \[KENSA_ERR_RECIPE\]\n$/);
    // the parser's first line ends in a colon before its code frame: not left dangling before the code
    assert.match(b.buf.err, /at line \d+, column \d+ \[KENSA_ERR_RECIPE\]\n$/);
  });
});
