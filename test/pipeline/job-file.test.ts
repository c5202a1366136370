import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run as inspectCli } from '../../src/cli/inspect.js';
import type { CliIO } from '../../src/cli/io.js';
import { KensaError } from '../../src/errors.js';
import { loadJobFile, parseJobFile } from '../../src/pipeline/job-file.js';
import { tempDir } from '../_kit/tmp.js';
import { checkWrittenOnce, POSITIONS, seed, WRITE_BACK } from './_tasks.js';

const ROWS = 6;

const invalid = (message: RegExp) => (e: unknown) => e instanceof KensaError && e.code === 'KENSA_ERR_JOB_FILE' && message.test(e.message);

test('a job file becomes flag values; fan-out as a string or NAME: [values]', () => {
  assert.deepEqual(parseJobFile({ tasks: 't.db', query: 'SELECT 1', 'fan-out': { position: ['xm', 'xp'] }, 'job-items': 8 }), {
    flags: { tasks: 't.db', query: 'SELECT 1', 'job-items': '8', 'fan-out': 'position=xm,xp' },
    sources: [],
  });
  assert.deepEqual(parseJobFile({ sources: ['a', 'b'], queue: 'redis://h', 'fan-out': 'p=1,2' }).flags, { queue: 'redis://h', 'fan-out': 'p=1,2' });
});

test('bad job files: the error names the field, what it expects and what it received', async () => {
  assert.throws(() => parseJobFile({ 'job-items': 0 }), invalid(/^Invalid job file: job-items: .*>=1.*; received 0$/));
  assert.throws(() => parseJobFile({ 'job-items': 2.5 }), invalid(/job-items: .*int.*; received 2\.5/));
  assert.throws(() => parseJobFile({ 'fan-out': 42 }), invalid(/fan-out: .*; received 42/));
  assert.throws(() => parseJobFile({ 'fan-out': { position: ['x m'] } }), invalid(/fan-out\.position\.0: .*; received "x m"/));
  assert.throws(() => parseJobFile({ 'fan-out': { a: ['1'], b: ['2'] } }), invalid(/fan-out: expected one NAME: \[values\] but received/));
  assert.throws(() => parseJobFile({ tasks: '' }), invalid(/tasks: .*; received ""/));
  assert.throws(() => parseJobFile({ sources: 'imgs' }), invalid(/sources: .*array.*; received "imgs"/));
  assert.throws(() => parseJobFile({ taks: 'x.db' }), invalid(/taks: not a field of a job file \(sources, tasks, query/));
  assert.throws(() => parseJobFile(['tasks']), invalid(/\(root\): .*object.*; received \["tasks"\]/));
  const dir = tempDir('kensa-job-file-');
  writeFileSync(join(dir, 'broken.yaml'), 'tasks: [unclosed\n');
  await assert.rejects(loadJobFile(join(dir, 'broken.yaml')), invalid(/^Cannot parse job file .*broken\.yaml: /));
  await assert.rejects(loadJobFile(join(dir, 'missing.json')), invalid(/^Cannot read job file .*missing\.json: ENOENT/));
});

test('kensa inspect --job job.yaml runs the seed workflow; a bad file exits 1 naming the field', async () => {
  const dir = tempDir('kensa-job-cli-');
  const url = join(dir, 'tasks.db');
  const project = await seed(url, dir, ROWS);
  const storePath = join(dir, 'kensa.db');
  const job = join(dir, 'job.yaml');
  writeFileSync(
    job,
    [
      `tasks: ${url}`,
      'query: SELECT id, sid FROM panoramas',
      `path: ${join(project, '{sid}_{position}.png')}`,
      'fan-out:',
      '  position: [xm, xp, zm, zp]',
      `write-back: "${WRITE_BACK}"`,
      `db: ${storePath}`,
    ].join('\n'),
  );
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } } as unknown as CliIO;
  const code = await inspectCli(['--job', job, '--device', 'cpu', '--post-workers', '0', '--progress', 'none', '--json'], io);
  assert.equal(code, 0, err.join(''));
  const summary = JSON.parse(out.join('')) as { run: string; processed: number };
  assert.equal(summary.processed, ROWS * POSITIONS.length);
  await checkWrittenOnce(url, storePath, summary.run, ROWS);
  assert.match(err.join(''), /--resume/, 'the resume command repeats --job');

  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ tasks: url, 'job-items': 'many' }));
  err.length = 0;
  assert.equal(await inspectCli(['--job', bad], io), 1);
  assert.match(err.join(''), /Invalid job file .*bad\.json: job-items: .*number.*; received "many" \[KENSA_ERR_JOB_FILE\]/);
});
