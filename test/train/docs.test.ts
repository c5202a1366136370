/** docs/train.md's TypeScript example is tested code: it runs as a module with 'kensa' pointing at the source. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { tempDir } from '../_kit/tmp.js';

const dir = tempDir('kensa-train-doc-test-');
// the example writes under /tmp/kensa-train-doc
after(() => rmSync('/tmp/kensa-train-doc', { recursive: true, force: true }));

test("docs/train.md's example trains a tiny UNet on samples and reads its best weights back", async () => {
  const markdown = readFileSync(new URL('../../docs/train.md', import.meta.url), 'utf8');
  const code = /^```ts\n([\s\S]*?)^```$/m.exec(markdown)![1]!;
  const entry = new URL('../../src/index.ts', import.meta.url).href;
  const file = join(dir, 'example.mts');
  writeFileSync(file, code.replace("from 'kensa'", `from '${entry}'`));
  await import(pathToFileURL(file).href);
});
