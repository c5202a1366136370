/**
 * A golden template from good images: their pixel-wise median, for a classic recipe's template
 * channel. The images must be aligned (fixtured parts, one camera pose): the median of images of
 * one size is only a template when the same pixel shows the same point of the part in each.
 */
import { writeFile } from 'node:fs/promises';
import { KensaError } from '../errors.js';
import { parseRecipe, type LoadedRecipe } from '../detect/recipe.js';
import { encodeGrey } from '../samples/write.js';
import { invalidParameter, numberInRange } from '../validate.js';
import type { Frame } from './data.js';
import { holdoutSplit } from './split.js';

const depth = (f: Frame) => (f.dtype === 'u16' ? '16-bit' : '8-bit');

/** The first frame; KENSA_ERR_TUNE_DATA naming the first frame whose size or bit depth differs from it, or when there is none. */
function checkAligned(frames: readonly Frame[]): Frame {
  const first = frames[0];
  if (!first) throw new KensaError('KENSA_ERR_TUNE_DATA', 'A template needs at least one good image but received none');
  const odd = frames.find((f) => f.width !== first.width || f.height !== first.height || f.dtype !== first.dtype);
  if (odd)
    throw new KensaError(
      'KENSA_ERR_TUNE_DATA',
      `Good image ${odd.name} is ${odd.width}×${odd.height} ${depth(odd)} but ${first.name} is ${first.width}×${first.height} ${depth(first)}: a template needs aligned images of one size and bit depth`,
    );
  return first;
}

/**
 * The pixel-wise median of the frames (an even count: the mean of the two middle values, rounded
 * half up), in their dtype. KENSA_ERR_TUNE_DATA naming the first frame whose size or bit depth
 * differs from the first's.
 */
export function medianTemplate(frames: readonly Frame[]): Frame {
  const first = checkAligned(frames);
  const n = frames.length;
  const out = first.dtype === 'u16' ? new Uint16Array(first.data.length) : new Uint8Array(first.data.length);
  const values = new Float64Array(n);
  const lo = (n - 1) >> 1;
  const hi = n >> 1;
  for (let p = 0; p < out.length; p++) {
    for (let i = 0; i < n; i++) values[i] = frames[i]!.data[p]!;
    values.sort();
    out[p] = Math.round((values[lo]! + values[hi]!) / 2);
  }
  return { name: 'template', width: first.width, height: first.height, dtype: first.dtype, data: out };
}

/** Writes a template as a grey PNG (8 or 16 bits, as its dtype). */
export async function writeTemplate(path: string, t: Frame): Promise<void> {
  await writeFile(path, await encodeGrey(t.data, t.width, t.height, 'png'));
}

/**
 * Writes the template of the good images to `path` (a .png): the median of their tuning side, so
 * the held-out ones that check calibration are new to it, as calibrateHeldOut splits them. Every
 * good image must have the first one's size and bit depth. Returns `base` (a classic recipe) with
 * a template section naming the file (its sigma and weight kept when it had one; the sha256 is
 * filled in when the template is opened) and how many images the median took.
 */
export async function templateRecipe(
  base: LoadedRecipe,
  good: readonly Frame[],
  path: string,
  holdout: number,
): Promise<{ loaded: LoadedRecipe; images: number }> {
  const r = base.recipe;
  if (r.kind !== 'classic') throw invalidParameter('recipe', 'a classic recipe (the template is one of its channels)', r.kind);
  checkAligned(good);
  const { train } = holdoutSplit(good, numberInRange('holdout', holdout, 0.05, 0.95), 'good images');
  await writeTemplate(path, medianTemplate(train));
  const template = { path, ...(r.template ? { sigma: r.template.sigma, weight: r.template.weight } : {}) };
  return { loaded: parseRecipe({ ...r, template }, 'recipe with a template'), images: train.length };
}
