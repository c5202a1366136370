/**
 * Where masks come from: a folder of mask images (PNG, TIFF, WebP, JPEG; any depth, the first
 * channel read), or a producer that yields (name, mask) pairs, such as the results of a run.
 * Names are the path under the folder without the extension, with forward slashes
 * (`masks/a/b.png` → `a/b`), so a prediction `b.png` matches the truth `b.png` of the image `b.jpg`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { invalidParameter } from '../validate.js';

/** A binary mask: row-major bytes, non-zero = defect. */
export interface Mask {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface NamedMask {
  name: string;
  mask: Mask;
}

/** Yields masks one by one (a generator function, or one returning an array). */
export type MaskProducer = () => AsyncIterable<NamedMask> | Iterable<NamedMask>;

/** A folder of mask images, or a producer of named masks. */
export type MaskSource = string | MaskProducer;

export const MASK_EXTENSIONS = ['.png', '.tif', '.tiff', '.webp', '.jpg', '.jpeg'] as const;

/** The files of a mask folder by name; names found twice (a.png and a.tif) listed apart. */
export interface MaskFolder {
  dir: string;
  files: Map<string, string>;
  duplicates: Map<string, string[]>;
}

/**
 * A kensa samples folder (labels.json beside masks/) means its masks/; any other folder is
 * searched recursively (hidden entries skipped).
 */
export function listMaskFolder(argument: string, dir: string): MaskFolder {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw invalidParameter(argument, 'a folder of masks', dir);
  const root = existsSync(join(dir, 'labels.json')) && existsSync(join(dir, 'masks')) && statSync(join(dir, 'masks')).isDirectory() ? join(dir, 'masks') : dir;
  const files = new Map<string, string>();
  const duplicates = new Map<string, string[]>();
  const walk = (abs: string, rel: string) => {
    for (const e of readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith('.')) continue;
      const path = join(abs, e.name);
      if (e.isDirectory()) walk(path, `${rel}${e.name}/`);
      else if ((MASK_EXTENSIONS as readonly string[]).includes(extname(e.name).toLowerCase())) {
        const name = rel + e.name.slice(0, e.name.length - extname(e.name).length);
        const seen = files.get(name);
        if (seen === undefined) files.set(name, path);
        else duplicates.set(name, [...(duplicates.get(name) ?? [seen]), path]);
      }
    }
  };
  walk(root, '');
  for (const name of duplicates.keys()) files.delete(name);
  return { dir: root, files, duplicates };
}

/** Reads a mask image: its first channel, a pixel a defect when above `threshold` (in 8-bit units; 16-bit masks scaled by 257). */
export async function readMask(path: string, threshold = 0): Promise<Mask> {
  const img = sharp(path, { failOn: 'error' });
  const meta = await img.metadata();
  const wide = meta.depth === 'ushort';
  const first = img.extractChannel(0);
  const { data, info } = await (wide ? first.toColourspace('grey16').raw({ depth: 'ushort' }) : first.raw()).toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  const out = new Uint8Array(n);
  if (wide) {
    const v = new Uint16Array(data.buffer, data.byteOffset, n);
    const t = threshold * 257;
    for (let i = 0; i < n; i++) out[i] = v[i]! > t ? 255 : 0;
  } else {
    for (let i = 0; i < n; i++) out[i] = data[i]! > threshold ? 255 : 0;
  }
  return { width: info.width, height: info.height, data: out };
}

/** Checks a mask a producer yielded; returns an error sentence or null. */
export function checkMask(m: unknown): string | null {
  const mask = m as Partial<Mask> | null;
  if (!mask || typeof mask !== 'object') return `expected a mask { width, height, data } but received ${String(m)}`;
  const { width, height, data } = mask;
  if (!Number.isInteger(width) || !Number.isInteger(height) || (width as number) < 1 || (height as number) < 1)
    return `expected positive integer width and height but received ${String(width)}×${String(height)}`;
  if (!(data instanceof Uint8Array)) return 'expected mask data as a Uint8Array';
  if (data.length !== (width as number) * (height as number))
    return `mask data holds ${data.length} bytes, not width × height = ${(width as number) * (height as number)}`;
  return null;
}
