/**
 * `kensa eval`: scores predicted defect masks against ground truth (src/eval) and prints a
 * table per image and overall, or JSON. Exit code 0, 1 when an image could not be scored
 * (size mismatch, unreadable file), 2 on bad flags.
 */
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { evaluateMasks, type Evaluation } from '../eval/evaluate.js';
import { imageLevelReport, imageLevelText, type RunVerdict } from './eval-images.js';
import type { MaskCounts, MaskScores } from '../eval/metrics.js';
import { EXIT_FAIL, EXIT_OK, UsageError, guard, intFlag, numberFlag, outputFlag, parseFlags, table, type CliIO } from './io.js';
import { maskFileName } from '../pipeline/inspect.js';
import { openStore } from '../store/store.js';

export const EVAL_HELP = `Usage: kensa eval --pred <dir> --truth <dir> [options]
       kensa eval --run <run> --truth <dir> [--db <url>] [options]

Scores predicted defect masks against ground-truth masks, matched by name (the path under the
folder without its extension; a kensa samples folder stands for its masks/). Any non-zero
pixel is a defect.
  precision  predicted pixels with a truth pixel within --tolerance px (Euclidean distance)
  recall     truth pixels with a predicted pixel within --tolerance px
  F1         2·P·R / (P + R)
  IoU        |pred ∩ truth| / |pred ∪ truth|, strict (no tolerance)
  objects    truth components (8-connected) reached by a predicted pixel within --tolerance
Overall figures are micro-averaged (from counts summed over the images). A missing prediction
counts as an empty mask and is listed; a size mismatch or an unreadable file is listed as an
error and left out of the overall figures.
Image level: an image is defective when its truth has a defect pixel and NG when its predicted
area (defect pixels) is above a threshold (0 in the --images table): false-NG rate = defect-free images
judged NG, miss rate = defective images judged OK; the curve sweeps the threshold. With --run, NG is
the run's verdict, and the curve sweeps the image score (its best defect's: verdict.minScore).

Options:
  --pred <dir>         predicted masks (or --run)
  --run <run>          the masks a kensa inspect run wrote with --masks (looked up in --db)
  --db <url>           the run's database (default kensa.db)
  --truth <dir>        ground-truth masks, or a kensa samples folder (required)
  --tolerance <px>     tolerance radius in pixels, 0 … 100 (default 2)
  --threshold <v>      a mask pixel is a defect above this value, 0 … 254 (default 0)
  --min-area <px>      image level: only predicted components (8-connected) of at least this many
                       pixels count towards an image's area, 1 … 100000000 (default 1, or with
                       --run the run's recipe's components.minArea and connectivity). inspect
                       --masks writes every candidate, but its verdict counts only components of
                       at least minArea pixels: pass the recipe's minArea so an image is NG here
                       when inspect judged it NG. The pixel metrics score the whole mask
  --json               print the evaluation as JSON
  --images             add the image-level table (false-NG rate, miss rate, the curve)
  --plot <png>         write the image-level precision/recall curve as a PNG (implies --images)
  -h, --help           show this help

Exit code 0; 1 when an image could not be scored; 2 on bad flags.
`;

const FLAGS = {
  pred: { type: 'string' },
  run: { type: 'string' },
  db: { type: 'string' },
  truth: { type: 'string' },
  tolerance: { type: 'string' },
  threshold: { type: 'string' },
  json: { type: 'boolean' },
  images: { type: 'boolean' },
  plot: { type: 'string' },
  'min-area': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What eval takes from a run: its masks folder, its recipe's component rule when it has one, and its verdicts by mask name. */
interface RunMasks {
  masks: string;
  components: { minArea: number; connectivity: 4 | 8 } | null;
  verdicts: Map<string, RunVerdict>;
}

/** The recipe's components.minArea and connectivity (null when the recipe has no such section). */
export function recipeComponents(recipe: unknown): RunMasks['components'] {
  const c = (recipe as { components?: { minArea?: unknown; connectivity?: unknown } } | null)?.components;
  if (!c || !Number.isInteger(c.minArea) || (c.minArea as number) < 1) return null;
  return { minArea: c.minArea as number, connectivity: c.connectivity === 4 ? 4 : 8 };
}

/** The masks folder a run wrote (`kensa inspect --masks DIR` records it with the run), and its recipe's component rule. */
async function runMasks(runId: string, db: string): Promise<RunMasks> {
  const store = await openStore(db);
  try {
    const run = await store.getRun(runId);
    if (!run) throw new UsageError(`--run expects the id of a run in ${db} but received '${runId}'`);
    const masks = run.options.masks;
    if (typeof masks !== 'string') throw new UsageError(`run ${runId} was made without --masks: inspect again with --masks DIR, or pass --pred`);
    const verdicts = new Map<string, RunVerdict>();
    // a mask is named after its item's key (maskFileName); eval names a mask by its path without the extension
    for (const item of await store.items(runId))
      if (item.status !== 'error') verdicts.set(maskFileName(item.itemKey).replace(/\.png$/, ''), { ng: item.verdict === 'NG', score: item.score ?? 0 });
    return { masks, components: recipeComponents(run.recipe), verdicts };
  } finally {
    await store.close();
  }
}

function folderFlag(name: string, v: string | undefined, what: string): string {
  if (v === undefined || v === '') throw new UsageError(`--${name} is required (${what})`);
  let dir = false;
  try {
    dir = statSync(v).isDirectory();
  } catch {
    dir = false;
  }
  if (!dir) throw new UsageError(`--${name} expects a folder of masks but received '${v}' (not a folder)`);
  return v;
}

const rate = (v: number | null) => (v === null ? '-' : v.toFixed(3));

function row(label: string, status: string, c: MaskCounts, s: MaskScores): string[] {
  return [
    label,
    status,
    String(c.truth),
    String(c.predicted),
    rate(s.precision),
    rate(s.recall),
    rate(s.f1),
    rate(s.iou),
    `${c.detectedObjects}/${c.truthObjects}`,
    rate(s.objectRecall),
  ];
}

/** The text report: a row per image, the overall row, then missing, unmatched and errors. */
export function formatEvaluation(e: Evaluation): string {
  const withPrediction = e.images.filter((i) => i.status === 'scored').length;
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  let s = `kensa eval: ${n(e.images.length, 'image', 'images')} (${withPrediction} with a prediction, ${e.missing.length} without (scored as empty), ${n(e.errors.length, 'error', 'errors')}), tolerance ${e.tolerance} px (Euclidean)\n`;
  const rows = [['image', 'status', 'truth px', 'pred px', 'precision', 'recall', 'F1', 'IoU', 'objects', 'obj recall']];
  for (const i of e.images)
    rows.push(i.status === 'error' ? [i.name, 'error', '-', '-', '-', '-', '-', '-', '-', '-'] : row(i.name, i.status, i.counts, i.scores));
  rows.push(row('overall (micro)', `${e.overall.images} images`, e.overall.counts, e.overall.scores));
  s += table(rows);
  if (e.missing.length) s += `missing predictions (${e.missing.length}, scored as empty): ${e.missing.join(', ')}\n`;
  if (e.unmatched.length) s += `predictions without truth (${e.unmatched.length}, not scored): ${e.unmatched.join(', ')}\n`;
  if (e.errors.length) s += `errors (${e.errors.length}, not scored):\n${e.errors.map((x) => `  ${x.name}: ${x.error}\n`).join('')}`;
  return s;
}

export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  return guard('eval', io, async () => {
    const { values } = parseFlags(() => parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
    if (values.help) {
      io.out.write(EVAL_HELP);
      return EXIT_OK;
    }
    const fromRun = values.run !== undefined ? await runMasks(values.run, values.db ?? 'kensa.db') : null;
    const pred = folderFlag('pred', fromRun ? fromRun.masks : values.pred, 'the folder of predicted masks, or --run');
    const truth = folderFlag('truth', values.truth, 'the folder of ground-truth masks, or a kensa samples folder');
    const tolerance = numberFlag('tolerance', values.tolerance, 2, 0, 100);
    const threshold = intFlag('threshold', values.threshold, 0, 0, 254);
    if (values.plot !== undefined) outputFlag('plot', values.plot, 'file');
    const minArea = intFlag('min-area', values['min-area'], fromRun?.components?.minArea ?? 1, 1, 100_000_000);
    const connectivity = fromRun?.components?.connectivity ?? 8;
    const e = await evaluateMasks(pred, truth, { tolerance, threshold, minArea, connectivity });
    if (e.images.length === 0) throw new UsageError(`--truth expects a folder of masks but '${truth}' holds none`);
    const images = values.images || values.plot !== undefined ? await imageLevelReport(e, values.plot, fromRun?.verdicts) : null;
    if (values.json) io.out.write(`${JSON.stringify(images ? { ...e, imageLevel: images } : e, null, 2)}\n`);
    else io.out.write(formatEvaluation(e) + (images ? imageLevelText(images) : ''));
    return e.errors.length ? EXIT_FAIL : EXIT_OK;
  });
}
