/**
 * The data `kensa train` reads: `DIR/images` and `DIR/masks` matched by file stem (the layout
 * `kensa samples` writes, and the common one), every mask binary (0 and one defect value) and of
 * its image's size, one channel count throughout. A deterministic train/validation split by seed.
 * Every problem is a KensaError naming the file or the option.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KensaError } from '../errors.js';
import { type AugmentItem, listAugmentItems, type LoadedItem, loadItem } from '../pipeline/augment-files.js';
import { mulberry32 } from '../rng.js';

const CODE = 'KENSA_ERR_TRAIN_DATA';

/** A training image's size and its defect pixels (row-major indices y · width + x; empty unless asked for), what its crops draw from. */
export interface TrainImageDefects {
  width: number;
  height: number;
  defects: Uint32Array;
}

/** A training data set: the items of the split and, decoded, the validation images. */
export interface TrainData {
  train: AugmentItem[];
  validation: LoadedItem[];
  /** 1 (grey) or 3 (RGB), the same for every image. */
  channels: 1 | 3;
  /** Per training item (in `train`'s order), its size and (with `defects`) its defect pixels. */
  images: TrainImageDefects[];
}

/** The size and (with `defects`) the defect pixels of a loaded item with a 0/1 mask. */
function imageOf(item: LoadedItem, defects: boolean): TrainImageDefects {
  const mask = item.mask!.data;
  const at: number[] = [];
  if (defects) for (let i = 0; i < mask.length; i++) if (mask[i] === 1) at.push(i);
  return { width: item.image.width, height: item.image.height, defects: Uint32Array.from(at) };
}

/** Every image of `dir/images` with its mask from `dir/masks`, sorted by name. */
export function listTrainItems(dir: string): AugmentItem[] {
  const images = join(dir, 'images');
  const masks = join(dir, 'masks');
  if (!existsSync(images) || !existsSync(masks))
    throw new KensaError(CODE, `--data expects a folder with images/ and masks/ (as kensa samples writes) but received '${dir}'`);
  let listed: { items: AugmentItem[]; missingMasks: string[] };
  try {
    listed = listAugmentItems(images, masks);
  } catch (e) {
    throw new KensaError(CODE, `--data ${dir}: ${(e as Error).message}`, { cause: e });
  }
  if (listed.missingMasks.length)
    throw new KensaError(
      CODE,
      `--data ${dir}: no mask in ${masks} for ${listed.missingMasks.length} image(s): ${listed.missingMasks.slice(0, 10).join(', ')}${listed.missingMasks.length > 10 ? ', …' : ''}`,
    );
  return listed.items;
}

/** The item with its mask remapped to 0/1 bytes; a KensaError when the mask holds more than one defect value. */
export function binaryMask(item: LoadedItem, maskPath: string): LoadedItem {
  const src = item.mask!.data;
  const values = new Set<number>();
  for (let i = 0; i < src.length && values.size < 3; i++) if (src[i] !== 0) values.add(src[i]!);
  if (values.size > 1)
    throw new KensaError(
      CODE,
      `The mask ${maskPath} of ${item.name} is not binary: it holds the defect values ${[...values].slice(0, 2).join(', ')}, … besides 0 (expected 0 and one value, e.g. 255)`,
    );
  const data = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) data[i] = src[i] === 0 ? 0 : 1;
  return { ...item, mask: { data, dtype: 'u8' } };
}

/** Reads an item for training: decoded, the mask of the image's size and binary (0/1), the image at least `crop` on each side. */
export async function loadTrainItem(item: AugmentItem, crop: number): Promise<LoadedItem> {
  let loaded: LoadedItem;
  try {
    loaded = await loadItem(item);
  } catch (e) {
    throw new KensaError(CODE, (e as Error).message, { cause: e });
  }
  const { width, height } = loaded.image;
  if (width < crop || height < crop) throw new KensaError(CODE, `--crop ${crop} is larger than the image ${item.path} (${width}×${height})`);
  return binaryMask(loaded, item.maskPath!);
}

/** The validation names: a `fraction` of the items (at least 1 of 2 or more) by a shuffle drawn from `seed`. */
export function splitItems<T extends { name: string }>(items: readonly T[], fraction: number, seed: number): { train: T[]; validation: T[] } {
  const order = items.map((_, i) => i);
  const r = mulberry32((seed ^ 0x2545f491) >>> 0);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const count = fraction === 0 || items.length < 2 ? 0 : Math.min(items.length - 1, Math.max(1, Math.round(items.length * fraction)));
  const val = new Set(order.slice(0, count));
  return { train: items.filter((_, i) => !val.has(i)), validation: items.filter((_, i) => val.has(i)) };
}

/**
 * Lists, checks and splits a data set: every image is decoded once here, so a bad file stops the
 * run before training starts; the validation images are kept, the training images' sizes and, with
 * `defects`, their defect pixels (4 bytes each).
 */
export async function readTrainData(dir: string, options: { crop: number; validationFraction: number; seed: number; defects?: boolean }): Promise<TrainData> {
  const { train, validation } = splitItems(listTrainItems(dir), options.validationFraction, options.seed);
  const kept: LoadedItem[] = [];
  const images: TrainImageDefects[] = [];
  let channels: 1 | 3 | null = null;
  for (const item of [...validation, ...train]) {
    const loaded = await loadTrainItem(item, options.crop);
    channels ??= loaded.image.channels;
    if (loaded.image.channels !== channels)
      throw new KensaError(
        CODE,
        `The image ${item.path} has ${loaded.image.channels} channel(s) but the images before it ${channels}: use one kind (grey or RGB)`,
      );
    if (kept.length < validation.length) kept.push(loaded);
    else images.push(imageOf(loaded, options.defects === true));
  }
  return { train, validation: kept, channels: channels!, images };
}
