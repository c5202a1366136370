#!/usr/bin/env node
/**
 * Prepares the CrackForest dataset (CFD; Shi et al. 2016, github.com/cuilimeng/CrackForest-dataset)
 * for `kensa tune` and `kensa eval`: 480×320 photographs of cracked asphalt; 118 of them have a
 * crack segmentation (seg/NNN.seg, BSDS run-length text: "segment row firstColumn lastColumn",
 * segment 1 = crack), which becomes a PNG mask of the same name (255 = crack). Every labelled
 * image shows a crack, so the set has no defect-free images. The set has no official split, so a
 * fixed one is written down here: an image is a test image when the first 32 bits of sha256 of
 * "crackforest/" + its name, as a fraction of 2³², are below 0.4. Output, under --out (default
 * data/crackforest, git-ignored): train/images, train/masks, test/images, test/masks. --limit N
 * keeps the first N images of each side by that hash; --test-limit M keeps M test images instead.
 *
 *   node scripts/data/crackforest.mjs [--src <checkout>] [--out data/crackforest] [--limit N] [--test-limit M]
 * Without --src the repository is cloned into <out>/src.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { checkout, options, sides, writeItem } from './prepare.mjs';

const { src: given, out = 'data/crackforest', limit } = options();
const src = checkout(given, out, 'https://github.com/cuilimeng/CrackForest-dataset.git');

/** The crack mask of one .seg file. */
function segMask(text) {
  const lines = text.split(/\r?\n/);
  const header = Object.fromEntries(lines.slice(0, lines.indexOf('data')).map((l) => l.split(' ')));
  const width = Number(header.width);
  const height = Number(header.height);
  const mask = new Uint8Array(width * height);
  for (const l of lines.slice(lines.indexOf('data') + 1)) {
    const [segment, row, first, last] = l.trim().split(/\s+/).map(Number);
    if (segment === 1) mask.fill(255, row * width + first, row * width + last + 1);
  }
  return { mask, width, height };
}

const items = readdirSync(join(src, 'seg'))
  .filter((f) => f.endsWith('.seg'))
  .sort()
  .map((f) => ({ name: f.slice(0, -4) }));
await sides('crackforest', items, 0.4, limit, out, async (it, dir) => {
  const { mask, width, height } = segMask(readFileSync(join(src, 'seg', `${it.name}.seg`), 'utf8'));
  const meta = await sharp(join(src, 'image', `${it.name}.jpg`)).metadata();
  if (meta.width !== width || meta.height !== height) throw new Error(`${it.name}: image ${meta.width}×${meta.height}, seg ${width}×${height}`);
  return writeItem(dir, it.name, join(src, 'image', `${it.name}.jpg`), mask, width, height);
});
