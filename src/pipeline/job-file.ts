/**
 * Job files: `kensa inspect --job job.yaml` (or .json) holds the options of a database-driven or
 * queued run under the names of their flags (tasks, query, path, fan-out, write-back, queue,
 * job-items, db, db-retry, and sources in place of SOURCE arguments), validated with zod before
 * anything is opened. A flag given on the command line wins over the file's value.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { KensaError, parseErrorLine } from '../errors.js';
import { DB_RETRY_S } from './retry.js';

const text = z.string().min(1);

export const JobFileSchema = z
  .object({
    sources: z.array(text).min(1).optional(),
    tasks: text.optional(),
    query: text.optional(),
    path: text.optional(),
    'fan-out': z.union([text, z.record(z.string().regex(/^[A-Za-z_]\w*$/), z.array(z.string().regex(/^\w+$/)).min(1))]).optional(),
    'write-back': text.optional(),
    queue: text.optional(),
    'job-items': z.number().int().min(1).max(10_000).optional(),
    db: text.optional(),
    'db-retry': z.number().int().min(DB_RETRY_S.min).max(DB_RETRY_S.max).optional(),
  })
  .strict();

/** A job file's options as flag values (strings, as the command line gives them), and its sources. */
export interface JobFile {
  flags: Record<string, string>;
  sources: string[];
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const key of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

/** Validates job file data; errors name the field by path, what it expects and what it received. */
export function parseJobFile(data: unknown, origin = 'job file'): JobFile {
  const r = JobFileSchema.safeParse(data);
  if (!r.success) {
    const detail = r.error.issues
      .map((i) => {
        if (i.code === 'unrecognized_keys') return `${i.keys.join(', ')}: not a field of a job file (${Object.keys(JobFileSchema.shape).join(', ')})`;
        return `${i.path.map(String).join('.') || '(root)'}: ${i.message}; received ${JSON.stringify(valueAt(data, i.path)) ?? 'nothing'}`;
      })
      .join('; ');
    throw new KensaError('KENSA_ERR_JOB_FILE', `Invalid ${origin}: ${detail}`);
  }
  const { sources, 'fan-out': fanOut, ...rest } = r.data;
  const flags: Record<string, string> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) flags[k] = String(v);
  if (typeof fanOut === 'object' && Object.keys(fanOut).length !== 1)
    throw new KensaError('KENSA_ERR_JOB_FILE', `Invalid ${origin}: fan-out: expected one NAME: [values] but received ${JSON.stringify(fanOut)}`);
  if (fanOut !== undefined)
    flags['fan-out'] = typeof fanOut === 'string' ? fanOut : Object.entries(fanOut).map(([name, values]) => `${name}=${values.join(',')}`)[0]!;
  return { flags, sources: sources ?? [] };
}

/** Reads and validates a .json, .yaml or .yml job file. */
export async function loadJobFile(path: string): Promise<JobFile> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (e) {
    throw new KensaError('KENSA_ERR_JOB_FILE', `Cannot read job file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(path) ? parseYaml(content) : JSON.parse(content);
  } catch (e) {
    // the YAML parser's message goes on with the offending lines; its first line names the place
    throw new KensaError('KENSA_ERR_JOB_FILE', `Cannot parse job file ${path}: ${parseErrorLine(e)}`, { cause: e });
  }
  return parseJobFile(data, `job file ${path}`);
}
