/**
 * The README's TypeScript snippets are tested code: each ```ts block runs as a module of its own,
 * with `'kensa'` imports pointing at the source entry points (`.mts`: an ES module outside the package).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { adapterSkip } from './_kit/gpu.js';

const README = new URL('../README.md', import.meta.url);
const ENTRY: Record<string, URL> = {
  kensa: new URL('../src/index.ts', import.meta.url),
  'kensa/internal': new URL('../src/internal.ts', import.meta.url),
};

/** The ```ts blocks of a markdown text, with the line each starts on. */
function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  for (const m of markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    blocks.push({ line: markdown.slice(0, m.index).split('\n').length, code: m[1]! });
  }
  return blocks;
}

function toSource(code: string): string {
  return code.replace(/from '(kensa(?:\/internal)?)'/g, (_, name: string) => `from '${ENTRY[name]!.href}'`);
}

const noAdapter = await adapterSkip();
const dir = mkdtempSync(join(tmpdir(), 'kensa-readme-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('README snippets', () => {
  const blocks = tsBlocks(readFileSync(README, 'utf8'));

  test('the README has its library and custom-kernel snippets, importing from kensa', () => {
    assert.ok(blocks.length >= 2, `${blocks.length} ts blocks`);
    for (const b of blocks) assert.match(toSource(b.code), /from 'file:\/\/[^']*\/src\/index\.ts'/);
  });

  for (const [i, block] of blocks.entries()) {
    test(`README.md:${block.line} runs as written`, { skip: noAdapter }, async () => {
      const file = join(dir, `snippet-${i}.mts`);
      writeFileSync(file, toSource(block.code));
      await import(pathToFileURL(file).href);
    });
  }
});
