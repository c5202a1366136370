import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { INSPECT_HELP, run } from '../../src/cli/inspect.js';
import { tempDir } from '../_kit/tmp.js';
import { writeFrames } from '../pipeline/_images.js';

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

describe('kensa inspect --post-workers', () => {
  test('takes 0 … 256; anything else is a usage error', async () => {
    assert.match(INSPECT_HELP, /\n  --post-workers N {6}worker threads/);
    for (const bad of ['257', '1.5', 'two']) {
      const { buf, io } = capture();
      assert.equal(await run(['imgs', '--post-workers', bad], io), 2);
      assert.equal(buf.err, `kensa inspect: --post-workers expects an integer between 0 and 256 but received '${bad}'\nRun 'kensa inspect --help' for usage.\n`);
    }
  });

  test('a CPU run on worker threads and one on the main thread judge alike', async () => {
    const dir = tempDir('kensa-cli-inspect-');
    const { defective } = await writeFrames(join(dir, 'images'), 6, 48);
    const counts: unknown[] = [];
    for (const n of ['2', '0']) {
      const { buf, io } = capture();
      assert.equal(await run([join(dir, 'images'), '--db', join(dir, `w${n}.db`), '--device', 'cpu', '--post-workers', n, '--progress', 'none', '--json'], io), 0, buf.err);
      counts.push((JSON.parse(buf.out) as { counts: unknown }).counts);
    }
    assert.deepEqual(counts[0], { total: 6, ok: 6 - defective.size, ng: defective.size, error: 0 });
    assert.deepEqual(counts[1], counts[0]);
  });
});
