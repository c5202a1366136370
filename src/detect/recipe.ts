/**
 * Recipes are data: a JSON or YAML file validated with zod, every parameter with a documented
 * default. A run stores the recipe it used (canonical JSON and its sha256), so every result says
 * which recipe version judged it. Every kind reads 8- and 16-bit frames alike: classic thresholds
 * are in normalised intensity units (pixel values divided by 255 or 65535 first); decoupled works
 * on k-means classes, which do not depend on the intensity scale. Two kinds, told apart by `kind`
 * (default `classic`): `classic` (gradients → defects) and `decoupled` (the CPU/GPU decoupling
 * seed's congestion score); docs/recipes.md lists every field.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { KensaError, parseErrorLine } from '../errors.js';
import { MAX_K } from '../ops/analysis/kmeans.js';
import { MAX_TAPS } from '../ops/filters/kernels.js';
import { DECODE_SCALES } from './scales.js';

/** A file a recipe names (a model, a template): its path and, once a run opened it, its sha256 (hex), so the recipe hash covers its content. */
const fileReference = {
  path: z.string().min(1),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
};

/** Detection runs at this fraction of the image's resolution (JPEGs shrink while decoding); results are in the image's own coordinates. */
const input = z
  .object({ scale: z.literal(DECODE_SCALES).default(1) })
  .strict()
  .default({ scale: 1 });

/** Connected components of the defect mask: connectivity, and the smallest area kept (each kind has its default). */
const components = (minArea: number) =>
  z
    .object({ connectivity: z.union([z.literal(4), z.literal(8)]).default(8), minArea: z.int().min(1).default(minArea) })
    .strict()
    .default({ connectivity: 8, minArea });

/** Shape rules: compact blobs are spots; thin, straight, long ones scratches; other thin ones cracks. */
const classifyRules = z
  .object({
    spotMaxElongation: z.number().min(1).default(3),
    spotMinFill: z.number().min(0).max(1).default(0.3),
    scratchMinLength: z.int().min(1).default(60),
    scratchMaxWidth: z.number().positive().default(4),
  })
  .strict()
  .default({ spotMaxElongation: 3, spotMinFill: 0.3, scratchMinLength: 60, scratchMaxWidth: 4 });

/**
 * A morphological hat channel: a square of `size` px (3 … 95; wider than the defects it
 * finds), its response (normalised intensity) times `weight` fused with the gradient by maximum.
 * DeepCrack's best black-hat was past 31 px (docs/tune.md); the square runs as separable row and
 * column passes, so its cost grows linearly with `size`.
 */
const hatSizeError = (i: { input: unknown }) => `expected an integer from 3 to 95 (px), received ${JSON.stringify(i.input)}`;
const hatSize = z.int({ error: hatSizeError }).min(3, { error: hatSizeError }).max(95, { error: hatSizeError });
const hatSizesError = (i: { input: unknown }) =>
  `expected an integer from 3 to 95 (px) or a list of 1 to 3 different ones, received ${JSON.stringify(i.input)}`;
const hat = z
  .object({
    /** A square's side, or up to 3 of them: the hats at those sizes are summed (cracks of several widths). */
    size: z
      .union([hatSize, z.array(hatSize).min(1, { error: hatSizesError }).max(3, { error: hatSizesError })], { error: hatSizesError })
      .refine((v) => typeof v === 'number' || new Set(v).size === v.length, { error: hatSizesError })
      .default(15),
    weight: z.number().positive().max(100).default(1),
  })
  .strict();

/** The square sides of a hat channel (`size` one or a list). */
export function hatSizes(h: { size: number | readonly number[] }): readonly number[] {
  return typeof h.size === 'number' ? [h.size] : h.size;
}

/** One sentence naming the range and the value received, for a field in px. */
const pxRangeError = (min: number, max: number) => (i: { input: unknown }) =>
  `expected a number from ${min} to ${max} (px), received ${JSON.stringify(i.input)}`;
const pxRange = (min: number, max: number) =>
  z
    .number({ error: pxRangeError(min, max) })
    .min(min, { error: pxRangeError(min, max) })
    .max(max, { error: pxRangeError(min, max) });

const hysteresisError = (i: { input: unknown }) =>
  `expected a ratio above 0 and at most 1 (the low threshold over threshold.value; 1 = off), received ${JSON.stringify(i.input)}`;

const classic = z
  .object({
    kind: z.literal('classic'),
    name: z.string().min(1).default('classic'),
    input,
    /** Gaussian denoise before the gradients; 0 turns it off. */
    denoise: z
      .object({ sigma: z.number().min(0).max(20).default(0.8) })
      .strict()
      .default({ sigma: 0.8 }),
    /**
     * Gradient magnitude per pyramid level (1 = full resolution only, up to 3: 1, 1/2, 1/4), fused by
     * maximum, times `weight` (absent = 1, so the default recipe's hash is unchanged; 0 = off, leaving
     * the other channels alone, as the black-hat-only OpenCV baseline is).
     */
    gradient: z
      .object({
        operator: z.enum(['sobel', 'scharr', 'central']).default('central'),
        scales: z.int().min(1).max(3).default(1),
        weight: z.number().min(0).max(100).optional(),
      })
      .strict()
      .default({ operator: 'central', scales: 1 }),
    /**
     * Where a pixel is a defect candidate. `absolute`: the fused response (normalised units) above
     * `value`. `relative`: each image's response is first standardised by its own mean and
     * standard deviation, so a candidate lies `value` standard deviations above its image's mean
     * (mean + k·std, which transfers across exposures and surfaces); the local contrast then enters
     * in its own units (1 = its noise bound) instead of `value`'s. `hysteresis` (a ratio in (0, 1];
     * absent or 1 = off): a pixel above `hysteresis` × `value` is also a candidate when its
     * connected region (of such pixels, components.connectivity) holds a pixel above `value`, so a
     * faint stretch of a crack is kept where it continues a strong one.
     */
    threshold: z
      .object({
        value: z.number().positive().max(100).default(0.055),
        mode: z.enum(['absolute', 'relative']).default('absolute'),
        hysteresis: z.number({ error: hysteresisError }).gt(0, { error: hysteresisError }).max(1, { error: hysteresisError }).optional(),
      })
      .strict()
      .default({ value: 0.055, mode: 'absolute' }),
    /**
     * Local contrast, for area defects whose outline is too faint for the gradient (stains): the
     * denoised image minus its background, a Gaussian blur of `background` px sigma (0 = off). A
     * pixel is a candidate where |image − background| exceeds `value` and `noise` standard
     * deviations of (image − background) over the image, so textured surfaces need more contrast.
     */
    contrast: z
      .object({
        background: z.number().min(0).max(256).default(64),
        value: z.number().positive().max(100).default(0.04),
        noise: z.number().min(0).max(100).default(4.5),
      })
      .strict()
      .default({ background: 64, value: 0.04, noise: 4.5 }),
    /**
     * Closing (dilate then erode) with a square of this side joins broken cracks (0 or 1 = off);
     * then holes (background enclosed by a candidate region) of at most fillHoles pixels are
     * filled, so a spot's outline becomes the spot (0 = off, the default: the local contrast
     * already fills most spots, and the hole labelling costs about as much as the components).
     */
    morphology: z
      .object({
        close: z.int().min(0).max(31).default(3),
        fillHoles: z
          .int()
          .min(0)
          .max(2 ** 30 - 1)
          .default(0),
      })
      .strict()
      .default({ close: 3, fillHoles: 0 }),
    components: components(24),
    classify: classifyRules,
    /**
     * NG when more than maxDefects defects score at least minScore and, with `background`, stand
     * out from their image: a defect counts only when its mean response is at least `ratio` × the
     * `quantile` of the image's response with the defect's own pixels taken off the top (absent
     * or null = off, so recipe files written before judge as they did; the built-in recipe has it on).
     */
    verdict: z
      .object({
        maxDefects: z.int().min(0).default(0),
        minScore: z.number().min(0).default(0),
        background: z
          .object({ quantile: z.number().min(0.5).max(1), ratio: z.number().positive().max(100) })
          .strict()
          .nullable()
          .optional(),
      })
      .strict()
      .default({ maxDefects: 0, minScore: 0 }),
    /** Black-hat (closing − image: thin dark defects on a textured surface), summed over its sizes, times weight, fused like the gradient; absent = off. */
    blackhat: hat.optional(),
    /** Top-hat (image − opening: thin bright defects); absent = off. */
    tophat: hat.optional(),
    /**
     * Area channel, for defects that are regions darker or brighter than their surroundings rather
     * than lines (Magnetic-tile's uneven and frayed areas, which no hat marks): |mean at `sigma` −
     * mean at `background`| of the denoised image (Gaussian means, px sigmas, normalised
     * intensity), times `weight`, fused like the hats; absent = off. `sigma` averages the surface's
     * texture away, `background` is wider than the areas sought.
     */
    area: z
      .object({
        sigma: pxRange(1, 8).default(4),
        background: pxRange(16, 128).default(32),
        weight: z.number().positive().max(100).default(1),
      })
      .strict()
      .optional(),
    /**
     * Golden template: |image − template| in normalised units, both blurred with `sigma` first
     * (absent = denoise.sigma, so the denoised image serves; 0 = not blurred; the blur tolerates
     * noise and sub-pixel misalignment), times `weight`, fused like the hats; absent = off. `path`
     * is relative to the working directory, as a model's; a run fills in `sha256`, so its recipe
     * hash covers the template's pixels (src/pipeline/template.ts).
     */
    template: z
      .object({
        ...fileReference,
        sigma: z.number().min(0).max(20).optional(),
        weight: z.number().positive().max(100).default(1),
      })
      .strict()
      .optional(),
    /** Where a tuned or calibrated recipe came from (kensa tune writes it; detection ignores it). */
    provenance: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  })
  .strict()
  // a standardised response has no zero for a ratio to scale: the relative threshold is the image-relative rule there
  .refine((c) => c.threshold.mode !== 'relative' || !c.verdict.background, {
    path: ['verdict', 'background'],
    message: 'must be absent or null under threshold.mode relative, which already judges each image against its own statistics',
  });

/** f32 Gaussian kernels have 8σ + 1 taps (OpenCV's rule), and the GPU takes at most MAX_TAPS. */
const MAX_CONGESTION_SIGMA = Math.floor((MAX_TAPS - 1) / 8);

const decoupled = z
  .object({
    kind: z.literal('decoupled'),
    name: z.string().min(1).default('decoupled'),
    input,
    /** k-means on the pixel intensities; `seed: null` spreads the initial centres evenly between min and max. */
    kmeans: z
      .object({
        k: z.int().min(2).max(MAX_K).default(4),
        iterations: z.int().min(0).max(1000).default(10),
        seed: z.int().min(0).max(4294967295).nullable().default(null),
      })
      .strict()
      .default({ k: 4, iterations: 10, seed: null }),
    /** Canny hysteresis thresholds on the label map (class index · 255 / (k − 1)), as cv.Canny's threshold1/2. */
    canny: z
      .object({ low: z.number().min(0).max(1e6).default(100), high: z.number().min(0).max(1e6).default(200) })
      .strict()
      .default({ low: 100, high: 200 }),
    /** Gaussian of the edge map (edges 1, else 0); regions where it exceeds `level` are defects. */
    congestion: z
      .object({ sigma: z.number().min(1).max(MAX_CONGESTION_SIGMA).default(12), level: z.number().positive().max(1).default(0.1) })
      .strict()
      .default({ sigma: 12, level: 0.1 }),
    components: components(16),
    classify: classifyRules,
    /** NG when the image score (mean congestion, 0..1) is at least minScore. */
    verdict: z
      .object({ minScore: z.number().min(0).max(1).default(0.05) })
      .strict()
      .default({ minScore: 0.05 }),
  })
  .strict();

/** What a model's output means (see `model`). */
export const MODEL_TASKS = ['segmentation', 'classification'] as const;

/** A model recipe's threshold when neither the recipe nor the model's file sets one. */
export const MODEL_THRESHOLD = 0.5;

/**
 * An ONNX model as the detector (src/detect/model.ts). The model's input is N×C×H×W float (C = 1,
 * or 3: the gray frame repeated), fed (pixel / max − mean) / std. `segmentation`: its first
 * output, N×C×H×W, becomes a defect probability per pixel (C = 1: the map itself, after the
 * activation; C ≥ 2: 1 − the probability of channel 0, the background), thresholded into regions
 * as the classic recipe's. `classification`: its first output, N×K, gives each image's scores;
 * NG when the top class is not `okClass`.
 */
const model = z
  .object({
    kind: z.literal('model'),
    name: z.string().min(1).default('model'),
    input,
    /** The ONNX file (relative to the working directory) and its sha256 (hex; a run fills it in, so its recipe hash covers the weights). */
    model: z
      .object({
        ...fileReference,
        task: z.enum(MODEL_TASKS).default('segmentation'),
      })
      .strict(),
    normalize: z
      .object({ mean: z.number().min(-1e6).max(1e6).default(0), std: z.number().positive().max(1e6).default(1) })
      .strict()
      .default({ mean: 0, std: 1 }),
    /** Applied to the model's output: `none` when the model ends in its own sigmoid or softmax. */
    activation: z.enum(['none', 'sigmoid', 'softmax']).default('none'),
    /**
     * Sliding window (src/tiling), segmentation only: tiles of `tile` px (0 = off: whole images)
     * read with `overlap` px of context each side, of which only the tile's centre is kept; origins
     * are multiples of `align` (the model's total stride: a pooling model's tiles then see what the
     * whole image would).
     */
    tiling: z
      .object({ tile: z.int().min(0).max(65535).default(0), overlap: z.int().min(0).max(4096).default(32), align: z.int().min(1).max(1024).default(1) })
      .strict()
      .default({ tile: 0, overlap: 32, align: 1 }),
    /**
     * Segmentation: a pixel is a defect where its probability is above `value`. Left out: a kensa
     * UNet's own (the threshold kensa train chose on validation, in its file), else MODEL_THRESHOLD;
     * opening the model fills it in, so a run's recipe states the threshold it used.
     */
    threshold: z
      .object({ value: z.number().positive().max(1).optional() })
      .strict()
      .default({}),
    components: components(16),
    classify: classifyRules,
    /** Classification: the class index meaning a good image, and the classes' names (index order). */
    classes: z
      .object({ ok: z.int().min(0).default(0), labels: z.array(z.string().min(1)).default([]) })
      .strict()
      .default({ ok: 0, labels: [] }),
    /** Segmentation: NG when more than maxDefects defects score at least minScore. */
    verdict: z
      .object({ maxDefects: z.int().min(0).default(0), minScore: z.number().min(0).default(0) })
      .strict()
      .default({ maxDefects: 0, minScore: 0 }),
  })
  .strict();

/**
 * Early exit (src/detect/cascade.ts): a cheap first stage (any recipe but a cascade) judges every
 * image; those whose score falls in [band.low, band.high) — the uncertain ones — are judged again
 * by `full`, a model recipe, whose detection replaces the first's. The cascade's own `input`
 * decides the decode scale; its stages' are not used.
 */
const cascade = z
  .object({
    kind: z.literal('cascade'),
    name: z.string().min(1).default('cascade'),
    input,
    first: z.discriminatedUnion('kind', [classic, decoupled, model]),
    full: model,
    band: z.object({ low: z.number().min(0), high: z.number().positive() }).strict(),
  })
  .strict()
  .refine((c) => c.band.low < c.band.high, { path: ['band'], message: 'band.low must be below band.high' });

export const RecipeSchema = z.discriminatedUnion('kind', [classic, decoupled, model, cascade]);
export type Recipe = z.infer<typeof RecipeSchema>;
export type ClassicRecipe = z.infer<typeof classic>;
export type DecoupledRecipe = z.infer<typeof decoupled>;
export type ModelRecipe = z.infer<typeof model>;
export type CascadeRecipe = z.infer<typeof cascade>;
/** The shape rules both kinds classify defects with. */
export type ClassifyRules = z.infer<typeof classifyRules>;
/** A classic recipe's golden-template section. */
export type TemplateSection = NonNullable<ClassicRecipe['template']>;

/** The components rule of a recipe's detections (a cascade's: its full model's). */
export function componentsOf(r: Recipe): { connectivity: 4 | 8; minArea: number } {
  return r.kind === 'cascade' ? r.full.components : r.components;
}

export interface LoadedRecipe {
  recipe: Recipe;
  /** Canonical JSON of the validated recipe, defaults filled in. */
  json: string;
  /** sha256 of `json`. */
  hash: string;
}

/** Validates recipe data; errors name the bad field by path (e.g. `threshold.value`). */
export function parseRecipe(data: unknown, origin = 'recipe'): LoadedRecipe {
  const input = data === undefined || data === null ? { kind: 'classic' } : data;
  const withKind = typeof input === 'object' && input !== null && !('kind' in input) ? { kind: 'classic', ...input } : input;
  const r = RecipeSchema.safeParse(withKind);
  if (!r.success) {
    const detail = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new KensaError('KENSA_ERR_RECIPE', `Invalid ${origin}: ${detail}`);
  }
  const json = JSON.stringify(r.data);
  return { recipe: r.data, json, hash: createHash('sha256').update(json).digest('hex') };
}

/** The built-in classic recipe's verdict rule: defects must stand out from their image's own response (docs/recipes.md). */
export const DEFAULT_BACKGROUND = { quantile: 0.99, ratio: 1.5 } as const;

/** The built-in classic recipe: the schema's defaults with the background verdict rule on. */
export const DEFAULT_RECIPE: LoadedRecipe = parseRecipe({ kind: 'classic', verdict: { background: DEFAULT_BACKGROUND } }, 'default recipe');

const BUILTIN: Readonly<Record<Exclude<Recipe['kind'], 'model' | 'cascade'>, LoadedRecipe>> = {
  classic: DEFAULT_RECIPE,
  decoupled: parseRecipe({ kind: 'decoupled' }, 'built-in recipe decoupled'),
};

/** The built-in recipe named by a kind (`classic`, `decoupled`): that kind's defaults; otherwise undefined. */
export function builtinRecipe(name: string): LoadedRecipe | undefined {
  return Object.hasOwn(BUILTIN, name) ? BUILTIN[name as keyof typeof BUILTIN] : undefined;
}

/** Reads a .json, .yaml or .yml recipe file. */
export async function loadRecipe(path: string): Promise<LoadedRecipe> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : ((e as NodeJS.ErrnoException).code ?? (e as Error).message);
    throw new KensaError(
      'KENSA_ERR_RECIPE',
      `Cannot read recipe ${path}: neither a built-in recipe (${Object.keys(BUILTIN).join(', ')}) nor a readable file (${why})`,
      {
        cause: e,
      },
    );
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    // the YAML parser's message goes on with the offending lines; its first line names the place
    throw new KensaError('KENSA_ERR_RECIPE', `Cannot parse recipe ${path}: ${parseErrorLine(e)}`, { cause: e });
  }
  return parseRecipe(data, `recipe ${path}`);
}
