/**
 * `kensa tune`: a recipe from the user's own images. With --images and --truth it searches the
 * classic recipe's parameters on labelled images (src/tune) and reports the score on images it
 * never tuned on; with --good it calibrates the verdict on defect-free images for a target false-NG
 * rate; with both it tunes, then calibrates the tuned recipe. Exit code 0, 1 on a data error or an
 * interrupted search (rerun the same command to resume it), 2 on bad flags.
 */
import { rm } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { DEVICES, openBackend, type DeviceChoice } from '../backend.js';
import { builtinRecipe, DEFAULT_RECIPE, loadRecipe, type LoadedRecipe } from '../detect/recipe.js';
import { isKensaError } from '../errors.js';
import { openRecipeTemplate } from '../pipeline/template.js';
import { loadFrames, loadLabelled } from '../tune/data.js';
import { templateRecipe } from '../tune/template.js';
import { METRICS } from '../tune/score.js';
import type { SearchProgress } from '../tune/search.js';
import { calibrateHeldOut, foldStatePath, tune, writeRecipeYaml, type CalibrateResult } from '../tune/tune.js';
import { EXIT_FAIL, EXIT_OK, UsageError, adapterFlag, choiceFlag, guard, intFlag, numberFlag, outputFlag, parseFlags, type CliIO } from './io.js';
import { plural } from '../report/html.js';

export const TUNE_HELP = `Usage: kensa tune --images <dir> --truth <dir> --out <recipe.yaml> [options]
       kensa tune --good <dir> [--template <template.png>] --out <recipe.yaml> [options]

Tunes the classic recipe on your own images and writes it as YAML with its provenance.
  --images/--truth  searches denoise, the gradient (its scales and weight, or off), thresholds
                    (with hysteresis or without), the local-contrast, black-hat (one size or
                    two summed) and top-hat channels, closing and minimum area: --budget
                    candidates (the base recipe, the OpenCV baseline's black-hat recipes and
                    four with two black-hat sizes, then quasi-random points)
                    by successive halving (all on a few
                    images, the best third on three times as many, ..., the last rung on every
                    image): an evaluation is one candidate on one rung, so --budget 60 on 60
                    images runs 60 + 20 + 7 = 87 evaluations. A --holdout share of the images, chosen by a hash of their names
                    (at least 1, leaving at least 3 to tune on where there are 4 or more), is never
                    tuned on: the score reported is measured there. With --folds k instead, every
                    image is held out once: k searches each run without one fold, their winners
                    score the fold they never saw (the score reported), and the recipe written
                    comes from a last search on every image (k + 1 searches in all; for a few
                    labelled images). An interrupted search (Ctrl-C) resumes from <out>.state.json
                    (and <out>.state.fold-N.json) when the same command runs again.
  --good            sets verdict.minScore so that the false-NG rate on new defect-free images
                    is at most --target-false-ng with 90 % confidence (checked on the held-out
                    good images). With --images
                    too, the tuned recipe is calibrated.
  --template        with --good (aligned images of one size: fixtured parts): writes the
                    pixel-wise median of the good images calibrated on as a golden template,
                    and the recipe gets the template channel (|image - template|) before it is
                    tuned and calibrated.

Options:
  --images <dir>          images (or a kensa samples folder)
  --truth <dir>           their truth masks, matched by name (or a kensa samples folder)
  --good <dir>            defect-free images
  --template <file.png>   the golden template to write (needs --good)
  --recipe <file|name>    base recipe (default: the built-in classic)
  --out <file>            the recipe to write (.yaml) (required)
  --metric <m>            f1 | iou, pixel scores as kensa eval computes them (default f1)
  --tolerance <px>        tolerance radius for f1, 0 … 100 (default 2)
  --budget <n>            candidate recipes (not evaluations), 1 … 100000 (default 60)
  --holdout <share>       share of the images held out, 0.05 … 0.95 (default 0.3)
  --folds <k>             k-fold cross-validation of --images instead of --holdout, 2 … 20
                          (--holdout still splits --good)
  --seed <n>              seed of the candidates and image subsets (default 1)
  --target-false-ng <r>   false-NG rate for --good, 0 … 1 (default 0.05)
  --device D              auto | cpu | gpu (default auto, or KENSA_DEVICE)
  --adapter <i|name>      GPU adapter index or name substring
  -h, --help              show this help

Exit code 0; 1 on a data error or an interrupted search; 2 on bad flags.
`;

const FLAGS = {
  images: { type: 'string' },
  truth: { type: 'string' },
  good: { type: 'string' },
  template: { type: 'string' },
  recipe: { type: 'string' },
  out: { type: 'string' },
  metric: { type: 'string' },
  tolerance: { type: 'string' },
  budget: { type: 'string' },
  holdout: { type: 'string' },
  folds: { type: 'string' },
  seed: { type: 'string' },
  'target-false-ng': { type: 'string' },
  device: { type: 'string' },
  adapter: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const f3 = (v: number) => v.toFixed(3);

function eta(s: number | null): string {
  if (s === null) return '?';
  const m = Math.floor(s / 60);
  return m ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** A progress line on stderr at most once a second, and the last one. */
function progressLine(io: CliIO, metric: string): (p: SearchProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 1000 && p.evaluations < p.total) return;
    last = now;
    io.err.write(
      `tune: ${p.stage ? `${p.stage} · ` : ''}rung ${p.rung}/${p.rungs} · ${p.evaluations}/${p.total} evaluations · best ${metric} ${f3(p.best)} · ETA ${eta(p.etaS)}\n`,
    );
  };
}

/**
 * A warning when the tuned recipe scores below the base recipe on the held-out images (its pick
 * did not carry over: on Magnetic-tile the early rungs, a few images each, were ruled by one
 * large-area tile); null otherwise. The tuned recipe is written either way.
 */
export function heldOutWarning(metric: string, tuned: number, base: number): string | null {
  if (!(tuned < base)) return null;
  return `warning: on the held-out images the tuned recipe scores below the base recipe (${metric} ${f3(tuned)} against ${f3(base)}); its pick may not carry over to new images: try a larger --budget or more images, or keep the base recipe`;
}

/** The calibration summary; says why minScore did not move when no good image had a defect. */
export function calibrationLine(c: CalibrateResult, target: number): string {
  const count = (rate: number) => `${Math.round(rate * c.heldOutImages)}/${c.heldOutImages}`;
  const minScore =
    c.flagged === 0
      ? `stays at ${c.minScore === 0 ? '0' : c.minScore.toPrecision(4)} (the base recipe's): none of the ${c.trainImages} defect-free images calibrated on had a defect, false-NG 0/${c.trainImages} there`
      : `${c.minScore.toPrecision(4)} (${c.flagged} of the ${c.trainImages} defect-free images calibrated on had defects; false-NG ${Math.round(c.trainFalseNg * c.trainImages)}/${c.trainImages} there)`;
  return `calibrated on good images: verdict.minScore ${minScore}; false-NG on ${plural(c.heldOutImages, 'held-out good image')} ${count(c.heldOutFalseNg)} (target ${target}; before ${count(c.baseHeldOutFalseNg)})`;
}

export async function run(argv: readonly string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  return guard('tune', io, async () => {
    const { values } = parseFlags(() => parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
    if (values.help) {
      io.out.write(TUNE_HELP);
      return EXIT_OK;
    }
    if (!values.out) throw new UsageError('--out is required (the recipe file to write)');
    if (values.images === undefined && values.good === undefined) throw new UsageError('needs --images with --truth (tuning), --good (calibration), or both');
    if ((values.images === undefined) !== (values.truth === undefined)) throw new UsageError('--images and --truth go together');
    if (values.template !== undefined && values.good === undefined) throw new UsageError('--template needs --good (the images the template is the median of)');
    if (values.template !== undefined && extname(values.template).toLowerCase() !== '.png')
      throw new UsageError(`--template expects a .png file (lossless, 8 or 16 bits) but received '${values.template}'`);
    const metric = choiceFlag('metric', values.metric, 'f1', METRICS);
    const tolerance = numberFlag('tolerance', values.tolerance, 2, 0, 100);
    const budget = intFlag('budget', values.budget, 60, 1, 100_000);
    const holdout = numberFlag('holdout', values.holdout, 0.3, 0.05, 0.95);
    const folds = values.folds === undefined ? undefined : intFlag('folds', values.folds, 2, 2, 20);
    if (folds !== undefined && values.images === undefined) throw new UsageError('--folds needs --images and --truth (it cross-validates the tuning)');
    const seed = intFlag('seed', values.seed, 1, 0, 0xffffffff);
    const target = numberFlag('target-false-ng', values['target-false-ng'], 0.05, 0, 1);
    const device: DeviceChoice = choiceFlag('device', values.device ?? process.env.KENSA_DEVICE, 'auto', DEVICES);
    const adapter = adapterFlag(values.adapter);
    const out = outputFlag('out', values.out, 'file');
    const statePath = `${out}.state.json`;
    try {
      let recipe: LoadedRecipe = values.recipe ? (builtinRecipe(values.recipe) ?? (await loadRecipe(values.recipe))) : DEFAULT_RECIPE;
      const labelled = values.images !== undefined ? await loadLabelled(values.images, values.truth!) : null;
      const good = values.good !== undefined ? await loadFrames('good', values.good) : null;
      const lines: string[] = [];
      if (good && values.template !== undefined) {
        const made = await templateRecipe(recipe, good, values.template, holdout);
        recipe = made.loaded;
        lines.push(`template: the median of ${plural(made.images, 'good image')} calibrated on, written to ${values.template}`);
      }
      // the template (if any) is read back like any recipe's, so the written recipe carries its sha256
      const template = await openRecipeTemplate(recipe);
      recipe = template.loaded;
      const backend = await openBackend({ device, ...(adapter !== undefined ? { adapter } : {}) }).catch((e: unknown) => {
        template.close();
        throw e;
      });
      try {
        io.err.write(`tune: device ${backend.name}\n`);
        if (labelled) {
          const r = await tune(labelled, {
            backend,
            base: recipe,
            metric,
            tolerance,
            budget,
            seed,
            holdout,
            ...(folds !== undefined ? { folds } : {}),
            statePath,
            onProgress: progressLine(io, metric),
            ...(signal ? { signal } : {}),
          });
          if (r.aborted) {
            io.err.write(
              `kensa tune: interrupted after ${r.evaluations} evaluations; run the same command again to resume (state in ${statePath}${folds !== undefined ? ' and its .fold-N files' : ''})\n`,
            );
            return EXIT_FAIL;
          }
          recipe = r.recipe;
          lines.push(
            `tuned on ${r.train.length} images, ${budget} candidates, ${r.evaluations} evaluations over ${plural(r.rungs, 'rung')}${r.folds ? ` (with the ${r.folds} searches without a fold)` : ''}: ${metric} ${f3(r.trainScore)} on them (${f3(r.cvScore)} cross-validated)`,
            r.folds
              ? `${r.folds}-fold, each fold scored by a search that never saw it: ${metric} ${f3(r.heldOutScore)} (base recipe ${f3(r.baseHeldOutScore)}; by fold ${r.foldScores.map(f3).join(', ')})`
              : `held out ${plural(r.heldOut.length, 'image')}: ${metric} ${f3(r.heldOutScore)} (base recipe ${f3(r.baseHeldOutScore)})`,
          );
          const warning = heldOutWarning(metric, r.heldOutScore, r.baseHeldOutScore);
          if (warning) io.err.write(`kensa tune: ${warning}\n`);
        }
        if (good) {
          const c = await calibrateHeldOut(backend, good, recipe, target, holdout);
          recipe = c.recipe;
          lines.push(calibrationLine(c, target));
        }
      } finally {
        backend.close();
        template.close();
      }
      await writeRecipeYaml(out, recipe, `written by kensa tune\n${lines.join('\n')}`);
      await rm(statePath, { force: true });
      for (let f = 1; f <= (folds ?? 0); f++) await rm(foldStatePath(statePath, f), { force: true });
      io.out.write(`${lines.join('\n')}\nwrote ${out}\n`);
      return EXIT_OK;
    } catch (e) {
      if (!isKensaError(e) || e.code === 'KENSA_ERR_GPU_VALIDATION' || e.code === 'KENSA_ERR_SHADER') throw e;
      io.err.write(`kensa tune: ${e.message} (${e.code})\n`);
      return EXIT_FAIL;
    }
  });
}
