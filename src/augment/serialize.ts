/**
 * Pipelines to and from JSON and YAML (Albumentations' `to_dict`): a document
 * `{ version: 1, transform: { name, ...args } }`, containers holding `transforms: [...]`.
 * Every argument is written with its default filled, so a file says everything it does; reading
 * validates each transform's arguments with its registry schema and fails on the first bad field
 * with its path (`transform.transforms[1].p`).
 */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { KensaError, parseErrorLine } from '../errors.js';
import { describe } from '../validate.js';
import { CONTAINER_SCHEMAS, container } from './compose.js';
import { parseOrThrow, pathName, registeredTransforms, transformDefinition } from './registry.js';
import type { ContainerMode, Json, Transform } from './transform.js';

/** The version files are written with; files of versions up to it are read. */
export const PIPELINE_VERSION = 1;

/** One transform as data: its name and arguments (containers: and their `transforms`). */
export interface TransformData {
  readonly name: string;
  readonly transforms?: readonly TransformData[];
  readonly [arg: string]: Json | readonly TransformData[] | undefined;
}

/** A pipeline file's content. */
export interface PipelineDocument {
  readonly version: number;
  readonly transform: TransformData;
}

function transformData(t: Transform): TransformData {
  if (t.kind === 'container') return { name: t.name, ...t.args, transforms: t.children.map(transformData) };
  return { name: t.name, ...t.args };
}

/** The pipeline as a document (plain data, for JSON.stringify). */
export function toJSON(pipeline: Transform): PipelineDocument {
  return { version: PIPELINE_VERSION, transform: transformData(pipeline) };
}

/** The pipeline as YAML text. */
export function toYAML(pipeline: Transform): string {
  return stringifyYaml(toJSON(pipeline));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(where: string, expected: string, v: unknown): KensaError {
  return new KensaError('KENSA_ERR_AUGMENT', `Expected ${expected} for ${where} but received ${describe(v)} of type ${typeof v}`);
}

function build(data: unknown, where: string): Transform {
  if (!isRecord(data)) throw fail(where, 'an object { name, ...args }', data);
  const { name, transforms, ...args } = data;
  if (typeof name === 'string' && Object.hasOwn(CONTAINER_SCHEMAS, name)) {
    const mode = name as ContainerMode;
    if (!Array.isArray(transforms)) throw fail(`${where}.transforms`, 'an array of transforms', transforms);
    const children = transforms.map((c, i) => build(c, pathName(`${where}.transforms`, [i])));
    const schema = CONTAINER_SCHEMAS[mode] as z.ZodType<{ [key: string]: Json }>;
    const parsed = parseOrThrow(schema, args, where, 'KENSA_ERR_AUGMENT');
    try {
      return container(mode, parsed, children, where);
    } catch (e) {
      throw e instanceof KensaError ? new KensaError('KENSA_ERR_AUGMENT', e.message) : e;
    }
  }
  const definition = typeof name === 'string' ? transformDefinition(name) : undefined;
  if (definition === undefined) {
    const names = [...Object.keys(CONTAINER_SCHEMAS), ...registeredTransforms()].join(', ');
    throw fail(`${where}.name`, `a registered transform (${names})`, name);
  }
  if (transforms !== undefined) throw fail(`${where}.transforms`, `no transforms (${name} is not a container)`, transforms);
  return definition.build(parseOrThrow(definition.schema, args, where, 'KENSA_ERR_AUGMENT'));
}

/**
 * Builds a pipeline from a document (parsed JSON or YAML).
 * @throws KensaError KENSA_ERR_AUGMENT naming the bad field, e.g. "Expected a number at most 1 for transform.transforms[1].p but received 2 of type number".
 */
export function fromJSON(doc: unknown): Transform {
  if (!isRecord(doc)) throw fail('the pipeline', 'an object { version, transform }', doc);
  if (typeof doc.version !== 'number' || !Number.isInteger(doc.version) || doc.version < 1 || doc.version > PIPELINE_VERSION) {
    throw fail('version', `an integer from 1 to ${PIPELINE_VERSION}`, doc.version);
  }
  const extra = Object.keys(doc).find((k) => k !== 'version' && k !== 'transform');
  if (extra !== undefined) throw fail(extra, 'no such key (a document has version and transform)', doc[extra]);
  return build(doc.transform, 'transform');
}

/** Builds a pipeline from YAML (or JSON) text. */
export function fromYAML(text: string): Transform {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new KensaError('KENSA_ERR_AUGMENT', `Expected YAML for the pipeline but it does not parse: ${parseErrorLine(e)}`);
  }
  return fromJSON(doc);
}

/** Reads a .yaml, .yml or .json pipeline file. */
export async function loadPipeline(path: string): Promise<Transform> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new KensaError(
      'KENSA_ERR_AUGMENT',
      `Expected a readable pipeline file for ${path} but reading it failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  try {
    return fromYAML(text);
  } catch (e) {
    if (e instanceof KensaError) throw new KensaError(e.code, `${path}: ${e.message}`);
    throw e;
  }
}
