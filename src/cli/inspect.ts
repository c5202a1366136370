/**
 * `kensa inspect SOURCE...`: the main job. Inspects every image, stores every result in the
 * database (SQLite `kensa.db` by default), and prints what it found. SIGINT/SIGTERM stop taking
 * input, finish what is in flight and leave a resumable run (`--resume RUN`): the run id and the
 * exact command that resumes it are printed (to stderr) before the first image, so a crash never
 * leaves the user searching the database for them.
 */
import { parseArgs } from 'node:util';
import { DEVICES, type DeviceChoice } from '../backend.js';
import { formatProgressLine, ProgressMeter, type ProgressSnapshot } from '../pipeline/progress.js';
import type { DatabasePause } from '../pipeline/retry.js';
import { basename } from 'node:path';
import { builtinRecipe, DEFAULT_RECIPE, loadRecipe, MODEL_TASKS, parseRecipe, type LoadedRecipe } from '../detect/recipe.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../models/providers.js';
import { GRAPH_OPTIMIZATIONS, MAX_SESSIONS, type SessionOptions } from '../models/session.js';
import { loadJobFile } from '../pipeline/job-file.js';
import { enqueueRun } from '../pipeline/jobs.js';
import { type RunOptions, runInspection, type RunStart, type RunSummary } from '../pipeline/run.js';
import { openSqlTasks } from '../pipeline/sql-tasks.js';
import { expandSource, IMAGE_EXTENSIONS, type SourceItem, type SourceScan, scanSources } from '../pipeline/source.js';
import { MAX_POST_WORKERS } from '../pipeline/workers.js';
import type { ItemResult } from '../pipeline/inspect.js';
import { writeRunReport } from '../report/from-store.js';
import { plural } from '../report/html.js';
import { openStore } from '../store/store.js';
import { KensaError } from '../errors.js';
import { adapterFlag, choiceFlag, dbRetryFlag, EXIT_FAIL, EXIT_OK, guard, intFlag, outputFlag, parseFlags, printable, UsageError, type CliIO } from './io.js';

export const INSPECT_HELP = `Usage: kensa inspect SOURCE... [options]
       kensa inspect --tasks DB_URL --query SELECT --path TEMPLATE [--fan-out N=V,…] [--write-back SQL] [options]

Inspects images with a recipe (default: classical crack/scratch/spot detection), stores every
result, and prints a summary. SOURCE: a file, a folder (recursive), a glob ('imgs/**/*.png'),
@list.txt (one path per line) or - (paths on stdin). JPEG, PNG, TIFF, WebP, BMP, .npy, .raw.

Tasks from SQL (in place of SOURCE):
  --tasks URL           the task database: SQLite file, postgres://…, mysql://…
  --query SQL           SELECT of the tasks; its first column is a unique key (read in pages by it)
  --path TEMPLATE       image path of a task: {column} of the query, {name} of the fan-out
  --fan-out N=V1,V2     each row becomes one item per value (position=xm,xp,zm,zp)
  --write-back SQL      statement run for each result, batched in transactions and retried:
                        {name} of the fan-out; :column, :name, :score, :verdict, :status bound
                        (e.g. "UPDATE panoramas SET {position}_score = :score WHERE id = :id")

Scale-out (kensa worker --help):
  --queue URL           enqueue the run's items as jobs on redis://HOST[:PORT][/DB] and return;
                        workers inspect them (follow with kensa status RUN)
  --job-items N         items per job (default 16)

Options:
  --job FILE            the options above and --db, --db-retry, SOURCEs (as sources: [...]) from a
                        YAML or JSON file, under the flags' names (docs/scale.md); flags given win
  --db URL              results database: SQLite file, postgres://…, mysql://… (default kensa.db)
  --db-retry S          how long a lost database (--db, --tasks) is waited for, the run paused,
                        before it stops resumably (default 60 s)
  --recipe R            recipe: a JSON or YAML file, or a built-in by kind (classic, decoupled:
                        that kind's defaults); fields documented in docs/recipes.md
  --model FILE          detect with a model instead of a recipe: an ONNX file, or a kensa UNet's
                        .safetensors (RUN_DIR/best.safetensors; docs/models.md); with it:
    --model-kind K      segmentation | classification (default segmentation)
    --tile N            sliding window: tiles of N px (default 0: whole images)
    --overlap N         context read around each tile, in px (default 32)
  --ep LIST             ONNX Runtime providers in the order tried, comma-separated: cuda, webgpu,
                        cpu; 'strict' fails instead of falling back (default: cuda when installed,
                        webgpu, cpu); the provider used is stored with the run's device
  --model-sessions N    model sessions, each on its own thread (default 1)
  --intra-op-threads N  ONNX Runtime threads per session (default 0: its own choice)
  --graph-opt L         disabled | basic | extended | all (default all)
  --device D            auto | cpu | gpu (default auto, or KENSA_DEVICE)
  --adapter A           GPU adapter index or name substring
  --resume RUN          continue an interrupted run (finished items are skipped) with its sources
                        and recipe; every run prints its id and this command when it starts
  --masks DIR           write each image's defect mask as an 8-bit PNG (255 = defect)
  --report DIR          write a self-contained HTML report (summary, NG gallery with overlays, item pages)
  --batch N             images per GPU batch (default 16)
  --batch-pixels N      pixel budget per batch (default 16×2048×2048)
  --batch-wait MS       longest wait for a batch to fill (default 50)
  --decode-threads N    concurrent decodes (default: cores; set UV_THREADPOOL_SIZE as well)
  --jpeg-decode D       gpu | cpu: where baseline JPEGs decode on the GPU backend (default
                        gpu: Huffman stage included, the same pixels as sharp; docs/jpeg.md)
  --post-workers N      worker threads for CPU work: post-processing and colour decodes on the GPU
                        backend, whole batches on the CPU backend (default cores); 0 = all on the
                        main thread
  --max-image-pixels N  refuse larger images (default 268402689)
  --raw-width W --raw-height H --raw-dtype u8|u16   geometry of header-less .raw frames
  --progress P          auto | tty | json | none (default auto: a bar on a terminal, JSON lines
                        otherwise); progress goes to stderr
  --json                print the summary as JSON
  -h, --help            show this help
`;

export const PROGRESS = ['auto', 'tty', 'json', 'none'] as const;

/** Writes progress snapshots to stderr: a TTY bar redrawn at most every 200 ms (a pause at once), or JSON lines. */
export function progressWriter(kind: 'tty' | 'json' | 'none', io: CliIO): ((p: ProgressSnapshot) => void) | undefined {
  if (kind === 'none') return undefined;
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (now - last < 200 && p.done !== p.total && p.paused === undefined) return;
    last = now;
    if (kind === 'json') io.err.write(`${JSON.stringify({ type: 'progress', ...p })}\n`);
    else io.err.write(`\r${formatProgressLine(p)}\x1b[K`);
  };
}

/** Every item of several sources, keyed as a local run keys them. */
async function* expandSources(sources: readonly string[]): AsyncGenerator<SourceItem> {
  for (const arg of sources) yield* expandSource(arg, undefined, undefined, sources.length > 1);
}

/** A shell word: as is when it is safe, else single-quoted. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The command that resumes run `id`: the same arguments, with `--resume id` in place of any earlier one. */
export function resumeCommand(argv: readonly string[], id: string): string {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--resume') i++;
    else if (!a.startsWith('--resume=')) args.push(a);
  }
  return ['kensa', 'inspect', ...args, '--resume', id].map(shellWord).join(' ');
}

/** The warnings of a source scan: sources without images, entries passed over with the reason. */
function scanLines(scan: SourceScan): string[] {
  const lines: string[] = [];
  for (const source of scan.empty)
    lines.push(
      `kensa inspect: warning: ${JSON.stringify(source)} ${/[*?]/.test(source) ? 'matches' : 'holds'} no images (extensions ${IMAGE_EXTENSIONS.join(' ')})`,
    );
  if (scan.skipped.length > 0) {
    const byReason = new Map<string, string[]>();
    for (const e of scan.skipped) byReason.set(e.reason, [...(byReason.get(e.reason) ?? []), e.path]);
    const parts = [...byReason].map(([reason, paths]) => `${paths.length} × ${reason} (${paths.slice(0, 3).join(', ')}${paths.length > 3 ? ', …' : ''})`);
    lines.push(`kensa inspect: skipped ${plural(scan.skipped.length, 'entry')}: ${parts.join('; ')}`);
  }
  return lines;
}

/** The lines printed when the run starts: its id, how to resume it, and what the source scan warns about. */
export function startLines(start: RunStart, argv: readonly string[]): string[] {
  const { run, resumed, scan } = start;
  return [
    `kensa inspect: run ${run.id} ${resumed ? 'resumed' : 'started'} on ${run.device}; if it stops, resume with:`,
    `  ${resumeCommand(argv, run.id)}`,
    ...scanLines(scan),
  ];
}

type FlagValues = Readonly<Record<string, string | boolean | undefined>>;

/** The model recipe of `--model` and its flags (no --recipe with it; its flags not without it). */
function modelFlagsRecipe(values: FlagValues): LoadedRecipe {
  const path = values.model as string;
  if (values.recipe !== undefined)
    throw new UsageError(`--model and --recipe exclude each other (a recipe of kind model names its model) but received both ('${path}', '${values.recipe}')`);
  const task = choiceFlag('model-kind', values['model-kind'] as string | undefined, 'segmentation', MODEL_TASKS);
  const tiling = {
    tile: intFlag('tile', values.tile as string | undefined, 0, 0, 65535),
    overlap: intFlag('overlap', values.overlap as string | undefined, 32, 0, 4096),
  };
  return parseRecipe({ kind: 'model', name: basename(path), model: { path, task }, tiling }, '--model flags');
}

/** How the model's sessions open: --ep, --model-sessions, --intra-op-threads, --graph-opt. */
function sessionFlags(values: FlagValues): Omit<SessionOptions, 'warmUp'> {
  const words = values.ep === undefined ? [] : (values.ep as string).split(',').map((w) => w.trim());
  const providers = words.filter((w) => w !== 'strict');
  for (const p of providers)
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(p))
      throw new UsageError(`--ep expects providers among ${EXECUTION_PROVIDERS.join(', ')} and 'strict', comma-separated, but received '${p}'`);
  return {
    ...(providers.length > 0 ? { providers: providers as ExecutionProvider[] } : {}),
    strict: words.includes('strict'),
    sessions: intFlag('model-sessions', values['model-sessions'] as string | undefined, 1, 1, MAX_SESSIONS),
    intraOpThreads: intFlag('intra-op-threads', values['intra-op-threads'] as string | undefined, 0, 0, 256),
    graphOptimization: choiceFlag('graph-opt', values['graph-opt'] as string | undefined, 'all', GRAPH_OPTIMIZATIONS),
  };
}

export async function run(argv: readonly string[], io: CliIO, signal?: AbortSignal, onQuit?: (line: string) => void): Promise<number> {
  return guard('inspect', io, async () => {
    const parsed = parseFlags(() =>
      parseArgs({
        args: [...argv],
        allowPositionals: true,
        strict: true,
        options: {
          db: { type: 'string' },
          recipe: { type: 'string' },
          model: { type: 'string' },
          'model-kind': { type: 'string' },
          tile: { type: 'string' },
          overlap: { type: 'string' },
          ep: { type: 'string' },
          'model-sessions': { type: 'string' },
          'intra-op-threads': { type: 'string' },
          'graph-opt': { type: 'string' },
          device: { type: 'string' },
          adapter: { type: 'string' },
          resume: { type: 'string' },
          masks: { type: 'string' },
          report: { type: 'string' },
          batch: { type: 'string' },
          'batch-pixels': { type: 'string' },
          'batch-wait': { type: 'string' },
          'decode-threads': { type: 'string' },
          'jpeg-decode': { type: 'string' },
          'post-workers': { type: 'string' },
          'max-image-pixels': { type: 'string' },
          'raw-width': { type: 'string' },
          'raw-height': { type: 'string' },
          'raw-dtype': { type: 'string' },
          progress: { type: 'string' },
          tasks: { type: 'string' },
          queue: { type: 'string' },
          'job-items': { type: 'string' },
          query: { type: 'string' },
          path: { type: 'string' },
          'fan-out': { type: 'string' },
          'write-back': { type: 'string' },
          'db-retry': { type: 'string' },
          job: { type: 'string' },
          json: { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }),
    );
    if (parsed.values.help) {
      io.out.write(INSPECT_HELP);
      return EXIT_OK;
    }
    // a job file's options, under their flags' names; the command line's flags win
    const job = parsed.values.job !== undefined ? await loadJobFile(parsed.values.job) : null;
    const values: typeof parsed.values = job ? { ...job.flags, ...parsed.values } : parsed.values;
    const positionals = parsed.positionals.length > 0 || !job ? parsed.positionals : job.sources;
    const taskFlags = (['query', 'path', 'fan-out', 'write-back'] as const).filter((f) => values[f] !== undefined);
    if (values.tasks === undefined && taskFlags.length > 0) throw new UsageError(`--${taskFlags[0]} needs --tasks DB_URL`);
    if (values.tasks !== undefined) {
      if (positionals.length > 0) throw new UsageError('takes either SOURCE arguments or --tasks, not both');
      if (values.query === undefined) throw new UsageError('--tasks needs --query SELECT');
      if (values.path === undefined) throw new UsageError('--tasks needs --path TEMPLATE');
    } else if (positionals.length === 0) throw new UsageError('expects at least one SOURCE (a file, folder, glob, @list or -) or --tasks');
    const device: DeviceChoice = choiceFlag('device', values.device ?? process.env.KENSA_DEVICE, 'auto', DEVICES);
    if (values.masks) outputFlag('masks', values.masks, 'folder');
    if (values.report) outputFlag('report', values.report, 'folder');
    const rawGiven = values['raw-width'] !== undefined || values['raw-height'] !== undefined || values['raw-dtype'] !== undefined;
    const raw = rawGiven
      ? {
          width: intFlag('raw-width', values['raw-width'] ?? '', 0, 1, 65535),
          height: intFlag('raw-height', values['raw-height'] ?? '', 0, 1, 65535),
          dtype: choiceFlag('raw-dtype', values['raw-dtype'], 'u8', ['u8', 'u16'] as const),
        }
      : undefined;
    const recipe = values.model ? modelFlagsRecipe(values) : values.recipe ? (builtinRecipe(values.recipe) ?? (await loadRecipe(values.recipe))) : undefined;
    const adapter = adapterFlag(values.adapter);
    const ng: ItemResult[] = [];
    const errors: ItemResult[] = [];
    const staged = { first: 0, full: 0 };
    /** A classification model's top classes: images per label. */
    const labels = new Map<string, number>();
    const progressMode = choiceFlag('progress', values.progress, 'auto', PROGRESS);
    const progressKind = progressMode === 'auto' ? ((io.err as { isTTY?: boolean }).isTTY ? 'tty' : 'json') : progressMode;
    const writeProgress = progressWriter(progressKind, io);
    // a stage waiting for its database redraws the last snapshot with the pause, at once
    let lastProgress: ProgressSnapshot = new ProgressMeter(null).snapshot({ decoded: 0, batches: 0, batching: 0 });
    const onProgress = writeProgress
      ? (p: ProgressSnapshot) => {
          lastProgress = p;
          writeProgress(p);
        }
      : undefined;
    const onPause = (paused: DatabasePause | null) => writeProgress?.({ ...lastProgress, paused });
    const retryMs = dbRetryFlag(values['db-retry']);
    let started: RunStart | null = null;
    // every flag is checked (a usage error) before the sources are walked
    const options: RunOptions = {
      ...(values.db !== undefined ? { db: values.db } : {}),
      ...(recipe ? { recipe } : {}),
      device,
      ...(adapter !== undefined ? { adapter } : {}),
      ...(values.resume ? { resume: values.resume } : {}),
      ...(values.masks ? { masksDir: values.masks } : {}),
      batch: {
        maxCount: intFlag('batch', values.batch, 16, 1, 1024),
        maxPixels: intFlag('batch-pixels', values['batch-pixels'], 16 * 2048 * 2048, 1, 2 ** 31),
        maxWaitMs: intFlag('batch-wait', values['batch-wait'], 50, 0, 60_000),
      },
      ...(values['decode-threads'] ? { decodeConcurrency: intFlag('decode-threads', values['decode-threads'], 1, 1, 1024) } : {}),
      jpegDecode: choiceFlag('jpeg-decode', values['jpeg-decode'], 'gpu', ['gpu', 'cpu'] as const),
      model: sessionFlags(values),
      ...(values['post-workers'] !== undefined ? { postWorkers: intFlag('post-workers', values['post-workers'], 0, 0, MAX_POST_WORKERS) } : {}),
      ...(values['max-image-pixels'] ? { maxImagePixels: intFlag('max-image-pixels', values['max-image-pixels'], 1, 1, 2 ** 40) } : {}),
      ...(raw ? { raw } : {}),
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
      onPause,
      storeRetryMs: retryMs,
      onStart: (start) => {
        started = start;
        for (const line of startLines(start, argv)) io.err.write(`${line}\n`);
        onQuit?.(`quit; run ${start.run.id} is left resumable: ${resumeCommand(argv, start.run.id)}`);
      },
      onItem: (r) => {
        if (r.cascade) staged[r.cascade]++;
        if (r.label) labels.set(r.label.name, (labels.get(r.label.name) ?? 0) + 1);
        if (r.status === 'ng') ng.push(r);
        else if (r.status === 'error') errors.push(r);
      },
    };
    const tasks =
      values.tasks !== undefined
        ? await openSqlTasks({
            url: values.tasks,
            query: values.query!,
            path: values.path!,
            ...(values['fan-out'] !== undefined ? { fanOut: values['fan-out'] } : {}),
            ...(values['write-back'] !== undefined ? { writeBack: values['write-back'] } : {}),
            onPause,
            retryMs,
          })
        : null;
    let summary: RunSummary;
    try {
      if (values.queue !== undefined) {
        const scan = tasks ? null : await scanSources(positionals);
        const total = tasks ? tasks.total : scan!.total;
        if (total === null) throw new UsageError('--queue needs sources it can count (not stdin)');
        const store = await openStore(values.db ?? 'kensa.db');
        try {
          const queued = await enqueueRun(tasks ? tasks.items() : expandSources(positionals), {
            queue: values.queue,
            store,
            recipe: recipe ?? DEFAULT_RECIPE,
            source: tasks ? { sources: [], tasks: tasks.description } : { sources: [...positionals] },
            total,
            jobItems: intFlag('job-items', values['job-items'], 16, 1, 10_000),
          });
          io.out.write(`${JSON.stringify({ run: queued.run.id, items: queued.items, jobs: queued.jobs })}\n`);
          io.err.write(`kensa inspect: run ${queued.run.id}: ${queued.items} items in ${queued.jobs} jobs on ${values.queue}; follow with:\n`);
          io.err.write(`  kensa status ${queued.run.id} --queue ${values.queue} --db ${values.db ?? 'kensa.db'}\n`);
          return EXIT_OK;
        } finally {
          await store.close();
        }
      }
      if (tasks) {
        if (tasks.total === 0 && !values.resume) {
          io.err.write('kensa inspect: the --query returned no rows; no run was created\n');
          io.out.write('kensa inspect — no run\n0 images inspected in 0.0 s\n');
          return EXIT_OK;
        }
        summary = await runInspection([], { ...options, tasks, sink: tasks });
        // lost connections are survived silently by the retries; say how many there were
        if (tasks.retries > 0)
          io.err.write(`kensa inspect: ${plural(tasks.retries, 'task database statement')} retried after a lost connection, timeout or deadlock\n`);
      } else {
        // before a run is created and a device opened: with no image anywhere there is nothing to run
        const scan = await scanSources(positionals);
        if (scan.total === 0 && !values.resume) {
          io.err.write('kensa inspect: no source holds an image; no run was created\n');
          for (const line of scanLines(scan)) io.err.write(`${line}\n`);
          io.out.write('kensa inspect — no run\n0 images inspected in 0.0 s\n');
          return EXIT_OK;
        }
        summary = await runInspection(positionals, { ...options, scan });
      }
    } catch (e) {
      // a database away longer than --db-retry: the run is left resumable; say how
      if (e instanceof KensaError && e.code === 'KENSA_ERR_STORE' && started !== null)
        throw new KensaError(e.code, `${e.message}; resume with: ${resumeCommand(argv, (started as RunStart).run.id)}`, { cause: e });
      throw e;
    } finally {
      await tasks?.close();
    }
    if (progressKind === 'tty') io.err.write('\n');
    const { run: rec } = summary;
    let reportIndex: string | null = null;
    const reportStarted = performance.now();
    if (values.report) {
      const store = await openStore(values.db ?? 'kensa.db');
      try {
        reportIndex = (await writeRunReport(store, rec.id, values.report, values.masks)).index;
      } finally {
        await store.close();
      }
    }
    const reportMs = values.report ? performance.now() - reportStarted : 0;
    const wallMs = summary.elapsedMs + reportMs;
    if (values.json) {
      io.out.write(
        `${JSON.stringify({ run: rec.id, status: rec.status, counts: rec.counts, processed: summary.processed, skipped: summary.skipped, elapsedMs: Math.round(summary.elapsedMs), imagesPerSecond: summary.imagesPerSecond, reportMs: Math.round(reportMs), wallMs: Math.round(wallMs), device: rec.device, recipe: { name: rec.recipeName, hash: rec.recipeHash }, report: reportIndex })}\n`,
      );
    } else {
      io.out.write(`kensa inspect — run ${rec.id} (${rec.status})\n`);
      io.out.write(`recipe ${rec.recipeName} ${rec.recipeHash.slice(0, 12)} · device ${rec.device}\n`);
      const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      io.out.write(
        `${plural(summary.processed - errors.length, 'image')} inspected${errors.length ? `, ${plural(errors.length, 'error')}` : ''} in ${seconds(summary.elapsedMs)} (${summary.imagesPerSecond.toFixed(1)} img/s)${summary.skipped ? `, ${summary.skipped} skipped (already done)` : ''}\n`,
      );
      if (values.report)
        io.out.write(
          `wall time ${seconds(wallMs)} with the report (${seconds(reportMs)}): ${(summary.processed / (wallMs / 1000)).toFixed(1)} img/s overall\n`,
        );
      io.out.write(`OK ${rec.counts.ok} · NG ${rec.counts.ng} · errors ${rec.counts.error} · total ${rec.counts.total}\n`);
      if (labels.size > 0) {
        const counted = [...labels].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
        io.out.write(`labels: ${counted.map(([name, n]) => `${n} × ${name}`).join(' · ')}\n`);
      }
      if (staged.first + staged.full > 0)
        io.out.write(`cascade: ${staged.first} of ${staged.first + staged.full} exited after the first stage, ${staged.full} went on to the full model\n`);
      for (const r of ng.sort((a, b) => (b.score ?? 0) - (a.score ?? 0)).slice(0, 10)) {
        const kinds = new Map<string, number>();
        for (const d of r.defects) kinds.set(d.class, (kinds.get(d.class) ?? 0) + 1);
        const found = r.label ? `${r.label.name} ${r.label.score.toFixed(2)}` : [...kinds].map(([k, n]) => plural(n, k)).join(', ');
        io.out.write(`  NG  ${printable(r.key)}  score ${(r.score ?? 0).toFixed(2)}  ${found}\n`);
      }
      if (ng.length > 10) io.out.write(`  … ${ng.length - 10} more NG\n`);
      for (const r of errors.slice(0, 10)) io.out.write(`  ERR ${printable(r.key)}  ${printable(r.error ?? '')}\n`);
      if (errors.length > 10) io.out.write(`  … ${errors.length - 10} more errors\n`);
      if (reportIndex) io.out.write(`report: ${reportIndex}\n`);
      if (summary.interrupted) io.out.write(`interrupted: continue with  ${resumeCommand(argv, rec.id)}\n`);
    }
    return summary.interrupted ? EXIT_FAIL : EXIT_OK;
  });
}
