/**
 * The files an augmentation run reads: a folder of images, matched by name with a folder of masks
 * (names are the path under the folder without the extension, as `kensa eval` matches them), and
 * boxes from a COCO json file or a folder of YOLO txt files. Images keep their depth (8 or 16
 * bits) and their colour (grey stays one channel, colour is RGB); masks keep their labels (8-bit
 * masks as u8, 16-bit ones as i32). A problem with one item (no mask, a mask of another size, an
 * unreadable file) is a KensaError naming it, so a caller can report it and go on with the rest.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join, basename } from 'node:path';
import sharp from 'sharp';
import type { Box } from '../augment/transform.js';
import { KensaError } from '../errors.js';
import { listMaskFolder } from '../eval/masks.js';
import { imageFolder } from './source.js';
import { decodeBuffer, DEFAULT_MAX_PIXELS, readImageFile, type Channels } from './decode.js';

const CODE = 'KENSA_ERR_AUGMENT_DATA';

/** One image of the folder and, where masks are given, its mask file. */
export interface AugmentItem {
  name: string;
  path: string;
  maskPath?: string;
}

/** Every image of `imagesDir` (sorted by name), with its mask from `masksDir`; images without a mask are listed apart. */
export function listAugmentItems(imagesDir: string, masksDir?: string): { items: AugmentItem[]; missingMasks: string[] } {
  const files = imageFolder('IMAGES', imagesDir, CODE);
  if (masksDir === undefined) return { items: [...files].map(([name, path]) => ({ name, path })), missingMasks: [] };
  let masks: Map<string, string>;
  try {
    masks = listMaskFolder('masks', masksDir).files;
  } catch (e) {
    throw new KensaError(CODE, `--masks expects a folder of masks but received '${masksDir}' (not a folder)`, { cause: e });
  }
  const items: AugmentItem[] = [];
  const missingMasks: string[] = [];
  for (const [name, path] of files) {
    const maskPath = masks.get(name);
    if (maskPath === undefined) missingMasks.push(name);
    else items.push({ name, path, maskPath });
  }
  return { items, missingMasks };
}

/** Decoded pixels, planar C×H×W. */
export interface Pixels {
  data: Uint8Array | Uint16Array;
  dtype: 'u8' | 'u16';
  width: number;
  height: number;
  channels: 1 | 3;
}

/** A mask of labels, H×W. */
export interface LabelMask {
  data: Uint8Array | Int32Array;
  dtype: 'u8' | 'i32';
}

export interface LoadedItem {
  name: string;
  image: Pixels;
  mask?: LabelMask;
}

/** grey or RGB as the file holds it ('auto'), or as asked. */
export type ChannelChoice = Channels | 'auto';

async function channelsOf(buf: Buffer, path: string, choice: ChannelChoice): Promise<Channels> {
  if (choice !== 'auto') return choice;
  const ext = extname(path).toLowerCase();
  if (ext === '.npy' || ext === '.raw') return 'gray';
  try {
    return ((await sharp(buf).metadata()).channels ?? 1) >= 3 ? 'rgb' : 'gray';
  } catch {
    // the decode below names the problem
    return 'gray';
  }
}

/** Reads an image (and its mask); a KensaError naming the file when either cannot be used. */
export async function loadItem(item: AugmentItem, channels: ChannelChoice = 'auto'): Promise<LoadedItem> {
  const buf = await readImageFile(item.path);
  const img = await decodeBuffer(item.path, buf, { channels: await channelsOf(buf, item.path, channels), maxPixels: DEFAULT_MAX_PIXELS });
  const image: Pixels = { data: img.data, dtype: img.dtype, width: img.width, height: img.height, channels: img.channels };
  if (item.maskPath === undefined) return { name: item.name, image };
  const m = await decodeBuffer(item.maskPath, await readImageFile(item.maskPath), { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS });
  if (m.width !== img.width || m.height !== img.height)
    throw new KensaError(CODE, `The mask of ${item.name} is ${m.width}×${m.height} but its image is ${img.width}×${img.height} (${item.maskPath})`);
  const mask: LabelMask = m.dtype === 'u8' ? { data: m.data as Uint8Array, dtype: 'u8' } : { data: Int32Array.from(m.data), dtype: 'i32' };
  return { name: item.name, image, mask };
}

/** Boxes per image name, read from a COCO json file or a folder of YOLO txt files. */
export interface BoxSource {
  format: 'coco' | 'yolo';
  /** The image's boxes in pixel-edge coordinates ([] when the source lists none). */
  boxesOf(name: string, size: { width: number; height: number }): Box[];
  /** COCO: the categories of the file, kept in the output. */
  categories: { id: number; name: string }[];
}

interface CocoFile {
  images: { id: number; file_name: string }[];
  annotations: { image_id: number; bbox: [number, number, number, number]; category_id: number }[];
  categories?: { id: number; name: string }[];
}

const stem = (file: string) => file.slice(0, file.length - extname(file).length);

function readCoco(path: string, text: string): BoxSource {
  let coco: CocoFile;
  try {
    coco = JSON.parse(text) as CocoFile;
  } catch (e) {
    throw new KensaError(CODE, `--boxes ${path} is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(coco.images) || !Array.isArray(coco.annotations))
    throw new KensaError(CODE, `--boxes ${path} is not a COCO file (expected "images" and "annotations" arrays)`);
  const byId = new Map<number, Box[]>();
  for (const [i, a] of coco.annotations.entries()) {
    const b = a.bbox;
    if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => Number.isFinite(v)) || b[2] < 0 || b[3] < 0)
      throw new KensaError(CODE, `--boxes ${path}: annotations[${i}].bbox must be [x, y, width, height] with width, height ≥ 0 but is ${JSON.stringify(b)}`);
    byId.set(a.image_id, [...(byId.get(a.image_id) ?? []), { x0: b[0], y0: b[1], x1: b[0] + b[2], y1: b[1] + b[3], label: a.category_id }]);
  }
  // an image is known by its file name without the extension, with or without its folders
  const byName = new Map<string, Box[]>();
  for (const im of coco.images) {
    const boxes = byId.get(im.id) ?? [];
    byName.set(stem(im.file_name.replaceAll('\\', '/')), boxes);
    byName.set(stem(basename(im.file_name)), boxes);
  }
  return { format: 'coco', boxesOf: (name) => byName.get(name) ?? byName.get(basename(name)) ?? [], categories: coco.categories ?? [] };
}

async function readYolo(dir: string): Promise<BoxSource> {
  const byName = new Map<string, Box[]>();
  const lines = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true })) {
    if (extname(e).toLowerCase() !== '.txt' || basename(e) === 'classes.txt') continue;
    lines.set(stem(e.replaceAll('\\', '/')), await readFile(join(dir, e), 'utf8'));
  }
  return {
    format: 'yolo',
    categories: [],
    boxesOf: (name, { width, height }) => {
      const cached = byName.get(name);
      if (cached) return cached;
      const text = lines.get(name) ?? '';
      const boxes = text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .map((l, i) => {
          const v = l.split(/\s+/).map(Number);
          if (v.length !== 5 || !v.every(Number.isFinite))
            throw new KensaError(CODE, `--boxes ${join(dir, `${name}.txt`)} line ${i + 1}: expected "class cx cy w h" (5 numbers) but received '${l}'`);
          const [cls, cx, cy, w, h] = v as [number, number, number, number, number];
          return { x0: (cx - w / 2) * width, y0: (cy - h / 2) * height, x1: (cx + w / 2) * width, y1: (cy + h / 2) * height, label: cls };
        });
      byName.set(name, boxes);
      return boxes;
    },
  };
}

/** A `.json` file is read as COCO, a folder as YOLO txt files. */
export async function readBoxes(path: string): Promise<BoxSource> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    throw new KensaError(CODE, `--boxes expects a COCO json file or a folder of YOLO txt files but received '${path}' (not found)`);
  }
  if (isDir) return readYolo(path);
  return readCoco(path, await readFile(path, 'utf8'));
}
