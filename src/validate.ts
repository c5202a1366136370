/**
 * Boundary validation in the style of sharp's lib/is.mjs: small predicates plus one
 * error factory, so every message reads "Expected <what> for <name> but received <value> of type <type>".
 */
import { KensaError } from './errors.js';

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  return String(value);
}

export function invalidParameter(name: string, expected: string, actual: unknown): KensaError {
  return new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected ${expected} for ${name} but received ${describe(actual)} of type ${typeof actual}`);
}

export const is = {
  number: (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v),
  integer: (v: unknown): v is number => Number.isInteger(v),
  inRange: (v: number, lo: number, hi: number): boolean => v >= lo && v <= hi,
  inArray: <T>(v: unknown, values: readonly T[]): v is T => values.includes(v as T),
  defined: <T>(v: T | undefined | null): v is T => v !== undefined && v !== null,
};

/** Checks a finite number in [lo, hi]; returns it typed. */
export function numberInRange(name: string, v: unknown, lo: number, hi: number): number {
  if (!is.number(v) || !is.inRange(v, lo, hi)) throw invalidParameter(name, `number between ${lo} and ${hi}`, v);
  return v;
}

/** Checks an integer in [lo, hi]. */
export function integerInRange(name: string, v: unknown, lo: number, hi: number): number {
  if (!is.integer(v) || !is.inRange(v as number, lo, hi)) throw invalidParameter(name, `integer between ${lo} and ${hi}`, v);
  return v as number;
}

/** Checks an odd integer in [lo, hi] (kernel sizes). */
export function oddInteger(name: string, v: unknown, lo: number, hi: number): number {
  if (!is.integer(v) || !is.inRange(v as number, lo, hi) || (v as number) % 2 !== 1) {
    throw invalidParameter(name, `odd integer between ${lo} and ${hi}`, v);
  }
  return v as number;
}

/** Checks membership of a closed set of strings. */
export function oneOf<T extends string>(name: string, v: unknown, values: readonly T[]): T {
  if (!is.inArray(v, values)) throw invalidParameter(name, `one of ${values.map((s) => JSON.stringify(s)).join(', ')}`, v);
  return v;
}
