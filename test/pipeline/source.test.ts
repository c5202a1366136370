import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { tempDir } from '../_kit/tmp.js';
import { countSource, expandSource, globToRegExp, scanSources } from '../../src/pipeline/source.js';

async function keys(arg: string, stdin?: NodeJS.ReadableStream): Promise<string[]> {
  const out: string[] = [];
  for await (const i of expandSource(arg, stdin)) out.push(i.key);
  return out;
}

test('folders (recursive, sorted, images only), globs, lists and stdin', async () => {
  const dir = tempDir('kensa-src-');
  mkdirSync(join(dir, 'b'));
  for (const f of ['a.png', 'b/c.jpg', 'b/d.tif', 'notes.txt', 'e.BMP']) writeFileSync(join(dir, f), 'x');
  symlinkSync(join(dir, 'a.png'), join(dir, 'link.png'));
  symlinkSync(join(dir, 'b'), join(dir, 'linkdir'));
  assert.deepEqual(await keys(dir), ['a.png', 'b/c.jpg', 'b/d.tif', 'e.BMP', 'link.png'], 'file links followed, folder links not');
  unlinkSync(join(dir, 'link.png'));
  assert.deepEqual(await keys(`${dir}/**/*.jpg`), ['b/c.jpg']);
  assert.deepEqual(await keys(`${dir}/*.png`), ['a.png']);
  writeFileSync(join(dir, 'list.txt'), `# frames\n${join(dir, 'a.png')}\n\n${join(dir, 'b/c.jpg')}\n`);
  assert.equal((await keys(`@${join(dir, 'list.txt')}`)).length, 2);
  assert.deepEqual(await keys('-', Readable.from([`${join(dir, 'a.png')}\n`])), [join(dir, 'a.png')]);
  assert.equal(await countSource([dir]), 4);
  await assert.rejects(keys(join(dir, 'nope')), /Expected an existing file, folder, glob, @list or - for source but received/);
  await assert.rejects(keys(`@${join(dir, 'nolist.txt')}`), /Expected a readable list file for source/);
});

test('glob syntax', () => {
  assert.ok(globToRegExp('**/*.png').test('a/b/c.png'));
  assert.ok(globToRegExp('**/*.png').test('c.png'));
  assert.ok(!globToRegExp('*.png').test('a/c.png'));
  assert.ok(globToRegExp('img?.jpg').test('img1.jpg'));
  assert.ok(!globToRegExp('img?.jpg').test('img12.jpg'));
});

test('scanSources: totals, sources without images, links passed over with the reason; stdin is not read', async () => {
  const dir = tempDir('kensa-scan-');
  mkdirSync(join(dir, 'empty'));
  writeFileSync(join(dir, 'a.png'), 'x');
  symlinkSync(join(dir, 'self.png'), join(dir, 'self.png'));
  const scan = await scanSources([dir, join(dir, 'empty')]);
  assert.deepEqual(scan, { total: 1, empty: [join(dir, 'empty')], skipped: [{ path: join(dir, 'self.png'), reason: 'symbolic link loop' }] });
  assert.equal((await scanSources([dir, '-'])).total, null);
  await assert.rejects(scanSources([join(dir, 'nope')]), { code: 'KENSA_ERR_INVALID_ARGUMENT' });
});

test('with several sources a folder or glob item key starts with its folder; one source keeps relative keys', async () => {
  const dir = tempDir('kensa-src-');
  mkdirSync(join(dir, 'a'));
  writeFileSync(join(dir, 'a', 'x.png'), 'x');
  const prefixed: string[] = [];
  for await (const i of expandSource(join(dir, 'a'), undefined, undefined, true)) prefixed.push(i.key);
  for await (const i of expandSource(`${dir}/a/*.png`, undefined, undefined, true)) prefixed.push(i.key);
  assert.deepEqual(prefixed, [`${dir}/a/x.png`, `${dir}/a/x.png`]);
  assert.deepEqual(await keys(join(dir, 'a')), ['x.png']);
});

test('sources that name one image twice fail the scan with one line naming both paths', async () => {
  const dir = tempDir('kensa-src-');
  mkdirSync(join(dir, 'a'));
  writeFileSync(join(dir, 'a', 'x.png'), 'x');
  await assert.rejects(scanSources([join(dir, 'a'), join(dir, 'a')]), {
    code: 'KENSA_ERR_INVALID_ARGUMENT',
    message: `Expected sources that name each image once but received ${JSON.stringify(join(dir, 'a', 'x.png'))} and ${JSON.stringify(join(dir, 'a', 'x.png'))} both as item ${JSON.stringify(`${dir}/a/x.png`)}`,
  });
  mkdirSync(join(dir, 'b'));
  writeFileSync(join(dir, 'b', 'x.png'), 'x');
  assert.equal((await scanSources([join(dir, 'a'), join(dir, 'b')])).total, 2);
});
