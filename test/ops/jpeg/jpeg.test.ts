import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { isKensaError } from '../../../src/errors.js';
import { decodeJpeg, decodeJpegBatch, type JpegBatch, JpegError, parseJpeg } from '../../../src/ops/jpeg/index.js';
import { decodeJpegsGpu } from '../../../src/ops/jpeg/gpu.js';
import { jpegPrograms } from '../../../src/ops/jpeg/programs.js';
import { decodeBuffer, DEFAULT_MAX_PIXELS } from '../../../src/pipeline/decode.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { caseName, encodeJpeg, type JpegCase, makeJpeg, mismatch, picture, sharpPlanar, withRestarts } from './_jpeg.js';

const gpu = await testGpu();

/** Every file of the batch decoded, each sample equal to sharp's pixels of it. */
async function assertSharpPixels(batch: JpegBatch, files: readonly Uint8Array[], names: readonly string[]): Promise<void> {
  for (const [i, f] of files.entries()) {
    const w = batch.where[i]!;
    assert.ok('tensor' in w, names[i]);
    const t = batch.tensors[w.tensor]!;
    const per = t.size / t.shape[0]!;
    const all = new Uint8Array(await gpu!.read(t.gpu.ref, t.byteLength));
    assert.equal(mismatch(all.subarray(w.index * per, (w.index + 1) * per), (await sharpPlanar(f)).data), null, names[i]);
  }
}

/** Small files of every supported kind: gray, 4:2:0, 4:4:4; odd sizes, a chroma plane ≤ 2 wide, qualities 50/90/100. */
const SMALL: JpegCase[] = [
  { w: 37, h: 23, c: 3, quality: 90, subsampling: '4:2:0' },
  { w: 37, h: 23, c: 3, quality: 50, subsampling: '4:4:4' },
  { w: 37, h: 23, c: 1, quality: 100 },
  { w: 3, h: 3, c: 3, quality: 90, subsampling: '4:2:0' },
  { w: 1, h: 1, c: 3, quality: 90, subsampling: '4:2:0' },
  { w: 64, h: 48, c: 3, quality: 100, subsampling: '4:2:0' },
  { w: 61, h: 77, c: 3, quality: 50, subsampling: '4:2:0' },
  { w: 45, h: 17, c: 1, quality: 50 },
  { w: 200, h: 150, c: 3, quality: 90, subsampling: '4:4:4' },
];

/** Files of the samplings sharp does not write, from the test encoder: 4:2:2 (luma 2×1) and 4:4:0 (1×2), sizes down to 2 wide. */
const ENCODED = (
  [
    [2, 1],
    [1, 2],
  ] as const
).flatMap((s) =>
  [
    [37, 23],
    [3, 3],
    [2, 5],
  ].map(([w, h]) => ({ name: `${w}×${h} luma ${s.join('×')}`, file: encodeJpeg(w!, h!, s, w! + h!) })),
);

/** `jpg` without its APP0 (JFIF) segments. */
function stripApp0(jpg: Uint8Array): Uint8Array {
  const out: number[] = [0xff, 0xd8];
  let p = 2;
  while (jpg[p + 1] !== 0xda) {
    const len = (jpg[p + 2]! << 8) | jpg[p + 3]!;
    if (jpg[p + 1] !== 0xe0) out.push(...jpg.subarray(p, p + 2 + len));
    p += 2 + len;
  }
  return Uint8Array.from([...out, ...jpg.subarray(p)]);
}

function throwsJpeg(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof JpegError && isKensaError(e) && e.code === code && message.test(e.message));
}

describe('JPEG parser', () => {
  test('reads the frame, components, MCU geometry and restart intervals', async () => {
    const p = parseJpeg(await makeJpeg({ w: 37, h: 23, c: 3, quality: 90, subsampling: '4:2:0' }));
    assert.deepEqual([p.width, p.height, p.hmax, p.vmax, p.mcusx, p.mcusy, p.blocksPerMcu], [37, 23, 2, 2, 3, 2, 6]);
    assert.deepEqual(
      p.components.map((c) => [c.h, c.v, c.width, c.height, c.bw, c.bh]),
      [
        [2, 2, 37, 23, 6, 4],
        [1, 1, 19, 12, 3, 2],
        [1, 1, 19, 12, 3, 2],
      ],
    );
    assert.equal(p.segments.length, 1);
    const r = parseJpeg(withRestarts(await makeJpeg({ w: 37, h: 23, c: 3, quality: 90, subsampling: '4:2:0' }), 4));
    assert.deepEqual(
      r.segments.map((s) => [s.mcuStart, s.mcuCount, s.startBit % 8]),
      [
        [0, 4, 0],
        [4, 2, 0],
      ],
    );
  });

  test('refuses what it does not decode with KENSA_ERR_JPEG_UNSUPPORTED, one sentence each: progressive, CMYK, RGB, an ICC profile', async () => {
    const progressive = await makeJpeg({ w: 40, h: 30, c: 3, quality: 90 }, { progressive: true });
    throwsJpeg(() => parseJpeg(progressive), 'KENSA_ERR_JPEG_UNSUPPORTED', /^Progressive JPEG is not supported \(baseline only\)$/);
    const cmyk = new Uint8Array(
      await sharp(picture(16, 16, 3, 1), { raw: { width: 16, height: 16, channels: 3 } })
        .toColourspace('cmyk')
        .jpeg()
        .toBuffer(),
    );
    throwsJpeg(() => parseJpeg(cmyk), 'KENSA_ERR_JPEG_UNSUPPORTED', /^JPEG with 4 components is not supported/);
    // component ids R, G, B and no JFIF or Adobe marker: libjpeg reads RGB
    const ycc = await makeJpeg({ w: 16, h: 16, c: 3, quality: 90, subsampling: '4:4:4' });
    const rgb = stripApp0(ycc);
    const sof = rgb.findIndex((b, i) => b === 0xff && rgb[i + 1] === 0xc0);
    for (const [k, id] of [82, 71, 66].entries()) rgb[sof + 10 + 3 * k] = id;
    for (let i = 0; i < rgb.length - 1; i++) if (rgb[i] === 0xff && rgb[i + 1] === 0xda) for (const [k, id] of [82, 71, 66].entries()) rgb[i + 5 + 2 * k] = id;
    throwsJpeg(() => parseJpeg(rgb), 'KENSA_ERR_JPEG_UNSUPPORTED', /^RGB JPEG \(not YCbCr\) is not supported$/);
    assert.equal(mismatch(decodeJpeg(stripApp0(ycc)).data, (await sharpPlanar(ycc)).data), null);
    // sharp converts through an embedded profile (P3 here): refused unless ignoreIcc, which equals sharp's ignoreIcc
    const p3 = new Uint8Array(
      await sharp(picture(37, 23, 3, 1), { raw: { width: 37, height: 23, channels: 3 } })
        .withIccProfile('p3')
        .jpeg()
        .toBuffer(),
    );
    throwsJpeg(() => parseJpeg(p3), 'KENSA_ERR_JPEG_UNSUPPORTED', /^JPEG with an embedded ICC profile is not supported \(sharp converts it/);
    const raw = await sharp(p3, { ignoreIcc: true }).raw().toBuffer();
    const planar = Uint8Array.from({ length: raw.length }, (_, i) => raw[(i % (37 * 23)) * 3 + Math.floor(i / (37 * 23))]!);
    assert.equal(mismatch(decodeJpeg(p3, { ignoreIcc: true }).data, planar), null);
  });

  test('names broken files with KENSA_ERR_DECODE: not a JPEG, truncated, a corrupt marker, a bad length, the pixel limit', async () => {
    const jpg = await makeJpeg({ w: 37, h: 23, c: 3, quality: 90 });
    throwsJpeg(() => parseJpeg(new Uint8Array([0x89, 0x50, 0x4e, 0x47])), 'KENSA_ERR_DECODE', /^Not a JPEG file: it does not start with an SOI marker$/);
    throwsJpeg(() => parseJpeg(jpg.subarray(0, jpg.length - 40)), 'KENSA_ERR_DECODE', /^Truncated JPEG: the file ends inside the scan data$/);
    throwsJpeg(() => parseJpeg(jpg.subarray(0, 100)), 'KENSA_ERR_DECODE', /^(Truncated|Corrupt) JPEG/);
    const marker = jpg.slice();
    marker[2] = 0x12; // the byte after SOI is no longer 0xFF
    throwsJpeg(() => parseJpeg(marker), 'KENSA_ERR_DECODE', /^Corrupt JPEG: expected a marker at byte 2 but found 0x12$/);
    const length = jpg.slice();
    length[4] = 0xff; // the first marker's length past the end
    throwsJpeg(() => parseJpeg(length), 'KENSA_ERR_DECODE', /^Corrupt JPEG: marker 0xFF[0-9A-F]{2} has length \d+ past the end of the file$/);
    throwsJpeg(() => parseJpeg(jpg, { maxPixels: 800 }), 'KENSA_ERR_DECODE', /^JPEG of 37×23 = 851 pixels exceeds the limit of 800 \(maxPixels\)$/);
    // scan data cut in the middle, EOI kept: parses, but the Huffman decoder runs out of blocks
    const cut = Uint8Array.from([...jpg.subarray(0, jpg.length - 200), 0xff, 0xd9]);
    throwsJpeg(() => decodeJpeg(cut), 'KENSA_ERR_DECODE', /^Corrupt JPEG: /);
  });
});

describe('JPEG decoding on the CPU', () => {
  test('hostile files (random bytes changed anywhere, cut anywhere) decode or throw a JpegError, never anything else', async () => {
    const good = await makeJpeg({ w: 45, h: 33, c: 3, quality: 90, subsampling: '4:2:0' });
    let s = 99;
    const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8;
    for (let k = 0; k < 400; k++) {
      const f = k % 4 === 3 ? good.subarray(0, rand() % good.length) : good.slice();
      if (k % 4 !== 3) for (let j = 0; j <= k % 3; j++) f[rand() % Math.min(f.length, k % 2 ? 700 : f.length)] = rand() & 255;
      try {
        decodeJpeg(f);
      } catch (e) {
        assert.ok(e instanceof JpegError, `case ${k}: ${String(e)}`);
      }
    }
  });

  test('equals sharp exactly: gray, 4:2:0, 4:4:4, odd sizes, qualities 50/90/100', async () => {
    for (const k of SMALL) {
      const jpg = await makeJpeg(k);
      const ref = await sharpPlanar(jpg);
      const got = decodeJpeg(jpg);
      assert.equal(got.channels, ref.channels, caseName(k));
      assert.equal(mismatch(got.data, ref.data), null, caseName(k));
    }
  });

  test('4:2:2 and 4:4:0 (the test encoder) equal sharp exactly', async () => {
    for (const { name, file } of ENCODED) assert.equal(mismatch(decodeJpeg(file).data, (await sharpPlanar(file)).data), null, name);
  });

  test('with restart intervals (1, 3 and 5 MCUs) equals sharp exactly', async () => {
    for (const k of [SMALL[0]!, SMALL[2]!, SMALL[6]!]) {
      for (const interval of [1, 3, 5]) {
        const jpg = withRestarts(await makeJpeg(k), interval);
        assert.equal(mismatch(decodeJpeg(jpg).data, (await sharpPlanar(jpg)).data), null, `${caseName(k)} interval ${interval}`);
      }
    }
  });

  test("gray from colour equals the pipeline's decode (sharp, then decode.ts's integer gray); rgb from gray repeats it", async () => {
    for (const k of [SMALL[0]!, SMALL[1]!, SMALL[2]!]) {
      const jpg = await makeJpeg(k);
      const gray = await decodeBuffer('x.jpg', Buffer.from(jpg), { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS });
      assert.equal(mismatch(decodeJpeg(jpg, { channels: 'gray' }).data, gray.data as Uint8Array), null, `gray ${caseName(k)}`);
      const rgb = await decodeBuffer('x.jpg', Buffer.from(jpg), { channels: 'rgb', maxPixels: DEFAULT_MAX_PIXELS });
      assert.equal(mismatch(decodeJpeg(jpg, { channels: 'rgb' }).data, rgb.data as Uint8Array), null, `rgb ${caseName(k)}`);
    }
  });
});

describe('JPEG decoding on the GPU', () => {
  test('every program compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of jpegPrograms()) await gpu!.compile(p);
  });

  test('a mixed batch (1920×1080 among small files, restart intervals, gray, 4:4:4, 4:2:2, 4:4:0, 4:2:0) equals sharp exactly, in one set of dispatches', {
    skip: gpuSkip(gpu),
  }, async () => {
    const files: Uint8Array[] = [];
    const names: string[] = [];
    for (const k of [...SMALL, { w: 1920, h: 1080, c: 3, quality: 90, subsampling: '4:2:0' } as JpegCase]) {
      files.push(await makeJpeg(k));
      names.push(caseName(k));
    }
    files.push(withRestarts(files[0]!, 1), withRestarts(files[2]!, 3), withRestarts(files[6]!, 5));
    names.push('37×23 4:2:0 interval 1', '37×23 gray interval 3', '61×77 4:2:0 interval 5');
    for (const e of ENCODED) {
      files.push(e.file);
      names.push(e.name);
    }
    // a second file of the first size: they share a tensor
    files.push(await makeJpeg(SMALL[0]!, { seed: 7 }));
    names.push('37×23 4:2:0 (another)');
    const batch = await decodeJpegBatch(gpu!, files);
    // sync passes, 2 scans, decode, IDCT, one colour pass per output size
    assert.equal(batch.dispatches, 1 + batch.syncPasses + 4 + batch.tensors.length, `dispatches ${batch.dispatches}`);
    await assertSharpPixels(batch, files, names);
    assert.equal((batch.where[0] as { tensor: number }).tensor, (batch.where.at(-1) as { tensor: number }).tensor);
    for (const t of batch.tensors) t.dispose();
  });

  test('gray from colour and rgb from gray equal the CPU reference', { skip: gpuSkip(gpu) }, async () => {
    const files = [await makeJpeg(SMALL[0]!), await makeJpeg(SMALL[2]!), await makeJpeg(SMALL[6]!)];
    for (const channels of ['gray', 'rgb'] as const) {
      const batch = await decodeJpegBatch(gpu!, files, { channels });
      for (const [i, f] of files.entries()) {
        const w = batch.where[i] as { tensor: number; index: number };
        const t = batch.tensors[w.tensor]!;
        const per = t.size / t.shape[0]!;
        const all = new Uint8Array(await gpu!.read(t.gpu.ref, t.byteLength));
        assert.equal(mismatch(all.subarray(w.index * per, (w.index + 1) * per), decodeJpeg(f, { channels }).data), null, `${channels} ${i}`);
      }
      for (const t of batch.tensors) t.dispose();
    }
  });

  test('a file refused by the parser or with corrupt scan data gets its JpegError; the rest of the batch decodes', { skip: gpuSkip(gpu) }, async () => {
    const good = await makeJpeg(SMALL[0]!);
    const progressive = await makeJpeg(SMALL[0]!, { progressive: true });
    const cut = Uint8Array.from([...good.subarray(0, good.length - 200), 0xff, 0xd9]);
    const batch = await decodeJpegBatch(gpu!, [progressive, good, cut]);
    const [p, g, c] = batch.where;
    assert.ok(p && 'error' in p && p.error.code === 'KENSA_ERR_JPEG_UNSUPPORTED');
    assert.ok(c && 'error' in c && c.error.code === 'KENSA_ERR_DECODE' && /^Corrupt JPEG: /.test(c.error.message), JSON.stringify(c));
    assert.ok(g && 'tensor' in g);
    const t = batch.tensors[g.tensor]!;
    const all = new Uint8Array(await gpu!.read(t.gpu.ref, t.byteLength));
    const per = t.size / t.shape[0]!;
    assert.equal(mismatch(all.subarray(g.index * per, (g.index + 1) * per), (await sharpPlanar(good)).data), null);
    for (const x of batch.tensors) x.dispose();
  });

  test('with one synchronisation pass before the first readback (then rounds of synchronisation alone, the decode recorded again), and with other subsequence lengths, the result is the same', {
    skip: gpuSkip(gpu),
  }, async () => {
    const files = [await makeJpeg({ w: 320, h: 240, c: 3, quality: 90, subsampling: '4:2:0' }), await makeJpeg({ w: 301, h: 207, c: 1, quality: 90 })];
    const parsed = files.map((f) => parseJpeg(f));
    const batch = await decodeJpegsGpu(gpu!, parsed, { syncPasses: 1, subseqBits: 256 });
    assert.ok(batch.syncPasses >= 2, `sync passes ${batch.syncPasses}`);
    // the speculative decode after pass 1, then synchronisation rounds alone, then the decode again
    assert.equal(batch.dispatches, 1 + batch.syncPasses + 2 * (4 + batch.tensors.length));
    for (const [i, f] of files.entries()) {
      const t = batch.tensors[i]!;
      assert.equal(mismatch(new Uint8Array(await gpu!.read(t.gpu.ref, t.byteLength)), (await sharpPlanar(f)).data), null, `file ${i}`);
      t.dispose();
    }
    // every pass counted its subsequence decodes, the last none; pass 0 decoded each subsequence at least once
    assert.equal(batch.passDecodes.length, batch.syncPasses + 1);
    assert.equal(batch.passDecodes.at(-1), 0);
    const subsequences = parsed.reduce((n, p) => n + p.segments.reduce((m, s) => m + Math.max(1, Math.ceil((s.endBit - s.startBit) / 256)), 0), 0);
    assert.ok(batch.passDecodes[0]! >= subsequences, `pass 0: ${batch.passDecodes[0]} decodes of ${subsequences} subsequences`);
    // profiled: the same pixels, a GPU time for every stage
    const profiled = await decodeJpegsGpu(gpu!, parsed, { syncPasses: 1, subseqBits: 256, profile: true });
    for (const [i, f] of files.entries()) {
      const t = profiled.tensors[i]!;
      assert.equal(mismatch(new Uint8Array(await gpu!.read(t.gpu.ref, t.byteLength)), (await sharpPlanar(f)).data), null, `profiled file ${i}`);
      t.dispose();
    }
    if (gpu!.hasTimestamps) {
      const ms = profiled.stageMs!;
      assert.equal(ms.sync.length, profiled.syncPasses + 1);
      for (const v of [...ms.sync, ms.scan, ms.decode, ms.idct, ms.colour]) assert.ok(Number.isFinite(v) && v >= 0, JSON.stringify(ms));
    } else assert.equal(profiled.stageMs, null);
    // other subsequence lengths: the same pixels
    for (const subseqBits of [64, 1000, 8192]) {
      const b = await decodeJpegsGpu(gpu!, parsed, { subseqBits });
      for (const [i, f] of files.entries()) {
        const t = b.tensors[i]!;
        assert.equal(mismatch(new Uint8Array(await gpu!.read(t.gpu.ref, t.byteLength)), (await sharpPlanar(f)).data), null, `file ${i} subseq ${subseqBits}`);
        t.dispose();
      }
    }
  });

  test('corrupt files (scan or header bytes changed, scan cut short): the GPU and the CPU agree, pixels or an error, and always return', {
    skip: gpuSkip(gpu),
  }, async () => {
    const good = await makeJpeg({ w: 61, h: 77, c: 3, quality: 90, subsampling: '4:2:0' });
    const scan = good.length - 600;
    let s = 12345;
    const files: Uint8Array[] = [];
    for (let k = 0; k < 24; k++) {
      const f = good.slice();
      for (let j = 0; j < 1 + (k % 4); j++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const at = scan + (s % 590);
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        // never 0xFF: a new marker is the parser's business, tested above
        f[at] = (s >>> 24) % 255;
      }
      files.push(f);
    }
    // the headers' bytes changed (tables, sampling, sizes): what still parses must decode alike too
    for (let k = 0; k < 16; k++) {
      const f = good.slice();
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const at = 2 + ((s >>> 8) % (scan - 2));
      if (f[at] !== 0xff) f[at] = (s >>> 24) % 255;
      files.push(f);
    }
    // scan data cut short (EOI kept): it ends before the last block, or inside its last codeword
    for (const cut of [3, 40, 300]) files.push(Uint8Array.from([...good.subarray(0, good.length - 2 - cut), 0xff, 0xd9]));
    const batch = await decodeJpegBatch(gpu!, files);
    let errors = 0;
    for (const [i, f] of files.entries()) {
      const w = batch.where[i]!;
      let cpu: Uint8Array | null = null;
      try {
        cpu = decodeJpeg(f).data;
      } catch (e) {
        assert.ok(e instanceof JpegError, String(e));
      }
      if ('error' in w) {
        errors++;
        assert.equal(cpu, null, `file ${i}: the GPU found ${w.error.message}, the CPU decoded it`);
        continue;
      }
      assert.ok(cpu, `file ${i}: the CPU threw, the GPU decoded it`);
      const t = batch.tensors[w.tensor]!;
      const per = t.size / t.shape[0]!;
      const all = new Uint8Array(await gpu!.read(t.gpu.ref, t.byteLength));
      assert.equal(mismatch(all.subarray(w.index * per, (w.index + 1) * per), cpu), null, `file ${i}`);
    }
    assert.ok(errors >= 3 && errors < files.length, `errors ${errors}`);
    for (const t of batch.tensors) t.dispose();
  });

  test('40 random files (to 700×500, q5–100, gray, 4:2:0, 4:4:4, some with restart intervals) and 4:2:2 / 4:4:0 ones in one batch equal sharp', {
    skip: gpuSkip(gpu),
  }, async () => {
    let s = 7;
    const r = (n: number) => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s >>> 8) % n;
    };
    const files: Uint8Array[] = [];
    const names: string[] = [];
    for (let k = 0; k < 40; k++) {
      const c = r(3) === 0 ? 1 : 3;
      const kase: JpegCase = { w: 1 + r(700), h: 1 + r(500), c, quality: [5, 10, 30, 50, 75, 90, 95, 100][r(8)]!, subsampling: r(2) ? '4:2:0' : '4:4:4' };
      let f = await makeJpeg(kase, { seed: k });
      let name = caseName(kase);
      if (r(4) === 0) {
        const interval = 1 + r(20);
        f = withRestarts(f, interval);
        name += ` interval ${interval}`;
      }
      files.push(f);
      names.push(name);
    }
    for (let k = 0; k < 6; k++) {
      const [w, h, sm] = [
        1 + r(300),
        1 + r(300),
        (
          [
            [2, 1],
            [1, 2],
            [2, 2],
          ] as const
        )[k % 3]!,
      ];
      files.push(encodeJpeg(w, h, sm, k));
      names.push(`${w}×${h} luma ${sm.join('×')} (test encoder)`);
    }
    const batch = await decodeJpegBatch(gpu!, files);
    await assertSharpPixels(batch, files, names);
    for (const t of batch.tensors) t.dispose();
  });
});
