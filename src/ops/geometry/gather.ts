/**
 * Gather kernels: the engine of the exact geometry ops (crop, pad, flip, rot90, transpose,
 * nearest resize / warp). Output pixel (n, c, y, x) is a copy of input pixel
 * (n, c, border(sy), border(sx)), where (sx, sy) = src_coord(y, x) is given by the op in WGSL
 * (and mirrored in TypeScript), or the border value when the border mode is constant and the
 * coordinate is outside.
 *
 * Same input and output dtype: the element's bits are copied (a "raw" program over 32-bit
 * words), so every value is reproduced exactly, i32 beyond 2^24, f16/f32 infinities and NaNs
 * included; the constant border value is converted once with saturate_cast. Another output
 * dtype: the value is read as f32 and converted with saturate_cast (round half to even, clamp;
 * f16 clamps to ±65504), as OpenCV's convertTo would after the copy.
 *
 * Each thread writes one output word (4 u8, 2 u16/f16 or 1 i32/f32 pixels) and finds its
 * (n, c, y, x) with one division chain, then steps through the word's pixels. Same-dtype integer
 * maps of the dihedral group plus a translation ('inside' or constant border: flips, quarter turns,
 * transposes, crops, constant pads and their compositions) take the tiled path instead (dihedral.ts),
 * and of those, maps that only mirror rows or columns of rows on whole words the flip word kernels
 * (flip-words.ts), at copy speed.
 */
import { onDevice } from '../../device.js';
import { BYTES_PER_ELEMENT, ELEMENTS_PER_WORD, allocTyped, saturate, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { UniformField, UniformValues } from '../../gpu/uniforms.js';
import { Tensor } from '../../tensor.js';
import { borderIndex, wgslBorder, type BorderMode } from '../../kernels/border.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, wgslWordElements, type Dims4 } from '../../kernels/pixel.js';
import { packPerSample, perSampleField } from '../image.js';
import { isDihedral, runDihedral } from './dihedral.js';
import { flipFlagsOf, flipsByWords, runFlipWords } from './flip-words.js';

/** Border modes of a gather: the three of border.ts, or 'inside' when every coordinate is in range. */
export type GatherBorder = BorderMode | 'inside';

export const ALL_DTYPES: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16'];

export interface GatherSpec {
  /** Program name (the op's). */
  name: string;
  /** Variant key beyond dtypes and border (e.g. the coordinate rule). */
  key: string;
  inDtype: DType;
  outDtype: DType;
  border: GatherBorder;
  /** Uniforms the coordinate function reads (`u.<name>`). */
  uniforms: readonly UniformField[];
  /**
   * WGSL defining `fn src_coord(y: u32, x: u32) -> vec2<i32>` returning (sx, sy) in the input,
   * before border handling. May read `u.src_shape` (N, C, H, W of the input) and `u.out_shape`.
   * With `perSample`, `fn src_coord(n: u32, y: u32, x: u32)`: the map depends on the sample.
   */
  coord: string;
  perSample?: boolean;
}

function coordCall(spec: GatherSpec): string {
  return spec.perSample ? 'src_coord(n, y, x)' : 'src_coord(y, x)';
}

function borderFn(border: GatherBorder): string {
  return border === 'inside' ? 'fn border(p: i32, n: i32) -> i32 { return p; }' : wgslBorder(border);
}

/** Binding dtype of the raw program: one with the element's width (bits are copied, never converted). */
function rawBinding(dtype: DType): DType {
  const bytes = BYTES_PER_ELEMENT[dtype];
  return bytes === 4 ? 'i32' : bytes === 2 ? 'u16' : 'u8';
}

function rawProgram(spec: GatherSpec): ProgramInfo {
  const bytes = BYTES_PER_ELEMENT[spec.inDtype];
  const k = ELEMENTS_PER_WORD[spec.inDtype];
  const bind = rawBinding(spec.inDtype);
  const read =
    bytes === 4
      ? 'return bitcast<u32>(src[j]);'
      : bytes === 2
        ? 'return (src[j >> 1u] >> ((j & 1u) * 16u)) & 0xffffu;'
        : 'return (src[j >> 2u] >> ((j & 3u) * 8u)) & 0xffu;';
  const store = bytes === 4 ? 'out[w] = bitcast<i32>(word);' : 'out[w] = word;';
  const body = /* wgsl */ `
${borderFn(spec.border)}
${spec.coord}
fn src_bits(n: u32, c: u32, y: u32, x: u32) -> u32 {
  let p = ${coordCall(spec)};
  let s = u.src_shape;
  let iy = border(p.y, i32(s.z));
  let ix = border(p.x, i32(s.w));
  if (iy < 0 || ix < 0) { return u.fill_bits; }
  let j = ((n * s.y + c) * s.z + u32(iy)) * s.w + u32(ix);
  ${read}
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let w = linear_workgroup(wid, nwg) * WG + li;
  if (w >= u.out_words) { return; }
  var word = 0u;
  ${wgslWordElements(k, `word = word | (src_bits(n, c, y, x) << (k * ${bytes * 8}u));`)}
  ${store}
}`;
  return {
    name: `${spec.name}_raw`,
    key: `${spec.key};border=${spec.border};bytes=${bytes}`,
    inputs: [{ name: 'src', dtype: bind }],
    outputs: [{ name: 'out', dtype: bind }],
    uniforms: [
      { name: 'out_shape', type: 'vec4u' },
      { name: 'out_words', type: 'u32' },
      { name: 'out_numel', type: 'u32' },
      { name: 'fill_bits', type: 'u32' },
      { name: 'src_shape', type: 'vec4u' },
      ...spec.uniforms,
    ],
    workgroupSize: 256,
    body,
  };
}

function convertProgram(spec: GatherSpec): ProgramInfo {
  // pixelProgram's src_at applies the border; 'inside' has nothing to handle, replicate is a clamp.
  return pixelProgram({
    name: `${spec.name}_convert`,
    key: `${spec.key};gather=${spec.border}`,
    inputs: [{ name: 'src', dtype: spec.inDtype }],
    output: spec.outDtype,
    border: spec.border === 'inside' ? 'replicate' : spec.border,
    uniforms: spec.uniforms,
    pixel: /* wgsl */ `
${spec.coord}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let p = ${coordCall(spec)};
  return src_at(n, c, p.y, p.x);
}`,
  });
}

const rawPrograms = new Map<string, ProgramInfo>();

/**
 * The program a gather runs: raw bit copy for equal dtypes, converting otherwise. Equal specs
 * return the same object (as pixelProgram's do), so a call does not rebuild the WGSL.
 */
export function gatherProgram(spec: GatherSpec): ProgramInfo {
  if (spec.inDtype !== spec.outDtype) return convertProgram(spec);
  const id = `${spec.name}|${spec.key}|${spec.inDtype}|${spec.border}|${spec.perSample === true}|${spec.uniforms.map((f) => f.name).join(',')}|${spec.coord}`;
  let program = rawPrograms.get(id);
  if (!program) rawPrograms.set(id, (program = rawProgram(spec)));
  return program;
}

/** Every dtype pair of a gather (raw for the five equal pairs, converting for the rest). */
export function gatherVariants(make: (inDtype: DType, outDtype: DType) => ProgramInfo, dtypes: readonly DType[] = ALL_DTYPES): ProgramInfo[] {
  return dtypes.flatMap((a) => dtypes.map((b) => make(a, b)));
}

const bitsF32 = new Float32Array(1);
const bitsU32 = new Uint32Array(bitsF32.buffer);

/** Storage bits of `value` converted to `dtype` (saturate_cast), as one element of a word. */
export function fillBits(dtype: DType, value: number): number {
  const v = saturate(dtype, value);
  if (dtype === 'f32') {
    bitsF32[0] = v;
    return bitsU32[0]!;
  }
  return dtype === 'i32' ? v >>> 0 : v;
}

/** Records a gather on the GPU. */
export function runGather(x: Tensor, spec: GatherSpec, outShape: Dims4, uniforms: UniformValues, borderValue: number): Tensor {
  const program = gatherProgram(spec);
  if (program.name.endsWith('_convert')) return runPixelProgram(program, [x], outShape, spec.outDtype, uniforms, borderValue);
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, outShape, spec.outDtype);
  const words = Math.ceil(out.size / ELEMENTS_PER_WORD[spec.outDtype]);
  gpu.dispatch({
    program,
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { ...uniforms, out_shape: outShape, out_words: words, out_numel: out.size, fill_bits: fillBits(spec.inDtype, borderValue), src_shape: x.shape },
    workgroups: Math.ceil(words / 256),
  });
  return out;
}

/**
 * CPU mirror: `coord(y, x, p, n)` writes (sx, sy) into p[0], p[1]; `n` is the sample when
 * `perSample` is set (else 0: one map for every sample). Equal dtypes copy the stored element
 * (bits); otherwise the value is converted with saturate_cast.
 */
export function cpuGather(
  x: Tensor,
  outDtype: DType,
  border: GatherBorder,
  borderValue: number,
  outShape: Dims4,
  coord: (y: number, x: number, p: Int32Array, n: number) => void,
  perSample = false,
): Tensor {
  const p = new Int32Array(2);
  const mode: BorderMode = border === 'inside' ? 'replicate' : border;
  if (x.dtype !== outDtype) {
    const src = cpuAccessor(x, mode, borderValue);
    return cpuPixelKernel(outShape, outDtype, (n, c, y, xx) => {
      coord(y, xx, p, perSample ? n : 0);
      return src(n, c, p[1]!, p[0]!);
    });
  }
  const [, C, H, W] = x.shape as Dims4;
  const [N, OC, OH, OW] = outShape;
  const data = x.data;
  const out = allocTyped(outDtype, N * OC * OH * OW);
  const fill = saturate(outDtype, borderValue);
  // the source offset of each output pixel of a plane is the same for every plane (of a sample)
  const offsets = new Int32Array(OH * OW);
  const fillOffsets = (n: number) => {
    for (let y = 0, o = 0; y < OH; y++) {
      for (let xx = 0; xx < OW; xx++, o++) {
        coord(y, xx, p, n);
        const iy = borderIndex(p[1]!, H, mode);
        const ix = borderIndex(p[0]!, W, mode);
        offsets[o] = iy < 0 || ix < 0 ? -1 : iy * W + ix;
      }
    }
  };
  fillOffsets(0);
  let i = 0;
  for (let plane = 0; plane < N * C; plane++) {
    if (perSample && plane > 0 && plane % C === 0) fillOffsets(plane / C);
    const base = plane * H * W;
    for (let o = 0; o < offsets.length; o++, i++) {
      const off = offsets[o]!;
      out[i] = off < 0 ? fill : data[base + off]!;
    }
  }
  return Tensor.fromArray(out, outShape, outDtype);
}

/**
 * Integer affine maps: sx = mx[0]·y + mx[1]·x + mx[2], sy = my[0]·y + my[1]·x + my[2].
 * One program per (dtypes, border) serves crop, pad, flip, rot90 and transpose.
 */
export interface IntegerMap {
  mx: readonly [number, number, number];
  my: readonly [number, number, number];
}

const INTEGER_MAP_COORD = /* wgsl */ `
fn src_coord(y: u32, x: u32) -> vec2<i32> {
  let yi = i32(y);
  let xi = i32(x);
  return vec2<i32>(u.map_x.x * yi + u.map_x.y * xi + u.map_x.z, u.map_y.x * yi + u.map_y.y * xi + u.map_y.z);
}`;

/** Per-sample maps: sample n's map_x and map_y are u.maps[2n] and u.maps[2n + 1]. */
const INTEGER_MAPS_COORD = /* wgsl */ `
fn src_coord(n: u32, y: u32, x: u32) -> vec2<i32> {
  let yi = i32(y);
  let xi = i32(x);
  let mx = u.maps[2u * n];
  let my = u.maps[2u * n + 1u];
  return vec2<i32>(mx.x * yi + mx.y * xi + mx.z, my.x * yi + my.y * xi + my.z);
}`;

function integerMapSpec(name: string, inDtype: DType, outDtype: DType, border: GatherBorder, perSample = false): GatherSpec {
  return {
    name,
    key: perSample ? 'map=int;per_sample' : 'map=int',
    inDtype,
    outDtype,
    border,
    uniforms: perSample
      ? [perSampleField('maps', 'vec4i', 2)]
      : [
          { name: 'map_x', type: 'vec4i' },
          { name: 'map_y', type: 'vec4i' },
        ],
    coord: perSample ? INTEGER_MAPS_COORD : INTEGER_MAP_COORD,
    perSample,
  };
}

/** The program of an integer map; `perSample` reads one map per sample. */
export function integerMapProgram(name: string, inDtype: DType, outDtype: DType, border: GatherBorder, perSample = false): ProgramInfo {
  return gatherProgram(integerMapSpec(name, inDtype, outDtype, border, perSample));
}

/** Every dtype pair of an integer map, one map for the batch and one per sample (compile-all lists). */
export function integerMapVariants(name: string, border: GatherBorder): ProgramInfo[] {
  return [false, true].flatMap((ps) => gatherVariants((a, b) => integerMapProgram(name, a, b, border, ps)));
}

/** Runs an integer map where `x` lives: one map for every sample, or a list of one per sample. */
export function integerMap(
  name: string,
  x: Tensor,
  outShape: Dims4,
  outDtype: DType,
  border: GatherBorder,
  borderValue: number,
  m: IntegerMap | readonly IntegerMap[],
): Tensor {
  const maps: readonly IntegerMap[] = 'mx' in m ? [m] : m;
  const perSample = !('mx' in m);
  const uniforms: UniformValues = perSample
    ? {
        maps: packPerSample(
          maps.map((k) => [...k.mx, 0, ...k.my, 0]),
          2,
        ),
      }
    : { map_x: [...maps[0]!.mx, 0], map_y: [...maps[0]!.my, 0] };
  return onDevice(x, {
    gpu: () => {
      if (outDtype !== x.dtype || (border !== 'inside' && border !== 'constant') || !maps.every(isDihedral))
        return runGather(x, integerMapSpec(name, x.dtype, outDtype, border, perSample), outShape, uniforms, borderValue);
      const flips = flipsByWords(x) ? flipFlagsOf(maps, x.shape, outShape) : null;
      return flips ? runFlipWords(x, flips) : runDihedral(x, outShape, maps, fillBits(x.dtype, borderValue));
    },
    cpu: () =>
      cpuGather(
        x,
        outDtype,
        border,
        borderValue,
        outShape,
        (y, xx, p, n) => {
          const { mx, my } = maps[n]!;
          p[0] = mx[0] * y + mx[1] * xx + mx[2];
          p[1] = my[0] * y + my[1] * xx + my[2];
        },
        perSample,
      ),
  });
}
