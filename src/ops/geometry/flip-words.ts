/**
 * Word kernels of same-dtype flips, on rows that start and end on a storage word (W a multiple of
 * 4 u8 / 2 u16·f16 pixels): output word q of a row is input word W/k−1−q of the mirrored row
 * with its elements reversed (a byte swap for u8, a half swap for u16/f16). Rows of 4 words
 * (W % 16 u8, % 8 u16, % 4 i32/f32) move vec4<u32> (16 bytes) per thread. Each sample has its own
 * pair of flags (uniforms), so a batch of per-sample flips (augmentation's Flip, half turns) is
 * one copy-speed pass; one pair serves the whole batch when the flags are common.
 * They exist because the gather engine's per-pixel loads and coordinates, and the tiled maps'
 * staging, run far below the copy bandwidth.
 */
import { BYTES_PER_ELEMENT, ELEMENTS_PER_WORD } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { UniformField, UniformValues } from '../../gpu/uniforms.js';
import type { Tensor } from '../../tensor.js';
import type { Dims4 } from '../../kernels/pixel.js';
import { type FlipFlags, runWordKernel, WORD_DIMS, WORD_MAIN, WORD_WG } from '../../kernels/word.js';
import { packPerSample, perSampleField } from '../image.js';
import type { IntegerMap } from './gather.js';

/** Elements of storage word `w` in reverse order, for `bytes`-wide elements. */
function reverseWord(bytes: number, w: string): string {
  if (bytes === 1) return `((${w} << 24u) | ((${w} << 8u) & 0xff0000u) | ((${w} >> 8u) & 0xff00u) | (${w} >> 24u))`;
  if (bytes === 2) return `((${w} << 16u) | (${w} >> 16u))`;
  return w;
}

const programs = new Map<string, ProgramInfo>();

/** The uniforms a word pass reads per-sample flips from: sample n's flags (x, y: mirror columns, rows; nonzero = yes) at u.flips[n · u.per_sample]. */
export const FLIP_UNIFORMS: readonly UniformField[] = [{ name: 'per_sample', type: 'u32' }, perSampleField('flips', 'vec4i', 1)];

/** The values of FLIP_UNIFORMS for `flags`: one pair for the batch, or one per sample. */
export function flipUniformValues({ horizontal, vertical }: FlipFlags): UniformValues {
  return {
    per_sample: horizontal.length > 1 ? 1 : 0,
    flips: packPerSample(
      horizontal.map((h, n) => [h ? 1 : 0, vertical[n] ? 1 : 0]),
      1,
    ),
  };
}

/**
 * The flip word kernel of `bytes`-wide elements: each thread writes one storage word (`vec` false)
 * or four (`vec` true, rows of a multiple of 4 words). u.dims.w holds the channels; sample n's
 * flags (x, y: mirror columns, rows; nonzero = yes) are u.flips[n · u.per_sample].
 */
export function flipWordProgram(bytes: number, vec: boolean): ProgramInfo {
  const id = `${bytes}|${vec}`;
  let p = programs.get(id);
  if (p) return p;
  const reversed = vec ? 'vec4<u32>(REV(a.w), REV(a.z), REV(a.y), REV(a.x))' : 'REV(a)';
  const body = /* wgsl */ `
// units: storage words, or vec4s of words
${WORD_MAIN}
  let f = u.flips[(rows / u.dims.y / u.dims.w) * u.per_sample];
  let srow = select(rows, rows + u.dims.y - 1u - 2u * y, f.y != 0);
  let j = srow * u.dims.x + select(q, u.dims.x - 1u - q, f.x != 0);
  let a = ${vec ? 'src_v[j]' : 'src[j]'};
  ${vec ? 'out_v[i]' : 'out[i]'} = select(a, ${reversed.replaceAll(/REV\(([^)]*)\)/g, (_, w: string) => reverseWord(bytes, w))}, f.x != 0);
}`;
  p = {
    name: 'flip_words',
    key: `bytes=${bytes};vec=${vec}`,
    // with `vec`, the bindings as vectors (only these are used): 16 bytes per load and store
    inputs: [{ name: 'src', dtype: 'u8', ...(vec ? { views: { src_v: 'vec4<u32>' } } : {}) }],
    outputs: [{ name: 'out', dtype: 'u8', ...(vec ? { views: { out_v: 'vec4<u32>' } } : {}) }],
    uniforms: [WORD_DIMS, ...FLIP_UNIFORMS],
    workgroupSize: WORD_WG,
    body,
  };
  programs.set(id, p);
  return p;
}

/**
 * The flags of integer maps (destination → source) from an image of `inShape` to `outShape` when
 * the shapes are equal and each map is a flip or the identity; null otherwise.
 */
export function flipFlagsOf(maps: readonly IntegerMap[], inShape: readonly number[], outShape: readonly number[]): FlipFlags | null {
  if (outShape.some((s, i) => s !== inShape[i])) return null;
  const [, , h, w] = inShape as Dims4;
  const axis = (m: readonly number[], a: number, b: number, last: number): boolean | null =>
    m[a] !== 0 ? null : m[b] === 1 && m[2] === 0 ? false : m[b] === -1 && m[2] === last ? true : null;
  const horizontal: boolean[] = [];
  const vertical: boolean[] = [];
  for (const m of maps) {
    const fx = axis(m.mx, 0, 1, w - 1);
    const fy = axis(m.my, 1, 0, h - 1);
    if (fx === null || fy === null) return null;
    horizontal.push(fx);
    vertical.push(fy);
  }
  return { horizontal, vertical };
}

/** Whether the word kernels take `x`'s rows (whole storage words, something to flip). */
export function flipsByWords(x: Tensor): boolean {
  return x.size > 0 && x.shape[3]! % ELEMENTS_PER_WORD[x.dtype] === 0;
}

/**
 * Records a same-dtype flip of the GPU tensor `x` by words (`flipsByWords(x)` must hold): the
 * flags one pair for the batch, or one per sample. `vecAllowed` false keeps one word per thread
 * (tests: the scalar kernel at any width).
 */
export function runFlipWords(x: Tensor, flags: FlipFlags, vecAllowed = true): Tensor {
  const rowWords = x.shape[3]! / ELEMENTS_PER_WORD[x.dtype];
  const vec = vecAllowed && rowWords % 4 === 0;
  return runWordKernel(flipWordProgram(BYTES_PER_ELEMENT[x.dtype], vec), x, vec ? rowWords / 4 : rowWords, flipUniformValues(flags));
}

/** Every program variant of the flip word kernels, for compile-all tests. */
export function flipWordPrograms(): ProgramInfo[] {
  return [1, 2, 4].flatMap((b) => [true, false].map((vec) => flipWordProgram(b, vec)));
}
