/**
 * Reductions of the nn primitives over any set of axes (output keeps them as size 1): sum, sum of
 * squares and max. One workgroup per output element (or, for a few outputs of many elements,
 * several per output and a second pass over their partial results): its threads stride over the
 * reduced elements, then a tree in workgroup memory. The
 * `accumulate` variant adds into (max: maxes with) the output, so one scalar can gather a sum over
 * many tensors (a global gradient norm) without a tensor per term.
 */
import { KensaError } from '../errors.js';
import type { ProgramInfo } from '../gpu/program.js';
import type { BufferRef } from '../gpu/gpu.js';
import type { UniformValues } from '../gpu/uniforms.js';
import { numel, type Shape, Tensor } from '../tensor.js';
import { collapse, cpuStorage, emptyOn, gpuOf, lanes8, launchCpu, launchGpu } from './launch.js';

export const REDUCE_OPS = ['sum', 'sumsq', 'max'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

const WG = 64;
const programs = new Map<string, ProgramInfo>();

const TERM: Record<ReduceOp, string> = {
  sum: 'v',
  sumsq: 'v * v',
  max: 'v',
};

export function reduceProgram(op: ReduceOp, accumulate: boolean): ProgramInfo {
  const id = `${op}|${accumulate}`;
  let p = programs.get(id);
  if (p) return p;
  const combine = op === 'sum' || op === 'sumsq' ? (x: string, y: string) => `${x} + ${y}` : (x: string, y: string) => `max(${x}, ${y})`;
  const init = op === 'max' ? '-0x1.fffffep+127f' : '0.0';
  const eight = { array: 'vec4u', length: 2 } as const;
  p = {
    name: `nn_reduce_${op}`,
    key: accumulate ? 'accumulate' : '',
    inputs: [{ name: 'x', dtype: 'f32' }],
    outputs: [{ name: 'out', dtype: 'f32' }],
    uniforms: [
      { name: 'outputs', type: 'u32' },
      { name: 'count', type: 'u32' },
      { name: 'splits', type: 'u32' },
      { name: 'chunk', type: 'u32' },
      { name: 'scale', type: 'f32' },
      { name: 'offset', type: 'u32' },
      { name: 'kept_rank', type: 'u32' },
      { name: 'red_rank', type: 'u32' },
      { name: 'kept_shape', type: eight },
      { name: 'kept_strides', type: eight },
      { name: 'red_shape', type: eight },
      { name: 'red_strides', type: eight },
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
var<workgroup> partial: array<f32, WG>;
fn offset_of(r: u32, rank: u32, shape: array<vec4<u32>, 2>, strides: array<vec4<u32>, 2>) -> u32 {
  var rem = r;
  var o = 0u;
  for (var d = 7i; d >= i32(8u - rank); d--) {
    let s = shape[d / 4][d % 4];
    o += (rem % s) * strides[d / 4][d % 4];
    rem = rem / s;
  }
  return o;
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  // workgroup w reduces part (w % splits) of output (w / splits) and writes element w
  let w = linear_workgroup(wid, nwg);
  if (w >= u.outputs * u.splits) { return; }
  let o = w / u.splits;
  let first = (w - o * u.splits) * u.chunk;
  let last = min(u.count, first + u.chunk);
  let base = u.offset + offset_of(o, u.kept_rank, u.kept_shape, u.kept_strides);
  var acc = ${init};
  for (var r = first + li; r < last; r += WG) {
    let v = x[base + offset_of(r, u.red_rank, u.red_shape, u.red_strides)];
    acc = ${combine('acc', TERM[op])};
  }
  partial[li] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (li < s) { partial[li] = ${combine('partial[li]', 'partial[li + s]')}; }
    workgroupBarrier();
  }
  if (li == 0u) {
    let v = partial[0] * u.scale;
    out[w] = ${accumulate ? combine('out[w]', 'v') : 'v'};
  }
}`,
  };
  programs.set(id, p);
  return p;
}

/** The CPU reference over any numeric arrays (f32 tensors, or f64 in gradient checks). */
export function cpuReduce(
  op: ReduceOp,
  x: ArrayLike<number>,
  layout: { offset: number; kept: Split; reduced: Split },
  scale: number,
  out: { [i: number]: number },
  accumulate: boolean,
): void {
  const { kept, reduced } = layout;
  const outputs = numel(kept.shape);
  const count = numel(reduced.shape);
  for (let o = 0; o < outputs; o++) {
    const base = layout.offset + offsetOf(o, kept);
    let acc = op === 'max' ? -Infinity : 0;
    for (let r = 0; r < count; r++) {
      const v = x[base + offsetOf(r, reduced)]!;
      if (op === 'sum') acc += v;
      else if (op === 'sumsq') acc += v * v;
      else acc = Math.max(acc, v);
    }
    const v = acc * scale;
    out[o] = !accumulate ? v : op === 'sum' || op === 'sumsq' ? out[o]! + v : Math.max(out[o]!, v);
  }
}

interface Split {
  shape: number[];
  strides: number[];
}

function offsetOf(r: number, s: Split): number {
  let o = 0;
  for (let d = s.shape.length - 1; d >= 0; d--) {
    o += (r % s.shape[d]!) * s.strides[d]!;
    r = Math.floor(r / s.shape[d]!);
  }
  return o;
}

/** Splits `x`'s axes into kept and reduced, each collapsed. */
export function reduceLayout(shape: Shape, strides: Shape, axes: readonly number[]): { kept: Split; reduced: Split } {
  const keptAxes = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const pick = (list: number[]) => {
    const c = collapse(
      list.map((d) => shape[d]!),
      [list.map((d) => strides[d]!)],
    );
    return { shape: c.shape, strides: c.strides[0]! };
  };
  return { kept: pick(keptAxes), reduced: pick([...axes]) };
}

export interface ReduceOptions {
  /** Multiplies the result (a mean is a sum scaled by 1 / count). */
  scale?: number;
  /** Adds into (max: maxes with) this f32 tensor of the output's size instead of a new tensor. */
  into?: Tensor;
}

/** Elements one workgroup reduces before a reduction with few outputs is split over several. */
const CHUNK = 4096;

/**
 * Workgroups per output: 1, or for a few outputs of many elements (a loss's mean, a per-sample
 * sum) enough to spread the work, whose partial results a second pass reduces.
 */
function splitsFor(outputs: number, count: number): number {
  return outputs >= 256 || count <= 2 * CHUNK ? 1 : Math.min(1024, Math.ceil(count / CHUNK));
}

/** Reduces `x` (f32, any view) over `axes` (valid, distinct); the output keeps them as size 1. */
export function runReduce(op: ReduceOp, x: Tensor, axes: readonly number[], options: ReduceOptions = {}): Tensor {
  const outShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = options.into ?? emptyOn(x, outShape);
  if (out.size !== numel(outShape))
    throw new KensaError('KENSA_ERR_INTERNAL', `reduce ${op}: an accumulator of ${out.size} elements for ${numel(outShape)} outputs`);
  const layout = reduceLayout(x.shape, x.strides, axes);
  const scale = options.scale ?? 1;
  const accumulate = options.into !== undefined;
  const outputs = numel(layout.kept.shape);
  const count = numel(layout.reduced.shape);
  const splits = splitsFor(outputs, count);
  const gpu = gpuOf(x);
  if (!gpu) {
    launchCpu();
    if (splits > 1) launchCpu();
    cpuReduce(op, cpuStorage(x), { offset: x.offset, ...layout }, Math.fround(scale), cpuStorage(out), accumulate);
    return out;
  }
  const s = x.storage;
  if (!('ref' in s)) throw new KensaError('KENSA_ERR_INTERNAL', 'reduce: a CPU tensor on the GPU path');
  const dispatch = (program: ProgramInfo, input: BufferRef, output: BufferRef, uniforms: UniformValues, groups: number) =>
    launchGpu(gpu, { program, inputs: [input], outputs: [output], uniforms, workgroups: groups });
  const partials = splits > 1 ? Tensor.empty(gpu, [outputs, splits], 'f32') : null;
  const chunk = Math.ceil(count / splits);
  dispatch(
    reduceProgram(op, partials ? false : accumulate),
    s.ref,
    (partials ?? out).gpu.ref,
    {
      outputs,
      count,
      splits,
      chunk,
      scale: partials ? 1 : scale,
      offset: x.offset,
      kept_rank: layout.kept.shape.length,
      red_rank: layout.reduced.shape.length,
      kept_shape: lanes8(layout.kept.shape, 1),
      kept_strides: lanes8(layout.kept.strides, 0),
      red_shape: lanes8(layout.reduced.shape, 1),
      red_strides: lanes8(layout.reduced.strides, 0),
    },
    outputs * splits,
  );
  if (partials) {
    // the partial sums of squares are summed; maxima maxed
    dispatch(
      reduceProgram(op === 'max' ? 'max' : 'sum', accumulate),
      partials.gpu.ref,
      out.gpu.ref,
      {
        outputs,
        count: splits,
        splits: 1,
        chunk: splits,
        scale,
        offset: 0,
        kept_rank: 1,
        red_rank: 1,
        kept_shape: lanes8([outputs], 1),
        kept_strides: lanes8([splits], 0),
        red_shape: lanes8([splits], 1),
        red_strides: lanes8([1], 0),
      },
      outputs,
    );
    partials.dispose();
  }
  return out;
}

export function reducePrograms(): ProgramInfo[] {
  return REDUCE_OPS.flatMap((op) => [reduceProgram(op, false), reduceProgram(op, true)]);
}
