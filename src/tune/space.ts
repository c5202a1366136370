/**
 * The classic recipe's search space, in one place: each dimension a dotted recipe path and a
 * range inside what the recipe schema accepts (test/tune/space.test.ts parses both ends), on a
 * linear or log scale. A point of the unit cube becomes a recipe: the base recipe with those
 * values set. A dimension with `off` turns its feature off over that share of its interval (the
 * contrast channel's background 0; a hat channel absent), so the search also chooses channels.
 */
import { parseRecipe, type ClassicRecipe, type LoadedRecipe } from '../detect/recipe.js';

export interface Dimension {
  /** Dotted path into the classic recipe. */
  path: string;
  min: number;
  max: number;
  log: boolean;
  integer: boolean;
  /** Share of the unit interval that turns the feature off: `value` 0 sets 0, null removes the path's section. */
  off?: { share: number; value: 0 | null };
  /** A categorical dimension: equal shares of the unit interval pick these values (min and max unused). */
  choices?: readonly string[];
  /** A further value of a list-valued path (a hat's sizes), added to the value there; off (0) adds none. */
  append?: boolean;
}

const dim = (path: string, min: number, max: number, o: Partial<Omit<Dimension, 'path' | 'min' | 'max'>> = {}): Dimension => ({
  path,
  min,
  max,
  log: false,
  integer: false,
  ...o,
});

export const CLASSIC_SPACE: readonly Dimension[] = [
  dim('denoise.sigma', 0, 3),
  dim('gradient.scales', 1, 3, { integer: true }),
  dim('gradient.weight', 0.25, 4, { log: true, off: { share: 0.25, value: 0 } }),
  dim('threshold.mode', 0, 1, { choices: ['absolute', 'relative'] }),
  dim('threshold.value', 0.01, 0.4, { log: true }),
  dim('contrast.background', 16, 128, { log: true, off: { share: 0.25, value: 0 } }),
  dim('contrast.value', 0.01, 0.3, { log: true }),
  dim('contrast.noise', 1, 10),
  dim('morphology.close', 0, 9, { integer: true }),
  dim('components.minArea', 1, 2000, { log: true, integer: true }),
  dim('blackhat.size', 3, 95, { log: true, integer: true, off: { share: 0.5, value: null } }),
  dim('blackhat.weight', 0.25, 4, { log: true }),
  dim('tophat.size', 3, 95, { log: true, integer: true, off: { share: 0.5, value: null } }),
  dim('tophat.weight', 0.25, 4, { log: true }),
  // last, so the other dimensions' quasi-random coordinates stay those of the space without it
  dim('threshold.hysteresis', 0.25, 1),
  // a second black-hat size summed with the first (after hysteresis for the same reason)
  dim('blackhat.size', 3, 95, { log: true, integer: true, off: { share: 0.5, value: 0 }, append: true }),
  // the area channel (regions, not lines), last for the same reason; its switch first, so its other dimensions find the section
  dim('area.background', 16, 128, { log: true, off: { share: 0.5, value: null } }),
  dim('area.sigma', 1, 8, { log: true }),
  dim('area.weight', 0.25, 4, { log: true }),
];

/** The value of dimension `d` at u ∈ [0, 1), or null/0 where it is off. */
export function valueAt(d: Dimension, u: number): number | string | null {
  if (d.choices) return d.choices[Math.min(d.choices.length - 1, Math.floor(u * d.choices.length))]!;
  let v = u;
  if (d.off) {
    if (v < d.off.share) return d.off.value;
    v = (v - d.off.share) / (1 - d.off.share);
  }
  if (d.integer && !d.log) return Math.min(d.max, d.min + Math.floor(v * (d.max - d.min + 1)));
  const x = d.log ? Math.exp(Math.log(d.min) + v * (Math.log(d.max) - Math.log(d.min))) : d.min + v * (d.max - d.min);
  return d.integer ? Math.min(d.max, Math.max(d.min, Math.round(x))) : Number(x.toPrecision(4));
}

type Section = Record<string, unknown>;
type Value = number | string | readonly number[] | null;

/** `list` (a number or a list) with `v` added: ascending, each value once, a number when one is left. */
function appended(list: unknown, v: number): number | number[] {
  const values = [...new Set([...(typeof list === 'number' ? [list] : (list as number[])), v])].sort((a, b) => a - b);
  return values.length === 1 ? values[0]! : values;
}

/** The base recipe with each dimension's value set (null removes its section), validated. */
function withValues(base: ClassicRecipe, values: readonly (readonly [Dimension, Value])[]): LoadedRecipe {
  const r = structuredClone(base) as unknown as Record<string, Section | undefined>;
  delete r.provenance;
  for (const [d, v] of values) {
    const [section, key] = d.path.split('.') as [string, string];
    if (v === null) {
      delete r[section];
      continue;
    }
    if (d.append) {
      if (v !== 0 && r[section]?.[key] !== undefined) r[section]![key] = appended(r[section]![key], v as number);
      continue;
    }
    // a switchable section (a hat) is made by its switch; its other dimensions only tune it when it is on
    if (r[section] === undefined) {
      if (d.off?.value !== null) continue;
      r[section] = {};
    }
    r[section]![key] = v;
  }
  // a relative threshold judges each image against its own statistics already (the schema refuses both)
  if (r.threshold?.mode === 'relative' && r.verdict?.background) r.verdict = { ...r.verdict, background: null };
  return parseRecipe(r, 'tuned recipe');
}

/** The base recipe with the point `u` (one coordinate per dimension, each in [0, 1)) applied, validated. */
export function candidate(base: ClassicRecipe, u: readonly number[], space: readonly Dimension[] = CLASSIC_SPACE): LoadedRecipe {
  return withValues(
    base,
    space.map((d, i) => [d, valueAt(d, u[i]!)]),
  );
}

/**
 * The three-step OpenCV baseline (scripts/baseline/opencv-baseline.mjs) as recipes, one per
 * black-hat size of its grid and the sizes between: OpenCV's 5×5 Gaussian (σ 0 means
 * 0.3 · ((5 − 1) / 2 − 1) + 0.8 = 1.1), the black-hat alone, a threshold at mean + k·std, no
 * closing. The sweep supplies its k and minimum areas, so a search that starts with these can only
 * lose to the baseline by the noise of its image subsets.
 */
export const BASELINE_ANCHORS: readonly Readonly<Record<string, Value>>[] = [7, 11, 15, 19, 23, 27, 31, 47, 63, 95].map((size) => ({
  'denoise.sigma': 1.1,
  'gradient.weight': 0,
  'threshold.mode': 'relative',
  'contrast.background': 0,
  'morphology.close': 0,
  'blackhat.size': size,
  'blackhat.weight': 1,
  'tophat.size': null,
}));

/**
 * The same steps with the black-hat summed over two sizes, 95 px and a smaller one: the raw sum
 * beat one size on DeepCrack's held-out crops (docs/tune.md), with the smaller size unsettled.
 */
export const MULTISCALE_ANCHORS: readonly Readonly<Record<string, Value>>[] = [7, 15, 31, 63].map((size) => ({
  ...BASELINE_ANCHORS[0]!,
  'blackhat.size': [size, 95],
}));

/** The anchors whose every path (and, for a list of sizes, the second size) the space searches, as recipes (a narrower space has none). */
export function anchors(base: ClassicRecipe, space: readonly Dimension[] = CLASSIC_SPACE): LoadedRecipe[] {
  const searched = (a: Readonly<Record<string, Value>>) =>
    Object.entries(a).every(([p, v]) => space.some((d) => d.path === p && !d.append) && (!Array.isArray(v) || space.some((d) => d.path === p && d.append)));
  return [...BASELINE_ANCHORS, ...MULTISCALE_ANCHORS].filter(searched).map((a) =>
    withValues(
      base,
      space.filter((d) => d.path in a && !d.append).map((d) => [d, a[d.path]!] as const),
    ),
  );
}
