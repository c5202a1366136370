/**
 * Uniform layout, in one place (as ONNX Runtime's WebGPU backend does): a program declares
 * typed fields, this module emits the WGSL struct and packs values with WGSL's uniform
 * address-space alignment (scalars 4 bytes, vec4 and arrays of vec4 16 bytes, struct size
 * a multiple of 16). Sizes travel as uniforms so a shader compiles once per variant.
 */
import { KensaError } from '../errors.js';

/**
 * An array of vec4s holds `length` of them; a `sized` array holds at most `length`: each dispatch's
 * struct holds the size class of the vec4s its value fills (`sizeClass`), so per-sample parameters
 * upload what the batch uses, not room for the largest batch (program.ts `sizedProgram`).
 */
export type UniformArray = { array: 'vec4f' | 'vec4u' | 'vec4i'; length: number; sized?: boolean };

export type UniformType = 'u32' | 'i32' | 'f32' | 'vec4u' | 'vec4i' | 'vec4f' | UniformArray;

export interface UniformField {
  readonly name: string;
  readonly type: UniformType;
}

export type UniformValue = number | readonly number[];
export type UniformValues = Readonly<Record<string, UniformValue>>;

interface Placed {
  field: UniformField;
  offset: number;
  words: number;
  kind: 'u32' | 'i32' | 'f32';
}

export interface UniformLayout {
  readonly fields: readonly UniformField[];
  readonly size: number;
  readonly wgsl: string;
  pack(values: UniformValues, target: DataView, byteOffset: number): void;
}

function scalarKind(t: UniformType): 'u32' | 'i32' | 'f32' {
  const base = typeof t === 'string' ? t : t.array;
  if (base.endsWith('u') || base === 'u32') return 'u32';
  if (base.endsWith('i') || base === 'i32') return 'i32';
  return 'f32';
}

function wgslType(t: UniformType): string {
  if (typeof t !== 'string') return `array<${wgslType(t.array)}, ${t.length}>`;
  switch (t) {
    case 'vec4u':
      return 'vec4<u32>';
    case 'vec4i':
      return 'vec4<i32>';
    case 'vec4f':
      return 'vec4<f32>';
    default:
      return t;
  }
}

/**
 * Vec4s a sized array holds for a value of `vec4s`: powers of two from 8 (a pipeline is built per
 * class, so few classes), at most `most` (more than `most` is refused when the values are packed).
 */
export function sizeClass(vec4s: number, most: number): number {
  return Math.min(most, Math.max(8, 2 ** Math.ceil(Math.log2(Math.max(1, vec4s)))));
}

export function uniformLayout(fields: readonly UniformField[]): UniformLayout {
  const placed: Placed[] = [];
  let offset = 0;
  for (const field of fields) {
    const scalar = field.type === 'u32' || field.type === 'i32' || field.type === 'f32';
    const align = scalar ? 4 : 16;
    const words = scalar ? 1 : typeof field.type === 'string' ? 4 : 4 * field.type.length;
    offset = Math.ceil(offset / align) * align;
    placed.push({ field, offset, words, kind: scalarKind(field.type) });
    offset += words * 4;
  }
  const size = Math.max(16, Math.ceil(offset / 16) * 16);
  const wgsl = `struct Uniforms {\n${fields.map((f) => `  ${f.name}: ${wgslType(f.type)},`).join('\n')}\n};`;
  return {
    fields,
    size,
    wgsl,
    pack(values, view, base) {
      for (const p of placed) {
        const v = values[p.field.name];
        if (v === undefined) {
          throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Uniform ${p.field.name} was not given a value`);
        }
        const list = typeof v === 'number' ? [v] : v;
        if (list.length > p.words) {
          throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Uniform ${p.field.name} takes at most ${p.words} values but received ${list.length}`);
        }
        for (let i = 0; i < list.length; i++) {
          const at = base + p.offset + i * 4;
          const x = list[i]!;
          if (p.kind === 'f32') view.setFloat32(at, x, true);
          else if (p.kind === 'i32') view.setInt32(at, x, true);
          else view.setUint32(at, x >>> 0, true);
        }
      }
    },
  };
}
