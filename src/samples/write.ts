/**
 * Writes a synthetic data set: `out/images/<name>.png|jpg` (grey, 8-bit, or 16-bit PNG),
 * `out/masks/<name>.png` (8-bit, 255 = defect; an all-zero mask for a clean image) and
 * `out/labels.json` (every image with its surface, verdict and defects). Names are
 * `sample-0000`, `sample-0001`, … (at least four digits). The files depend only on the options:
 * the same seed gives byte-identical files, whatever `jobs` is.
 *
 * With jobs > 1 images are generated and encoded on worker threads (piscina), one task per image.
 *
 * @example
 * const summary = await writeSamples({ out: 'data/samples', count: 1000, width: 2048, height: 2048, seed: 7 });
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import sharp from 'sharp';
import { integerInRange, invalidParameter, oneOf } from '../validate.js';
import { DEFECT_CLASSES, type DefectClass, type SampleDefect } from './defects.js';
import { generateSample, resolveSampleOptions, type ResolvedSampleOptions, type SampleOptions } from './generate.js';
import type { SurfaceKind } from './surface.js';

export const SAMPLE_FORMATS = ['png', 'jpg'] as const;
export type SampleFormat = (typeof SAMPLE_FORMATS)[number];

export interface WriteSamplesOptions extends SampleOptions {
  /** Output folder (created if missing). */
  out: string;
  /** Number of images, 1 … 10,000,000. */
  count: number;
  /** png (default) or jpg (quality 92; 8-bit only). Masks are always PNG. */
  format?: SampleFormat;
  /** Worker threads, 1 … 256 (default: os.availableParallelism(), at most count); 1 runs in this thread. */
  jobs?: number;
  /** Replace earlier samples in out (removes out/images, out/masks and out/labels.json first). Default false: refuse. */
  force?: boolean;
  /** Called after each image is written, in completion order. */
  onProgress?: (done: number, total: number) => void;
}

/** One image of labels.json. */
export interface SampleLabel {
  name: string;
  /** Relative to the output folder, with forward slashes. */
  image: string;
  mask: string;
  surface: SurfaceKind;
  verdict: 'OK' | 'NG';
  defects: SampleDefect[];
}

/** labels.json. */
export interface SampleLabels {
  generator: 'kensa samples';
  version: 1;
  options: ResolvedSampleOptions & { count: number; format: SampleFormat };
  images: SampleLabel[];
}

export interface SamplesSummary {
  out: string;
  count: number;
  ok: number;
  ng: number;
  defects: Record<DefectClass, number>;
  /** Bytes of images and masks written. */
  bytes: number;
  seconds: number;
  jobs: number;
}

/** What a worker needs to write one image. */
export interface SampleTask {
  options: ResolvedSampleOptions;
  format: SampleFormat;
  out: string;
  index: number;
  name: string;
}

/** `sample-0042`: zero-padded to the digits of count − 1, at least four. */
export function sampleName(index: number, count: number): string {
  return `sample-${String(index).padStart(Math.max(4, String(Math.max(0, count - 1)).length), '0')}`;
}

/** Encodes a grey image: PNG (8 or 16 bits, as the array) or JPEG (8 bits). */
export async function encodeGrey(pixels: Uint8Array | Uint16Array, width: number, height: number, format: SampleFormat): Promise<Buffer> {
  const input = sharp(pixels, { raw: { width, height, channels: 1 } });
  if (pixels instanceof Uint16Array) return input.toColourspace('grey16').png().toBuffer();
  const grey = input.toColourspace('b-w');
  return format === 'png' ? grey.png().toBuffer() : grey.jpeg({ quality: 92 }).toBuffer();
}

/** Generates, encodes and writes image `task.index`; returns its labels and the bytes written. */
export async function writeSample(task: SampleTask): Promise<{ label: SampleLabel; bytes: number }> {
  const s = generateSample(task.options, task.index);
  const image = `images/${task.name}.${task.format}`;
  const mask = `masks/${task.name}.png`;
  const [img, msk] = await Promise.all([encodeGrey(s.image, s.width, s.height, task.format), encodeGrey(s.mask, s.width, s.height, 'png')]);
  await Promise.all([writeFile(join(task.out, image), img), writeFile(join(task.out, mask), msk)]);
  return {
    label: { name: task.name, image, mask, surface: s.surface, verdict: s.defects.length ? 'NG' : 'OK', defects: s.defects },
    bytes: img.length + msk.length,
  };
}

const nonEmpty = (dir: string) => existsSync(dir) && readdirSync(dir).length > 0;

/** Writes the data set and labels.json; resolves with counts once every file is on disk. */
export async function writeSamples(options: WriteSamplesOptions): Promise<SamplesSummary> {
  const t0 = performance.now();
  const opts = resolveSampleOptions(options);
  const count = integerInRange('count', options.count, 1, 10_000_000);
  const format = oneOf('format', options.format ?? 'png', SAMPLE_FORMATS);
  if (format === 'jpg' && opts.depth === 16) throw invalidParameter('depth', '8 with format "jpg" (JPEG holds 8 bits; use png for 16)', options.depth);
  const jobs = Math.min(count, integerInRange('jobs', options.jobs ?? os.availableParallelism(), 1, 256));
  if (typeof options.out !== 'string' || options.out === '') throw invalidParameter('out', 'a folder path', options.out);
  const out = options.out;
  const old = ['images', 'masks'].map((d) => join(out, d)).filter(nonEmpty);
  if (old.length && !options.force)
    throw invalidParameter('out', `a folder without earlier samples (${old.join(', ')} not empty; force: true replaces them)`, out);
  if (options.force) await Promise.all(['images', 'masks', 'labels.json'].map((p) => rm(join(out, p), { recursive: true, force: true })));
  await mkdir(join(out, 'images'), { recursive: true });
  await mkdir(join(out, 'masks'), { recursive: true });

  const labels: SampleLabel[] = new Array(count);
  let bytes = 0;
  let done = 0;
  const task = (index: number): SampleTask => ({ options: opts, format, out, index, name: sampleName(index, count) });
  const finish = (index: number, r: { label: SampleLabel; bytes: number }) => {
    labels[index] = r.label;
    bytes += r.bytes;
    options.onProgress?.(++done, count);
  };

  if (jobs === 1) {
    // generation is synchronous; keep one encode in flight while the next image is generated
    let pending: Promise<void> | null = null;
    try {
      for (let i = 0; i < count; i++) {
        const p: Promise<void> = writeSample(task(i)).then((r) => finish(i, r));
        if (pending) await pending;
        pending = p;
      }
      if (pending) await pending;
    } catch (e) {
      await pending?.catch(() => undefined);
      throw e;
    }
  } else {
    const ext = extname(fileURLToPath(import.meta.url)); // .ts under tsx, .js when built
    const pool = new Piscina<SampleTask, { label: SampleLabel; bytes: number }>({
      filename: new URL(`./worker${ext}`, import.meta.url).href,
      minThreads: jobs,
      maxThreads: jobs,
      maxQueue: jobs * 4,
    });
    try {
      const inFlight = new Set<Promise<void>>();
      let failure: unknown = null;
      for (let i = 0; i < count && failure === null; i++) {
        const p: Promise<void> = pool.run(task(i)).then(
          (r) => finish(i, r),
          (e: unknown) => {
            failure ??= e;
          },
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        if (inFlight.size >= jobs * 2) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      if (failure !== null) throw failure;
    } finally {
      await pool.destroy();
    }
  }

  const file: SampleLabels = { generator: 'kensa samples', version: 1, options: { ...opts, count, format }, images: labels };
  await writeFile(join(out, 'labels.json'), `${JSON.stringify(file, null, 1)}\n`);
  const defects = Object.fromEntries(DEFECT_CLASSES.map((c) => [c, 0])) as Record<DefectClass, number>;
  for (const l of labels) for (const d of l.defects) defects[d.class]++;
  const ng = labels.filter((l) => l.verdict === 'NG').length;
  return { out, count, ok: count - ng, ng, defects, bytes, seconds: (performance.now() - t0) / 1000, jobs };
}
