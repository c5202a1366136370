import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { AUGMENT_HELP, type ManifestLine, run } from '../../src/cli/augment.js';
import { run as kensa } from '../../src/cli/main.js';
import { run as samples } from '../../src/cli/samples.js';
import { adapterSkip } from '../_kit/gpu.js';

const noAdapter = await adapterSkip();
const root = mkdtempSync(join(tmpdir(), 'kensa-cli-augment-'));
after(() => rmSync(root, { recursive: true, force: true }));
const data = join(root, 'data');
const pipeline = join(root, 'aug.yaml');

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

/** Every file under a folder with its bytes. */
function tree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (f.isFile()) files.set(join(f.parentPath, f.name).slice(dir.length), readFileSync(join(f.parentPath, f.name)));
  return files;
}

function manifest(dir: string): ManifestLine[] {
  return readFileSync(join(dir, 'manifest.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ManifestLine);
}

before(async () => {
  const c = capture();
  assert.equal(await samples(['--out', data, '--count', '3', '--size', '40x24', '--seed', '5', '--jobs', '1'], c.io), 0, c.buf.err);
  writeFileSync(
    pipeline,
    [
      'version: 1',
      'transform:',
      '  name: Compose',
      '  transforms:',
      '    - { name: HorizontalFlip, p: 0.5 }',
      '    - { name: VerticalFlip, p: 0.5 }',
      '    - { name: Crack, p: 0.7 }',
      '',
    ].join('\n'),
  );
});

describe('kensa augment', () => {
  test('writes count variants of each image and mask, a manifest and a preview; the same seed writes the same bytes', async () => {
    const out = join(root, 'a');
    const grid = join(root, 'preview.png');
    const c = capture();
    const argv = [
      join(data, 'images'),
      '--masks',
      join(data, 'masks'),
      '--pipeline',
      pipeline,
      '--count',
      '4',
      '--seed',
      '3',
      '--device',
      'cpu',
      '--progress',
      'none',
    ];
    assert.equal(await run([...argv, '--out', out, '--grid', grid], c.io), 0, c.buf.err);
    assert.match(c.buf.out, /^kensa augment: wrote 12 variants of 3 images to .* on cpu/);
    assert.equal(readdirSync(join(out, 'images')).length, 12);
    assert.equal(readdirSync(join(out, 'masks')).length, 12);
    const lines = manifest(out);
    assert.deepEqual(
      lines.map((l) => [l.source, l.variant, l.index]),
      [0, 1, 2].flatMap((i) => [0, 1, 2, 3].map((k) => [`sample-000${i}`, k, i * 4 + k])),
    );
    assert.ok(
      lines.some((l) => JSON.stringify(l.params).includes('"crack"')),
      'some variant drew a crack',
    );
    const meta = await sharp(join(out, lines[0]!.image)).metadata();
    assert.deepEqual([meta.width, meta.height, meta.channels], [40, 24, 1]);
    const preview = await sharp(grid).metadata();
    assert.ok(preview.width! > 5 * 40 && preview.height! > 3 * 24, 'a grid of 3 rows of 1 + 4 cells');

    const again = join(root, 'a2');
    assert.equal(await run([...argv, '--out', again, '--batch', '3'], capture().io), 0);
    assert.deepEqual(tree(again), tree(out), 'another batch size, the same bytes');
  });

  test('--replay applies a manifest: the same bytes without drawing', async () => {
    const out = join(root, 'r1');
    const argv = [join(data, 'images'), '--masks', join(data, 'masks'), '--pipeline', pipeline, '--device', 'cpu', '--progress', 'none'];
    assert.equal(await run([...argv, '--count', '3', '--seed', '11', '--out', out], capture().io), 0);
    const replayed = join(root, 'r2');
    const c = capture();
    assert.equal(await run([...argv, '--replay', join(out, 'manifest.jsonl'), '--out', replayed], c.io), 0, c.buf.err);
    assert.deepEqual(tree(replayed), tree(out));
  });

  test('COCO boxes move with the image and drawn defects add theirs; YOLO folders are read and written', async () => {
    const images = join(root, 'boxes-images');
    mkdirSync(images);
    // a bright 6×4 block at x 2..7, y 3..6 of a 20×10 image: its box must follow it
    const px = new Uint8Array(200);
    for (let y = 3; y < 7; y++) for (let x = 2; x < 8; x++) px[y * 20 + x] = 255;
    await sharp(px, { raw: { width: 20, height: 10, channels: 1 } })
      .png()
      .toFile(join(images, 'block.png'));
    const coco = {
      images: [{ id: 7, file_name: 'block.png', width: 20, height: 10 }],
      annotations: [{ id: 1, image_id: 7, bbox: [2, 3, 6, 4], category_id: 3 }],
      categories: [{ id: 3, name: 'block' }],
    };
    writeFileSync(join(root, 'coco.json'), JSON.stringify(coco));
    const flips = join(root, 'flip.yaml');
    writeFileSync(
      flips,
      JSON.stringify({
        version: 1,
        transform: {
          name: 'Compose',
          transforms: [
            { name: 'HorizontalFlip', p: 0.5 },
            { name: 'Spot', p: 1 },
          ],
        },
      }),
    );
    const out = join(root, 'coco-out');
    const c = capture();
    assert.equal(
      await run([images, '--boxes', join(root, 'coco.json'), '--pipeline', flips, '--count', '4', '--device', 'cpu', '--progress', 'none', '--out', out], c.io),
      0,
      c.buf.err,
    );
    const written = JSON.parse(readFileSync(join(out, 'annotations.json'), 'utf8')) as {
      images: { id: number; file_name: string }[];
      annotations: { image_id: number; bbox: number[]; category_id: number }[];
      categories: { id: number; name: string }[];
    };
    assert.deepEqual(written.categories, [
      { id: 3, name: 'block' },
      { id: 4, name: 'spot' },
    ]);
    assert.equal(written.images.length, 4);
    const lines = manifest(out);
    for (const [k, im] of written.images.entries()) {
      const flipped = (lines[k]!.params as unknown[])[0] === true;
      const block = written.annotations.filter((a) => a.image_id === im.id && a.category_id === 3);
      assert.deepEqual(
        block.map((a) => a.bbox),
        [[flipped ? 12 : 2, 3, 6, 4]],
        `${im.file_name}: the block's box follows the flip`,
      );
      assert.ok(
        written.annotations.some((a) => a.image_id === im.id && a.category_id === 4),
        'the drawn spot has its box',
      );
    }
    assert.ok(new Set(lines.map((l) => (l.params as unknown[])[0])).size === 2, 'flipped and not flipped');

    const yolo = join(root, 'yolo');
    mkdirSync(yolo);
    writeFileSync(join(yolo, 'block.txt'), '3 0.25 0.5 0.3 0.4\n');
    const yout = join(root, 'yolo-out');
    assert.equal(
      await run([images, '--boxes', yolo, '--pipeline', flips, '--count', '2', '--device', 'cpu', '--progress', 'none', '--out', yout], capture().io),
      0,
    );
    const label = readFileSync(join(yout, 'labels', 'block-000.txt'), 'utf8')
      .trim()
      .split('\n');
    assert.match(label[0]!, /^3 0\.(250000|750000) 0\.500000 0\.300000 0\.400000$/);
    assert.match(label[1]!, /^4 /);
    assert.equal(readFileSync(join(yout, 'labels', 'classes.txt'), 'utf8'), '4 spot\n');
  });

  test('a pipeline that changes nothing (an empty Compose, a transform of p 0) writes the images as they are', async () => {
    const input = join(data, 'images');
    for (const [name, body] of [
      ['empty', 'version: 1\ntransform: { name: Compose, transforms: [] }\n'],
      ['never', 'version: 1\ntransform: { name: OneOf, transforms: [{ name: HorizontalFlip, p: 0 }] }\n'],
    ] as const) {
      const file = join(root, `${name}.yaml`);
      writeFileSync(file, body);
      const out = join(root, `identity-${name}`);
      const c = capture();
      assert.equal(await run([input, '--pipeline', file, '--count', '2', '--device', 'cpu', '--progress', 'none', '--out', out], c.io), 0, c.buf.err);
      const written = tree(out);
      const original = await sharp(join(input, 'sample-0000.png')).raw().toBuffer();
      assert.deepEqual(await sharp(written.get('/images/sample-0000-001.png')!).raw().toBuffer(), original);
      assert.equal([...written.keys()].filter((k) => k.startsWith('/images/')).length, 6);
    }
  });

  test('bad inputs: one line each; an image without a mask or with a mask of another size is skipped and the rest written', async () => {
    const images = join(root, 'bad-images');
    const masks = join(root, 'bad-masks');
    mkdirSync(images);
    mkdirSync(masks);
    const grey = (w: number, h: number) => sharp(new Uint8Array(w * h), { raw: { width: w, height: h, channels: 1 } }).png();
    await grey(16, 8).toFile(join(images, 'good.png'));
    await grey(16, 8).toFile(join(masks, 'good.png'));
    await grey(16, 8).toFile(join(images, 'nomask.png'));
    await grey(16, 8).toFile(join(images, 'wrong.png'));
    await grey(8, 8).toFile(join(masks, 'wrong.png'));
    writeFileSync(join(images, 'broken.png'), 'not a png');
    await grey(16, 8).toFile(join(masks, 'broken.png'));
    const out = join(root, 'bad-out');
    let c = capture();
    const argv = ['--pipeline', pipeline, '--count', '2', '--device', 'cpu', '--progress', 'none', '--out', out];
    assert.equal(await run([images, '--masks', masks, ...argv], c.io), 1);
    const errs = c.buf.err.trim().split('\n');
    assert.equal(errs.length, 3, c.buf.err);
    assert.match(errs[0]!, /^kensa augment: nomask: no mask in .*bad-masks \[KENSA_ERR_AUGMENT_DATA\]$/);
    assert.match(errs[1]!, /^kensa augment: broken: Cannot decode .*broken\.png: .* \[KENSA_ERR_DECODE\]$/);
    assert.match(errs[2]!, /^kensa augment: wrong: The mask of wrong is 8×8 but its image is 16×8 \(.*\) \[KENSA_ERR_AUGMENT_DATA\]$/);
    assert.deepEqual(readdirSync(join(out, 'images')).sort(), ['good-000.png', 'good-001.png']);
    assert.match(c.buf.out, /wrote 2 variants of 4 images .*; 3 images skipped/);

    c = capture();
    assert.equal(await run([join(root, 'missing'), ...argv], c.io), 1);
    assert.equal(
      c.buf.err,
      `kensa augment: IMAGES expects a folder of images but received '${join(root, 'missing')}' (not a folder) [KENSA_ERR_AUGMENT_DATA]\n`,
    );
    const badPipeline = join(root, 'bad.yaml');
    writeFileSync(badPipeline, 'version: 1\ntransform: { name: Compose, transforms: [{ name: Crack, p: 2 }] }\n');
    c = capture();
    assert.equal(await run([images, '--pipeline', badPipeline, '--out', out, '--device', 'cpu'], c.io), 1);
    assert.equal(
      c.buf.err,
      `kensa augment: ${badPipeline}: Expected a number at most 1 for transform.transforms[0].p but received 2 of type number [KENSA_ERR_AUGMENT]\n`,
    );
    c = capture();
    assert.equal(await run([images, '--out', out], c.io), 2);
    assert.match(c.buf.err, /^kensa augment: --pipeline is required/);
    c = capture();
    assert.equal(await run(['--help'], c.io), 0);
    assert.equal(c.buf.out, AUGMENT_HELP);
  });

  test("the README's commands run as written (CPU device)", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Augmentation'));
    const commands = /```sh\n([\s\S]*?)```/.exec(section)![1]!.trim().split('\n');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
    const dir = join(root, 'readme');
    mkdirSync(dir);
    writeFileSync(join(dir, 'aug.yaml'), yaml);
    const device = process.env.KENSA_DEVICE;
    process.env.KENSA_DEVICE = 'cpu';
    try {
      for (const line of commands) {
        const argv = line.replace(/#.*$/, '').trim().split(/\s+/);
        assert.deepEqual(argv.slice(0, 2), ['npx', 'kensa']);
        // paths relative to the folder the commands run in
        const args = argv.slice(2).map((a, i, all) => (i > 0 && !a.startsWith('-') && !/^[\d.x]+$/.test(a) && all[i - 1] !== '--seed' ? join(dir, a) : a));
        const c = capture();
        assert.equal(await kensa(args, c.io), 0, `${line}: ${c.buf.err}`);
      }
    } finally {
      if (device === undefined) delete process.env.KENSA_DEVICE;
      else process.env.KENSA_DEVICE = device;
    }
    assert.equal(readdirSync(join(dir, 'augmented', 'images')).length, 20);
    assert.ok(manifest(join(dir, 'augmented')).some((l) => /"class":"(crack|scratch|pit|stain|cutpaste)"/.test(JSON.stringify(l.params))));
    assert.ok((await sharp(join(dir, 'preview.png')).metadata()).width! > 0);
  });

  test('on a GPU (lavapipe) a pipeline of flips and defects writes the bytes the CPU writes', { skip: noAdapter }, async () => {
    const flips = join(root, 'flips.yaml');
    writeFileSync(
      flips,
      JSON.stringify({
        version: 1,
        transform: {
          name: 'Compose',
          transforms: [
            { name: 'HorizontalFlip', p: 0.5 },
            { name: 'VerticalFlip', p: 0.5 },
            { name: 'Scratch', p: 0.5 },
            { name: 'CutPaste', p: 0.5 },
          ],
        },
      }),
    );
    const argv = [join(data, 'images'), '--masks', join(data, 'masks'), '--pipeline', flips, '--count', '2', '--progress', 'none'];
    const cpu = join(root, 'dev-cpu');
    const gpu = join(root, 'dev-gpu');
    assert.equal(await run([...argv, '--device', 'cpu', '--out', cpu], capture().io), 0);
    const c = capture();
    assert.equal(await run([...argv, '--device', 'gpu', '--out', gpu], c.io), 0, c.buf.err);
    assert.doesNotMatch(c.buf.out, /on cpu/);
    assert.deepEqual(tree(gpu), tree(cpu));
  });
});
