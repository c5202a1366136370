#!/usr/bin/env node
/**
 * Prepares the Magnetic-tile defect dataset (Huang et al. 2018, github.com/abin24/Magnetic-tile-defect-datasets.)
 * for `kensa tune` and `kensa eval`: 1,344 grey tile photographs in six classes (blowhole, break,
 * crack, fray, uneven, free = defect-free), each JPEG with a PNG mask of the same name. The set has
 * no official split, so a fixed one is written down here: an image is a test image when the first
 * 32 bits of sha256 of "magnetic-tile/" + its name, as a fraction of 2³², are below 0.3 (the
 * prefix keeps it independent of kensa tune's own held-out split, a hash of the bare name). Output, under --out (default data/magnetic-tile, git-ignored):
 *   train/images, train/masks   every training image (defective and free) and its mask
 *   train/good                  the training side's defect-free images (for --good)
 *   test/images, test/masks, test/good   the same for the test side
 * File names are <class>_<original name>. --limit N keeps the first N images of each side by
 * name hash (a smaller, still fixed, subset); --test-limit M keeps M test images instead.
 * --jpeg-quality Q re-encodes the images at JPEG quality Q (smaller files, e.g. to travel to a GPU
 * machine). Masks are written binary, 255 where the published mask is not 0 (kensa eval's reading; its PNGs carry
 * a few anti-aliased edge values, which kensa train refuses as not binary).
 *
 *   node scripts/data/magnetic-tile.mjs [--src <checkout>] [--out data/magnetic-tile] [--limit N] [--test-limit M] [--jpeg-quality Q]
 * Without --src the repository is cloned into <out>/src.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const REPO = 'https://github.com/abin24/Magnetic-tile-defect-datasets..git';
const TEST_SHARE = 0.3;

const { values } = parseArgs({
  options: {
    src: { type: 'string' },
    out: { type: 'string' },
    limit: { type: 'string' },
    'test-limit': { type: 'string' },
    'jpeg-quality': { type: 'string' },
  },
});
const out = values.out ?? 'data/magnetic-tile';
const limit = values.limit === undefined ? Infinity : Number(values.limit);
const testLimit = values['test-limit'] === undefined ? limit : Number(values['test-limit']);
const quality = values['jpeg-quality'] === undefined ? null : Number(values['jpeg-quality']);
if (quality !== null && !(Number.isInteger(quality) && quality >= 1 && quality <= 100))
  throw new Error(`--jpeg-quality must be an integer from 1 to 100, got ${values['jpeg-quality']}`);
let src = values.src;
if (!src) {
  src = join(out, 'src');
  if (!existsSync(src)) execFileSync('git', ['clone', '--depth', '1', REPO, src], { stdio: 'inherit' });
}

const fraction = (name) => createHash('sha256').update(`magnetic-tile/${name}`).digest().readUInt32BE(0) / 2 ** 32;

/** Every image of the set: class folder, original base name, its name here. */
const items = [];
for (const dir of readdirSync(src)
  .filter((d) => d.startsWith('MT_'))
  .sort()) {
  const imgs = join(src, dir, 'Imgs');
  for (const f of readdirSync(imgs)
    .filter((f) => f.endsWith('.jpg'))
    .sort()) {
    const base = f.slice(0, -4);
    const name = `${dir.slice(3).toLowerCase()}_${base}`;
    items.push({ dir: imgs, base, name, free: dir === 'MT_Free', key: fraction(name) });
  }
}
if (!items.length) throw new Error(`no MT_*/Imgs/*.jpg under ${src}`);

for (const side of ['train', 'test']) {
  for (const sub of ['images', 'masks', 'good']) {
    rmSync(join(out, side, sub), { recursive: true, force: true });
    mkdirSync(join(out, side, sub), { recursive: true });
  }
  const mine = items
    .filter((it) => (side === 'test') === it.key < TEST_SHARE)
    .sort((a, b) => a.key - b.key)
    .slice(0, side === 'test' ? testLimit : limit);
  for (const it of mine) {
    const image = join(out, side, 'images', `${it.name}.jpg`);
    if (quality === null) copyFileSync(join(it.dir, `${it.base}.jpg`), image);
    else
      await sharp(join(it.dir, `${it.base}.jpg`))
        .greyscale()
        .jpeg({ quality })
        .toFile(image);
    await sharp(join(it.dir, `${it.base}.png`))
      .greyscale()
      .threshold(1)
      .png()
      .toFile(join(out, side, 'masks', `${it.name}.png`));
    if (it.free) copyFileSync(image, join(out, side, 'good', `${it.name}.jpg`));
  }
  const free = mine.filter((it) => it.free).length;
  console.log(`${side}: ${mine.length} images (${mine.length - free} defective, ${free} defect-free) in ${join(out, side)}`);
}
