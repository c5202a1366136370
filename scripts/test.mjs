#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner (TypeScript through tsx).
// Node 20's runner does not expand globs, so the files are listed here.
// Two lanes run side by side, each one file at a time: the files that use the GPU (they import
// test/_kit/gpu.js) and the CPU-only files, so two lavapipe processes never share the cores.
// Measured 2026-12-06 on 2 shared cores (CPU time, user + sys, one file after another): GPU files
// 333 s, CPU-only files 109 s. Most of the GPU files' time is lavapipe compiling shaders with
// LLVM, which Mesa's shader cache (~/.cache/mesa_shader_cache_db) keeps between runs:
// test/ops/filters/separable.test.ts took 72 s of CPU with the cache off, 5.7 s with it warm.
// Usage: node scripts/test.mjs [path-substring ...]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}
const filters = process.argv.slice(2);
const files = walk('test')
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const usesGpu = (f) => /_kit\/gpu\.js'/.test(readFileSync(f, 'utf8'));
const reporter = process.stdout.isTTY ? 'spec' : 'tap';

/** Runs one lane; the GPU lane streams its output, the CPU lane's is printed whole when it ends. */
function lane(name, laneFiles, stream) {
  if (laneFiles.length === 0) return Promise.resolve({ name, status: 0, seconds: 0, files: 0 });
  const start = Date.now();
  const args = ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-reporter=${reporter}`, ...laneFiles];
  const child = spawn(process.execPath, args, { stdio: ['ignore', stream ? 'inherit' : 'pipe', stream ? 'inherit' : 'pipe'] });
  const chunks = [];
  child.stdout?.on('data', (c) => chunks.push(c));
  child.stderr?.on('data', (c) => chunks.push(c));
  return new Promise((resolve) => {
    child.on('close', (status) => {
      if (!stream) process.stdout.write(`\n# ---- ${name} lane ----\n${Buffer.concat(chunks).toString()}\n`);
      resolve({ name, status: status ?? 1, seconds: (Date.now() - start) / 1000, files: laneFiles.length });
    });
  });
}

const results = await Promise.all([
  lane('GPU', files.filter(usesGpu), true),
  lane(
    'CPU-only',
    files.filter((f) => !usesGpu(f)),
    false,
  ),
]);
for (const r of results) console.log(`# ${r.name} lane: ${r.files} files, ${r.status === 0 ? 'passed' : 'FAILED'} in ${r.seconds.toFixed(1)} s`);
process.exit(results.some((r) => r.status !== 0) ? 1 : 0);
