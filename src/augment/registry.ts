/**
 * The transform registry: name → factory and zod schema of the arguments, filled by
 * `defineTransform` as each transform's module loads. `fromJSON` (serialize.ts) builds a pipeline
 * from `{ name, ...args }` through it; errors name the bad field.
 */
import { z } from 'zod';
import { KensaError, type ErrorCode } from '../errors.js';
import { describe } from '../validate.js';
import type { Json, LeafTransform } from './transform.js';

/** The chance argument every transform takes, default 1 unless the transform says otherwise. */
export const probability = (fallback: number) => z.number().min(0).max(1).default(fallback);

/** A [lo, hi] range of numbers within [min, max], lo ≤ hi. */
export function range(min: number, max: number) {
  return z.tuple([z.number().min(min).max(max), z.number().min(min).max(max)]).refine((r) => r[0] <= r[1], { message: 'a range [lo, hi] with lo ≤ hi' });
}

/** What the registry keeps of one transform (containers are registered by compose.ts with `children` built by fromJSON). */
export interface TransformDefinition {
  readonly name: string;
  /** Validates and fills the arguments (children excluded). */
  readonly schema: z.ZodType<{ [key: string]: Json }>;
  /** Builds the transform from validated arguments. */
  readonly build: (args: { [key: string]: Json }) => LeafTransform;
}

const REGISTRY = new Map<string, TransformDefinition>();

/** The registered leaf transforms' names, sorted. */
export function registeredTransforms(): string[] {
  return [...REGISTRY.keys()].sort();
}

/** The definition of a registered leaf transform, or undefined. */
export function transformDefinition(name: string): TransformDefinition | undefined {
  return REGISTRY.get(name);
}

/** The value at a zod issue's path in `input`. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** What a zod issue expected, in the words of kensa's messages. */
function expected(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_big':
      return issue.origin === 'array' ? `an array of at most ${issue.maximum} items` : `a number at most ${issue.maximum}`;
    case 'too_small':
      return issue.origin === 'array' ? `an array of at least ${issue.minimum} items` : `a number at least ${issue.minimum}`;
    case 'invalid_type':
      return `a value of type ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return issue.message;
  }
}

/** A path as `a.b[2].c`, below `prefix`. */
export function pathName(prefix: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : `${s}.${String(k)}`), prefix);
}

/**
 * Parses `input` with `schema`; the first issue becomes one sentence naming the field below `prefix`:
 * "Expected a number at most 1 for HorizontalFlip.p but received 2 of type number".
 */
export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, prefix: string, code: ErrorCode): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  // an unknown key is named itself, with its value
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  const value = valueAt(input, path);
  const what = issue.code === 'unrecognized_keys' ? 'a known argument' : expected(issue);
  throw new KensaError(code, `Expected ${what} for ${pathName(prefix, path)} but received ${describe(value)} of type ${typeof value}`);
}

/**
 * Defines and registers a leaf transform; returns its factory (`HorizontalFlip({ p: 0.5 })`),
 * which validates its arguments (KENSA_ERR_INVALID_ARGUMENT naming `HorizontalFlip.p`).
 * `build` receives the arguments with defaults filled and returns the transform without
 * `name` and `args`, which the factory adds.
 */
export function defineTransform<S extends z.ZodType<{ [key: string]: Json }>, T extends LeafTransform>(
  name: string,
  schema: S,
  build: (args: z.output<S>) => Omit<T, 'name' | 'args'>,
): (args?: z.input<S>) => T {
  if (REGISTRY.has(name)) throw new KensaError('KENSA_ERR_INTERNAL', `Expected one transform named ${name} but it is registered twice`);
  const make = (args: { [key: string]: Json }): T => ({ ...build(args as z.output<S>), name, args }) as T;
  REGISTRY.set(name, { name, schema, build: make });
  return (args) => make(parseOrThrow(schema, args ?? {}, name, 'KENSA_ERR_INVALID_ARGUMENT'));
}
