/**
 * The golden templates open in this thread, by the sha256 of their file and their decoded size:
 * a run opens its recipe's template once (src/pipeline/template.ts reads, hashes and decodes it)
 * and the classic detector finds it by the recipe's `template.sha256`, so a recipe stays data, as
 * a model recipe does. A template decoded at two input scales is open at two sizes.
 */
import { deviceOf } from '../device.js';
import { KensaError } from '../errors.js';
import type { Gpu } from '../gpu/gpu.js';
import { keep, Tensor } from '../tensor.js';
import type { ClassicRecipe, TemplateSection } from './recipe.js';

/** One decoded template: grey pixels as the images are decoded. */
export interface TemplateImage {
  path: string;
  sha256: string;
  width: number;
  height: number;
  dtype: 'u8' | 'u16';
  data: Uint8Array | Uint16Array;
}

/** An open template: its pixels, its registrations, and its tensor per device (made on first use, freed with the last release). */
interface OpenTemplate {
  image: TemplateImage;
  refs: number;
  tensors: Map<Gpu | null, Promise<Tensor>>;
}

const open = new Map<string, OpenTemplate>();
const keyOf = (sha256: string, width: number, height: number) => `${sha256}:${width}×${height}`;
const depth = (dtype: string) => (dtype === 'u16' ? '16-bit' : dtype === 'u8' ? '8-bit' : dtype);

/** Registers a template for the detector; returns its release (the last release unregisters it). */
export function registerTemplate(image: TemplateImage): () => void {
  const key = keyOf(image.sha256, image.width, image.height);
  const entry: OpenTemplate = open.get(key) ?? { image, refs: 0, tensors: new Map() };
  entry.refs++;
  open.set(key, entry);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--entry.refs > 0 || open.get(key) !== entry) return;
    open.delete(key);
    for (const t of entry.tensors.values()) void t.then((tensor) => tensor.dispose());
  };
}

/** A template section's images open in this thread, one per size (at its recipe's input.scale): the only image sizes it judges. */
export function openTemplates(t: TemplateSection): TemplateImage[] {
  return t.sha256 === undefined ? [] : [...open.values()].filter((e) => e.image.sha256 === t.sha256).map((e) => e.image);
}

/**
 * The open template of a recipe's section for images of width × height, `channels` channels and
 * `dtype`; KENSA_ERR_RECIPE naming the field when it is not open or does not fit the images.
 */
export function templateFor(t: TemplateSection, width: number, height: number, channels: number, dtype: string): TemplateImage {
  const opened = openTemplates(t);
  const any = opened[0];
  if (!any)
    throw new KensaError(
      'KENSA_ERR_RECIPE',
      `template: the template ${t.path} is not open in this thread (sha256 ${t.sha256?.slice(0, 12) ?? 'not filled in'}); open the recipe's template with openRecipeTemplate before detecting`,
    );
  if (channels !== 1 || dtype !== any.dtype)
    throw new KensaError(
      'KENSA_ERR_RECIPE',
      `template.path: the template ${t.path} is 1-channel ${depth(any.dtype)} but the images are ${channels}-channel ${depth(dtype)}; it must have the images' channels and bit depth`,
    );
  const image = open.get(keyOf(any.sha256, width, height))?.image;
  if (!image)
    throw new KensaError(
      'KENSA_ERR_RECIPE',
      `template.path: the template ${t.path} is ${opened.map((i) => `${i.width}×${i.height}`).join(' or ')} but the image is ${width}×${height} (both at the recipe's input.scale); it must be the images' size`,
    );
  return image;
}

/**
 * The recipe's template as a 1×1×H×W tensor on the batch's device, checked against the batch; null
 * without a template. Made once per device while the template is open (not at every batch): the
 * registry owns it and frees it with the template's last release, so the caller must not dispose it.
 */
export async function templateTensor(batch: Tensor, r: ClassicRecipe): Promise<Tensor | null> {
  if (!r.template) return null;
  const [, channels, height, width] = batch.shape as [number, number, number, number];
  const image = templateFor(r.template, width, height, channels, batch.dtype);
  const entry = open.get(keyOf(image.sha256, width, height))!;
  const gpu = deviceOf(batch).gpu;
  let made = entry.tensors.get(gpu);
  if (!made) {
    made = Tensor.fromFrames([image.data], [1, 1, height, width], image.dtype, gpu ?? undefined).then(keep);
    entry.tensors.set(gpu, made);
  }
  return made;
}
