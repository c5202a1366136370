/**
 * User-defined kernels, what CuPy's ElementwiseKernel/RawModule give Python users.
 *
 * customKernel: the user writes only the WGSL of
 *     fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32
 * reading its inputs through `<input>_at(n, c, yy: i32, xx: i32)` (border handled, as the kernel's
 * border mode says: reflect101 default / replicate / constant with `borderValue`) or
 * `<input>_px(n, c, y, x)` (in-bounds read), sizes through `u.<input>_shape` / `u.out_shape`
 * (vec4u N, C, H, W) and its own uniforms through `u.<name>`. Batching, bounds, packing of the
 * output (u8 ×4, u16/f16 ×2 per word, OpenCV saturate_cast: round half to even, clamp), bindings
 * and the uniform struct come from src/kernels/pixel.ts. An optional `cpu` function gives the
 * same kernel on CPU tensors (the result is saturated exactly as on the GPU).
 *
 * rawKernel: a whole compute program (`@compute @workgroup_size(WG) fn main(...)`) with named
 * tensor bindings and uniforms; kensa generates the bindings, the uniform struct and the dtype
 * helpers (`<in>_load(i)`, `<out>_store(i, v)`, `<out>_pack(v)`, atomic outputs) and records the
 * dispatch into the pending command stream.
 *
 * Compile errors: `await kernel.compile(gpu)` compiles now and throws KENSA_ERR_SHADER with line
 * numbers of the user's own code ("pixel line 3" / "wgsl line 12") next to the generated line.
 * A kernel that is dispatched without `compile()` and fails reports at the next sync instead.
 *
 * Indexing: n and c given to `<input>_at`/`_px` must be within that input's N and C (y, x are
 * bordered by `_at`). Outside, the GPU reads an unspecified element (robust buffer access) and
 * the CPU path throws.
 */
import { deviceOf, onDevice, webgpuDevice } from '../../device.js';
import { DTYPES, type DType } from '../../dtype.js';
import { KensaError } from '../../errors.js';
import type { Gpu } from '../../gpu/gpu.js';
import { textHash, type OutputBinding, type ProgramInfo, type TensorBinding } from '../../gpu/program.js';
import type { UniformField, UniformType, UniformValues } from '../../gpu/uniforms.js';
import { Tensor } from '../../tensor.js';
import { sharedDevice } from '../../device.js';
import { integerInRange, invalidParameter, numberInRange, oneOf } from '../../validate.js';
import { borderIndex, checkBorder, type BorderMode } from '../../kernels/border.js';
import { checkImage, outDType } from '../image.js';
import { cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';

export type ScalarUniformType = 'f32' | 'u32' | 'i32';

/** One input of a CPU implementation: the mirrors of the WGSL `<input>_at` and `<input>_px`. */
export interface CpuInput {
  /** Bordered read (y, x may lie outside the image). */
  at(n: number, c: number, y: number, x: number): number;
  /** In-bounds read; throws outside the image. */
  px(n: number, c: number, y: number, x: number): number;
  readonly shape: Dims4;
}

export interface CustomKernelSpec<I extends string = string, U extends string = string> {
  /** Kernel name (a WGSL identifier); shows in error messages and GPU labels. */
  name: string;
  /** WGSL defining `fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32` and any helper functions. */
  pixel: string;
  /** Input binding names, in call order. Default ['x']. */
  inputs?: readonly I[];
  /** Scalar uniforms the pixel code reads as `u.<name>`. */
  uniforms?: Readonly<Record<U, ScalarUniformType>>;
  /** Border mode of `<input>_at`; default reflect101 (callers may override per call). */
  border?: BorderMode;
  /** CPU implementation with the same semantics; without it CPU inputs are rejected. */
  cpu?: (inputs: Readonly<Record<I, CpuInput>>, uniforms: Readonly<Record<U, number>>, n: number, c: number, y: number, x: number) => number;
}

export interface CustomKernelCallOptions<U extends string = string> {
  /** A value for every declared uniform. */
  uniforms?: Readonly<Record<U, number>>;
  /** Output dtype; default the first input's. */
  dtype?: DType;
  /** Output shape [N, C, H, W]; default the first input's shape. */
  shape?: readonly number[];
  border?: BorderMode;
  /** Value read outside the image with border 'constant'; default 0. */
  borderValue?: number;
}

export interface CustomKernelCompileOptions {
  /** Input dtypes (one for all, or one per input); default f32. */
  inputs?: DType | readonly DType[];
  /** Output dtype; default f32. */
  dtype?: DType;
  border?: BorderMode;
}

export interface CustomKernel<U extends string = string> {
  (inputs: Tensor | readonly Tensor[], options?: CustomKernelCallOptions<U>): Tensor;
  readonly kernelName: string;
  readonly inputNames: readonly string[];
  /** The program variant for these input/output dtypes and border. */
  program(options?: CustomKernelCompileOptions): ProgramInfo;
  /** Compiles a variant now; WGSL errors throw KENSA_ERR_SHADER naming lines of the user's code. */
  compile(gpu: Gpu, options?: CustomKernelCompileOptions): Promise<void>;
}

/* ------------------------------------------------------------------ identifiers */

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** WGSL keywords and reserved words (WGSL §15.2, §15.3 subset that can appear) and predeclared types. */
const WGSL_RESERVED = new Set(
  (
    'alias break case const const_assert continue continuing default diagnostic discard else enable false fn for if let loop ' +
    'override requires return struct switch true var while ' +
    'NULL Self abstract active alignas alignof as asm asm_fragment async attribute auto await become cast catch class co_await ' +
    'co_return co_yield coherent column_major common compile compile_fragment concept const_cast consteval constexpr constinit ' +
    'crate debugger decltype delete demote demote_to_helper do dynamic_cast enum explicit export extends extern external fallthrough ' +
    'filter final finally friend from fxgroup get goto groupshared highp impl implements import inline instanceof interface layout ' +
    'lowp macro macro_rules match mediump meta mod module move mut mutable namespace new nil noexcept noinline nointerpolation ' +
    'non_coherent noncoherent noperspective null nullptr of operator package packoffset partition pass patch pixelfragment precise ' +
    'precision premerge priv protected pub public readonly ref regardless register reinterpret_cast require resource restrict self ' +
    'set shared sizeof smooth snorm static static_assert static_cast std subroutine super target template this thread_local throw ' +
    'trait try type typedef typeid typename typeof union unless unorm unsafe unsized use using varying virtual volatile wgsl where ' +
    'with writeonly yield ' +
    'bool f16 f32 i32 u32 vec2 vec3 vec4 mat2x2 mat2x3 mat2x4 mat3x2 mat3x3 mat3x4 mat4x2 mat4x3 mat4x4 array atomic ptr sampler ' +
    'sampler_comparison texture_1d texture_2d texture_2d_array texture_3d texture_cube texture_cube_array texture_multisampled_2d ' +
    'texture_storage_1d texture_storage_2d texture_storage_2d_array texture_storage_3d texture_depth_2d texture_depth_2d_array ' +
    'texture_depth_cube texture_depth_cube_array texture_depth_multisampled_2d vec2i vec3i vec4i vec2u vec3u vec4u vec2f vec3f vec4f ' +
    'vec2h vec3h vec4h read write read_write function private workgroup uniform storage'
  ).split(' '),
);

/** Names the generated code declares (bindings, helpers, entry point). */
const KENSA_RESERVED = new Set([
  'u',
  'kensa_unused',
  'out',
  'main',
  'pixel',
  'border',
  'WG',
  'Uniforms',
  'linear_workgroup',
  'small_f32',
  'small_f32x4',
  'u8x4_f32',
  'sat_u8',
  'sat_u8x4',
  'sat_u16',
  'sat_i32',
]);

/** Uniform fields a pixel program declares itself. */
const PIXEL_UNIFORMS = new Set(['out_shape', 'out_words', 'out_numel', 'border_value']);

/** Checks a user identifier: WGSL syntax, not `_`, not `__`-prefixed, not reserved by WGSL or kensa. */
export function checkIdentifier(name: string, v: unknown): string {
  if (typeof v !== 'string' || !IDENTIFIER.test(v) || v === '_' || v.startsWith('__')) {
    throw invalidParameter(name, 'a WGSL identifier (a letter or _, then letters, digits, _; not _ alone or __-prefixed)', v);
  }
  if (WGSL_RESERVED.has(v) || KENSA_RESERVED.has(v)) throw invalidParameter(name, 'a name not reserved by WGSL or kensa', v);
  return v;
}

function checkNames(what: string, values: unknown, min: number, max: number): string[] {
  if (!Array.isArray(values) || values.length < min || values.length > max) {
    throw invalidParameter(what, `an array of ${min} to ${max} names`, values);
  }
  const seen = new Set<string>();
  return values.map((v, i) => {
    const id = checkIdentifier(`${what}[${i}]`, v);
    if (seen.has(id)) throw invalidParameter(`${what}[${i}]`, 'a name not used twice', v);
    seen.add(id);
    return id;
  });
}

/**
 * Compiles a program now. WGSL errors throw KENSA_ERR_SHADER with lines of the user's code
 * (`<label> line L (generated line G)`). The shader module is created inside an error scope
 * here, so a failed compile does not also surface later as an uncaptured error at `sync()`.
 */
async function compileMapped(gpu: Gpu, program: ProgramInfo, userCode: string, label: string): Promise<void> {
  const source = gpu.source(program);
  gpu.device.pushErrorScope('validation');
  const module = gpu.device.createShaderModule({ code: source, label: `${program.name} (check)` });
  const scope = gpu.device.popErrorScope();
  const info = await module.getCompilationInfo();
  await scope;
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    const start = source.indexOf(userCode);
    const first = start < 0 ? -1 : source.slice(0, start).split('\n').length;
    const count = userCode.split('\n').length;
    const lines = source.split('\n');
    const detail = errors
      .map((m) => {
        const at =
          first > 0 && m.lineNum >= first && m.lineNum < first + count
            ? `${label} line ${m.lineNum - first + 1} (generated line ${m.lineNum})`
            : `generated line ${m.lineNum}`;
        return `${at}: ${m.message}\n  ${lines[m.lineNum - 1]?.trim() ?? ''}`;
      })
      .join('\n');
    throw new KensaError('KENSA_ERR_SHADER', `WGSL of kernel ${program.name} failed to compile:\n${detail}`);
  }
  await gpu.compile(program);
}

/* ------------------------------------------------------------------ uniforms */

const SCALAR_TYPES = ['f32', 'u32', 'i32'] as const;

function checkUniformValue(name: string, type: ScalarUniformType, v: unknown): number {
  switch (type) {
    case 'f32':
      return numberInRange(name, v, -3.4e38, 3.4e38);
    case 'u32':
      return integerInRange(name, v, 0, 4294967295);
    case 'i32':
      return integerInRange(name, v, -2147483648, 2147483647);
  }
}

function checkUniformValues(decl: Readonly<Record<string, ScalarUniformType>>, given: unknown): Record<string, number> {
  const values = (given ?? {}) as Record<string, unknown>;
  if (typeof values !== 'object' || Array.isArray(values)) throw invalidParameter('uniforms', 'an object of numbers', given);
  for (const k of Object.keys(values)) {
    if (!(k in decl)) throw invalidParameter('uniforms', `only the declared uniforms (${Object.keys(decl).join(', ') || 'none'})`, k);
  }
  const out: Record<string, number> = {};
  for (const [k, type] of Object.entries(decl)) out[k] = checkUniformValue(`uniforms.${k}`, type, values[k]);
  return out;
}

/* ------------------------------------------------------------------ customKernel */

function cpuInput(name: string, t: Tensor, border: BorderMode, borderValue: number): CpuInput {
  const shape = t.shape as unknown as Dims4;
  const [N, C, H, W] = shape;
  const data = t.data;
  const read = t.dtype === 'f16' ? (i: number) => t.at(i) : (i: number) => data[i]!;
  const check = (n: number, c: number) => {
    if (!(n >= 0 && n < N && c >= 0 && c < C)) {
      throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `${name}: image ${n}, channel ${c} is outside the input's N = ${N}, C = ${C}`);
    }
  };
  return {
    shape,
    at(n, c, y, x) {
      check(n, c);
      const iy = borderIndex(y, H, border);
      const ix = borderIndex(x, W, border);
      if (iy < 0 || ix < 0) return borderValue;
      return read(((n * C + c) * H + iy) * W + ix);
    },
    px(n, c, y, x) {
      check(n, c);
      if (!(y >= 0 && y < H && x >= 0 && x < W)) {
        throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `${name}_px: pixel (${y}, ${x}) is outside the ${H}×${W} image (use ${name}_at for bordered reads)`);
      }
      return read(((n * C + c) * H + y) * W + x);
    },
  };
}

function checkShape4(v: unknown): Dims4 {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((d) => Number.isInteger(d) && d >= 1)) {
    throw invalidParameter('shape', '[N, C, H, W] of positive integers', v);
  }
  return v as unknown as Dims4;
}

/**
 * Defines a pixel kernel from WGSL (and optionally TypeScript for CPU tensors).
 * @example
 * const threshold = customKernel({ name: 'thr', uniforms: { t: 'f32' },
 *   pixel: 'fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 { return select(0.0, 255.0, x_px(n, c, y, x) > u.t); }',
 *   cpu: ({ x }, { t }, n, c, y, xx) => (x!.px(n, c, y, xx) > t ? 255 : 0) });
 * const mask = threshold(img, { uniforms: { t: 128 } });
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for bad names, missing fn pixel, bad uniform types.
 */
export function customKernel<const I extends string = 'x', const U extends string = never>(spec: CustomKernelSpec<I, U>): CustomKernel<U> {
  if (typeof spec !== 'object' || spec === null) throw invalidParameter('spec', 'an object', spec);
  const name = checkIdentifier('name', spec.name);
  const pixel = spec.pixel;
  if (typeof pixel !== 'string' || !/\bfn\s+pixel\s*\(/.test(pixel)) {
    throw invalidParameter(
      'pixel',
      'WGSL defining fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32',
      typeof pixel === 'string' ? `${pixel.slice(0, 40)}${pixel.length > 40 ? '…' : ''}` : pixel,
    );
  }
  const inputs = checkNames('inputs', spec.inputs ?? ['x'], 1, 8);
  const uniformDecl: Readonly<Record<string, ScalarUniformType>> = spec.uniforms ?? {};
  if (typeof uniformDecl !== 'object' || Array.isArray(uniformDecl))
    throw invalidParameter('uniforms', 'an object of name: "f32" | "u32" | "i32"', uniformDecl);
  const generatedUniforms = new Set([...PIXEL_UNIFORMS, ...inputs.map((i) => `${i}_shape`)]);
  const fields: UniformField[] = Object.entries(uniformDecl).map(([k, type]) => {
    checkIdentifier(`uniforms key`, k);
    if (generatedUniforms.has(k)) throw invalidParameter('uniforms key', `a name other than ${[...generatedUniforms].join(', ')}`, k);
    return { name: k, type: oneOf(`uniforms.${k}`, type, SCALAR_TYPES) };
  });
  const defaultBorder = checkBorder('border', spec.border);
  const cpu = spec.cpu;
  if (cpu !== undefined && typeof cpu !== 'function') throw invalidParameter('cpu', 'a function', cpu);
  const key = `custom:${textHash(`${pixel}\u0000${inputs.join(',')}\u0000${fields.map((f) => `${f.name}:${String(f.type)}`).join(',')}`)}`;

  const program = (inDtypes: readonly DType[], outDtype: DType, border: BorderMode): ProgramInfo =>
    pixelProgram({
      name,
      key,
      inputs: inputs.map((n, i) => ({ name: n, dtype: inDtypes[i]! })),
      output: outDtype,
      border,
      uniforms: fields,
      pixel,
    });

  const resolveCompile = (o: CustomKernelCompileOptions = {}) => {
    const dts = o.inputs === undefined ? inputs.map(() => 'f32' as DType) : typeof o.inputs === 'string' ? inputs.map(() => o.inputs as DType) : [...o.inputs];
    if (dts.length !== inputs.length) throw invalidParameter('inputs', `${inputs.length} dtypes`, dts);
    for (const [i, d] of dts.entries()) oneOf(`inputs[${i}]`, d, DTYPES);
    return program(dts, outDType(o.dtype, 'f32'), o.border === undefined ? defaultBorder : checkBorder('border', o.border));
  };

  const run = (given: Tensor | readonly Tensor[], options: CustomKernelCallOptions<U> = {}): Tensor => {
    const tensors = given instanceof Tensor ? [given] : Array.isArray(given) ? (given as readonly Tensor[]) : null;
    if (!tensors?.every((t) => t instanceof Tensor)) throw invalidParameter('inputs', 'a Tensor or an array of Tensors', given);
    if (tensors.length !== inputs.length) {
      throw new KensaError(
        'KENSA_ERR_INVALID_ARGUMENT',
        `Expected ${inputs.length} tensor${inputs.length > 1 ? 's' : ''} (${inputs.join(', ')}) for inputs of ${name} but received ${tensors.length}`,
      );
    }
    for (const [i, t] of tensors.entries()) checkImage(inputs[i]!, t);
    sharedDevice(tensors);
    const first = tensors[0]!;
    const shape = options.shape === undefined ? (first.shape as unknown as Dims4) : checkShape4(options.shape);
    const dtype = outDType(options.dtype, first.dtype);
    const border = options.border === undefined ? defaultBorder : checkBorder('border', options.border);
    const borderValue = options.borderValue === undefined ? 0 : numberInRange('borderValue', options.borderValue, -3.4e38, 3.4e38);
    const uniforms = checkUniformValues(uniformDecl, options.uniforms);
    return onDevice(tensors, {
      gpu: () => {
        const p = program(
          tensors.map((t) => t.dtype),
          dtype,
          border,
        );
        return runPixelProgram(p, tensors, shape, dtype, uniforms, borderValue);
      },
      cpu: () => {
        if (!cpu) {
          throw new KensaError(
            'KENSA_ERR_DEVICE_MISMATCH',
            `Kernel ${name} has no CPU implementation (give customKernel a cpu function) but received CPU tensors; move them to the GPU first`,
          );
        }
        const accessors: Record<string, CpuInput> = {};
        for (const [i, t] of tensors.entries()) accessors[inputs[i]!] = cpuInput(inputs[i]!, t, border, borderValue);
        const cpuUniforms: Record<string, number> = {};
        for (const f of fields) cpuUniforms[f.name] = f.type === 'f32' ? Math.fround(uniforms[f.name]!) : uniforms[f.name]!;
        Object.freeze(accessors);
        Object.freeze(cpuUniforms);
        const typedAccessors = accessors as Readonly<Record<I, CpuInput>>;
        const typedUniforms = cpuUniforms as Readonly<Record<U, number>>;
        return cpuPixelKernel(shape, dtype, (n, c, y, x) => cpu(typedAccessors, typedUniforms, n, c, y, x));
      },
    });
  };

  return Object.assign(run, {
    kernelName: name,
    inputNames: Object.freeze(inputs),
    program: (o?: CustomKernelCompileOptions) => resolveCompile(o),
    compile: (gpu: Gpu, o?: CustomKernelCompileOptions) => compileMapped(gpu, resolveCompile(o), pixel, 'pixel'),
  });
}

/* ------------------------------------------------------------------ rawKernel */

export interface RawBinding {
  name: string;
  dtype: DType;
}

export interface RawOutputBinding extends RawBinding {
  /** array<atomic<u32>> (dtype i32: array<atomic<i32>>) instead of the dtype's storage. */
  atomic?: boolean;
  /** Zero-fill the output before the dispatch (accumulators: pooled buffers hold stale data). */
  zero?: boolean;
}

export interface RawKernelSpec {
  name: string;
  /** WGSL with `@compute @workgroup_size(WG) fn main(...)` and any helpers; bindings are generated. */
  wgsl: string;
  inputs: readonly RawBinding[];
  outputs: readonly RawOutputBinding[];
  /** Uniform fields (read as `u.<name>`), as a list or as name → type. */
  uniforms?: readonly UniformField[] | Readonly<Record<string, UniformType>>;
  /** Threads per workgroup (`WG` in the WGSL), 1 to 1024; default 256. */
  workgroupSize?: number;
}

export interface RawKernelRunArgs {
  /** Tensors in the declared order, or by binding name. */
  inputs: readonly Tensor[] | Readonly<Record<string, Tensor>>;
  outputs: readonly Tensor[] | Readonly<Record<string, Tensor>>;
  uniforms?: UniformValues;
  /** Workgroup count: a number (folded into 2-D over 65535: use linear_workgroup) or [x, y, z]. */
  workgroups: number | readonly [number, number, number];
}

export interface RawKernel {
  /** Records the dispatch into gpu's pending command stream (nothing waits). */
  (gpu: Gpu, args: RawKernelRunArgs): void;
  readonly program: ProgramInfo;
  compile(gpu: Gpu): Promise<void>;
}

const UNIFORM_TYPES = ['u32', 'i32', 'f32', 'vec4u', 'vec4i', 'vec4f'] as const;

function checkUniformType(name: string, t: unknown): UniformType {
  if (typeof t === 'object' && t !== null && !Array.isArray(t)) {
    const a = t as { array?: unknown; length?: unknown };
    oneOf(`${name}.array`, a.array, ['vec4f', 'vec4u', 'vec4i'] as const);
    integerInRange(`${name}.length`, a.length, 1, 1024);
    return t as UniformType;
  }
  return oneOf(name, t, UNIFORM_TYPES);
}

function checkBindings<T extends RawBinding>(what: string, list: unknown, min: number): T[] {
  if (!Array.isArray(list) || list.length < min || list.length > 8) throw invalidParameter(what, `an array of ${min} to 8 {name, dtype} bindings`, list);
  return list.map((b: T, i) => {
    if (typeof b !== 'object' || b === null) throw invalidParameter(`${what}[${i}]`, 'a {name, dtype} binding', b);
    checkIdentifier(`${what}[${i}].name`, b.name);
    oneOf(`${what}[${i}].dtype`, b.dtype, DTYPES);
    return b;
  });
}

function pick(what: string, bindings: readonly RawBinding[], given: unknown, gpu: Gpu, dtypeOf: (b: RawBinding) => DType | null): Tensor[] {
  let list: unknown[];
  if (Array.isArray(given)) list = given;
  else if (typeof given === 'object' && given !== null) {
    const rec = given as Record<string, unknown>;
    for (const k of Object.keys(rec))
      if (!bindings.some((b) => b.name === k)) throw invalidParameter(what, `tensors for ${bindings.map((b) => b.name).join(', ')}`, k);
    list = bindings.map((b) => rec[b.name]);
  } else throw invalidParameter(what, 'an array or an object of Tensors', given);
  if (list.length !== bindings.length) {
    throw new KensaError(
      'KENSA_ERR_INVALID_ARGUMENT',
      `Expected ${bindings.length} tensors (${bindings.map((b) => b.name).join(', ')}) for ${what} but received ${list.length}`,
    );
  }
  return list.map((t, i) => {
    const b = bindings[i]!;
    if (!(t instanceof Tensor)) throw invalidParameter(`${what}.${b.name}`, 'a Tensor', t);
    const on = deviceOf(t);
    if (on !== webgpuDevice(gpu)) {
      throw new KensaError(
        'KENSA_ERR_DEVICE_MISMATCH',
        `Expected ${what}.${b.name} on the kernel's GPU but received a tensor on ${on.kind === 'gpu' ? 'another GPU' : 'the CPU'}`,
      );
    }
    const want = dtypeOf(b);
    if (want !== null && t.dtype !== want) throw new KensaError('KENSA_ERR_DTYPE', `Expected ${what}.${b.name} of dtype ${want} but received ${t.dtype}`);
    return t;
  });
}

/**
 * Defines a fully custom compute kernel (reductions, scatter, histograms).
 * @example
 * const sum = rawKernel({ name: 'sum', inputs: [{ name: 'x', dtype: 'u8' }], outputs: [{ name: 's', dtype: 'i32', atomic: true, zero: true }],
 *   uniforms: { count: 'u32' }, wgsl: `@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
 *     if (g.x < u.count) { atomicAdd(&s[0], i32(x_load(g.x))); } }` });
 * sum(gpu, { inputs: [img], outputs: [acc], uniforms: { count: img.size }, workgroups: Math.ceil(img.size / 256) });
 */
export function rawKernel(spec: RawKernelSpec): RawKernel {
  if (typeof spec !== 'object' || spec === null) throw invalidParameter('spec', 'an object', spec);
  const name = checkIdentifier('name', spec.name);
  const wgsl = spec.wgsl;
  if (typeof wgsl !== 'string' || !/@compute[\s\S]*\bfn\s+main\s*\(/.test(wgsl)) {
    throw invalidParameter(
      'wgsl',
      'WGSL with @compute @workgroup_size(WG) fn main(...)',
      typeof wgsl === 'string' ? `${wgsl.slice(0, 40)}${wgsl.length > 40 ? '…' : ''}` : wgsl,
    );
  }
  const inputs = checkBindings<RawBinding>('inputs', spec.inputs, 0);
  const outputs = checkBindings<RawOutputBinding>('outputs', spec.outputs, 1);
  const seen = new Set<string>();
  [...inputs, ...outputs].forEach((b) => {
    if (seen.has(b.name)) throw invalidParameter('inputs/outputs', 'binding names used once', b.name);
    seen.add(b.name);
  });
  const rawUniforms = spec.uniforms ?? [];
  const fields: UniformField[] = Array.isArray(rawUniforms)
    ? (rawUniforms as readonly UniformField[]).map((f, i) => ({
        name: checkIdentifier(`uniforms[${i}].name`, f?.name),
        type: checkUniformType(`uniforms[${i}].type`, f?.type),
      }))
    : Object.entries(rawUniforms as Record<string, UniformType>).map(([k, t]) => ({
        name: checkIdentifier('uniforms key', k),
        type: checkUniformType(`uniforms.${k}`, t),
      }));
  const uniformNames = new Set<string>();
  for (const f of fields) {
    if (uniformNames.has(f.name)) throw invalidParameter('uniforms', 'field names used once', f.name);
    uniformNames.add(f.name);
  }
  // WGSL structs need a member: a kernel without uniforms gets an unused one
  const declared = fields.length > 0 ? fields : [{ name: 'kensa_unused', type: 'u32' as const }];
  const workgroupSize = spec.workgroupSize === undefined ? 256 : integerInRange('workgroupSize', spec.workgroupSize, 1, 1024);
  const program: ProgramInfo = {
    name,
    key: `raw:${textHash(`${wgsl}\u0000${JSON.stringify(fields)}`)}`,
    inputs: inputs.map((b): TensorBinding => ({ name: b.name, dtype: b.dtype })),
    outputs: outputs.map((b): OutputBinding => ({ name: b.name, dtype: b.dtype, atomic: b.atomic === true })),
    uniforms: declared,
    workgroupSize,
    body: wgsl,
  };

  const run = (gpu: Gpu, args: RawKernelRunArgs): void => {
    if (typeof args !== 'object' || args === null) throw invalidParameter('args', 'an object {inputs, outputs, uniforms, workgroups}', args);
    const ins = pick('inputs', inputs, args.inputs, gpu, (b) => b.dtype);
    // atomic outputs are raw 32-bit words: any 4-byte dtype fits
    const outs = pick('outputs', outputs, args.outputs, gpu, (b) => ((b as RawOutputBinding).atomic ? null : b.dtype));
    outs.forEach((t, i) => {
      if (outputs[i]!.atomic && t.dtype !== 'i32' && t.dtype !== 'f32') {
        throw new KensaError('KENSA_ERR_DTYPE', `Expected outputs.${outputs[i]!.name} of dtype i32 or f32 (32-bit words for atomics) but received ${t.dtype}`);
      }
    });
    const wg = args.workgroups;
    if (typeof wg === 'number') integerInRange('workgroups', wg, 1, 65535 * 65535);
    else if (!Array.isArray(wg) || wg.length !== 3 || !wg.every((v) => Number.isInteger(v) && v >= 1 && v <= 65535)) {
      throw invalidParameter('workgroups', 'an integer or [x, y, z] of integers between 1 and 65535', wg);
    }
    const uniforms = args.uniforms ?? {};
    for (const f of fields)
      if (uniforms[f.name] === undefined)
        throw invalidParameter(`uniforms.${f.name}`, `a value for the declared ${typeof f.type === 'string' ? f.type : 'array'} uniform`, undefined);
    for (const k of Object.keys(uniforms))
      if (!uniformNames.has(k)) throw invalidParameter('uniforms', `only the declared uniforms (${[...uniformNames].join(', ') || 'none'})`, k);
    outs.forEach((t, i) => {
      if (outputs[i]!.zero) gpu.clear(t.gpu.ref);
    });
    const values = fields.length > 0 ? uniforms : { kensa_unused: 0 };
    gpu.dispatch({ program, inputs: ins.map((t) => t.gpu.ref), outputs: outs.map((t) => t.gpu.ref), uniforms: values, workgroups: wg });
  };

  return Object.assign(run, {
    program,
    compile: (gpu: Gpu) => compileMapped(gpu, program, wgsl, 'wgsl'),
  });
}
