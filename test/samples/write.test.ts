import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import sharp from 'sharp';
import { generateSample } from '../../src/samples/generate.js';
import { sampleName, writeSamples, type SampleLabels } from '../../src/samples/write.js';

const root = mkdtempSync(join(tmpdir(), 'kensa-samples-'));
after(() => rmSync(root, { recursive: true, force: true }));
const dir = (name: string) => join(root, name);

function files(d: string): string[] {
  return readdirSync(d, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(d.length + 1))
    .sort();
}

/** Decoded grey pixels; channels as stored in the file. */
async function pixels(path: string, wide = false): Promise<{ data: Uint8Array | Uint16Array; channels: number; width: number; height: number }> {
  const meta = await sharp(path).metadata();
  const { data, info } = await (wide ? sharp(path).toColourspace('grey16').raw({ depth: 'ushort' }) : sharp(path).toColourspace('b-w').raw()).toBuffer({
    resolveWithObject: true,
  });
  return {
    data: wide ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : new Uint8Array(data),
    channels: meta.channels!,
    width: info.width,
    height: info.height,
  };
}

describe('samples/write', () => {
  test('the same seed writes byte-identical files, on one thread or on workers; another seed differs', async () => {
    const o = { count: 5, width: 72, height: 56, seed: 11 };
    const a = await writeSamples({ ...o, out: dir('a'), jobs: 1 });
    const b = await writeSamples({ ...o, out: dir('b'), jobs: 2 });
    const c = await writeSamples({ ...o, seed: 12, out: dir('c'), jobs: 1 });
    assert.deepEqual(files(dir('a')), [
      'images/sample-0000.png',
      'images/sample-0001.png',
      'images/sample-0002.png',
      'images/sample-0003.png',
      'images/sample-0004.png',
      'labels.json',
      'masks/sample-0000.png',
      'masks/sample-0001.png',
      'masks/sample-0002.png',
      'masks/sample-0003.png',
      'masks/sample-0004.png',
    ]);
    assert.deepEqual(files(dir('b')), files(dir('a')));
    for (const f of files(dir('a'))) assert.ok(readFileSync(join(dir('a'), f)).equals(readFileSync(join(dir('b'), f))), `${f} identical`);
    assert.ok(!readFileSync(join(dir('a'), 'images/sample-0000.png')).equals(readFileSync(join(dir('c'), 'images/sample-0000.png'))));
    assert.equal(a.jobs, 1);
    assert.equal(b.jobs, 2);
    assert.deepEqual({ ...a, seconds: 0, out: '', jobs: 0 }, { ...b, seconds: 0, out: '', jobs: 0 });
    assert.equal(a.ok + a.ng, 5);
    assert.ok(c.count === 5);
  });

  test('files hold what generateSample makes; labels.json lists every defect where the mask has it', async () => {
    const o = { count: 14, width: 96, height: 64, seed: 3, okFraction: 0.2, maxDefects: 4 };
    const s = await writeSamples({ ...o, out: dir('labels'), jobs: 1 });
    const labels = JSON.parse(readFileSync(join(dir('labels'), 'labels.json'), 'utf8')) as SampleLabels;
    assert.deepEqual(labels.options, { width: 96, height: 64, seed: 3, kind: 'mixed', depth: 8, okFraction: 0.2, maxDefects: 4, count: 14, format: 'png' });
    assert.equal(labels.images.length, 14);
    const classes = new Map<string, number>();
    for (const [i, l] of labels.images.entries()) {
      const g = generateSample(o, i);
      assert.equal(l.name, sampleName(i, 14));
      assert.equal(l.verdict, g.defects.length ? 'NG' : 'OK');
      assert.deepEqual(l.defects, g.defects);
      const img = await pixels(join(dir('labels'), l.image));
      const mask = await pixels(join(dir('labels'), l.mask));
      assert.equal(img.channels, 1);
      assert.equal(mask.channels, 1);
      assert.deepEqual(img.data, g.image);
      assert.deepEqual(mask.data, g.mask);
      for (const d of l.defects) {
        classes.set(d.class, (classes.get(d.class) ?? 0) + 1);
        let n = 0;
        for (let y = d.bbox.y; y < d.bbox.y + d.bbox.height; y++)
          for (let x = d.bbox.x; x < d.bbox.x + d.bbox.width; x++) if (mask.data[y * 96 + x] === 255) n++;
        assert.ok(n >= d.area && d.area > 0, `${l.name} ${d.class}: its ${d.area} px are in the mask file`);
      }
    }
    assert.deepEqual([...classes.keys()].sort(), ['crack', 'scratch', 'spot']);
    assert.deepEqual(s.defects, { crack: classes.get('crack'), scratch: classes.get('scratch'), spot: classes.get('spot') });
    assert.equal(s.ng, labels.images.filter((l) => l.defects.length).length);
  });

  test('--depth 16 writes 16-bit grey PNGs with every value kept; jpg writes 8-bit JPEGs and PNG masks', async () => {
    await writeSamples({ count: 2, width: 40, height: 30, seed: 8, depth: 16, out: dir('d16'), jobs: 1 });
    const meta = await sharp(join(dir('d16'), 'images/sample-0000.png')).metadata();
    assert.equal(meta.depth, 'ushort');
    assert.equal(meta.channels, 1);
    const px = await pixels(join(dir('d16'), 'images/sample-0001.png'), true);
    assert.deepEqual(px.data, generateSample({ width: 40, height: 30, seed: 8, depth: 16 }, 1).image);
    assert.equal((await sharp(join(dir('d16'), 'masks/sample-0000.png')).metadata()).depth, 'uchar');

    await writeSamples({ count: 2, width: 40, height: 30, format: 'jpg', out: dir('jpg'), jobs: 1 });
    assert.deepEqual(files(dir('jpg')), ['images/sample-0000.jpg', 'images/sample-0001.jpg', 'labels.json', 'masks/sample-0000.png', 'masks/sample-0001.png']);
    const jm = await sharp(join(dir('jpg'), 'images/sample-0000.jpg')).metadata();
    assert.equal(jm.format, 'jpeg');
    assert.equal(jm.channels, 1);
  });

  test('refuses a folder with earlier samples unless force, which replaces them', async () => {
    await writeSamples({ count: 3, width: 16, height: 16, out: dir('again'), jobs: 1 });
    await assert.rejects(writeSamples({ count: 1, width: 16, height: 16, out: dir('again'), jobs: 1 }), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: `Expected a folder without earlier samples (${join(dir('again'), 'images')}, ${join(dir('again'), 'masks')} not empty; force: true replaces them) for out but received ${JSON.stringify(dir('again'))} of type string`,
    });
    mkdirSync(join(dir('again'), 'other'));
    writeFileSync(join(dir('again'), 'other', 'keep.txt'), 'x');
    await writeSamples({ count: 1, width: 16, height: 16, out: dir('again'), jobs: 1, force: true });
    assert.deepEqual(files(dir('again')), ['images/sample-0000.png', 'labels.json', 'masks/sample-0000.png', 'other/keep.txt']);
  });

  test('bad options are refused before anything is written', async () => {
    await assert.rejects(writeSamples({ count: 0, width: 8, height: 8, out: dir('bad') }), {
      message: 'Expected integer between 1 and 10000000 for count but received 0 of type number',
    });
    await assert.rejects(writeSamples({ count: 1, width: 8, height: 8, out: dir('bad'), format: 'gif' as never }), {
      message: 'Expected one of "png", "jpg" for format but received "gif" of type string',
    });
    await assert.rejects(writeSamples({ count: 1, width: 8, height: 8, out: dir('bad'), format: 'jpg', depth: 16 }), {
      message: 'Expected 8 with format "jpg" (JPEG holds 8 bits; use png for 16) for depth but received 16 of type number',
    });
    await assert.rejects(writeSamples({ count: 1, width: 8, height: 8, out: dir('bad'), jobs: 0 }), {
      message: 'Expected integer between 1 and 256 for jobs but received 0 of type number',
    });
    await assert.rejects(writeSamples({ count: 1, width: 8, height: 8, out: '' }), {
      message: 'Expected a folder path for out but received "" of type string',
    });
    assert.deepEqual(readdirSync(root).includes('bad'), false);
  });

  test('names are zero-padded to the count, at least four digits; progress is reported per image', async () => {
    assert.equal(sampleName(7, 10), 'sample-0007');
    assert.equal(sampleName(7, 12345), 'sample-00007');
    assert.equal(sampleName(0, 1), 'sample-0000');
    const seen: number[] = [];
    await writeSamples({ count: 3, width: 8, height: 8, out: dir('progress'), jobs: 1, onProgress: (done, total) => seen.push(done * 10 + total) });
    assert.deepEqual(seen, [13, 23, 33]);
  });
});
