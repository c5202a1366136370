/**
 * `kensa augment IMAGES --pipeline FILE --out DIR`: writes `--count` augmented variants of every
 * image of a folder (and of its masks and boxes), a manifest of the parameters each output drew,
 * and optionally a preview grid. Variant k of image i (in name order) draws from the stream
 * (seed, i × count + k), so outputs do not depend on the batch size or the device; `--replay`
 * applies the parameters of a manifest instead of drawing, giving the same bytes.
 * A problem with one image (unreadable, no mask, a mask of another size) is reported on one line
 * and the run goes on; the exit code is then 1.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { type AugmentBatch, augment, type Box, loadPipeline, replay, type SampleParams, type Transform } from '../augment/index.js';
import { type Backend, DEVICES, type DeviceChoice, openBackend } from '../backend.js';
import { KensaError } from '../errors.js';
import { type BoxSource, type ChannelChoice, type LoadedItem, listAugmentItems, loadItem, readBoxes } from '../pipeline/augment-files.js';
import { ProgressMeter } from '../pipeline/progress.js';
import { type GridCell, writeGrid } from '../report/grid.js';
import { plural } from '../report/html.js';
import type { Tensor } from '../tensor.js';
import { PROGRESS, progressWriter } from './inspect.js';
import { adapterFlag, choiceFlag, EXIT_FAIL, EXIT_OK, guard, intFlag, outputFlag, parseFlags, UsageError, type CliIO } from './io.js';

export const AUGMENT_HELP = `Usage: kensa augment IMAGES --pipeline FILE --out DIR [options]

Writes --count augmented variants of every image in the folder IMAGES (searched recursively),
with its mask and boxes moved alike, drawn from a seed:
  DIR/images/<name>-NNN.png     the image's channels and depth (8 or 16 bits)
  DIR/masks/<name>-NNN.png      with --masks, or when the pipeline draws synthetic defects
  DIR/annotations.json          with --boxes FILE.json (COCO)
  DIR/labels/<name>-NNN.txt     with --boxes DIR (YOLO)
  DIR/manifest.jsonl            one JSON line per output: source, stream index, parameters

Options:
  --pipeline FILE     the pipeline, JSON or YAML (docs/augment.md)
  --out DIR           output folder (required)
  --masks DIR         masks matched to images by name (labels kept; nearest resampling)
  --boxes PATH        boxes: a COCO json file or a folder of YOLO txt files
  --count N           variants per image, 1 … 100000 (default 10)
  --seed S            integer 0 … 4294967295 (default 1): the same seed writes the same bytes
  --replay FILE       apply the parameters of a manifest.jsonl instead of drawing them
  --grid FILE         also write a PNG preview: originals and variants with mask outlines
                      and boxes (the first 8 images, 6 variants each)
  --device D          auto | cpu | gpu (default auto, or KENSA_DEVICE)
  --adapter A         GPU adapter index or name substring
  --batch N           variants augmented together, 1 … 1024 (default 16)
  --channels C        auto | gray | rgb (default auto: as the file holds them)
  --progress P        auto | tty | json | none (default auto); progress goes to stderr
  --json              print the summary as JSON
  -h, --help          show this help
`;

const FLAGS = {
  pipeline: { type: 'string' },
  out: { type: 'string' },
  masks: { type: 'string' },
  boxes: { type: 'string' },
  count: { type: 'string' },
  seed: { type: 'string' },
  replay: { type: 'string' },
  grid: { type: 'string' },
  device: { type: 'string' },
  adapter: { type: 'string' },
  batch: { type: 'string' },
  channels: { type: 'string' },
  progress: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** One line of manifest.jsonl. */
export interface ManifestLine {
  /** Output files, relative to the output folder. */
  image: string;
  mask?: string;
  /** The source image's name (its path under IMAGES without the extension). */
  source: string;
  variant: number;
  /** The stream the parameters were drawn from: (seed, index). */
  seed: number;
  index: number;
  params: SampleParams;
}

const GRID_ROWS = 8;
const GRID_VARIANTS = 6;

/** Planar C×H×W pixels → PNG (16-bit for u16 and i32 data). */
async function encodePng(data: Uint8Array | Uint16Array | Int32Array, width: number, height: number, channels: number): Promise<Buffer> {
  const n = width * height;
  const wide = !(data instanceof Uint8Array);
  const out = wide ? new Uint16Array(n * channels) : new Uint8Array(n * channels);
  for (let c = 0; c < channels; c++) for (let i = 0; i < n; i++) out[i * channels + c] = Math.min(65535, Math.max(0, data[c * n + i]!));
  const img = sharp(out, { raw: { width, height, channels: channels as 1 | 3 } });
  return (wide ? img.toColourspace(channels === 1 ? 'grey16' : 'rgb16') : img.toColourspace(channels === 1 ? 'b-w' : 'srgb')).png().toBuffer();
}

async function writePng(path: string, data: Uint8Array | Uint16Array | Int32Array, width: number, height: number, channels: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, await encodePng(data, width, height, channels));
}

/** The outputs' boxes, gathered for one COCO file or written as YOLO txt files. */
class BoxWriter {
  readonly #source: BoxSource;
  readonly #out: string;
  readonly #coco = { images: [] as object[], annotations: [] as object[] };
  /** Class ids for string labels (boxes of drawn defects), after the source's own. */
  readonly #named = new Map<string, number>();

  constructor(source: BoxSource, out: string) {
    this.#source = source;
    this.#out = out;
  }

  #classId(label: number | string, taken: readonly number[]): number {
    if (typeof label === 'number') return label;
    let id = this.#named.get(label);
    if (id === undefined) {
      id = Math.max(-1, ...taken, ...this.#named.values()) + 1;
      this.#named.set(label, id);
    }
    return id;
  }

  async add(file: string, boxes: readonly Box[], width: number, height: number, taken: readonly number[]): Promise<void> {
    if (this.#source.format === 'coco') {
      const id = this.#coco.images.length + 1;
      this.#coco.images.push({ id, file_name: file, width, height });
      for (const b of boxes) {
        const [w, h] = [b.x1 - b.x0, b.y1 - b.y0];
        this.#coco.annotations.push({
          id: this.#coco.annotations.length + 1,
          image_id: id,
          category_id: this.#classId(b.label, taken),
          bbox: [b.x0, b.y0, w, h],
          area: w * h,
          iscrowd: 0,
        });
      }
      return;
    }
    const path = join(this.#out, 'labels', file.replace(/\.png$/, '.txt'));
    await mkdir(dirname(path), { recursive: true });
    const f = (v: number) => v.toFixed(6);
    const lines = boxes.map(
      (b) =>
        `${this.#classId(b.label, taken)} ${f((b.x0 + b.x1) / 2 / width)} ${f((b.y0 + b.y1) / 2 / height)} ${f((b.x1 - b.x0) / width)} ${f((b.y1 - b.y0) / height)}`,
    );
    await writeFile(path, lines.length ? `${lines.join('\n')}\n` : '');
  }

  async finish(): Promise<void> {
    const named = [...this.#named].map(([name, id]) => ({ id, name }));
    if (this.#source.format === 'coco') {
      const coco = { ...this.#coco, categories: [...this.#source.categories, ...named] };
      await writeFile(join(this.#out, 'annotations.json'), `${JSON.stringify(coco)}\n`);
    } else if (named.length) {
      await writeFile(join(this.#out, 'labels', 'classes.txt'), named.map((c) => `${c.id} ${c.name}\n`).join(''));
    }
  }
}

/** The manifest's lines by source name, for --replay. */
async function readManifest(path: string): Promise<Map<string, ManifestLine[]>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new KensaError(
      'KENSA_ERR_AUGMENT_DATA',
      `--replay expects a manifest.jsonl file but received '${path}' (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  const bySource = new Map<string, ManifestLine[]>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let m: ManifestLine;
    try {
      m = JSON.parse(line) as ManifestLine;
    } catch {
      throw new KensaError('KENSA_ERR_AUGMENT_DATA', `--replay ${path} line ${i + 1} is not JSON`);
    }
    if (typeof m.source !== 'string' || !Number.isInteger(m.variant) || !('params' in m))
      throw new KensaError('KENSA_ERR_AUGMENT_DATA', `--replay ${path} line ${i + 1}: expected source, variant and params but received ${line.slice(0, 80)}`);
    bySource.set(m.source, [...(bySource.get(m.source) ?? []), m]);
  }
  return bySource;
}

/** An image repeated `n` times as a batch on the backend, with its mask and boxes. */
async function batchOf(be: Backend, item: LoadedItem, n: number, boxes: readonly Box[] | undefined): Promise<AugmentBatch> {
  const { image, mask } = item;
  const frames = new Array(n).fill(image.data);
  const t = await be.framesToDevice(frames, [n, image.channels, image.height, image.width], image.dtype);
  const m = mask ? await be.framesToDevice(new Array(n).fill(mask.data), [n, 1, image.height, image.width], mask.dtype) : undefined;
  return { image: t, ...(m ? { mask: m } : {}), ...(boxes ? { boxes: Array.from({ length: n }, () => [...boxes]) } : {}) };
}

/** The leaf transforms a sample's parameters ran, in order (a caption for the preview). */
function appliedNames(t: Transform, params: SampleParams): string[] {
  if (params === null) return [];
  if (t.kind !== 'container') return [t.name];
  return t.children.flatMap((child, i) => appliedNames(child, (params as readonly SampleParams[])[i] ?? null));
}

const variantName = (name: string, k: number) => `${name}-${String(k).padStart(3, '0')}.png`;

async function cpuData(t: Tensor): Promise<Uint8Array | Uint16Array | Int32Array | Float32Array> {
  const c = await t.toCpu();
  return c.data as Uint8Array | Uint16Array | Int32Array | Float32Array;
}

export async function run(argv: readonly string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  return guard('augment', io, async () => {
    const { values, positionals } = parseFlags(() => parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: true }));
    if (values.help) {
      io.out.write(AUGMENT_HELP);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError(`expects one IMAGES folder but received ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
    if (!values.pipeline) throw new UsageError('--pipeline is required (a JSON or YAML pipeline file, docs/augment.md)');
    if (!values.out) throw new UsageError('--out is required (the folder to write images/, masks/ and manifest.jsonl to)');
    const out = outputFlag('out', values.out, 'folder');
    const count = intFlag('count', values.count, 10, 1, 100_000);
    const seed = intFlag('seed', values.seed, 1, 0, 0xffffffff);
    const batchSize = intFlag('batch', values.batch, 16, 1, 1024);
    const device: DeviceChoice = choiceFlag('device', values.device ?? process.env.KENSA_DEVICE, 'auto', DEVICES);
    const channels = choiceFlag<ChannelChoice>('channels', values.channels, 'auto', ['auto', 'gray', 'rgb']);
    const adapter = adapterFlag(values.adapter);
    const progressMode = choiceFlag('progress', values.progress, 'auto', PROGRESS);
    const progressKind = progressMode === 'auto' ? ((io.err as { isTTY?: boolean }).isTTY ? 'tty' : 'json') : progressMode;
    const onProgress = progressWriter(progressKind, io);

    const pipeline: Transform = await loadPipeline(values.pipeline);
    const replayed = values.replay ? await readManifest(values.replay) : undefined;
    const { items, missingMasks } = listAugmentItems(positionals[0]!, values.masks);
    const boxSource = values.boxes ? await readBoxes(values.boxes) : undefined;
    const problems: string[] = missingMasks.map((name) => `${name}: no mask in ${values.masks} [KENSA_ERR_AUGMENT_DATA]`);
    for (const p of problems) io.err.write(`kensa augment: ${p}\n`);

    const be = await openBackend({ device, ...(adapter !== undefined ? { adapter } : {}) });
    const started = performance.now();
    const meter = new ProgressMeter(items.length * count);
    meter.errors = problems.length;
    const boxWriter = boxSource ? new BoxWriter(boxSource, out) : undefined;
    const manifest: string[] = [];
    const writes: Promise<void>[] = [];
    const grid: GridCell[][] = [];
    let written = 0;
    await mkdir(join(out, 'images'), { recursive: true });
    try {
      for (const [i, item] of items.entries()) {
        if (signal?.aborted) break;
        let loaded: LoadedItem;
        try {
          loaded = await loadItem(item, channels);
        } catch (e) {
          if (!(e instanceof KensaError)) throw e;
          problems.push(`${item.name}: ${e.message} [${e.code}]`);
          io.err.write(`kensa augment: ${problems.at(-1)}\n`);
          meter.errors++;
          continue;
        }
        const { width, height, channels: c } = loaded.image;
        const sourceBoxes = boxSource?.boxesOf(item.name, { width, height });
        const taken = (sourceBoxes ?? []).flatMap((b) => (typeof b.label === 'number' ? [b.label] : []));
        const lines = replayed?.get(item.name) ?? [];
        const variants = replayed ? lines.map((l) => l.variant) : Array.from({ length: count }, (_, k) => k);
        const row: GridCell[] = [];
        if (grid.length < GRID_ROWS && values.grid)
          row.push({
            ...loaded.image,
            ...(loaded.mask ? { mask: loaded.mask.data } : {}),
            ...(sourceBoxes ? { boxes: sourceBoxes } : {}),
            caption: `${item.name} (original)`,
          });
        for (let start = 0; start < variants.length; start += batchSize) {
          const ks = variants.slice(start, start + batchSize);
          const batch = await batchOf(be, loaded, ks.length, sourceBoxes);
          let result: AugmentBatch | undefined;
          let params: readonly SampleParams[];
          try {
            if (replayed) {
              params = lines.slice(start, start + batchSize).map((l) => l.params);
              result = replay(pipeline, batch, params);
            } else {
              const drawn = augment(pipeline, batch, { seed, indices: ks.map((k) => i * count + k) });
              result = drawn.batch;
              params = drawn.params;
            }
          } finally {
            // a pipeline that changed nothing (an empty Compose, every p 0) returns the batch's own tensors
            if (result?.image !== batch.image) batch.image.dispose();
            if (result?.mask !== batch.mask) batch.mask?.dispose();
          }
          const [, , oh, ow] = result.image.shape as [number, number, number, number];
          const pixels = await cpuData(result.image);
          const masks = result.mask ? await cpuData(result.mask) : undefined;
          result.image.dispose();
          result.mask?.dispose();
          if (pixels instanceof Float32Array)
            throw new KensaError(
              'KENSA_ERR_DTYPE',
              'Expected the pipeline to keep u8 or u16 images for PNG output but it returned f32 (drop Normalize for kensa augment)',
            );
          const plane = oh * ow;
          for (const [j, k] of ks.entries()) {
            const file = variantName(item.name, k);
            const img = pixels.subarray(j * c * plane, (j + 1) * c * plane) as Uint8Array | Uint16Array;
            const mask = masks?.subarray(j * plane, (j + 1) * plane) as Uint8Array | Int32Array | undefined;
            // the batch's files encode together (sharp's thread pool); lines and boxes keep their order
            writes.push(writePng(join(out, 'images', file), img, ow, oh, c));
            if (mask) writes.push(writePng(join(out, 'masks', file), mask, ow, oh, 1));
            const boxes = result.boxes?.[j];
            if (boxWriter && boxes) await boxWriter.add(file, boxes, ow, oh, taken);
            // a replay keeps the stream its manifest names
            const stream = replayed ? { seed: lines[start + j]!.seed, index: lines[start + j]!.index } : { seed, index: i * count + k };
            const line: ManifestLine = {
              image: `images/${file}`,
              ...(mask ? { mask: `masks/${file}` } : {}),
              source: item.name,
              variant: k,
              ...stream,
              params: params[j]!,
            };
            manifest.push(JSON.stringify(line));
            if (row.length > 0 && row.length <= GRID_VARIANTS)
              row.push({
                data: img.slice(),
                width: ow,
                height: oh,
                channels: c,
                ...(mask ? { mask: mask.slice() } : {}),
                ...(boxes ? { boxes } : {}),
                caption: `#${k} ${appliedNames(pipeline, params[j]!).join(', ')}`,
              });
            written++;
            meter.done++;
          }
          await Promise.all(writes.splice(0));
          onProgress?.(meter.snapshot({ decoded: 0, batches: 0, batching: 0 }));
        }
        if (row.length) grid.push(row);
      }
      await writeFile(join(out, 'manifest.jsonl'), manifest.length ? `${manifest.join('\n')}\n` : '');
      await boxWriter?.finish();
      if (values.grid && grid.length) await writeGrid(values.grid, grid);
    } finally {
      be.close();
    }
    if (progressKind === 'tty') io.err.write('\n');
    const seconds = (performance.now() - started) / 1000;
    const summary = {
      written,
      images: items.length,
      count,
      seed,
      device: be.name,
      errors: problems.length,
      seconds,
      out,
      ...(values.grid ? { grid: values.grid } : {}),
    };
    if (values.json) io.out.write(`${JSON.stringify(summary)}\n`);
    else
      io.out.write(
        `kensa augment: wrote ${plural(written, 'variant')} of ${plural(items.length + missingMasks.length, 'image')} to ${out} in ${seconds.toFixed(1)} s on ${be.name}` +
          `${problems.length ? `; ${plural(problems.length, 'image')} skipped (see above)` : ''}\n` +
          `  manifest: ${join(out, 'manifest.jsonl')}${values.grid ? `  preview: ${values.grid}` : ''}\n`,
      );
    return problems.length ? EXIT_FAIL : EXIT_OK;
  });
}
