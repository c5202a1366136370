/**
 * Samples of a batch moved whole, for work that only some samples need (augmentation's blurs
 * when a tenth of a batch draws them): takeSamples gathers some samples into a batch of their
 * own, putSamples makes a copy of a batch with some samples replaced. Bits are copied. On the GPU
 * they are buffer copies, one per run of consecutive samples, so a sample must start on a storage
 * word (`samplesOnWords`).
 */
import { BYTES_PER_ELEMENT } from '../dtype.js';
import { onDevice } from '../device.js';
import type { AnyTypedArray } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { KensaError } from '../errors.js';
import { invalidParameter } from '../validate.js';
import { checkImage } from './image.js';

/** Whether every sample of `x` starts on a storage word (C·H·W·bytes a multiple of 4), as the GPU's copies need. */
export function samplesOnWords(x: Tensor): boolean {
  return ((x.size / x.shape[0]!) * BYTES_PER_ELEMENT[x.dtype]) % 4 === 0;
}

function checkIndices(name: string, indices: readonly number[], n: number): void {
  const ok = Array.isArray(indices) && indices.every((i) => Number.isInteger(i) && i >= 0 && i < n) && new Set(indices).size === indices.length;
  if (!ok || indices.length === 0) throw invalidParameter(name, `a non-empty array of distinct sample indices from 0 to ${n - 1}`, indices);
}

/** A copy of `count` samples from `src` at sample `from` to `dst` at sample `to`, on the tensors' device. */
interface SampleRun {
  readonly src: Tensor;
  readonly from: number;
  readonly to: number;
  count: number;
}

/** Records `runs` into a new tensor of `shape` (the runs cover it). */
function copyRuns(like: Tensor, shape: readonly number[], runs: readonly SampleRun[]): Tensor {
  const sampleSize = like.size / like.shape[0]!;
  return onDevice(
    runs.map((r) => r.src),
    {
      gpu: () => {
        const out = Tensor.empty(like.gpu.gpu, shape, like.dtype);
        const bytes = sampleSize * BYTES_PER_ELEMENT[like.dtype];
        for (const r of runs) like.gpu.gpu.copy(r.src.gpu.ref, r.from * bytes, out.gpu.ref, r.to * bytes, r.count * bytes);
        return out;
      },
      cpu: () => {
        const out = Tensor.zeros(shape, like.dtype);
        const data = out.data as AnyTypedArray & { set(a: ArrayLike<number>, offset: number): void };
        for (const r of runs) data.set((r.src.data as Uint8Array).subarray(r.from * sampleSize, (r.from + r.count) * sampleSize), r.to * sampleSize);
        return out;
      },
    },
  );
}

/** Appends a one-sample copy to `runs`, extending the last run when it continues it. */
function addRun(runs: SampleRun[], src: Tensor, from: number, to: number): void {
  const last = runs.at(-1);
  if (last && last.src === src && last.from + last.count === from && last.to + last.count === to) last.count++;
  else runs.push({ src, from, to, count: 1 });
}

function checkSamples(x: Tensor): void {
  checkImage('x', x);
  if (!x.isContiguous) throw new KensaError('KENSA_ERR_SHAPE', `Expected a contiguous batch but received a view of shape [${x.shape.join(', ')}]`);
  if (x.device === 'gpu' && !samplesOnWords(x))
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected samples that start on a storage word on the GPU (C·H·W·bytes a multiple of 4) but received [${x.shape.join(', ')}] ${x.dtype}`,
    );
}

/**
 * Samples `indices` of `x`, in that order, as a batch of their own. Runs where `x` lives.
 * @example takeSamples(batch, [2, 5])   // a 2-sample batch of samples 2 and 5
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for indices that are not distinct samples of x; KENSA_ERR_SHAPE for a view, or GPU samples not on a storage word.
 */
export function takeSamples(x: Tensor, indices: readonly number[]): Tensor {
  checkSamples(x);
  checkIndices('indices', indices, x.shape[0]!);
  const runs: SampleRun[] = [];
  for (const [k, i] of indices.entries()) addRun(runs, x, i, k);
  return copyRuns(x, [indices.length, ...x.shape.slice(1)], runs);
}

/**
 * A copy of `base` whose samples `indices` are those of `values` (its sample k at indices[k]).
 * Runs where the tensors live.
 * @example putSamples(batch, [2, 5], blurred)   // batch with samples 2 and 5 from blurred's 0 and 1
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for bad indices; KENSA_ERR_SHAPE for values of another dtype or sample shape, or not one sample per index.
 */
export function putSamples(base: Tensor, indices: readonly number[], values: Tensor): Tensor {
  checkSamples(base);
  checkSamples(values);
  checkIndices('indices', indices, base.shape[0]!);
  const want = [indices.length, ...base.shape.slice(1)];
  if (values.dtype !== base.dtype || values.shape.some((d, i) => d !== want[i]))
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected values of shape [${want.join(', ')}] ${base.dtype} but received [${values.shape.join(', ')}] ${values.dtype}`,
    );
  const at = new Map(indices.map((i, k) => [i, k]));
  const runs: SampleRun[] = [];
  for (let i = 0; i < base.shape[0]!; i++) {
    const k = at.get(i);
    if (k === undefined) addRun(runs, base, i, i);
    else addRun(runs, values, k, i);
  }
  return copyRuns(base, base.shape, runs);
}
