import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES, isKensaError, KensaError } from '../src/errors.js';

test('docs/errors.md lists exactly the codes of src/errors.ts with the same meaning', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `(KENSA_ERR_[A-Z_]+)` \| (.*) \|$/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(Object.fromEntries(rows), { ...ERROR_CODES });
});

test('KensaError carries its code and is recognised by isKensaError', () => {
  const e = new KensaError('KENSA_ERR_SHAPE', 'bad shape');
  assert.ok(isKensaError(e));
  assert.ok(isKensaError(e, 'KENSA_ERR_SHAPE'));
  assert.ok(!isKensaError(e, 'KENSA_ERR_DTYPE'));
  assert.ok(!isKensaError(new Error('x')));
});

test('src throws no plain Error: every error a user can meet carries a code of the catalog', () => {
  const root = new URL('../src/', import.meta.url);
  const found: string[] = [];
  for (const file of readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
    readFileSync(new URL(file, root), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/\bnew (Type|Range)?Error\(/.test(line)) found.push(`src/${file}:${i + 1}`);
      });
  }
  assert.deepEqual(found, []);
});
