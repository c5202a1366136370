import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
