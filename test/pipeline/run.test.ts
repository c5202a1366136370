import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../_kit/tmp.js';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import { KensaError } from '../../src/errors.js';
import { deviceLabel, runInspection } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/store.js';
import { writeFrames } from './_images.js';

const COUNT = 24;

async function setup(count = COUNT): Promise<{ dir: string; images: string; db: string; defective: Set<string> }> {
  const dir = tempDir('kensa-run-');
  const images = join(dir, 'images');
  const { defective } = await writeFrames(images, count, 48);
  writeFileSync(join(images, 'corrupt.png'), 'not an image');
  writeFileSync(join(images, 'empty.jpg'), '');
  return { dir, images, db: join(dir, 'kensa.db'), defective };
}

async function storedKeys(db: string, runId: string) {
  const store = await openStore(db);
  try {
    const items = await store.items(runId);
    return { keys: items.map((i) => i.itemKey), counts: await store.counts(runId), run: await store.getRun(runId) };
  } finally {
    await store.close();
  }
}

test('a run stores every item once, flags the defective frames NG and bad files as errors, writes masks', async () => {
  const { dir, images, db, defective } = await setup();
  const backend = await openBackend({ device: 'cpu' });
  const s = await runInspection([images], { db, backend, masksDir: join(dir, 'masks'), batch: { maxCount: 4 } });
  backend.close();
  assert.equal(s.processed, COUNT + 2);
  assert.equal(s.run.status, 'done');
  const { keys, counts } = await storedKeys(db, s.run.id);
  assert.equal(new Set(keys).size, COUNT + 2);
  assert.deepEqual(counts, { total: COUNT + 2, ok: COUNT - defective.size, ng: defective.size, error: 2 });
  const store = await openStore(db);
  const errors = await store.items(s.run.id, { status: 'error' });
  assert.deepEqual(errors.map((e) => e.itemKey).sort(), ['corrupt.png', 'empty.jpg']);
  assert.match(errors.find((e) => e.itemKey === 'empty.jpg')!.error!, /empty file/);
  const ng = await store.items(s.run.id, { status: 'ng' });
  assert.deepEqual(new Set(ng.map((i) => i.itemKey)), defective);
  assert.ok((await store.defects(s.run.id, 'frame002.png')).some((d) => d.class === 'spot'));
  await store.close();
  const masks = readdirSync(join(dir, 'masks')).sort();
  assert.equal(masks.length, COUNT);
  const meta = await sharp(join(dir, 'masks', 'frame001.png')).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels], [48, 48, 1]);
});

test('an interrupted run resumes: finished items are skipped, every item ends up exactly once', async () => {
  // more frames than the pipeline holds in flight (its queues, the workers' batches), so an abort
  // after six results leaves some untouched
  const frames = 60;
  const { images, db } = await setup(frames);
  const backend = await openBackend({ device: 'cpu' });
  const controller = new AbortController();
  let seen = 0;
  const first = await runInspection([images], {
    db,
    backend,
    batch: { maxCount: 2 },
    decodeConcurrency: 1,
    writeBatch: 2,
    signal: controller.signal,
    onItem: () => {
      if (++seen === 6) controller.abort();
    },
  });
  assert.equal(first.interrupted, true);
  assert.equal(first.run.status, 'interrupted');
  assert.ok(first.processed >= 6 && first.processed < frames + 2, `processed ${first.processed}`);
  const resumed = await runInspection([images], { db, backend, resume: first.run.id });
  backend.close();
  assert.equal(resumed.skipped, first.processed);
  assert.equal(resumed.processed + first.processed, frames + 2);
  const { keys, run } = await storedKeys(db, first.run.id);
  assert.equal(keys.length, frames + 2);
  assert.equal(new Set(keys).size, frames + 2);
  assert.equal(run!.status, 'done');
  await assert.rejects(
    runInspection([images], { db, device: 'cpu', resume: 'no-such-run' }),
    /Expected the id of a run in the store for resume but received "no-such-run"/,
  );
  // another folder's files would pass for the run's own under the same relative names
  const other = `${images}-other`;
  cpSync(images, other, { recursive: true });
  await assert.rejects(runInspection([other], { db, device: 'cpu', resume: first.run.id }), {
    message: `Run ${first.run.id} inspected ${JSON.stringify([images])}; resume it with the same sources (this call names ${JSON.stringify([other])})`,
  });
});

test('kill -9 in the middle of a run, then --resume: every item exactly once', async () => {
  // enough frames that the run cannot finish between the check and the kill
  const many = 150;
  const { images, db } = await setup(many);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'inspect', images, '--db', db, '--device', 'cpu', '--batch', '2', '--decode-threads', '1', '--progress', 'json'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const closed = new Promise((r) => child.once('close', r));
  // kill once some batches are in the database (polled through a second connection)
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  let watcher: Awaited<ReturnType<typeof openStore>> | null = null;
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(child.exitCode, null, `the run ended before it could be killed: ${log.slice(-500)}`);
    if (!existsSync(db)) continue;
    watcher ??= await openStore(db, { migrate: false });
    const runs = await watcher.listRuns().catch(() => []);
    if (runs[0] && (await watcher.items(runs[0].id)).length >= 4) break;
  }
  child.kill('SIGKILL');
  await watcher?.close();
  await closed;
  const store = await openStore(db);
  const [run] = await store.listRuns();
  const before = (await store.items(run!.id)).length;
  await store.close();
  assert.equal(run!.status, 'running', 'a killed run stays marked running');
  assert.ok(before >= 4 && before < many + 2, `stored before the kill: ${before}`);
  const resumed = await runInspection([images], { db, device: 'cpu', resume: run!.id });
  const { keys, counts } = await storedKeys(db, run!.id);
  assert.equal(keys.length, many + 2);
  assert.equal(new Set(keys).size, many + 2);
  assert.equal(counts.total, many + 2);
  assert.equal(resumed.skipped, before);
});

test('a missing source fails before any run exists: no orphan run in state running', async () => {
  const dir = tempDir('kensa-run-missing-');
  const db = join(dir, 'kensa.db');
  const backend = await openBackend({ device: 'cpu' });
  try {
    await assert.rejects(runInspection([join(dir, 'nope')], { db, backend }), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: /Expected an existing file, folder, glob, @list or - for source but received ".*nope"/,
    });
    await assert.rejects(runInspection([`${join(dir, 'nowhere')}/*.png`], { db, backend }), /Expected a glob under an existing folder for source/);
  } finally {
    backend.close();
  }
  const store = await openStore(db);
  assert.deepEqual(await store.listRuns(), []);
  await store.close();
});

test('a failure inside a run marks it failed (resumable), not running', async () => {
  const { images, db } = await setup(4);
  const backend = await openBackend({ device: 'cpu' });
  let id = '';
  try {
    await assert.rejects(
      runInspection([images], {
        db,
        backend,
        onStart: ({ run }) => (id = run.id),
        onItem: () => {
          throw new Error('the consumer broke');
        },
      }),
      /the consumer broke/,
    );
  } finally {
    backend.close();
  }
  assert.notEqual(id, '');
  assert.equal((await storedKeys(db, id)).run!.status, 'failed');
});

test('onStart gives the run id before the first image; the scan reports empty sources and what was passed over', async () => {
  const { dir, images, db } = await setup(3);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  writeFileSync(join(empty, 'notes.txt'), 'x');
  symlinkSync(join(images, 'loop.png'), join(images, 'loop.png'));
  symlinkSync(join(dir, 'gone.png'), join(images, 'broken.png'));
  symlinkSync(empty, join(images, 'linked-folder'));
  const backend = await openBackend({ device: 'cpu' });
  const events: string[] = [];
  try {
    const s = await runInspection([images, empty], {
      db,
      backend,
      onStart: (start) => {
        events.push(`start ${start.run.id} ${start.resumed}`);
        assert.equal(start.run.status, 'running');
        assert.equal(start.scan.total, 5);
        assert.deepEqual(start.scan.empty, [empty]);
        assert.deepEqual(start.scan.skipped, [
          { path: join(images, 'broken.png'), reason: 'broken symbolic link' },
          { path: join(images, 'linked-folder'), reason: 'link to a folder (not followed)' },
          { path: join(images, 'loop.png'), reason: 'symbolic link loop' },
        ]);
      },
      onItem: () => events.push('item'),
    });
    assert.equal(events[0], `start ${s.run.id} false`);
    assert.equal(events.length, 1 + 5);
    assert.deepEqual(s.scan.empty, [empty]);
    assert.equal(s.scan.skipped.length, 3);
  } finally {
    backend.close();
  }
});

test("a resume on another device records that device; the run's timings add up its sessions", async () => {
  const { images, db } = await setup(3);
  const backend = await openBackend({ device: 'cpu' });
  try {
    const first = await runInspection([images], { db, backend });
    const store = await openStore(db);
    // as if the first session had run elsewhere
    await store.db.updateTable('runs').set({ device: 'NVIDIA H100 (webgpu)' }).where('id', '=', first.run.id).execute();
    await store.db.updateTable('run_sessions').set({ device: 'NVIDIA H100 (webgpu)' }).where('run_id', '=', first.run.id).execute();
    await store.close();
    const again = await runInspection([images], { db, backend, resume: first.run.id });
    assert.equal(again.run.device, deviceLabel(backend));
    // the run's timings cover both sessions
    assert.equal(again.run.timings.processed, first.processed + again.processed);
    assert.ok(Math.abs(again.run.timings.elapsedMs! - (first.run.timings.elapsedMs! + again.elapsedMs)) < 1e-6);
    const check = await openStore(db);
    assert.deepEqual(
      (await check.sessions(first.run.id)).map((x) => x.device),
      ['NVIDIA H100 (webgpu)', deviceLabel(backend)],
    );
    await check.close();
  } finally {
    backend.close();
  }
});

test('two source folders holding the same file names: keys start with the folder, every item is stored', async () => {
  const dir = tempDir('kensa-run-');
  await writeFrames(join(dir, 'good', 'images'), 3, 32);
  await writeFrames(join(dir, 'samples', 'images'), 3, 32);
  const db = join(dir, 'kensa.db');
  const backend = await openBackend({ device: 'cpu' });
  const a = join(dir, 'good', 'images');
  const b = join(dir, 'samples', 'images');
  const s = await runInspection([a, b], { db, backend });
  backend.close();
  assert.equal(s.run.status, 'done');
  const { keys } = await storedKeys(db, s.run.id);
  assert.equal(new Set(keys).size, 6);
  assert.ok(keys.includes(`${a}/frame000.png`) && keys.includes(`${b}/frame000.png`), keys.join(', '));
});

test('a batch the store rejects fails at once, without a retry and without blaming the database', async () => {
  const { images, db } = await setup(2);
  const store = await openStore(db);
  let writes = 0;
  store.writeResults = async () => {
    writes++;
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', 'Expected results[1].itemKey to be a key not already in this batch');
  };
  const backend = await openBackend({ device: 'cpu' });
  const started = performance.now();
  await assert.rejects(runInspection([images], { store, backend, storeRetryMs: 30_000 }), (e: KensaError) => {
    assert.equal(e.code, 'KENSA_ERR_INVALID_ARGUMENT');
    assert.match(e.message, /^Could not store \d+ results of run \S+: Expected results\[1\]/);
    assert.doesNotMatch(e.message, /database|retried/);
    return true;
  });
  backend.close();
  await store.close();
  assert.equal(writes, 1);
  assert.ok(performance.now() - started < 20_000);
});

test('an interrupt after the last item leaves the run done, not interrupted', async () => {
  const { images, db } = await setup(2);
  const backend = await openBackend({ device: 'cpu' });
  const controller = new AbortController();
  let seen = 0;
  const s = await runInspection([images], {
    db,
    backend,
    signal: controller.signal,
    onItem: () => {
      if (++seen === 4) controller.abort();
    },
  });
  backend.close();
  assert.equal(s.processed, 4);
  assert.equal(s.run.device, 'cpu (TypeScript reference)', 'the CPU label names its kind once');
  assert.equal(s.interrupted, false);
  assert.equal(s.run.status, 'done');
});

test('a golden-template recipe: worker threads open its template, the run stores its sha256, and a changed template cannot resume the run', async () => {
  const dir = tempDir('kensa-run-template-');
  const images = join(dir, 'images');
  const { defective } = await writeFrames(images, 6, 48);
  const path = join(dir, 'template.png');
  const writeFlat = (level: number) =>
    sharp(new Uint8Array(48 * 48).fill(level), { raw: { width: 48, height: 48, channels: 1 } })
      .png()
      .toFile(path);
  await writeFlat(112);
  // the template channel alone: a defect is NG only where the workers compared it with the template
  const recipe = parseRecipe({ gradient: { weight: 0 }, contrast: { background: 0 }, template: { path } });
  const db = join(dir, 'kensa.db');
  const backend = await openBackend({ device: 'cpu' });
  try {
    const s = await runInspection([images], { db, backend, recipe, postWorkers: 1, batch: { maxCount: 2 } });
    const { counts, run } = await storedKeys(db, s.run.id);
    assert.deepEqual(counts, { total: 6, ok: 6 - defective.size, ng: defective.size, error: 0 });
    const stored = run!.recipe as { template: { sha256: string } };
    assert.equal(stored.template.sha256, createHash('sha256').update(readFileSync(path)).digest('hex'));
    await writeFlat(100);
    await assert.rejects(runInspection([images], { db, backend, recipe, resume: s.run.id }), {
      code: 'KENSA_ERR_RECIPE',
      message: new RegExp(`^Run ${s.run.id} was judged by recipe ${run!.recipeHash.slice(0, 12)}; resume it with the same recipe`),
    });
  } finally {
    backend.close();
  }
});
