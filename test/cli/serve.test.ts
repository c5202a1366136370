import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { run } from '../../src/cli/main.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';

const dir = tempDir('kensa-cli-serve-');

/** Runs a command in-process until `stop` aborts it; resolves with its exit code and what it wrote. */
function start(argv: string[], stop: AbortSignal) {
  const buf = { out: '', err: '' };
  const io = { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } };
  const code = run(argv, io);
  stop.addEventListener('abort', () => process.emit('SIGTERM', 'SIGTERM'), { once: true });
  return { buf, code };
}

async function address(buf: { err: string }): Promise<string> {
  for (;;) {
    const m = /listening on (http:\/\/\S+)/.exec(buf.err);
    if (m) return m[1]!;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('kensa serve: listens, inspects a posted PNG, logs JSON lines, and on SIGTERM stores the run as done and exits 0', async () => {
  const db = join(dir, 'serve.db');
  const stop = new AbortController();
  const { buf, code } = start(['serve', '--device', 'cpu', '--port', '0', '--db', db, '--token', 't0k', '--warm', '32x32'], stop.signal);
  const base = await address(buf);
  const image = await sharp(new Uint8Array(32 * 32).fill(90), { raw: { width: 32, height: 32, channels: 1 } })
    .png()
    .toBuffer();
  const denied = await fetch(`${base}/v1/inspect`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image });
  assert.equal(denied.status, 401);
  const res = await fetch(`${base}/v1/inspect?key=one`, { method: 'POST', headers: { 'content-type': 'image/png', authorization: 'Bearer t0k' }, body: image });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { verdict: string }).verdict, 'OK');
  for (;;) {
    const ready = await fetch(`${base}/ready`);
    if (ready.status === 200) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  stop.abort();
  assert.equal(await code, 0, buf.err);
  const logLine = buf.out.split('\n').find((l) => l.includes('"url":"/v1/inspect?key=one"'));
  assert.ok(logLine, 'pino logged the request');
  assert.equal(JSON.parse(logLine).level, 30);
  const store = await openStore(db);
  const [serviceRun] = await store.listRuns();
  assert.equal(serviceRun?.status, 'done');
  assert.equal(serviceRun?.options.service, true);
  assert.deepEqual(
    (await store.items(serviceRun!.id)).map((i) => i.itemKey),
    ['one'],
  );
  await store.close();
});

test('kensa serve: a bad flag (--warm, --model) is a usage error (exit 2); kensa dashboard --help names --db', async () => {
  const stop = new AbortController();
  const bad = start(['serve', '--warm', '1920by1080'], stop.signal);
  assert.equal(await bad.code, 2);
  assert.match(bad.buf.err, /--warm expects sizes WxH/);
  const model = start(['serve', '--model', 'unet.onnx'], stop.signal);
  assert.equal(await model.code, 2);
  assert.match(model.buf.err, /--model expects NAME=PATH \(e\.g\. unet=models\/unet\.onnx\) but received 'unet\.onnx'/);
  const help = start(['dashboard', '--help'], stop.signal);
  assert.equal(await help.code, 0);
  assert.match(help.buf.out, /--db URL/);
});

test("README's kensa serve command runs as written (on the CPU, a free port, a temporary store and a small warm-up added), and its curl request gets a mask", async () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## `kensa serve`'));
  const command = /^npx kensa (serve .*)$/m.exec(section)?.[1];
  const curl = /^curl .*'localhost:8080(\/v1\/inspect\?mask=png)'$/m.exec(section)?.[1];
  assert.ok(command && curl, 'the section has the serve command and the curl line');
  const stop = new AbortController();
  const extra = ['--device', 'cpu', '--db', join(dir, 'readme.db'), '--port', '0', '--warm', '32x32'];
  const { buf, code } = start([...command.split(' '), ...extra], stop.signal);
  const base = await address(buf);
  const image = await sharp(new Uint8Array(48 * 48).fill(120), { raw: { width: 48, height: 48, channels: 1 } })
    .png()
    .toBuffer();
  const res = await fetch(`${base}${curl}`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { verdict: string; mask: string };
  assert.equal(body.verdict, 'OK');
  assert.equal((await sharp(Buffer.from(body.mask, 'base64')).metadata()).width, 48);
  stop.abort();
  assert.equal(await code, 0, buf.err);
});
