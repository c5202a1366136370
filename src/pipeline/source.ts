/**
 * Where images come from: files, folders (recursive), globs (`*`, `**`, `?`), a list file
 * (`@list.txt`, one path per line) or stdin (`-`, one path per line). Each input becomes an item
 * with a stable key (its path relative to the source root, or the path itself), the key a resumed
 * run uses to skip what is done. Enumeration is lazy: a million files are never held at once.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { KensaError } from '../errors.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.webp', '.bmp', '.npy', '.raw'] as const;

export interface SourceItem {
  /** Stable identity of the item within a run (posix separators). */
  key: string;
  path: string;
}

function isImage(path: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase());
}

function toKey(path: string): string {
  return path.split(sep).join('/');
}

async function* walk(dir: string, root: string): AsyncGenerator<SourceItem> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p, root);
    // symbolic links to files are followed (links to folders are not: no cycles)
    else if ((e.isFile() || (e.isSymbolicLink() && (await stat(p).then((s) => s.isFile(), () => false)))) && isImage(p)) yield { key: toKey(relative(root, p)), path: p };
  }
}

/** `*` matches within a path segment, `**` across segments, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function* lines(stream: NodeJS.ReadableStream): AsyncGenerator<string> {
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
    const t = line.trim();
    if (t && !t.startsWith('#')) yield t;
  }
}

/** Expands one source argument into items, in a stable (sorted) order for folders and globs. */
export async function* expandSource(arg: string, stdin: NodeJS.ReadableStream = process.stdin): AsyncGenerator<SourceItem> {
  if (arg === '-') {
    for await (const p of lines(stdin)) yield { key: toKey(p), path: resolve(p) };
    return;
  }
  if (arg.startsWith('@')) {
    const list = arg.slice(1);
    try {
      await stat(list);
    } catch {
      throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected a readable list file for source but received ${JSON.stringify(arg)}`);
    }
    for await (const p of lines(createReadStream(list))) yield { key: toKey(p), path: resolve(p) };
    return;
  }
  if (/[*?]/.test(arg)) {
    const firstWild = arg.search(/[*?]/);
    const base = arg.slice(0, arg.lastIndexOf('/', firstWild) + 1) || '.';
    const re = globToRegExp(toKey(relative(base, arg)));
    for await (const item of walk(base, base)) if (re.test(item.key)) yield item;
    return;
  }
  let s;
  try {
    s = await stat(arg);
  } catch {
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected an existing file, folder, glob, @list or - for source but received ${JSON.stringify(arg)}`);
  }
  if (s.isDirectory()) yield* walk(arg, arg);
  else yield { key: toKey(arg), path: resolve(arg) };
}

/** Counts what a source would yield (for progress totals); cheap for folders, reads lists once. */
export async function countSource(args: readonly string[]): Promise<number | null> {
  if (args.includes('-')) return null;
  let n = 0;
  for (const a of args) for await (const _ of expandSource(a)) n++;
  return n;
}
