/**
 * `kensa samples`: writes a synthetic inspection data set (src/samples): grey images of brushed,
 * textured or noisy surfaces with cracks, scratches and spots, their ground-truth masks and
 * labels.json, deterministically from a seed. Exit code 0, 2 on bad flags.
 */
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { plural } from '../report/html.js';
import { SAMPLE_KINDS, type SampleKind } from '../samples/generate.js';
import { SAMPLE_FORMATS, writeSamples, type SampleFormat } from '../samples/write.js';
import { EXIT_OK, UsageError, choiceFlag, guard, intFlag, numberFlag, outputFlag, parseFlags, type CliIO } from './io.js';

export const SAMPLES_HELP = `Usage: kensa samples --out <dir> [options]

Generates synthetic inspection images (brushed metal, knurled or cast texture, noisy camera)
with cracks, scratches and spots, and their ground truth, deterministically from a seed:
  <dir>/images/sample-NNNN.png|jpg   grey, 8-bit (16-bit PNG with --depth 16)
  <dir>/masks/sample-NNNN.png        8-bit, 255 = defect
  <dir>/labels.json                  per image: surface, verdict OK/NG, defects (class, bbox, area)

Options:
  --out <dir>          output folder (required)
  --count <n>          number of images, 1 … 10000000 (default 100)
  --size <W>x<H>       image size, sides 1 … 16384 (default 1024x1024)
  --seed <s>           integer 0 … 4294967295 (default 1); the same seed writes the same bytes
  --kind <k>           brushed | textured | noisy | mixed (default mixed: one of the three per image)
  --format <f>         png | jpg (default png; masks are always PNG)
  --depth <d>          8 | 16 bits per pixel (default 8; 16 needs png)
  --ok-fraction <f>    share of images without defects, 0 … 1 (default 0.25)
  --max-defects <n>    most defects on one image, 1 … 50 (default 4)
  --jobs <n>           worker threads, 1 … 256 (default: the available cores)
  --force              replace the samples already in <dir> (images/, masks/, labels.json)
  --json               print the summary as JSON
  -h, --help           show this help
`;

const FLAGS = {
  out: { type: 'string' },
  count: { type: 'string' },
  size: { type: 'string' },
  seed: { type: 'string' },
  kind: { type: 'string' },
  format: { type: 'string' },
  depth: { type: 'string' },
  'ok-fraction': { type: 'string' },
  'max-defects': { type: 'string' },
  jobs: { type: 'string' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `--size 640x480` → [640, 480]. */
export function sizeFlag(v: string | undefined, fallback: [number, number], max: number): [number, number] {
  if (v === undefined) return fallback;
  const m = /^(\d+)x(\d+)$/i.exec(v.trim());
  const w = m ? Number(m[1]) : NaN;
  const h = m ? Number(m[2]) : NaN;
  if (!m || w < 1 || h < 1 || w > max || h > max)
    throw new UsageError(`--size expects <width>x<height> with sides between 1 and ${max} (e.g. 2048x2048) but received '${v}'`);
  return [w, h];
}

export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  return guard('samples', io, async () => {
    const { values } = parseFlags(() => parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
    if (values.help) {
      io.out.write(SAMPLES_HELP);
      return EXIT_OK;
    }
    const out = values.out;
    if (out === undefined || out === '') throw new UsageError('--out is required (the folder to write images/, masks/ and labels.json to)');
    outputFlag('out', out, 'folder');
    const count = intFlag('count', values.count, 100, 1, 10_000_000);
    const [width, height] = sizeFlag(values.size, [1024, 1024], 16384);
    const seed = intFlag('seed', values.seed, 1, 0, 0xffffffff);
    const kind = choiceFlag<SampleKind>('kind', values.kind, 'mixed', SAMPLE_KINDS);
    const format = choiceFlag<SampleFormat>('format', values.format, 'png', SAMPLE_FORMATS);
    const depth = Number(choiceFlag('depth', values.depth, '8', ['8', '16'] as const)) as 8 | 16;
    if (depth === 16 && format === 'jpg') throw new UsageError('--depth 16 needs --format png (JPEG holds 8 bits)');
    const okFraction = numberFlag('ok-fraction', values['ok-fraction'], 0.25, 0, 1);
    const maxDefects = intFlag('max-defects', values['max-defects'], 4, 1, 50);
    const jobs = intFlag('jobs', values.jobs, Math.min(count, os.availableParallelism()), 1, 256);
    if (!values.force) {
      const old = ['images', 'masks'].map((d) => join(out, d)).filter((d) => existsSync(d) && readdirSync(d).length > 0);
      if (old.length) throw new UsageError(`--out already holds samples (${old.join(', ')} not empty); pass --force to replace them or choose another folder`);
    }

    const s = await writeSamples({ out, count, width, height, seed, kind, format, depth, okFraction, maxDefects, jobs, force: values.force === true });
    if (values.json) {
      io.out.write(`${JSON.stringify({ ...s, width, height, seed, kind, format, depth }, null, 2)}\n`);
      return EXIT_OK;
    }
    io.out.write(
      `kensa samples: wrote ${plural(count, 'image')} of ${width}×${height} (${format}, ${depth}-bit, ${kind}, seed ${seed}) to ${out} in ${s.seconds.toFixed(1)} s` +
        ` (${(count / s.seconds).toFixed(1)} images/s, ${plural(s.jobs, 'job')})\n` +
        `  ${s.ng} NG, ${s.ok} OK; defects: ${plural(s.defects.crack, 'crack')}, ${plural(s.defects.scratch, 'scratch')}, ${plural(s.defects.spot, 'spot')}\n` +
        `  images: ${join(out, 'images')}  masks: ${join(out, 'masks')}  labels: ${join(out, 'labels.json')}\n`,
    );
    return EXIT_OK;
  });
}
