/** The ops bench/ops times: each maps a u8 N×1×H×W batch to its output, with the peer case name. */
import type { DType } from '../../src/dtype.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import type { Tensor } from '../../src/tensor.js';

export interface BenchCase {
  name: string;
  /** Key in bench/ops/peers.py's output, or null when no peer runs it. */
  peer: string | null;
  outDtype: DType;
  /** Output elements per input element (for the bytes-moved count). */
  outRatio: number;
  run(x: Tensor): Tensor;
}

export const CASES: BenchCase[] = [
  { name: 'gaussian 5×5 u8→f32', peer: 'gaussian5_f32', outDtype: 'f32', outRatio: 1, run: (x) => gaussianBlur(x, { ksize: 5, dtype: 'f32' }) },
  { name: 'gaussian 5×5 u8→f16', peer: 'gaussian5_f16', outDtype: 'f16', outRatio: 1, run: (x) => gaussianBlur(x, { ksize: 5, dtype: 'f16' }) },
];
