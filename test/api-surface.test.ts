import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import * as kensa from '../src/index.js';

// A public name that vanishes or appears must be a decision: regenerate with UPDATE_API_SURFACE=1.
test('the public API surface matches test/api-surface.json', () => {
  const file = new URL('./api-surface.json', import.meta.url);
  const names = Object.keys(kensa).sort();
  if (process.env.UPDATE_API_SURFACE === '1') writeFileSync(file, JSON.stringify(names, null, 2) + '\n');
  assert.deepEqual(names, JSON.parse(readFileSync(file, 'utf8')));
});
