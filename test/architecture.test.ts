/**
 * The import graph of src shows the architecture: each folder is a room with a rank, and a
 * module imports only from rooms of lower rank (or its own). src/gpu ← src/kernels ←
 * src/ops/<family> ← src/detect ← src/pipeline ← src/cli, with the shared root modules at
 * the bottom and the store, evaluation, samples, reports and service beside the chain.
 * Type-only imports count too: a type names the room it belongs to.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..');

/** Rank of each room: an import may go to the same room or a lower rank, never higher. */
const RANKS: Record<string, number> = {
  // shared root: anyone may import these
  'src/dtype.ts': 0,
  'src/errors.ts': 0,
  'src/validate.ts': 0,
  'src/rng.ts': 0,
  // beside the chain, on the shared root only
  'src/eval': 1,
  'src/samples': 1,
  'src/gpu': 2,
  'src/tensor.ts': 3,
  // the backend contract: a tensor's device runs an op's implementation
  'src/device.ts': 3.5,
  'src/kernels': 4,
  // src/ops/*.ts: checks shared by the op families
  'src/ops': 5,
  // src/ops/<family>: families may use one another (acyclic, checked below)
  'src/ops/*': 6,
  'src/backend.ts': 7,
  // the neural-net engine: autograd over the tensors and programs below it
  'src/nn': 7.5,
  // GPU data augmentation: transforms over the ops
  'src/augment': 7.6,
  'src/tiling': 8,
  // model sessions (ONNX Runtime) and the tiny models made in code
  'src/models': 8.5,
  'src/detect': 9,
  // results of detections (the Defect type is detect's)
  'src/store': 9.5,
  'src/pipeline': 10,
  // searches recipes by running the pipeline on labelled images
  'src/tune': 10.5,
  'src/train': 10.6,
  'src/report': 11,
  'src/serve': 12,
  'src/cli': 13,
  // the package's entry points re-export everything
  'src/index.ts': 100,
  'src/internal.ts': 100,
};

/**
 * Arrows that run back up today, each fixed on another branch; an entry that no longer
 * occurs fails the test, so the list only shrinks.
 */
const KNOWN_VIOLATIONS = new Set<string>();

/** The room of a file: its top-level file or folder under src, or src/ops/<family>. */
function roomOf(file: string): string {
  const parts = file.split('/');
  if (parts.length === 2) return file;
  if (parts[1] === 'ops') return parts.length === 3 ? 'src/ops' : `src/ops/${parts[2]}`;
  return `src/${parts[1]}`;
}

function rankOf(room: string): number | undefined {
  return RANKS[room] ?? (room.startsWith('src/ops/') ? RANKS['src/ops/*'] : undefined);
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const p = `${dir}/${name}`;
    if (statSync(join(ROOT, p)).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

interface Arrow {
  from: string;
  to: string;
}

/** Relative imports and re-exports of a file (static, dynamic and type-only), as src paths. */
function importsOf(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
}

const files = sources('src');
const arrows: Arrow[] = files.flatMap((from) => importsOf(from, readFileSync(join(ROOT, from), 'utf8')).map((to) => ({ from, to })));

describe('architecture: the import graph of src', () => {
  test('the parser sees static, type-only, re-exported and dynamic imports', () => {
    const text = [
      "import { a } from '../gpu/gpu.js';",
      "import type {\n  B,\n} from './b.js';",
      "export * from '../../tensor.js';",
      "const m = await import('../pipeline/decode.js');",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    assert.deepEqual(importsOf('src/ops/filters/x.ts', text), ['src/ops/gpu/gpu.ts', 'src/ops/filters/b.ts', 'src/tensor.ts', 'src/ops/pipeline/decode.ts']);
    assert.equal(roomOf('src/ops/image.ts'), 'src/ops');
    assert.equal(roomOf('src/ops/filters/gaussian.ts'), 'src/ops/filters');
    assert.equal(roomOf('src/gpu/wgsl/common.ts'), 'src/gpu');
    assert.equal(roomOf('src/tensor.ts'), 'src/tensor.ts');
  });

  test('every module lives in a room of known rank, and every import resolves to a file', () => {
    const unplaced = [...new Set(files.map(roomOf).filter((room) => rankOf(room) === undefined))];
    assert.deepEqual(unplaced, [], 'give each new room a rank in RANKS');
    const known = new Set(files);
    assert.deepEqual(
      arrows.filter((a) => !known.has(a.to)).map((a) => `${a.from} -> ${a.to}`),
      [],
    );
  });

  test('no arrow runs back up: src/gpu ← src/kernels ← src/ops/<family> ← src/detect ← src/pipeline ← src/cli', () => {
    const up = arrows
      .filter((a) => rankOf(roomOf(a.to))! > rankOf(roomOf(a.from))!)
      .map((a) => `${a.from} -> ${a.to} (${roomOf(a.from)} must not import ${roomOf(a.to)})`);
    const unknown = up.filter((line) => !KNOWN_VIOLATIONS.has(line.split(' (')[0]!));
    assert.deepEqual(unknown, []);
    const stale = [...KNOWN_VIOLATIONS].filter((v) => !up.some((line) => line.startsWith(`${v} (`)));
    assert.deepEqual(stale, [], 'fixed: remove these from KNOWN_VIOLATIONS');
  });

  test('the op families import one another without a cycle', () => {
    const deps = new Map<string, Set<string>>();
    for (const a of arrows) {
      const from = roomOf(a.from);
      const to = roomOf(a.to);
      if (from !== to && rankOf(from) === RANKS['src/ops/*'] && rankOf(to) === RANKS['src/ops/*']) {
        deps.set(from, (deps.get(from) ?? new Set()).add(to));
      }
    }
    const cycles: string[] = [];
    const visit = (room: string, path: string[]): void => {
      if (path.includes(room)) {
        cycles.push([...path.slice(path.indexOf(room)), room].join(' -> '));
        return;
      }
      for (const next of deps.get(room) ?? []) visit(next, [...path, room]);
    };
    for (const room of deps.keys()) visit(room, []);
    assert.deepEqual(cycles, []);
  });

  test('the rooms named in the chain exist', () => {
    for (const room of ['src/gpu', 'src/kernels', 'src/detect', 'src/pipeline', 'src/cli']) {
      assert.ok(
        files.some((f) => roomOf(f) === room),
        room,
      );
    }
  });
});
