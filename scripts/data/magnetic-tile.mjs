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
 * name hash (a smaller, still fixed, subset).
 *
 *   node scripts/data/magnetic-tile.mjs [--src <checkout>] [--out data/magnetic-tile] [--limit N]
 * Without --src the repository is cloned into <out>/src.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const REPO = 'https://github.com/abin24/Magnetic-tile-defect-datasets..git';
const TEST_SHARE = 0.3;

const { values } = parseArgs({ options: { src: { type: 'string' }, out: { type: 'string' }, limit: { type: 'string' } } });
const out = values.out ?? 'data/magnetic-tile';
const limit = values.limit === undefined ? Infinity : Number(values.limit);
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
    .slice(0, limit);
  for (const it of mine) {
    copyFileSync(join(it.dir, `${it.base}.jpg`), join(out, side, 'images', `${it.name}.jpg`));
    copyFileSync(join(it.dir, `${it.base}.png`), join(out, side, 'masks', `${it.name}.png`));
    if (it.free) copyFileSync(join(it.dir, `${it.base}.jpg`), join(out, side, 'good', `${it.name}.jpg`));
  }
  const free = mine.filter((it) => it.free).length;
  console.log(`${side}: ${mine.length} images (${mine.length - free} defective, ${free} defect-free) in ${join(out, side)}`);
}
