import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import type { ImageDetection } from '../../src/detect/classic.js';
import { inspect, type ItemResult } from '../../src/pipeline/inspect.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import { toOriginal, upscaleMask, type Size } from '../../src/detect/rescale.js';
import { mulberry32 } from '../../src/rng.js';
import { develop, surface, type SurfaceKind } from '../../src/samples/surface.js';
import { tempDir } from '../_kit/tmp.js';

const defect = (x: number, y: number, w: number, h: number, area: number) => ({ x, y, w, h, area, meanGradient: 0.1, score: 2, class: 'spot' as const });

/** The tight box of the set pixels of `mask` (width `W`) inside the box `b`, or null. */
function maskBox(mask: Uint8Array, W: number, b: { x: number; y: number; w: number; h: number }): [number, number, number, number] | null {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let y = b.y; y < b.y + b.h; y++)
    for (let x = b.x; x < b.x + b.w; x++) if (mask[y * W + x]) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x + 1), Math.max(y1, y + 1)];
  return x0 === Infinity ? null : [x0, y0, x1, y1];
}

test('boxes and areas scale by the integer factor; equal sizes give the detection back unchanged', () => {
  const found: ImageDetection = { defects: [defect(3, 4, 5, 2, 7), defect(0, 0, 1, 1, 1)], verdict: 'NG', score: 2 };
  assert.equal(toOriginal(found, { width: 50, height: 40 }, { width: 50, height: 40 }), found);
  const back = toOriginal(found, { width: 50, height: 40 }, { width: 100, height: 80 });
  assert.deepEqual(
    back.defects.map((d) => [d.x, d.y, d.w, d.h, d.area]),
    [
      [6, 8, 10, 4, 28],
      [0, 0, 2, 2, 4],
    ],
  );
  assert.deepEqual([back.verdict, back.score, back.defects[0]!.score, back.defects[0]!.class], ['NG', 2, 2, 'spot']);
  const quarter = toOriginal(found, { width: 25, height: 20 }, { width: 200, height: 160 });
  assert.deepEqual(quarter.defects[0], { ...found.defects[0], x: 24, y: 32, w: 40, h: 16, area: 448 });
});

test('a box is the box of its mask upscaled (nearest), also for odd sides; every original pixel has a source', () => {
  const cases: [Size, Size][] = [
    [
      { width: 32, height: 16 },
      { width: 64, height: 32 },
    ],
    [
      { width: 251, height: 250 },
      { width: 1001, height: 999 },
    ], // ⌈1001/4⌉, ⌈999/4⌉
    [
      { width: 4, height: 3 },
      { width: 7, height: 5 },
    ], // ⌈7/2⌉, ⌈5/2⌉
  ];
  const r = mulberry32(9);
  for (const [from, to] of cases) {
    for (let k = 0; k < 20; k++) {
      const x = Math.floor(r() * from.width);
      const y = Math.floor(r() * from.height);
      const w = 1 + Math.floor(r() * (from.width - x));
      const h = 1 + Math.floor(r() * (from.height - y));
      const mask = new Uint8Array(from.width * from.height);
      for (let j = y; j < y + h; j++) mask.fill(255, j * from.width + x, j * from.width + x + w);
      const back = toOriginal({ defects: [defect(x, y, w, h, w * h)], verdict: 'NG', score: 2, mask }, from, to);
      const d = back.defects[0]!;
      assert.equal(back.mask!.length, to.width * to.height);
      assert.deepEqual(
        maskBox(back.mask!, to.width, { x: 0, y: 0, w: to.width, h: to.height }),
        [d.x, d.y, d.x + d.w, d.y + d.h],
        `${from.width}→${to.width}: box ${x},${y} ${w}×${h}`,
      );
      assert.equal(back.mask!.filter((v) => v === 255).length, d.w * d.h, 'the upscaled rectangle is the mapped box');
      // an integer factor maps areas exactly; an odd side's blocks differ by a pixel, so by at most a row and a column
      const exact = to.width % from.width === 0 && to.height % from.height === 0;
      assert.ok(Math.abs(d.area - d.w * d.h) <= (exact ? 0 : d.w + d.h), `area ${d.area} for a ${d.w}×${d.h} box`);
    }
    const all = upscaleMask(new Uint8Array(from.width * from.height).fill(255), from, to);
    assert.ok(all.every((v) => v === 255));
  }
});

/** Brushed and noisy surfaces (src/samples) with a dark spot, a dark wavy crack and a bright scratch of known geometry, at an odd size. */
async function writeSurfaces(dir: string, W: number, H: number): Promise<SurfaceKind[]> {
  const kinds: SurfaceKind[] = ['brushed', 'noisy'];
  for (const [i, kind] of kinds.entries()) {
    const r = mulberry32(11 + i);
    const img = surface(kind, W, H, r);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        if ((x - 120) ** 2 + (y - 140) ** 2 <= 81) img[y * W + x]! *= 0.55;
        if (y >= 400 && y < 402 && x >= 60 && x < 300) img[y * W + x] = Math.min(1, img[y * W + x]! * 1.5);
      }
    for (let x = 300; x < 460; x++) {
      const y = 200 + Math.round(12 * Math.sin(x / 15));
      img[y * W + x]! *= 0.5;
      img[(y + 1) * W + x]! *= 0.5;
    }
    await sharp(develop(img, W, H, kind, 8, r), { raw: { width: W, height: H, channels: 1 } })
      .png()
      .toFile(join(dir, `${kind}.png`));
  }
  return kinds;
}

test('an inspection at scale 0.5 finds the defects of full resolution, boxes in original coordinates within 6 px; masks at original size', async () => {
  const dir = tempDir('kensa-rescale-');
  const [W, H] = [511, 509];
  mkdirSync(join(dir, 'images'));
  const kinds = await writeSurfaces(join(dir, 'images'), W, H);
  const backend = await openBackend({ device: 'cpu' });
  const run = async (recipe: ReturnType<typeof parseRecipe>, masksDir?: string) => {
    const out = new Map<string, ItemResult>();
    for await (const r of inspect([join(dir, 'images')], { backend, recipe, ...(masksDir ? { masksDir } : {}) })) out.set(r.key, r);
    return out;
  };
  const full = await run(parseRecipe({}));
  // the same blur and background in the image's pixels: sigmas are in detection pixels
  const half = await run(parseRecipe({ input: { scale: 0.5 }, denoise: { sigma: 0.4 }, contrast: { background: 32 } }), join(dir, 'masks'));
  // the closing (3 detection px) spans 6 image px at scale 0.5, so noise specks that close to a defect join its box
  const tolerance = 6;
  backend.close();
  const truth = [
    [111, 131, 130, 150], // spot: disc of radius 9 at (120, 140)
    [300, 188, 460, 214], // crack: two rows along 200 + 12 sin(x / 15)
    [60, 400, 300, 402], // scratch
  ];
  for (const kind of kinds) {
    const a = full.get(`${kind}.png`)!;
    const b = half.get(`${kind}.png`)!;
    assert.deepEqual([b.status, b.width, b.height], ['ng', W, H], kind);
    const boxes = (r: ItemResult) => r.defects.map((d) => [d.x, d.y, d.x + d.w, d.y + d.h]).sort((p, q) => p[1]! - q[1]!);
    assert.equal(b.defects.length, a.defects.length, `${kind}: ${JSON.stringify(boxes(b))} vs ${JSON.stringify(boxes(a))}`);
    boxes(b).forEach((box, i) => {
      const ref = boxes(a)[i]!;
      assert.ok(
        box.every((v, k) => Math.abs(v - ref[k]!) <= tolerance),
        `${kind}: ${box} at 0.5 vs ${ref} at 1`,
      );
      const t = truth[i]!;
      assert.ok(box[0]! <= t[0]! && box[1]! <= t[1]! && box[2]! >= t[2]! && box[3]! >= t[3]!, `${kind}: ${box} covers the drawn ${t}`);
    });
    const meta = await sharp(b.maskPath!).metadata();
    assert.deepEqual([meta.width, meta.height, meta.channels], [W, H, 1]);
    const data = await sharp(b.maskPath!).toColourspace('b-w').raw().toBuffer();
    // each box is tight around the mask's pixels: the mask lines up with the image
    for (const d of b.defects) assert.deepEqual(maskBox(data, W, d), [d.x, d.y, d.x + d.w, d.y + d.h], `${kind}: mask under ${JSON.stringify(d)}`);
  }
});
