import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import * as kensa from '../src/index.js';
import * as internal from '../src/internal.js';

// A name that vanishes or appears must be a decision: regenerate with UPDATE_API_SURFACE=1.
function assertSurface(module: object, snapshot: string): void {
  const file = new URL(snapshot, import.meta.url);
  const names = Object.keys(module).sort();
  if (process.env.UPDATE_API_SURFACE === '1') writeFileSync(file, `${JSON.stringify(names, null, 2)}\n`);
  assert.deepEqual(names, JSON.parse(readFileSync(file, 'utf8')));
}

test('the public API surface matches test/api-surface.json', () => {
  assertSurface(kensa, './api-surface.json');
});

test('the kensa/internal surface matches test/api-surface.internal.json', () => {
  assertSurface(internal, './api-surface.internal.json');
});

test('the public API and kensa/internal share no name', () => {
  assert.deepEqual(
    Object.keys(internal).filter((name) => name in kensa),
    [],
  );
});
