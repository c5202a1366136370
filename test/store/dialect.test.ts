import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStoreUrl } from '../../src/store/dialect.js';

test('a path, sqlite:PATH, sqlite:///PATH and :memory: name SQLite', () => {
  assert.deepEqual(parseStoreUrl('kensa.db'), { dialect: 'sqlite', target: 'kensa.db', display: 'sqlite:kensa.db' });
  assert.deepEqual(parseStoreUrl('/data/runs.db'), { dialect: 'sqlite', target: '/data/runs.db', display: 'sqlite:/data/runs.db' });
  assert.deepEqual(parseStoreUrl('sqlite:out/kensa.db'), { dialect: 'sqlite', target: 'out/kensa.db', display: 'sqlite:out/kensa.db' });
  assert.deepEqual(parseStoreUrl('sqlite:///abs/kensa.db'), { dialect: 'sqlite', target: '/abs/kensa.db', display: 'sqlite:/abs/kensa.db' });
  assert.deepEqual(parseStoreUrl(':memory:'), { dialect: 'sqlite', target: ':memory:', display: 'sqlite::memory:' });
  assert.equal(parseStoreUrl('C:\\runs\\kensa.db').dialect, 'sqlite');
});

test('postgres:// and postgresql:// name PostgreSQL; the password is masked for messages', () => {
  assert.deepEqual(parseStoreUrl('postgres://u:secret@db:5432/kensa'), {
    dialect: 'postgres',
    target: 'postgres://u:secret@db:5432/kensa',
    display: 'postgres://u:***@db:5432/kensa',
  });
  assert.deepEqual(parseStoreUrl('postgresql://u@db/kensa'), { dialect: 'postgres', target: 'postgresql://u@db/kensa', display: 'postgresql://u@db/kensa' });
});

test('mysql:// and mariadb:// name MySQL/MariaDB (the driver gets mysql://)', () => {
  assert.deepEqual(parseStoreUrl('mysql://root:pw@127.0.0.1:3306/test'), {
    dialect: 'mysql',
    target: 'mysql://root:pw@127.0.0.1:3306/test',
    display: 'mysql://root:***@127.0.0.1:3306/test',
  });
  assert.deepEqual(parseStoreUrl('mariadb://root@h/test'), { dialect: 'mysql', target: 'mysql://root@h/test', display: 'mysql://root@h/test' });
});

test('anything else is an argument error naming what is accepted', () => {
  const expected = 'a file path, sqlite:PATH, postgres://… or mysql://… URL';
  for (const [url, received] of [
    ['', '"" of type string'],
    ['   ', '"   " of type string'],
    ['sqlite:', '"sqlite:" of type string'],
    ['mongodb://h/db', '"mongodb://h/db" of type string'],
    [42, '42 of type number'],
    [undefined, 'undefined of type undefined'],
  ] as const) {
    assert.throws(() => parseStoreUrl(url), { code: 'KENSA_ERR_INVALID_ARGUMENT', message: `Expected ${expected} for url but received ${received}` });
  }
});
