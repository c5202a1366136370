#!/usr/bin/env node
/**
 * Prepares DeepCrack (Liu et al. 2019, github.com/yhlleo/DeepCrack) for `kensa tune` and `kensa
 * eval`, from the crops of it published with "Lightweight Yet Effective: A Modular Approach to
 * Crack Segmentation" (github.com/Omaralmaqtari/Lightweight-Modular-Model, Datasets/DeepCrack):
 * about 128×181 px crops of concrete and asphalt crack photographs, each with a JPEG label of the
 * same name, in the authors' own train/ and test/ folders (kept: test crops come from DeepCrack's
 * test images). The JPEG labels become PNG masks (255 where the label is above 127). Crops whose
 * label has no pixel above 127 are defect-free (also copied to good/). Output, under --out (default data/deepcrack, git-ignored): train/images,
 * train/masks, test/images, test/masks. --limit N keeps the first N crops of each side by sha256 of
 * "deepcrack/" + name (a fixed subset; the sets hold 2,908 and 3,313 crops); --test-limit M keeps M
 * test crops instead.
 *
 *   node scripts/data/deepcrack.mjs [--src <checkout>] [--out data/deepcrack] [--limit N] [--test-limit M]
 * Without --src only Datasets/DeepCrack of the repository is cloned into <out>/src (sparse).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { checkout, options, sides, writeItem } from './prepare.mjs';

const { src: given, out = 'data/deepcrack', limit } = options();
const src = join(checkout(given, out, 'https://github.com/Omaralmaqtari/Lightweight-Modular-Model.git', ['Datasets/DeepCrack']), 'Datasets', 'DeepCrack');

const items = ['train', 'test'].flatMap((side) =>
  readdirSync(join(src, side))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => ({ name: f.slice(0, -4), side })),
);
await sides('deepcrack', items, 0, limit, out, async (it, dir) => {
  const { data, info } = await sharp(join(src, `${it.side}_lab`, `${it.name}.jpg`))
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const meta = await sharp(join(src, it.side, `${it.name}.jpg`)).metadata();
  if (meta.width !== info.width || meta.height !== info.height)
    throw new Error(`${it.name}: image ${meta.width}×${meta.height}, label ${info.width}×${info.height}`);
  const grey = info.channels === 1 ? data : data.filter((_, i) => i % info.channels === 0);
  return writeItem(
    dir,
    it.name,
    join(src, it.side, `${it.name}.jpg`),
    grey.map((v) => (v > 127 ? 255 : 0)),
    info.width,
    info.height,
  );
});
