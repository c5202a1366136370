/**
 * framesOnDevice: JPEGs whose coefficients pass one storage binding together decode in several
 * runs (lavapipe's binding is 128 MiB: six 1080p 4:4:4 files need 150 MB), each a part of the
 * batch, with the pixels sharp gives.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { decodeBuffer, DEFAULT_MAX_PIXELS, type DecodeOptions, parseForDevice } from '../../src/pipeline/decode.js';
import { framesOnDevice } from '../../src/pipeline/device-frames.js';
import { adapterSkip } from '../_kit/gpu.js';

const noGpu = await adapterSkip();
const backend = noGpu ? null : await openBackend({ device: 'gpu' });
after(() => backend?.close());

const options: DecodeOptions = { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS, jpegOnDevice: true };
const [W, H] = [1920, 1080];

test('JPEGs past one storage binding together decode in runs that each fit, with sharp’s pixels', { skip: noGpu }, async () => {
  const files: Buffer[] = [];
  for (let i = 0; i < 6; i++) {
    const raw = new Uint8Array(W * H * 3).map((_, k) => (k * 7 + i * 31 + (k >> 12)) % 251);
    files.push(
      await sharp(raw, { raw: { width: W, height: H, channels: 3 } })
        .jpeg({ quality: 85, chromaSubsampling: '4:4:4' })
        .toBuffer(),
    );
  }
  const frames = files.map((f) => parseForDevice('f.jpg', f, options)!);
  const binding = backend!.gpu!.info.limits.maxStorageBufferBindingSize!;
  // 256 bytes of coefficients a block, 3 blocks an MCU of 8×8 pixels
  const perFile = (W / 8) * (H / 8) * 3 * 256;
  const perRun = Math.floor(binding / perFile);
  const { parts, failures } = await framesOnDevice(backend!, frames, () => Promise.reject(new Error('no file should fall back')));
  try {
    assert.equal(failures.size, 0);
    assert.equal(parts.length, Math.ceil(6 / Math.min(6, perRun)));
    assert.deepEqual(parts.flatMap((p) => p.at).sort(), [0, 1, 2, 3, 4, 5]);
    for (const { x, at } of parts) {
      const got = (await x.toCpu()).data as Uint8Array;
      for (const [j, i] of at.entries()) {
        const want = (await decodeBuffer('f.jpg', files[i]!, { ...options, jpegOnDevice: false })).data;
        assert.ok(Buffer.from(got.subarray(j * W * H, (j + 1) * W * H)).equals(Buffer.from(want)), `file ${i}`);
      }
    }
  } finally {
    for (const { x } of parts) x.dispose();
  }
});

test('at scale ½ files of 64×48 and 63×47 (both 32×24 there) in one batch come in a part each, with sharp’s pixels; a cut one is decoded again', {
  skip: noGpu,
}, async () => {
  const half: DecodeOptions = { ...options, scale: 0.5 };
  const make = (w: number, h: number, seed: number) =>
    sharp(
      new Uint8Array(w * h * 3).map((_, k) => (k * 7 + seed * 31 + (k >> 6)) % 251),
      { raw: { width: w, height: h, channels: 3 } },
    )
      .jpeg({ quality: 90 })
      .toBuffer();
  const files = [await make(64, 48, 1), await make(63, 47, 2), await make(64, 48, 3), await make(63, 47, 4)];
  files.push(Buffer.concat([files[0]!.subarray(0, Math.floor(files[0]!.length * 0.6)), Buffer.from([0xff, 0xd9])]));
  const frames = files.map((f) => parseForDevice('f.jpg', f, half)!);
  assert.deepEqual(
    frames.map((f) => [f.width, f.height, f.scale]),
    files.map(() => [32, 24, 0.5]),
  );
  const redecoded: number[] = [];
  const { parts, failures } = await framesOnDevice(backend!, frames, (i) => {
    redecoded.push(i);
    return decodeBuffer('f.jpg', files[i]!, half);
  });
  try {
    assert.equal(failures.size, 0);
    assert.deepEqual(redecoded, [4]);
    // the 64×48 files, the 63×47 ones, the cut file's pixels
    assert.deepEqual(
      parts.map((p) => p.at.filter((i) => i >= 0)),
      [[0, 2], [1, 3], [4]],
    );
    for (const { x, at } of parts) {
      const got = (await x.toCpu()).data as Uint8Array;
      for (const [j, i] of at.entries()) {
        if (i < 0) continue;
        const want = (await decodeBuffer('f.jpg', files[i]!, half)).data;
        assert.ok(Buffer.from(got.subarray(j * 32 * 24, (j + 1) * 32 * 24)).equals(Buffer.from(want)), `file ${i}`);
      }
    }
  } finally {
    for (const { x } of parts) x.dispose();
  }
});
