/**
 * Opening a recipe's golden template for a run: the file is read once, hashed (its sha256 goes
 * into the recipe, so the run's recipe hash covers the template's pixels and a resumed run cannot
 * silently use a changed one), decoded as the images are (grey, at the recipe's input.scale) and
 * registered for the classic detector (src/detect/template.ts). Errors name the recipe field.
 */
import { createHash } from 'node:crypto';
import { KensaError } from '../errors.js';
import { parseRecipe, type ClassicRecipe, type LoadedRecipe, type Recipe, type TemplateSection } from '../detect/recipe.js';
import { registerTemplate } from '../detect/template.js';
import { decodeBuffer, DEFAULT_MAX_PIXELS, readImageFile, type DecodedImage, type DecodeScale } from './decode.js';

/** An open template: the recipe with its template's sha256 filled in; `close` releases the pixels. */
export interface OpenTemplate {
  loaded: LoadedRecipe;
  close(): void;
}

/** The classic recipe that may name a template (a classic recipe, or a cascade's classic first stage) and the scale its images are decoded at. */
function classicOf(r: Recipe): { classic: ClassicRecipe; scale: DecodeScale } | null {
  if (r.kind === 'classic') return { classic: r, scale: r.input.scale };
  if (r.kind === 'cascade' && r.first.kind === 'classic') return { classic: r.first, scale: r.input.scale };
  return null;
}

/** The template section of a recipe (a classic recipe's, a cascade's classic first stage's), if it names one. */
export function recipeTemplate(r: Recipe): TemplateSection | undefined {
  return classicOf(r)?.classic.template;
}

/** Reads, checks, decodes and registers one template; returns its sha256 and release. */
async function openTemplate(classic: ClassicRecipe, scale: DecodeScale): Promise<{ sha256: string; close(): void }> {
  const t = classic.template!;
  const reason = (e: unknown) => (e as Error).message.replace(/^Cannot decode [^:]*: /, '');
  let bytes: Buffer;
  try {
    bytes = await readImageFile(t.path);
  } catch (e) {
    throw new KensaError('KENSA_ERR_RECIPE', `template.path: cannot read the template ${t.path} (${reason(e)})`, { cause: e });
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (t.sha256 !== undefined && t.sha256 !== sha256)
    throw new KensaError(
      'KENSA_ERR_RECIPE',
      `template.sha256: the template ${t.path} has sha256 ${sha256.slice(0, 12)}, not the recipe's ${t.sha256.slice(0, 12)}: the file changed since the recipe named it`,
    );
  let image: DecodedImage;
  try {
    image = await decodeBuffer(t.path, bytes, { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS, scale });
  } catch (e) {
    throw new KensaError('KENSA_ERR_RECIPE', `template.path: cannot decode the template ${t.path} (${reason(e)})`, { cause: e });
  }
  const { width, height, dtype, data } = image;
  return { sha256, close: registerTemplate({ path: t.path, sha256, width, height, dtype, data }) };
}

/**
 * Opens the template a recipe names (none: the recipe as it is, nothing to close). The caller
 * closes it when the run ends; the detector finds it while it is open.
 */
export async function openRecipeTemplate(loaded: LoadedRecipe): Promise<OpenTemplate> {
  const found = classicOf(loaded.recipe);
  if (!found?.classic.template) return { loaded, close: () => {} };
  const { sha256, close } = await openTemplate(found.classic, found.scale);
  const classic = { ...found.classic, template: { ...found.classic.template, sha256 } };
  const r = loaded.recipe;
  try {
    return { loaded: parseRecipe(r.kind === 'cascade' ? { ...r, first: classic } : classic, `recipe ${r.name}`), close };
  } catch (e) {
    close();
    throw e;
  }
}

/** Templates this thread keeps open, by sha256 and scale (a worker thread's: it cannot see the run's thread's). */
const kept = new Map<string, Promise<unknown>>();

/** Opens a recipe's template in this thread for the thread's life, once per file and scale (a worker pool serves one run or server). */
export async function keepTemplateOpen(recipe: Recipe): Promise<void> {
  const found = classicOf(recipe);
  const t = found?.classic.template;
  if (!found || !t) return;
  const key = `${t.sha256 ?? t.path}@${found.scale}`;
  let opening = kept.get(key);
  if (!opening) {
    opening = openTemplate(found.classic, found.scale);
    kept.set(key, opening);
    opening.catch(() => kept.delete(key));
  }
  await opening;
}
