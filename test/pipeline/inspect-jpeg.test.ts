/**
 * `inspect` on the GPU backend with JPEGs decoded there (jpegDecode 'gpu', src/ops/jpeg): the same
 * results as with sharp decoding every file, for gray and colour files, files the GPU decoder
 * refuses (progressive), a file whose scan data it finds cut short (sharp decodes it instead), an
 * unreadable file, and PNGs of the same size in the same batches; at input.scale ½ and ⅛ too,
 * with a file one pixel smaller that decodes to the same size.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import { inspect, type InspectOptions, type ItemResult } from '../../src/pipeline/inspect.js';
import { assertDeepClose } from '../_kit/compare.js';
import { adapterSkip, dispatchedProgramsWhile } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';
import { judged } from './_images.js';

const noGpu = await adapterSkip();
const backend = noGpu ? null : await openBackend({ device: 'gpu' });
after(() => backend?.close());

const SIZE = 64;
const dir = join(tempDir('kensa-inspect-jpeg-'), 'images');
mkdirSync(dir, { recursive: true });

/** A textured frame, with a dark crack in every third. */
function frame(i: number, channels: 1 | 3): Uint8Array {
  const img = new Uint8Array(SIZE * SIZE * channels);
  for (let p = 0; p < SIZE * SIZE; p++) for (let c = 0; c < channels; c++) img[p * channels + c] = 100 + ((p * 7 + i * 13 + c * 29) % 23);
  if (i % 3 === 1)
    for (let x = 6; x < SIZE - 6; x++)
      for (let c = 0; c < channels; c++) img[(SIZE / 2 + Math.round(4 * Math.sin(x / 5 + i))) * SIZE * channels + x * channels + c] = 15;
  return img;
}

const files: string[] = [];
for (let i = 0; i < 9; i++) {
  const channels = i % 2 === 0 ? 1 : 3;
  const img = sharp(frame(i, channels), { raw: { width: SIZE, height: SIZE, channels } });
  const name = `f${i}.${i === 8 ? 'png' : 'jpg'}`;
  if (i === 8) await img.png().toFile(join(dir, name));
  else await (channels === 1 ? img.toColourspace('b-w') : img).jpeg({ quality: 90, chromaSubsampling: '4:2:0', progressive: i === 5 }).toFile(join(dir, name));
  files.push(name);
}
// scan data cut short, then the end marker: the parser takes it, the GPU flags it, and sharp (which
// only warns) decodes it instead
const whole = readFileSync(join(dir, 'f3.jpg'));
writeFileSync(join(dir, 'f3-cut.jpg'), Buffer.concat([whole.subarray(0, Math.floor(whole.length * 0.7)), Buffer.from([0xff, 0xd9])]));
// a header and nothing else: neither decoder can read it
writeFileSync(join(dir, 'f9-broken.jpg'), whole.subarray(0, 40));

async function collect(o: Omit<InspectOptions, 'backend'>): Promise<ItemResult[]> {
  const out: ItemResult[] = [];
  for await (const r of inspect([dir], { backend: backend!, batch: { maxCount: 4 }, ...o })) out.push(r);
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

for (const postWorkers of [0, 2]) {
  test(`GPU-decoded JPEGs give sharp's results (postWorkers ${postWorkers}): gray, colour, refused, cut short, unreadable, PNG beside them`, {
    skip: noGpu,
  }, async () => {
    const cpu = await collect({ jpegDecode: 'cpu', postWorkers });
    const { result: gpu, names } = await dispatchedProgramsWhile(backend!.gpu!, () => collect({ jpegDecode: 'gpu', postWorkers }));
    assert.ok(names.has('jpeg_decode'), `the JPEGs decoded on the GPU (programs: ${[...names].join(', ')})`);
    assert.equal(gpu.length, 11);
    const broken = gpu.find((r) => r.key.endsWith('f9-broken.jpg'))!;
    assert.equal(broken.status, 'error');
    assert.match(broken.error!, /^Cannot decode .*f9-broken\.jpg/);
    assert.ok(gpu.filter((r) => r.status === 'ng').length >= 3);
    assert.deepEqual(
      gpu.map((r) => [r.key, r.width, r.height, r.sizeBytes]),
      cpu.map((r) => [r.key, r.width, r.height, r.sizeBytes]),
    );
    // a region's mean on the GPU is an f32 sum added atomically, in no fixed order: its last bits vary
    assertDeepClose(gpu.map(judged), cpu.map(judged), 1e-6);
  });
}

for (const scale of [0.5, 0.125] as const)
  test(`at input.scale ${scale} GPU-decoded JPEGs give sharp's results too, a file of 63×63 (${scale === 0.5 ? 32 : 8} px square there as the 64 px ones) among them`, {
    skip: noGpu,
  }, async () => {
    const half = join(tempDir('kensa-inspect-jpeg-scaled-'), 'images');
    mkdirSync(half, { recursive: true });
    for (const name of readdirSync(dir)) writeFileSync(join(half, name), readFileSync(join(dir, name)));
    await sharp(frame(1, 3).subarray(0, 63 * 63 * 3), { raw: { width: 63, height: 63, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(join(half, 'f1-63.jpg'));
    const recipe = parseRecipe({ kind: 'classic', input: { scale } }, 'scaled');
    const run = async (jpegDecode: 'gpu' | 'cpu') => {
      const out: ItemResult[] = [];
      for await (const r of inspect([half], { backend: backend!, batch: { maxCount: 4 }, recipe, jpegDecode, postWorkers: 0 })) out.push(r);
      return out.sort((a, b) => a.key.localeCompare(b.key));
    };
    const cpu = await run('cpu');
    const { result: gpu, names } = await dispatchedProgramsWhile(backend!.gpu!, () => run('gpu'));
    assert.ok(names.has('jpeg_decode') && names.has('jpeg_reduce'), `the JPEGs decoded and reduced on the GPU (programs: ${[...names].join(', ')})`);
    assert.equal(gpu.length, 12);
    assert.deepEqual(
      gpu.map((r) => [r.key, r.status, r.width, r.height]),
      cpu.map((r) => [r.key, r.status, r.width, r.height]),
    );
    assert.ok(gpu.some((r) => r.key.endsWith('f1-63.jpg') && r.status !== 'error'));
    assertDeepClose(gpu.map(judged), cpu.map(judged), 1e-6);
  });
