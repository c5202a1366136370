/**
 * What every `kensa` command shares: the streams it writes to (so tests run commands
 * in-process), usage errors (exit code 2), argv parsing with node:util parseArgs, and
 * small number formatting. Commands call node:util parseArgs with strict: true inside parseFlags. A command is `run(argv, io) → Promise<exit code>`.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { KensaError } from '../errors.js';
import { DB_RETRY_S } from '../pipeline/retry.js';

export interface CliIO {
  out: { write(chunk: string): unknown };
  err: { write(chunk: string): unknown };
}

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/** A bad flag or value: the command prints the message and a pointer to --help, exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Runs a node:util parseArgs call (strict mode); its errors become UsageErrors. */
export function parseFlags<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((e as Error).message);
    throw e;
  }
}

/** An integer flag in [lo, hi]. */
export function intFlag(name: string, v: string | undefined, fallback: number, lo: number, hi: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < lo || n > hi)
    throw new UsageError(`--${name} expects an integer between ${lo} and ${hi} but received '${v}'`);
  return n;
}

/** What a path is: a folder, another entry, or nothing. */
function entryAt(path: string): 'folder' | 'other' | 'none' {
  try {
    return statSync(path).isDirectory() ? 'folder' : 'other';
  } catch {
    return 'none';
  }
}

/**
 * Checks, before any work, that the command can write `path` for `--name`: a folder it creates
 * (`'folder'`: absent, or a folder; what it would be created in is a writable folder) or a file
 * (`'file'`: not a folder; its folder exists and is writable). A usage error naming the flag otherwise.
 */
export function outputFlag(name: string, path: string, kind: 'file' | 'folder'): string {
  const at = entryAt(path);
  if (kind === 'folder' && at === 'other') throw new UsageError(`--${name} expects a folder to write to but '${path}' is a file`);
  if (kind === 'file' && at === 'folder') throw new UsageError(`--${name} expects a file to write but '${path}' is a folder`);
  // a folder is created with its missing parents: the nearest one that exists must be a folder we can write in
  let parent = kind === 'folder' && at === 'folder' ? resolve(path) : dirname(resolve(path));
  if (kind === 'folder') while (entryAt(parent) === 'none' && dirname(parent) !== parent) parent = dirname(parent);
  const where = entryAt(parent);
  if (where === 'none') throw new UsageError(`--${name} expects a path in an existing folder but '${dirname(path)}' does not exist`);
  if (where === 'other') throw new UsageError(`--${name} expects a path in a folder but '${parent}' is a file`);
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    throw new UsageError(`--${name} expects a path it can write but '${parent}' is not writable`);
  }
  return path;
}

/** `text` on one line: control characters (a newline in a file name) written as \n, \t or \xNN. */
export function printable(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.charCodeAt(0);
    out += code >= 0x20 && code !== 0x7f ? c : c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${code.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** A decimal number flag in [lo, hi] (`0.5`, `1e-4`). */
export function numberFlag(name: string, v: string | undefined, fallback: number, lo: number, hi: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+(\.\d+)?(e-?\d+)?$/i.test(v.trim()) || n < lo || n > hi)
    throw new UsageError(`--${name} expects a number between ${lo} and ${hi} but received '${v}'`);
  return n;
}

/** A flag from a closed set. */
export function choiceFlag<T extends string>(name: string, v: string | undefined, fallback: T, values: readonly T[]): T {
  if (v === undefined) return fallback;
  if (!values.includes(v as T)) throw new UsageError(`--${name} expects one of ${values.join(', ')} but received '${v}'`);
  return v as T;
}

/** `--adapter 1` → 1, `--adapter nvidia` → "nvidia". */
export function adapterFlag(v: string | undefined): number | string | undefined {
  if (v === undefined) return undefined;
  if (v === '') throw new UsageError("--adapter expects an index or a name substring but received ''");
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** `--db-retry S` of inspect and worker: how long a lost database is waited for, in ms. */
export function dbRetryFlag(v: string | undefined): number {
  return intFlag('db-retry', v, DB_RETRY_S.fallback, DB_RETRY_S.min, DB_RETRY_S.max) * 1000;
}

/**
 * Runs a command body, mapping UsageError to "kensa <cmd>: msg" + exit 2 and a KensaError (an
 * ordinary user error: a bad recipe, a missing folder) to one line "kensa <cmd>: msg [CODE]" +
 * exit 1; its stack only with KENSA_DEBUG=1. Anything else is a bug and keeps its stack (main.ts).
 */
export async function guard(command: string, io: CliIO, body: () => Promise<number>, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      io.err.write(`kensa ${command}: ${e.message}\nRun 'kensa ${command} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    if (e instanceof KensaError) {
      io.err.write(`kensa ${command}: ${e.message} [${e.code}]\n`);
      if (env.KENSA_DEBUG === '1' && e.stack) io.err.write(`${e.stack}\n`);
      return EXIT_FAIL;
    }
    throw e;
  }
}

export function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** Left-aligned text table (first row: headers). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

export function median(sorted: readonly number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}
