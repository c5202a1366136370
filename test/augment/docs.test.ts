/** docs/augment.md's TypeScript snippets run (on the CPU), with `'kensa'` pointing at the source entry point. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { fromYAML } from '../../src/augment/index.js';
import { tempDir } from '../_kit/tmp.js';

const DOC = readFileSync(new URL('../../docs/augment.md', import.meta.url), 'utf8');
const ENTRY = new URL('../../src/index.ts', import.meta.url).href;

describe('docs/augment.md', () => {
  test('its ts snippets run', async () => {
    const blocks = [...DOC.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    assert.ok(blocks.length >= 1);
    const dir = tempDir('kensa-augment-docs-');
    for (const [i, code] of blocks.entries()) {
      const file = join(dir, `snippet-${i}.mts`);
      writeFileSync(file, code.replace(/from 'kensa'/g, `from '${ENTRY}'`).replace(/console\.log\(/g, 'void ('));
      await import(pathToFileURL(file).href);
    }
  });

  test('its YAML pipeline reads', () => {
    const yaml = [...DOC.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    assert.equal(yaml.length, 1);
    assert.equal(fromYAML(yaml[0]!).name, 'Compose');
  });
});
