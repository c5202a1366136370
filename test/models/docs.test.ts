/** docs/unet.md's TypeScript example is tested code: it runs as a module with 'kensa' pointing at the source. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';

const dir = mkdtempSync(join(tmpdir(), 'kensa-unet-doc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("docs/unet.md's example trains a tiny UNet and round-trips its weights", async () => {
  const markdown = readFileSync(new URL('../../docs/unet.md', import.meta.url), 'utf8');
  const code = /^```ts\n([\s\S]*?)^```$/m.exec(markdown)![1]!;
  const entry = new URL('../../src/index.ts', import.meta.url).href;
  const file = join(dir, 'example.mts');
  writeFileSync(file, code.replace("from 'kensa'", `from '${entry}'`));
  await import(pathToFileURL(file).href);
});
