/**
 * Program descriptors (after ONNX Runtime's ProgramInfo): an op describes its kernel as data:
 * a name, a variant key (everything that changes the WGSL text, never sizes), its tensor
 * bindings, its uniform fields and a WGSL body. The preamble (uniform struct, bindings,
 * dtype load/pack helpers) is generated here, so op files hold no binding or offset code.
 */
import type { DType } from '../dtype.js';
import { sizeClass, uniformLayout, type UniformArray, type UniformField, type UniformLayout, type UniformValues } from './uniforms.js';
import { dtypeHelpers, f16Helpers, storageArrayType } from './wgsl/dtype.js';
import { WGSL_COMMON } from './wgsl/common.js';

export interface TensorBinding {
  /** WGSL identifier of the storage array; helpers are named after it (`x_load`, `y_pack`). */
  readonly name: string;
  readonly dtype: DType;
  /**
   * The same buffer again as arrays of wider elements, by WGSL name, e.g. `{ src_v: 'vec4<u32>' }`
   * for 16-byte accesses. A program uses either a view or the binding's own name, never both.
   */
  readonly views?: Readonly<Record<string, string>>;
}

/** Output bindings may be raw 32-bit arrays for kernels that use atomics (histograms, labels). */
export interface OutputBinding extends TensorBinding {
  readonly atomic?: boolean;
}

export interface ProgramInfo {
  readonly name: string;
  /** Variant key: dtypes, border mode, flags. Sizes never go here: they are uniforms. */
  readonly key: string;
  readonly inputs: readonly TensorBinding[];
  readonly outputs: readonly OutputBinding[];
  readonly uniforms: readonly UniformField[];
  /** Threads per workgroup; `main` is declared by the body with `@workgroup_size(WG)`. */
  readonly workgroupSize: number;
  /** WGSL functions and the `main` entry point; may use `WG`, `u.<field>`, and the dtype helpers. */
  readonly body: string;
  /** WGSL extensions the body needs beyond f16 (`enable <name>;`), e.g. chromium_experimental_subgroup_matrix. */
  readonly extensions?: readonly string[];
}

export interface CompiledProgram {
  readonly info: ProgramInfo;
  readonly layout: UniformLayout;
  readonly source: string;
}

/** What the device lets the generated WGSL use (Gpu.open fills it from the device's features). */
export interface WgslOptions {
  /** `enable f16;`: f16 words convert through f16 types instead of the packed-half builtins. */
  readonly f16: boolean;
}

const PACKED: WgslOptions = { f16: false };

export function cacheKey(p: ProgramInfo, opts: WgslOptions = PACKED): string {
  const io = [...p.inputs, ...p.outputs].map((b) => `${b.name}:${b.dtype}${'atomic' in b && b.atomic ? '!' : ''}${viewsKey(b)}`).join(',');
  return `${p.name}[${p.key}]:${io}:wg${p.workgroupSize}${opts.f16 ? ':f16' : ''}`;
}

function viewsKey(b: TensorBinding): string {
  return b.views
    ? `{${Object.entries(b.views)
        .map(([name, type]) => `${name}:${type}`)
        .join(',')}}`
    : '';
}

interface Sized {
  /** Indices of the program's sized uniform arrays. */
  readonly fields: readonly number[];
  /** The program with those arrays cut to a class, by the classes joined. */
  readonly variants: Map<string, ProgramInfo>;
}

const sizedPrograms = new WeakMap<ProgramInfo, Sized | null>();

/**
 * The program whose sized uniform arrays hold the size class of their `values` (the program itself
 * when it has none): equal classes give the same object, its key naming the classes.
 */
export function sizedProgram(p: ProgramInfo, values: UniformValues): ProgramInfo {
  let sized = sizedPrograms.get(p);
  if (sized === undefined) {
    const fields = p.uniforms.flatMap((f, i) => (typeof f.type !== 'string' && f.type.sized === true ? [i] : []));
    sized = fields.length === 0 ? null : { fields, variants: new Map() };
    sizedPrograms.set(p, sized);
  }
  if (sized === null) return p;
  const lengths = sized.fields.map((i) => {
    const f = p.uniforms[i]!;
    const v = values[f.name];
    const words = v === undefined ? 0 : typeof v === 'number' ? 1 : v.length;
    return sizeClass(Math.ceil(words / 4), (f.type as UniformArray).length);
  });
  const classes = lengths.join(',');
  let variant = sized.variants.get(classes);
  if (!variant) {
    const uniforms = p.uniforms.slice();
    sized.fields.forEach((i, k) => {
      const f = p.uniforms[i]!;
      uniforms[i] = { name: f.name, type: { array: (f.type as UniformArray).array, length: lengths[k]! } };
    });
    variant = { ...p, key: `${p.key};sized=${classes}`, uniforms };
    sized.variants.set(classes, variant);
  }
  return variant;
}

/** Full WGSL source: uniform struct, bindings in order (uniforms, inputs, outputs), helpers, body. */
export function buildSource(p: ProgramInfo, opts: WgslOptions = PACKED): CompiledProgram {
  const layout = uniformLayout(p.uniforms);
  const lines: string[] = [];
  let binding = 0;
  if (opts.f16) lines.push('enable f16;');
  for (const name of p.extensions ?? []) lines.push(`enable ${name};`);
  lines.push(layout.wgsl);
  lines.push(`@group(0) @binding(${binding++}) var<uniform> u: Uniforms;`);
  const declare = (b: OutputBinding, access: 'read' | 'read_write') => {
    const at = `@group(0) @binding(${binding++}) var<storage, ${access}>`;
    lines.push(`${at} ${b.name}: ${storageArrayType(b.dtype, b.atomic === true)};`);
    for (const [name, type] of Object.entries(b.views ?? {})) lines.push(`${at} ${name}: array<${type}>;`);
  };
  for (const b of p.inputs) declare(b, 'read');
  for (const b of p.outputs) declare(b, 'read_write');
  lines.push(`const WG: u32 = ${p.workgroupSize}u;`);
  lines.push(WGSL_COMMON);
  lines.push(f16Helpers(opts.f16));
  for (const b of p.inputs) lines.push(dtypeHelpers(b.name, b.dtype, 'read'));
  for (const b of p.outputs) if (!b.atomic) lines.push(dtypeHelpers(b.name, b.dtype, 'write'));
  lines.push(p.body);
  return { info: p, layout, source: lines.join('\n') };
}

/** FNV-1a of a text (a program's WGSL), as 8 hex digits: tells programs of one name apart in caches. */
export function textHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
