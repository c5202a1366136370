/**
 * The images a search runs on, decoded once and kept in memory (every candidate recipe reads the
 * same frames): a folder of images (a kensa samples folder stands for its images/), matched by
 * name with the truth masks (as `kensa eval` matches them). Problems that would make a score
 * meaningless are errors naming the images: a missing truth mask, a mask of another size, a folder
 * without images.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { KensaError } from '../errors.js';
import { listMaskFolder, readMask, type MaskFolder } from '../eval/masks.js';
import { decodeBuffer, DEFAULT_MAX_PIXELS } from '../pipeline/decode.js';
import { imageFolder } from '../pipeline/source.js';

/** One grey image in memory. */
export interface Frame {
  name: string;
  width: number;
  height: number;
  dtype: 'u8' | 'u16';
  data: Uint8Array | Uint16Array;
}

/** An image with its truth mask (width × height bytes, non-zero = defect). */
export interface LabelledFrame extends Frame {
  truth: Uint8Array;
}

const listed = (names: readonly string[]) => (names.length > 10 ? `${names.slice(0, 10).join(', ')} and ${names.length - 10} more` : names.join(', '));

/** The image files of a folder by name (src/pipeline/source.ts `imageFolder`); errors are KENSA_ERR_TUNE_DATA. */
export function listImageFolder(argument: string, dir: string): Map<string, string> {
  return imageFolder(`--${argument}`, dir, 'KENSA_ERR_TUNE_DATA');
}

async function decode(name: string, path: string): Promise<Frame> {
  const img = await decodeBuffer(path, await readFile(path), { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS });
  return { name, width: img.width, height: img.height, dtype: img.dtype, data: img.data };
}

/** Every image of a folder, decoded (grey). */
export async function loadFrames(argument: string, dir: string): Promise<Frame[]> {
  const files = listImageFolder(argument, dir);
  return Promise.all([...files].map(([name, path]) => decode(name, path)));
}

/** Every image of `imagesDir` with its truth mask from `truthDir`. */
export async function loadLabelled(imagesDir: string, truthDir: string): Promise<LabelledFrame[]> {
  const files = listImageFolder('images', imagesDir);
  let masks: MaskFolder;
  try {
    masks = listMaskFolder('truth', truthDir);
  } catch (e) {
    throw new KensaError('KENSA_ERR_TUNE_DATA', `--truth expects a folder of masks but received '${truthDir}'`, { cause: e });
  }
  const missing = [...files.keys()].filter((n) => !masks.files.has(n));
  if (missing.length)
    throw new KensaError(
      'KENSA_ERR_TUNE_DATA',
      `Truth masks are missing for ${missing.length} of the ${files.size} images in ${imagesDir}: ${listed(missing)} (looked in ${masks.dir})`,
    );
  const frames = await Promise.all(
    [...files].map(async ([name, path]) => {
      const [frame, mask] = await Promise.all([decode(name, path), readMask(masks.files.get(name)!)]);
      return { frame, mask };
    }),
  );
  const mismatched = frames.filter(({ frame, mask }) => frame.width !== mask.width || frame.height !== mask.height);
  if (mismatched.length) {
    const what = mismatched.map(({ frame: f, mask: m }) => `${f.name} (image ${f.width}×${f.height}, mask ${m.width}×${m.height})`);
    throw new KensaError(
      'KENSA_ERR_TUNE_DATA',
      `Truth masks differ in size from their images for ${mismatched.length} of the ${files.size} images: ${listed(what)}`,
    );
  }
  return frames.map(({ frame, mask }) => ({ ...frame, truth: mask.data }));
}

/** sha256 over the images' names, sizes, pixels and truth masks, in name order: which data a recipe was tuned on. */
export function dataHash(frames: readonly (Frame & { truth?: Uint8Array })[]): string {
  const h = createHash('sha256');
  for (const f of [...frames].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    h.update(`${f.name}\0${f.width}×${f.height}:${f.dtype}\0`);
    h.update(new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength));
    if (f.truth) h.update(f.truth);
  }
  return h.digest('hex');
}
