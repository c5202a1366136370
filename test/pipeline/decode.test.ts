import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../_kit/tmp.js';
import sharp from 'sharp';
import { decodeFile, DEFAULT_MAX_PIXELS, type DecodeOptions } from '../../src/pipeline/decode.js';

const gray: DecodeOptions = { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS };
const dir = tempDir('kensa-decode-');
const W = 7;
const H = 5;
const pixels = Uint8Array.from({ length: W * H }, (_, i) => (i * 37) & 0xff);

test('PNG, TIFF, WebP (lossless) decode to the same gray pixels; JPEG decodes', async () => {
  for (const ext of ['png', 'tif', 'webp'] as const) {
    const p = join(dir, `g.${ext}`);
    const s = sharp(pixels, { raw: { width: W, height: H, channels: 1 } });
    await (ext === 'webp' ? s.webp({ lossless: true }) : ext === 'tif' ? s.tiff({ compression: 'lzw' }) : s.png()).toFile(p);
    const d = await decodeFile(p, gray);
    assert.equal(d.dtype, 'u8');
    assert.deepEqual([d.width, d.height, d.channels], [W, H, 1]);
    assert.deepEqual([...d.data], [...pixels], ext);
  }
  const j = join(dir, 'g.jpg');
  await sharp(pixels, { raw: { width: W, height: H, channels: 1 } }).jpeg({ quality: 95 }).toFile(j);
  assert.equal((await decodeFile(j, gray)).width, W);
});

test('16-bit PNG stays 16-bit; RGB converts to gray or stays planar RGB', async () => {
  const p16 = join(dir, 'g16.png');
  const v16 = Uint16Array.from({ length: W * H }, (_, i) => i * 1500);
  await sharp(v16, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').png().toFile(p16); // a Uint16Array input is read as 16-bit
  const d = await decodeFile(p16, gray);
  assert.equal(d.dtype, 'u16');
  assert.deepEqual([...d.data], [...v16]);
  const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i % 3 === 0 ? 200 : i % 3 === 1 ? 100 : 50));
  const prgb = join(dir, 'rgb.png');
  await sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).png().toFile(prgb);
  const g = await decodeFile(prgb, gray);
  assert.equal(g.data[0], Math.round(0.299 * 200 + 0.587 * 100 + 0.114 * 50));
  const planar = await decodeFile(prgb, { ...gray, channels: 'rgb' });
  assert.deepEqual([planar.channels, planar.data[0], planar.data[W * H], planar.data[2 * W * H]], [3, 200, 100, 50]);
});

test('BMP (24-bit, bottom-up), .npy and raw frames', async () => {
  const stride = Math.ceil((W * 3) / 4) * 4;
  const bmp = Buffer.alloc(54 + stride * H);
  bmp.write('BM', 0, 'latin1');
  bmp.writeUInt32LE(bmp.length, 2);
  bmp.writeUInt32LE(54, 10);
  bmp.writeUInt32LE(40, 14);
  bmp.writeInt32LE(W, 18);
  bmp.writeInt32LE(H, 22);
  bmp.writeUInt16LE(1, 26);
  bmp.writeUInt16LE(24, 28);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) bmp.fill(pixels[y * W + x]!, 54 + (H - 1 - y) * stride + x * 3, 54 + (H - 1 - y) * stride + x * 3 + 3);
  writeFileSync(join(dir, 'g.bmp'), bmp);
  assert.deepEqual([...(await decodeFile(join(dir, 'g.bmp'), gray)).data], [...pixels]);

  const header = `{'descr': '<u2', 'fortran_order': False, 'shape': (${H}, ${W}), }`.padEnd(118, ' ') + '\n';
  const v = Uint16Array.from({ length: W * H }, (_, i) => 1000 + i);
  writeFileSync(join(dir, 'f.npy'), Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from([header.length & 0xff, header.length >> 8]), Buffer.from(header, 'latin1'), Buffer.from(v.buffer)]));
  const npy = await decodeFile(join(dir, 'f.npy'), gray);
  assert.equal(npy.dtype, 'u16');
  assert.deepEqual([...npy.data], [...v]);

  writeFileSync(join(dir, 'f.raw'), pixels);
  assert.deepEqual([...(await decodeFile(join(dir, 'f.raw'), { ...gray, raw: { width: W, height: H, dtype: 'u8' } })).data], [...pixels]);
  await assert.rejects(decodeFile(join(dir, 'f.raw'), gray), /needs --raw-width, --raw-height and --raw-dtype/);
  await assert.rejects(decodeFile(join(dir, 'f.raw'), { ...gray, raw: { width: W + 1, height: H, dtype: 'u8' } }), /expected 40 bytes for a 8×5 u8 frame but the file has 35/);
});

test('corrupt, truncated, empty, unsupported and oversized files fail with KENSA_ERR_DECODE naming the file', async () => {
  const png = readFileSync(join(dir, 'g.png'));
  const cases: [string, Buffer | string, RegExp][] = [
    ['corrupt.png', 'definitely not a png', /corrupt\.png: .*unsupported image format/],
    ['truncated.png', png.subarray(0, png.length - 20), /truncated\.png/],
    ['empty.jpg', Buffer.alloc(0), /empty\.jpg: empty file/],
    ['bad.bmp', 'BMxxxx', /bad\.bmp: not a BMP file/],
    ['bad.npy', 'NUMPYxxxxxxx', /bad\.npy: not a \.npy file/],
  ];
  for (const [name, data, re] of cases) {
    writeFileSync(join(dir, name), data);
    await assert.rejects(decodeFile(join(dir, name), gray), (e: unknown) => (e as { code?: string }).code === 'KENSA_ERR_DECODE' && re.test((e as Error).message));
  }
  await assert.rejects(decodeFile(join(dir, 'g.png'), { ...gray, maxPixels: 20 }), /7×5 = 35 pixels exceeds the limit of 20 \(maxPixels\)/);
  await assert.rejects(decodeFile(join(dir, 'missing.png'), gray), /missing\.png: file not found/);
});
