/**
 * scripts/test.mjs runs the files that import test/_kit/gpu.js one at a time and the rest beside
 * them; a file that reaches a GPU without that import would run two GPU files at once.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const TEST_DIR = join(import.meta.dirname, '..');
/** Calls that open or look for a device. */
const REACHES_GPU = /Gpu\.open\(|listAdapters\(|\.toGpu\(|openBackend\((\)|\{ device: '(gpu|auto)')|'--device', '(gpu|auto)'/;

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? testFiles(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

test('every test file that reaches a GPU imports test/_kit/gpu.js (the GPU lane of scripts/test.mjs)', () => {
  const stray = testFiles(TEST_DIR).filter((f) => {
    if (f === import.meta.filename) return false;
    const text = readFileSync(f, 'utf8');
    return REACHES_GPU.test(text) && !/_kit\/gpu\.js'/.test(text);
  });
  assert.deepEqual(stray, []);
  assert.ok(REACHES_GPU.test("const be = await openBackend({ device: 'auto' });") && !REACHES_GPU.test("openBackend({ device: 'cpu' })"));
});
