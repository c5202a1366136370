import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import sharp from 'sharp';
import { checkMask, listMaskFolder, readMask } from '../../src/eval/masks.js';

const root = mkdtempSync(join(tmpdir(), 'kensa-masks-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function png(path: string, data: Uint8Array | Uint16Array, width: number, height: number, channels: 1 | 3 = 1) {
  mkdirSync(join(path, '..'), { recursive: true });
  const s = sharp(data, { raw: { width, height, channels } });
  await (data instanceof Uint16Array ? s.toColourspace('grey16') : channels === 1 ? s.toColourspace('b-w') : s).png().toFile(path);
}

describe('eval/masks', () => {
  test('a folder is listed recursively by name without extension; duplicates and hidden files are set apart', async () => {
    const d = join(root, 'list');
    const one = new Uint8Array(4);
    await png(join(d, 'a.png'), one, 2, 2);
    await png(join(d, 'sub', 'b.png'), one, 2, 2);
    await png(join(d, 'sub', 'deeper', 'c.png'), one, 2, 2);
    await png(join(d, 'twice.png'), one, 2, 2);
    await sharp(one, { raw: { width: 2, height: 2, channels: 1 } })
      .tiff()
      .toFile(join(d, 'twice.tif'));
    await png(join(d, '.hidden', 'x.png'), one, 2, 2);
    await png(join(d, '.y.png'), one, 2, 2);
    writeFileSync(join(d, 'notes.txt'), 'not a mask');
    const f = listMaskFolder('pred', d);
    assert.equal(f.dir, d);
    assert.deepEqual([...f.files.keys()], ['a', 'sub/b', 'sub/deeper/c']);
    assert.deepEqual([...f.duplicates], [['twice', [join(d, 'twice.png'), join(d, 'twice.tif')]]]);
  });

  test('a kensa samples folder stands for its masks/', async () => {
    const d = join(root, 'samples');
    await png(join(d, 'images', 's1.png'), new Uint8Array(4), 2, 2);
    await png(join(d, 'masks', 's1.png'), new Uint8Array(4), 2, 2);
    writeFileSync(join(d, 'labels.json'), '{}');
    const f = listMaskFolder('truth', d);
    assert.equal(f.dir, join(d, 'masks'));
    assert.deepEqual([...f.files], [['s1', join(d, 'masks', 's1.png')]]);
  });

  test('a path that is not a folder is refused, naming the argument', () => {
    assert.throws(() => listMaskFolder('truth', join(root, 'nope')), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: `Expected a folder of masks for truth but received ${JSON.stringify(join(root, 'nope'))} of type string`,
    });
    writeFileSync(join(root, 'file.png'), '');
    assert.throws(() => listMaskFolder('pred', join(root, 'file.png')), { message: /^Expected a folder of masks for pred but received/ });
  });

  test('readMask: non-zero (or above threshold) is a defect; 16-bit masks keep small values; RGB reads the first channel', async () => {
    const m8 = join(root, 'read', 'm8.png');
    await png(m8, new Uint8Array([0, 1, 127, 128, 255, 0]), 3, 2);
    assert.deepEqual(await readMask(m8), { width: 3, height: 2, data: new Uint8Array([0, 255, 255, 255, 255, 0]) });
    assert.deepEqual((await readMask(m8, 127)).data, new Uint8Array([0, 0, 0, 255, 255, 0]));
    const m16 = join(root, 'read', 'm16.png');
    await png(m16, new Uint16Array([0, 1, 300, 65535]), 2, 2);
    assert.deepEqual((await readMask(m16)).data, new Uint8Array([0, 255, 255, 255]));
    assert.deepEqual((await readMask(m16, 1)).data, new Uint8Array([0, 0, 255, 255])); // 300 > 257
    const rgb = join(root, 'read', 'rgb.png');
    await png(rgb, new Uint8Array([0, 9, 9, 200, 0, 0]), 2, 1, 3);
    assert.deepEqual((await readMask(rgb)).data, new Uint8Array([0, 255]));
    const bad = join(root, 'read', 'bad.png');
    writeFileSync(bad, 'not a png');
    await assert.rejects(readMask(bad));
  });

  test('checkMask explains a malformed mask from a producer', () => {
    assert.equal(checkMask({ width: 2, height: 1, data: new Uint8Array(2) }), null);
    assert.equal(checkMask(null), 'expected a mask { width, height, data } but received null');
    assert.equal(checkMask({ width: 0, height: 1, data: new Uint8Array(0) }), 'expected positive integer width and height but received 0×1');
    assert.equal(checkMask({ width: 2, height: 1, data: [0, 0] }), 'expected mask data as a Uint8Array');
    assert.equal(checkMask({ width: 2, height: 2, data: new Uint8Array(3) }), 'mask data holds 3 bytes, not width × height = 4');
  });
});
