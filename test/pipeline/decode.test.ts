import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../_kit/tmp.js';
import sharp from 'sharp';
import {
  decodeBuffer,
  decodeFile,
  DEFAULT_MAX_PIXELS,
  parseForDevice,
  scaledSize,
  sharpReason,
  type DecodeOptions,
  type DecodeScale,
} from '../../src/pipeline/decode.js';
import { generateSample } from '../../src/samples/generate.js';

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
  await sharp(pixels, { raw: { width: W, height: H, channels: 1 } })
    .jpeg({ quality: 95 })
    .toFile(j);
  assert.equal((await decodeFile(j, gray)).width, W);
});

test('16-bit PNG stays 16-bit; RGB converts to gray or stays planar RGB', async () => {
  const p16 = join(dir, 'g16.png');
  const v16 = Uint16Array.from({ length: W * H }, (_, i) => i * 1500);
  await sharp(v16, { raw: { width: W, height: H, channels: 1 } })
    .toColourspace('grey16')
    .png()
    .toFile(p16); // a Uint16Array input is read as 16-bit
  const d = await decodeFile(p16, gray);
  assert.equal(d.dtype, 'u16');
  assert.deepEqual([...d.data], [...v16]);
  const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i % 3 === 0 ? 200 : i % 3 === 1 ? 100 : 50));
  const prgb = join(dir, 'rgb.png');
  await sharp(rgb, { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toFile(prgb);
  const g = await decodeFile(prgb, gray);
  assert.equal(g.data[0], Math.round(0.299 * 200 + 0.587 * 100 + 0.114 * 50));
  const planar = await decodeFile(prgb, { ...gray, channels: 'rgb' });
  assert.deepEqual([planar.channels, planar.data[0], planar.data[W * H], planar.data[2 * W * H]], [3, 200, 100, 50]);
});

test('colour to gray: OpenCV weights rounded half up, exactly, for 8-bit and 16-bit colour, also after shrink-on-load', async () => {
  const [w, h] = [64, 48];
  let s = 7;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 16;
  };
  // exact: 0.299 r + 0.587 g + 0.114 b in thousandths, half up
  const formula = (r: number, g: number, b: number) => Math.floor((299 * r + 587 * g + 114 * b + 500) / 1000);
  for (const sixteen of [false, true]) {
    const rgb = sixteen ? Uint16Array.from({ length: w * h * 3 }, () => next()) : Uint8Array.from({ length: w * h * 3 }, () => next() & 0xff);
    const p = join(dir, `colour${sixteen ? 16 : 8}.png`);
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .toColourspace(sixteen ? 'rgb16' : 'srgb')
      .png()
      .toFile(p);
    const d = await decodeFile(p, gray);
    assert.equal(d.dtype, sixteen ? 'u16' : 'u8');
    for (let i = 0; i < w * h; i++) {
      const want = formula(rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!);
      assert.equal(d.data[i], want, `pixel ${i} (${sixteen ? 16 : 8}-bit)`);
    }
  }
  const p = join(dir, 'colour8.png');
  const [quarter, full] = await Promise.all([decodeFile(p, { ...gray, scale: 0.25 }), decodeFile(p, { ...gray, channels: 'rgb', scale: 0.25 })]);
  assert.deepEqual([quarter.width, quarter.height, quarter.channels], [16, 12, 1]);
  const n = 16 * 12;
  for (let i = 0; i < n; i++) {
    const want = formula(full.data[i]!, full.data[n + i]!, full.data[2 * n + i]!);
    assert.equal(quarter.data[i], want, `scaled pixel ${i}`);
  }
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
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) bmp.fill(pixels[y * W + x]!, 54 + (H - 1 - y) * stride + x * 3, 54 + (H - 1 - y) * stride + x * 3 + 3);
  writeFileSync(join(dir, 'g.bmp'), bmp);
  assert.deepEqual([...(await decodeFile(join(dir, 'g.bmp'), gray)).data], [...pixels]);

  const dict = `{'descr': '<u2', 'fortran_order': False, 'shape': (${H}, ${W}), }`;
  const header = `${dict.padEnd(118, ' ')}\n`;
  const v = Uint16Array.from({ length: W * H }, (_, i) => 1000 + i);
  writeFileSync(
    join(dir, 'f.npy'),
    Buffer.concat([
      Buffer.from('\x93NUMPY\x01\x00', 'latin1'),
      Buffer.from([header.length & 0xff, header.length >> 8]),
      Buffer.from(header, 'latin1'),
      Buffer.from(v.buffer),
    ]),
  );
  const npy = await decodeFile(join(dir, 'f.npy'), gray);
  assert.equal(npy.dtype, 'u16');
  assert.deepEqual([...npy.data], [...v]);

  writeFileSync(join(dir, 'f.raw'), pixels);
  assert.deepEqual([...(await decodeFile(join(dir, 'f.raw'), { ...gray, raw: { width: W, height: H, dtype: 'u8' } })).data], [...pixels]);
  await assert.rejects(decodeFile(join(dir, 'f.raw'), gray), /needs --raw-width, --raw-height and --raw-dtype/);
  await assert.rejects(
    decodeFile(join(dir, 'f.raw'), { ...gray, raw: { width: W + 1, height: H, dtype: 'u8' } }),
    /expected 40 bytes for a 8×5 u8 frame but the file has 35/,
  );
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
    await assert.rejects(
      decodeFile(join(dir, name), gray),
      (e: unknown) => (e as { code?: string }).code === 'KENSA_ERR_DECODE' && re.test((e as Error).message),
    );
  }
  await assert.rejects(decodeFile(join(dir, 'g.png'), { ...gray, maxPixels: 20 }), /7×5 = 35 pixels exceeds the limit of 20 \(maxPixels\)/);
  await assert.rejects(decodeFile(join(dir, 'missing.png'), gray), /missing\.png: file not found/);
});

test("a broken file's error is the same one line however often it failed before on this thread", async () => {
  const jpeg = await sharp(Buffer.alloc(64 * 64, 90), { raw: { width: 64, height: 64, channels: 1 } })
    .jpeg()
    .toBuffer();
  writeFileSync(join(dir, 'header-only.jpg'), jpeg.subarray(0, 40));
  const messages: string[] = [];
  for (let i = 0; i < 3; i++) await decodeFile(join(dir, 'header-only.jpg'), gray).catch((e: Error) => messages.push(e.message));
  assert.equal(messages.length, 3);
  assert.equal(new Set(messages).size, 1, messages.join('\n---\n'));
  assert.doesNotMatch(messages[0]!, /\n/);
});

test("a broken file's error does not carry what libvips' shared error buffer holds from files decoded beside it", async () => {
  // sharp's messages as seen under concurrency: another file's warning first, or the detail cleared
  assert.equal(
    sharpReason('Input buffer has corrupt header: VipsJpeg: Corrupt JPEG data: premature end of data segment\nVipsJpeg: premature end of JPEG image'),
    'has corrupt header: VipsJpeg: premature end of JPEG image',
  );
  assert.equal(sharpReason('Input buffer has corrupt header: '), 'has corrupt header');
  assert.equal(sharpReason('VipsJpeg: premature end of JPEG image\nVipsJpeg: JPEG datastream contains no image'), 'VipsJpeg: premature end of JPEG image');
  assert.equal(sharpReason('Input file contains unsupported image format'), 'contains unsupported image format');
  assert.equal(sharpReason('Unknown error'), 'the decoder failed without a reason (most likely corrupt or truncated data)');
  const pixels = Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => 100 + ((i * 7) % 23));
  const whole = await sharp(pixels, { raw: { width: 64, height: 64, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  // scan data cut short, then the end marker: libjpeg warns "Corrupt JPEG data: premature end of data segment" and decodes
  const warns = Buffer.concat([whole.subarray(0, Math.floor(whole.length * 0.7)), Buffer.from([0xff, 0xd9])]);
  const broken = whole.subarray(0, 40);
  const messages = new Set<string>();
  for (let round = 0; round < 20; round++) {
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        i % 4 === 3 ? decodeBuffer('broken.jpg', broken, gray).catch((e: Error) => messages.add(e.message)) : decodeBuffer('warns.jpg', warns, gray),
      ),
    );
  }
  // libjpeg gives the cut file two lines ("premature end …", then "… contains no image"); another thread may clear the first
  for (const m of messages) {
    assert.match(m, /^Cannot decode broken\.jpg: has corrupt header(: VipsJpeg: (premature end of JPEG image|JPEG datastream contains no image))?$/);
  }
});

/** Largest and mean absolute difference of two equal-length pixel arrays. */
function difference(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  assert.equal(a.length, b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, e);
    sum += e;
  }
  return { max, mean: sum / a.length };
}

test('scaledSize rounds each side up (libjpeg’s rule) and never gives an empty side', () => {
  assert.deepEqual(scaledSize(2048, 2048, 0.5), { width: 1024, height: 1024 });
  assert.deepEqual(scaledSize(1001, 999, 0.25), { width: 251, height: 250 });
  assert.deepEqual(scaledSize(7, 5, 0.125), { width: 1, height: 1 });
  assert.deepEqual(scaledSize(7, 5, 1), { width: 7, height: 5 });
});

test('a JPEG decoded at 0.5, 0.25 and 0.125 is within 4 levels (mean ≤ 1) of a full decode reduced by sharp', async () => {
  const S = 1024;
  const sample = generateSample({ width: S, height: S, kind: 'textured', seed: 3 }, 0);
  const jpg = await sharp(sample.image as Uint8Array, { raw: { width: S, height: S, channels: 1 } })
    .jpeg({ quality: 92 })
    .toBuffer();
  const full = await sharp(jpg).toColourspace('b-w').raw().toBuffer();
  for (const scale of [0.5, 0.25, 0.125] as const) {
    const d = await decodeBuffer('s.jpg', jpg, { ...gray, scale });
    assert.deepEqual([d.width, d.height, d.original.width, d.original.height, d.dtype], [S * scale, S * scale, S, S, 'u8']);
    // the reference never shrinks in the DCT domain: it reduces the fully decoded pixels
    const ref = await sharp(full, { raw: { width: S, height: S, channels: 1 } })
      .resize({ width: d.width, height: d.height, fit: 'fill', kernel: 'cubic' })
      .toColourspace('b-w')
      .raw()
      .toBuffer();
    const e = difference(d.data, ref);
    assert.ok(e.max <= 4 && e.mean <= 1, `scale ${scale}: max ${e.max}, mean ${e.mean.toFixed(3)}`);
  }
  const odd = await sharp(sample.image as Uint8Array, { raw: { width: S, height: S, channels: 1 } })
    .extract({ left: 0, top: 0, width: 1001, height: 999 })
    .jpeg()
    .toBuffer();
  const d = await decodeBuffer('odd.jpg', odd, { ...gray, scale: 0.25 });
  assert.deepEqual([d.width, d.height, d.data.length, d.original.width, d.original.height], [251, 250, 251 * 250, 1001, 999]);
});

test('PNG, TIFF, BMP, .npy and raw at a scale give the same pixels, the block mean on smooth parts; 16-bit stays 16-bit', async () => {
  const S = 64;
  // a ramp with a bright square: reductions agree on smooth parts and differ only near edges
  const value = (x: number, y: number) => (x >= 20 && x < 36 && y >= 24 && y < 40 ? 250 : 2 * x + y);
  const v8 = Uint8Array.from({ length: S * S }, (_, i) => value(i % S, Math.floor(i / S)));
  const v16 = Uint16Array.from(v8, (v) => v * 257);
  const npy = (descr: string, bytes: Uint8Array) => {
    const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${S}, ${S}), }`;
    const header = `${dict.padEnd(117, ' ')}\n`;
    return Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from([header.length, 0]), Buffer.from(header, 'latin1'), bytes]);
  };
  const bmp = Buffer.alloc(54 + S * S * 3);
  bmp.write('BM', 0, 'latin1');
  bmp.writeUInt32LE(54, 10);
  bmp.writeInt32LE(S, 18);
  bmp.writeInt32LE(-S, 22); // top-down
  bmp.writeUInt16LE(24, 28);
  for (const [i, v] of v8.entries()) bmp.fill(v, 54 + i * 3, 57 + i * 3);
  const raw8 = { raw: { width: S, height: S, dtype: 'u8' as const } };
  const raw16 = { raw: { width: S, height: S, dtype: 'u16' as const } };
  const files8: [string, Buffer, Partial<DecodeOptions>][] = [
    [
      'r.png',
      await sharp(v8, { raw: { width: S, height: S, channels: 1 } })
        .png()
        .toBuffer(),
      {},
    ],
    [
      'r.tif',
      await sharp(v8, { raw: { width: S, height: S, channels: 1 } })
        .tiff({ compression: 'lzw' })
        .toBuffer(),
      {},
    ],
    [
      'r.webp',
      await sharp(v8, { raw: { width: S, height: S, channels: 1 } })
        .webp({ lossless: true })
        .toBuffer(),
      {},
    ],
    ['r.bmp', bmp, {}],
    ['r.npy', npy('|u1', v8), {}],
    ['r.raw', Buffer.from(v8), raw8],
  ];
  const files16: [string, Buffer, Partial<DecodeOptions>][] = [
    [
      'r16.png',
      await sharp(v16, { raw: { width: S, height: S, channels: 1 } })
        .toColourspace('grey16')
        .png()
        .toBuffer(),
      {},
    ],
    ['r16.npy', npy('<u2', new Uint8Array(v16.buffer)), {}],
    ['r16.raw', Buffer.from(v16.buffer), raw16],
  ];
  for (const scale of [0.5, 0.25] as const) {
    const k = 1 / scale;
    const n = S / k;
    // the exact block mean, on the blocks whose neighbourhood (the kernel's reach, 2 decoded pixels) is all ramp
    const ramp: number[] = [];
    const at: number[] = [];
    for (let by = 2; by < n - 2; by++)
      for (let bx = 2; bx < n - 2; bx++) {
        if ((bx + 3) * k > 20 && (bx - 2) * k < 36 && (by + 3) * k > 24 && (by - 2) * k < 40) continue;
        at.push(by * n + bx);
        ramp.push(value(bx * k + (k - 1) / 2, by * k + (k - 1) / 2)); // a ramp's block mean is its value at the block centre
      }
    for (const [files, dtype, unit] of [
      [files8, 'u8', 1],
      [files16, 'u16', 257],
    ] as const) {
      let first: Uint8Array | Uint16Array | undefined;
      for (const [name, buf, extra] of files) {
        const d = await decodeBuffer(name, buf, { ...gray, ...extra, scale });
        assert.deepEqual([d.width, d.height, d.channels, d.dtype, d.original.width], [n, n, 1, dtype, S], name);
        first ??= d.data;
        assert.deepEqual(d.data, first, `${name} at ${scale} matches ${files[0]![0]}`);
      }
      const e = difference(
        at.map((i) => first![i]! / unit),
        ramp,
      );
      assert.ok(at.length >= 20 && e.max <= 1, `${dtype} at ${scale}: max ${e.max.toFixed(2)} over ${at.length} blocks`);
    }
  }
  const half = await decodeBuffer('r.bmp', bmp, { ...gray, scale: 0.5 });
  const rgb = await decodeBuffer('r.bmp', bmp, { ...gray, channels: 'rgb', scale: 0.5 });
  assert.deepEqual([rgb.channels, rgb.data.length], [3, 3 * half.data.length]);
  for (let c = 0; c < 3; c++) assert.deepEqual(rgb.data.subarray(c * half.data.length, (c + 1) * half.data.length), half.data, `planar channel ${c}`);
});

test('at a scale the pixel limit still applies to the file’s size, a truncated JPEG still fails; a bad scale names the option', async () => {
  const jpg = await sharp(Buffer.alloc(256 * 256, 99), { raw: { width: 256, height: 256, channels: 1 } })
    .jpeg()
    .toBuffer();
  await assert.rejects(decodeBuffer('cut.jpg', jpg.subarray(0, jpg.length >> 1), { ...gray, scale: 0.25 }), /Cannot decode cut\.jpg: .*premature end of JPEG/);
  await assert.rejects(decodeFile(join(dir, 'g.png'), { ...gray, maxPixels: 20, scale: 0.25 }), /7×5 = 35 pixels exceeds the limit of 20 \(maxPixels\)/);
  await assert.rejects(
    decodeFile(join(dir, 'f.raw'), { ...gray, maxPixels: 20, scale: 0.5, raw: { width: W, height: H, dtype: 'u8' } }),
    /7×5 = 35 pixels exceeds the limit of 20/,
  );
  const small = await decodeFile(join(dir, 'g.png'), { ...gray, maxPixels: 35, scale: 0.5 });
  assert.deepEqual([small.width, small.height, small.original.width, small.original.height], [4, 3, 7, 5]);
  await assert.rejects(
    decodeFile(join(dir, 'g.png'), { ...gray, scale: 0.3 as DecodeScale }),
    (e: unknown) =>
      (e as { code?: string }).code === 'KENSA_ERR_INVALID_ARGUMENT' &&
      /^Expected one of 1, 0\.5, 0\.25, 0\.125 for scale but received 0\.3 of type number$/.test((e as Error).message),
  );
});

test('parseForDevice takes baseline JPEGs at every scale but those libvips box-shrinks; everything else stays with decodeBuffer', async () => {
  const raw = { raw: { width: 40, height: 24, channels: 3 as const } };
  const pixels = new Uint8Array(40 * 24 * 3).map((_, i) => i % 251);
  const baseline = await sharp(pixels, raw).jpeg().toBuffer();
  const found = parseForDevice('a.jpg', baseline, gray);
  assert.ok(found);
  assert.deepEqual(
    { ...found, jpeg: undefined },
    { jpeg: undefined, scale: 1, dtype: 'u8', width: 40, height: 24, channels: 1, bytes: baseline.length, original: { width: 40, height: 24 } },
  );
  const half = parseForDevice('a.jpg', baseline, { ...gray, scale: 0.5 });
  assert.deepEqual([half?.scale, half?.width, half?.height, half?.original], [0.5, 20, 12, { width: 40, height: 24 }]);
  const eighth = parseForDevice('a.jpg', baseline, { ...gray, scale: 0.125 });
  assert.deepEqual([eighth?.scale, eighth?.width, eighth?.height], [0.125, 5, 3]);
  // a file libvips box-shrinks at that scale (2 px wide: no shrink-on-load, the height reduced 7.5×) stays with sharp
  const thin = await sharp(new Uint8Array(2 * 60 * 3), { raw: { width: 2, height: 60, channels: 3 } })
    .jpeg()
    .toBuffer();
  assert.equal(parseForDevice('a.jpg', thin, { ...gray, scale: 0.125 }), null);
  assert.ok(parseForDevice('a.jpg', thin, gray));
  assert.equal(parseForDevice('a.jpg', await sharp(pixels, raw).jpeg({ progressive: true }).toBuffer(), gray), null);
  assert.equal(parseForDevice('a.jpg', baseline, { ...gray, maxPixels: 100 }), null);
  // a header-less frame that happens to begin with a JPEG's marker bytes is a raw frame
  assert.equal(parseForDevice('frame.raw', baseline, gray), null);
  assert.equal(parseForDevice('a.png', Buffer.from('not an image'), gray), null);
});
