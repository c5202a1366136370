/** What the dataset scripts share: arguments, the clone, the fixed split by name hash, mask files. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

/**
 * --src, --out, --limit (Infinity when absent) and --test-limit (the test side's own limit,
 * --limit when absent): a training set larger than its test side still fits a carry budget.
 */
export function options() {
  const { values } = parseArgs({
    options: { src: { type: 'string' }, out: { type: 'string' }, limit: { type: 'string' }, 'test-limit': { type: 'string' } },
  });
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  const testLimit = values['test-limit'] === undefined ? limit : Number(values['test-limit']);
  return { src: values.src, out: values.out, limit: { train: limit, test: testLimit } };
}

/** The dataset's checkout: `src` when given, else a shallow clone of `repo` into <out>/src (with only `paths`, when given). */
export function checkout(src, out, repo, paths = []) {
  if (src) return src;
  const dir = join(out, 'src');
  if (!existsSync(dir)) {
    const sparse = paths.length ? ['--filter=blob:none', '--sparse'] : [];
    execFileSync('git', ['clone', '--depth', '1', ...sparse, repo, dir], { stdio: 'inherit' });
    if (paths.length) execFileSync('git', ['-C', dir, 'sparse-checkout', 'set', ...paths], { stdio: 'inherit' });
  }
  return dir;
}

/** sha256(prefix/name)'s first 32 bits as a fraction of 2³²: the fixed order and split of a set. */
export const nameKey = (prefix, name) => createHash('sha256').update(`${prefix}/${name}`).digest().readUInt32BE(0) / 2 ** 32;

/**
 * Copies the image to dir/images and writes its mask (width × height bytes, non-zero = defect) as
 * a grey PNG of 0 and 255 to dir/masks, both as `name`; an image without a defect pixel also goes
 * to dir/good. Returns whether it is defect-free.
 */
export async function writeItem(dir, name, image, mask, width, height) {
  const ext = image.slice(image.lastIndexOf('.'));
  copyFileSync(image, join(dir, 'images', name + ext));
  const bin = Uint8Array.from(mask, (v) => (v ? 255 : 0));
  await sharp(bin, { raw: { width, height, channels: 1 } })
    .png()
    .toFile(join(dir, 'masks', `${name}.png`));
  const free = !bin.some((v) => v !== 0);
  if (free) copyFileSync(image, join(dir, 'good', name + ext));
  return free;
}

/**
 * Writes both sides: items with `side` ('train' | 'test') keep it, others are test when their key
 * is below `testShare`. Each side keeps its first `limit[side]` items by key; `write(item, dir)`
 * writes one (writeItem) and returns whether it is defect-free.
 */
export async function sides(prefix, items, testShare, limit, out, write) {
  for (const side of ['train', 'test']) {
    for (const sub of ['images', 'masks', 'good']) {
      rmSync(join(out, side, sub), { recursive: true, force: true });
      mkdirSync(join(out, side, sub), { recursive: true });
    }
    const mine = items
      .map((it) => ({ ...it, key: nameKey(prefix, it.name) }))
      .filter((it) => (it.side ?? (it.key < testShare ? 'test' : 'train')) === side)
      .sort((a, b) => a.key - b.key)
      .slice(0, limit[side]);
    let free = 0;
    for (const it of mine) if (await write(it, join(out, side))) free++;
    console.log(`${side}: ${mine.length} images (${mine.length - free} defective, ${free} defect-free) in ${join(out, side)}`);
  }
}
