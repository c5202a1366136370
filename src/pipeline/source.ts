/**
 * Where images come from: files, folders (recursive), globs (`*`, `**`, `?`), a list file
 * (`@list.txt`, one path per line) or stdin (`-`, one path per line). Each input becomes an item
 * with a stable key (its path relative to the source root, or the path itself), the key a resumed
 * run uses to skip what is done. Enumeration is lazy: a million files are never held at once.
 * Links to folders are not followed (no cycles); they, broken links and link loops are reported
 * through `onSkip` rather than dropped silently.
 */
import { createReadStream, existsSync, readdirSync, type Stats, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { type ErrorCode, KensaError } from '../errors.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.webp', '.bmp', '.npy', '.raw'] as const;

export interface SourceItem {
  /** Stable identity of the item within a run (posix separators). */
  key: string;
  path: string;
  /** Values the item came with (a task row and its fan-out), passed on to its result. */
  fields?: Readonly<Record<string, string | number | null>>;
}

/** A folder entry that is neither an image nor walked into. */
export interface SkippedEntry {
  path: string;
  reason: 'symbolic link loop' | 'broken symbolic link' | 'link to a folder (not followed)';
}

export type OnSkip = (entry: SkippedEntry) => void;

function isImage(path: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase());
}

function toKey(path: string): string {
  return path.split(sep).join('/');
}

/** What a symbolic link points at: a file, a folder, or the reason it leads nowhere. */
async function linkTarget(path: string): Promise<'file' | 'folder' | 'other' | SkippedEntry['reason']> {
  try {
    const s = await stat(path);
    return s.isFile() ? 'file' : s.isDirectory() ? 'folder' : 'other';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'symbolic link loop' : 'broken symbolic link';
  }
}

async function* walk(dir: string, root: string, onSkip?: OnSkip): AsyncGenerator<SourceItem> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p, root, onSkip);
    else if (e.isFile()) {
      if (isImage(p)) yield { key: toKey(relative(root, p)), path: p };
    } else if (e.isSymbolicLink()) {
      // links to files are followed; links to folders are not (no cycles)
      const target = await linkTarget(p);
      if (target === 'file') {
        if (isImage(p)) yield { key: toKey(relative(root, p)), path: p };
      } else if (target === 'folder') onSkip?.({ path: p, reason: 'link to a folder (not followed)' });
      else if (target !== 'other') onSkip?.({ path: p, reason: target });
    }
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

/**
 * Expands one source argument into items, in a stable (sorted) order for folders and globs.
 * With `prefixed` (set when a run has several sources) a folder or glob item's key starts with its
 * folder, so two folders holding the same file names give distinct keys; one source keeps keys
 * relative to its folder, the keys its earlier runs were stored under.
 */
export async function* expandSource(arg: string, stdin: NodeJS.ReadableStream = process.stdin, onSkip?: OnSkip, prefixed = false): AsyncGenerator<SourceItem> {
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
    const isFolder = await stat(base).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isFolder)
      throw new KensaError(
        'KENSA_ERR_INVALID_ARGUMENT',
        `Expected a glob under an existing folder for source but received ${JSON.stringify(arg)} (${JSON.stringify(base)} is not a folder)`,
      );
    for await (const item of walk(base, base, onSkip)) if (re.test(item.key)) yield prefixed ? { key: toKey(join(base, item.key)), path: item.path } : item;
    return;
  }
  let s: Stats;
  try {
    s = await stat(arg);
  } catch {
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected an existing file, folder, glob, @list or - for source but received ${JSON.stringify(arg)}`);
  }
  if (s.isDirectory()) for await (const item of walk(arg, arg, onSkip)) yield prefixed ? { key: toKey(join(arg, item.key)), path: item.path } : item;
  else yield { key: toKey(arg), path: resolve(arg) };
}

/** Counts what a source would yield (for progress totals); cheap for folders, reads lists once. */
export async function countSource(args: readonly string[]): Promise<number | null> {
  return (await scanSources(args)).total;
}

/** What {@link scanSources} found before a run starts. */
export interface SourceScan {
  /** Images the sources yield; null when one is stdin (read once, while the run goes). */
  total: number | null;
  /** The sources that yield no image. */
  empty: string[];
  /** Entries passed over, each with the reason. */
  skipped: SkippedEntry[];
}

/**
 * Walks every source once before a run is created: a missing file, folder, list or glob folder
 * throws KENSA_ERR_INVALID_ARGUMENT here (so no run is left behind for it), and the counts give
 * the progress total, the sources without images and what was passed over. Stdin is not read.
 */
export async function scanSources(args: readonly string[]): Promise<SourceScan> {
  const scan: SourceScan = { total: 0, empty: [], skipped: [] };
  // several sources may still name one image twice (a folder given twice, a file inside a given
  // folder): two items with one key would collide in the store, so the scan refuses them
  const seen = args.length > 1 ? new Map<string, string>() : null;
  for (const a of args) {
    if (a === '-') {
      scan.total = null;
      continue;
    }
    let n = 0;
    for await (const item of expandSource(a, undefined, (e) => scan.skipped.push(e), args.length > 1)) {
      n++;
      const first = seen?.get(item.key);
      if (first !== undefined)
        throw new KensaError(
          'KENSA_ERR_INVALID_ARGUMENT',
          `Expected sources that name each image once but received ${JSON.stringify(first)} and ${JSON.stringify(item.path)} both as item ${JSON.stringify(item.key)}`,
        );
      seen?.set(item.key, item.path);
    }
    if (n === 0) scan.empty.push(a);
    if (scan.total !== null) scan.total += n;
  }
  return scan;
}

/**
 * The image files of a folder by name (the path under it without the extension, forward
 * slashes), sorted; a kensa samples folder stands for its images/. Raw files need a size and are
 * skipped. A missing or empty folder, or a name found twice, is a KensaError of `code` naming
 * the folder by `label` (`--images`).
 */
export function imageFolder(label: string, dir: string, code: ErrorCode): Map<string, string> {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new KensaError(code, `${label} expects a folder of images but received '${dir}' (not a folder)`);
  const root = existsSync(join(dir, 'labels.json')) && existsSync(join(dir, 'images')) ? join(dir, 'images') : dir;
  const files = new Map<string, string>();
  const walk = (abs: string, rel: string) => {
    for (const e of readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith('.')) continue;
      const ext = extname(e.name).toLowerCase();
      if (e.isDirectory()) walk(join(abs, e.name), `${rel}${e.name}/`);
      else if (ext !== '.raw' && (IMAGE_EXTENSIONS as readonly string[]).includes(ext)) {
        const name = rel + e.name.slice(0, e.name.length - ext.length);
        if (files.has(name)) throw new KensaError(code, `${label} holds the image ${name} twice (${files.get(name)}, ${join(abs, e.name)})`);
        files.set(name, join(abs, e.name));
      }
    }
  };
  walk(root, '');
  if (!files.size) throw new KensaError(code, `${label} folder ${dir} holds no images (${IMAGE_EXTENSIONS.filter((e) => e !== '.raw').join(', ')})`);
  return files;
}
