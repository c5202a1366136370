import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { CLASS_COLORS, MASK_TINT } from '../../src/report/html.js';
import { boxesSvg, renderOverlays, type OverlayBox } from '../../src/report/overlay.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'kensa-overlay-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const hex = (c: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number];

interface Decoded {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}
async function decode(file: string): Promise<Decoded> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}
function px(img: Decoded, x: number, y: number): [number, number, number] {
  const o = (y * img.width + x) * img.channels;
  return [img.data[o]!, img.data[o + 1]!, img.data[o + 2]!];
}
const dist = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
/** The smallest colour distance to `rgb` over the window [x0, x1] × [y0, y1]. */
function nearest(img: Decoded, x0: number, x1: number, y0: number, y1: number, rgb: readonly number[]): number {
  let best = Infinity;
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) best = Math.min(best, dist(px(img, x, y), rgb));
  return best;
}
async function grayPng(name: string, w: number, h: number, v: number): Promise<string> {
  const file = join(dir, name);
  await sharp(Buffer.alloc(w * h, v), { raw: { width: w, height: h, channels: 1 } })
    .png()
    .toFile(file);
  return file;
}

describe('report overlays', () => {
  test('boxes are drawn just outside each defect in the class colour, on the image and the thumbnail; the inside stays untouched', async () => {
    const input = await grayPng('flat.png', 400, 300, 128);
    const boxes: OverlayBox[] = [
      { x: 100, y: 100, w: 50, h: 20, class: 'crack' },
      { x: 250, y: 40, w: 100, h: 12, class: 'scratch' },
      { x: 300, y: 200, w: 30, h: 30, class: 'spot' },
    ];
    const r = await renderOverlays({ input, boxes, imageSize: 1024, thumbSize: 240, imageFile: join(dir, 'a.jpg'), thumbFile: join(dir, 'a-t.jpg') });
    assert.deepEqual(r, { image: { width: 400, height: 300 }, thumb: { width: 240, height: 180 } });
    const img = await decode(join(dir, 'a.jpg'));
    assert.deepEqual([img.width, img.height, img.channels], [400, 300, 3]);
    // stroke 2 px: colour band on columns 97–98 left of x = 100, halo on 96 and 99, first defect pixel (100) untouched
    for (const b of boxes) {
      const col = hex(CLASS_COLORS[b.class]);
      const midY = b.y + (b.h >> 1);
      const midX = b.x + (b.w >> 1);
      assert.ok(nearest(img, b.x - 3, b.x - 2, midY, midY, col) < 40, `${b.class} left edge`);
      assert.ok(nearest(img, b.x + b.w + 1, b.x + b.w + 2, midY, midY, col) < 40, `${b.class} right edge`);
      assert.ok(nearest(img, midX, midX, b.y - 3, b.y - 2, col) < 40, `${b.class} top edge`);
      assert.ok(dist(px(img, midX, midY), [128, 128, 128]) <= 6, `${b.class} inside`);
      assert.ok(dist(px(img, b.x + 1, midY), [128, 128, 128]) <= 24, `${b.class} first defect column`);
    }
    // no class colour away from the boxes
    for (const c of Object.values(CLASS_COLORS)) assert.ok(nearest(img, 10, 60, 200, 280, hex(c)) > 80);
    const thumb = await decode(join(dir, 'a-t.jpg'));
    assert.deepEqual([thumb.width, thumb.height], [240, 180]);
    for (const b of boxes) {
      const y = Math.round((b.y + b.h / 2) * 0.6);
      assert.ok(nearest(thumb, Math.round(b.x * 0.6) - 4, Math.round(b.x * 0.6) - 1, y, y, hex(CLASS_COLORS[b.class])) < 50, `${b.class} on the thumbnail`);
    }
  });

  test('the mask is tinted over the image (alpha × mask), outside it the pixels are unchanged', async () => {
    const input = await grayPng('m-img.png', 400, 300, 128);
    const mask = Buffer.alloc(400 * 300, 0);
    for (let y = 200; y < 260; y++) for (let x = 20; x < 60; x++) mask[y * 400 + x] = 255;
    const maskPath = join(dir, 'm-mask.png');
    await sharp(mask, { raw: { width: 400, height: 300, channels: 1 } })
      .png()
      .toFile(maskPath);
    const r = await renderOverlays({
      input,
      boxes: [],
      maskPath,
      imageSize: 1024,
      thumbSize: 100,
      imageFile: join(dir, 'm.jpg'),
      thumbFile: join(dir, 'm-t.jpg'),
    });
    assert.equal(r.maskProblem, undefined);
    const img = await decode(join(dir, 'm.jpg'));
    const a = MASK_TINT.alpha;
    const tinted = MASK_TINT.rgb.map((t) => 128 * (1 - a) + t * a);
    assert.ok(dist(px(img, 40, 230), tinted) <= 6, `${px(img, 40, 230)} vs ${tinted}`);
    assert.ok(dist(px(img, 40, 150), [128, 128, 128]) <= 4);
    assert.ok(dist(px(img, 200, 230), [128, 128, 128]) <= 4);
  });

  test('16-bit gray files and raw pixels render as 8-bit RGB; small images are enlarged by a whole factor', async () => {
    const g16 = join(dir, 'g16.png');
    await sharp(await grayPng('g8.png', 50, 40, 156))
      .toColourspace('grey16')
      .png()
      .toFile(g16); // 156 × 257
    assert.equal((await sharp(g16).metadata()).depth, 'ushort');
    const r = await renderOverlays({
      input: g16,
      boxes: [{ x: 10, y: 10, w: 1, h: 1, class: 'spot' }],
      imageSize: 1024,
      thumbSize: 240,
      imageFile: join(dir, 'g.jpg'),
      thumbFile: join(dir, 'g-t.jpg'),
    });
    assert.deepEqual(r.image, { width: 500, height: 400 }); // × floor(512 / 50)
    assert.deepEqual(r.thumb, { width: 240, height: 192 });
    const img = await decode(join(dir, 'g.jpg'));
    assert.equal(img.channels, 3);
    assert.ok(dist(px(img, 300, 300), [156, 156, 156]) <= 4, `${px(img, 300, 300)}`);
    // a 1 × 1 px defect (10 output px) still gets a visible box
    assert.ok(nearest(img, 96, 99, 105, 105, hex(CLASS_COLORS.spot)) < 40);

    const rgba = new Uint8Array(30 * 20 * 4);
    for (let i = 0; i < 30 * 20; i++) rgba.set([200, 50, 10, 255], i * 4);
    const r2 = await renderOverlays({
      input: { data: rgba, width: 30, height: 20, channels: 4 },
      boxes: [],
      imageSize: 64,
      thumbSize: 32,
      imageFile: join(dir, 'r.jpg'),
      thumbFile: join(dir, 'r-t.jpg'),
    });
    assert.deepEqual(r2, { image: { width: 60, height: 40 }, thumb: { width: 32, height: 21 } });
    assert.ok(dist(px(await decode(join(dir, 'r.jpg')), 30, 20), [200, 50, 10]) <= 6);
  });

  test('boxes are scaled from the given frame (the detector saw the full-size image)', async () => {
    const input = await grayPng('half.png', 400, 300, 128);
    await renderOverlays({
      input,
      frame: { width: 800, height: 600 },
      boxes: [{ x: 200, y: 200, w: 100, h: 40, class: 'crack' }],
      imageSize: 1024,
      thumbSize: 100,
      imageFile: join(dir, 'h.jpg'),
      thumbFile: join(dir, 'h-t.jpg'),
    });
    const img = await decode(join(dir, 'h.jpg'));
    assert.ok(nearest(img, 97, 98, 110, 110, hex(CLASS_COLORS.crack)) < 40);
    assert.ok(nearest(img, 197, 198, 110, 110, hex(CLASS_COLORS.crack)) > 80);
  });

  test('an unreadable image throws (nothing written); an unreadable mask is reported and the image still renders', async () => {
    const files = { imageFile: join(dir, 'x.jpg'), thumbFile: join(dir, 'x-t.jpg'), imageSize: 256, thumbSize: 64, boxes: [] };
    await assert.rejects(renderOverlays({ input: join(dir, 'missing.png'), ...files }), /missing\.png|exist|No such file/i);
    const corrupt = join(dir, 'corrupt.png');
    await writeFile(corrupt, Buffer.from('\x89PNG\r\n\x1a\nthis is not a png'));
    await assert.rejects(renderOverlays({ input: corrupt, ...files }));
    await assert.rejects(stat(files.imageFile), { code: 'ENOENT' });
    const input = await grayPng('ok.png', 64, 64, 90);
    const r = await renderOverlays({ input, maskPath: corrupt, ...files });
    assert.match(r.maskProblem ?? '', /^mask .*corrupt\.png could not be read: /);
    assert.ok((await stat(files.imageFile)).size > 0 && (await stat(files.thumbFile)).size > 0);
  });

  test('boxesSvg: stroke scales with the output, tiny boxes get at least 3 px', () => {
    const svg = boxesSvg([{ x: 10, y: 10, w: 0, h: 0, class: 'scratch' }], { width: 100, height: 100 }, { width: 900, height: 900 });
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="900" height="900"'));
    // stroke max(2, round(900 / 300)) = 3; w 0 → 3 px centred on x = 90: rect x = 88.5 − 1.5 − 1
    assert.ok(svg.includes(`<rect x="86" y="86" width="8" height="8" fill="none" stroke="${CLASS_COLORS.scratch}" stroke-width="3"/>`), svg);
    assert.ok(svg.includes('stroke="#000" stroke-opacity="0.55" stroke-width="5"'));
  });
});
