/** GPU-vs-CPU parity: run an op on the CPU tensors and on their GPU copies, compare. */
import type { Gpu } from '../../src/gpu/gpu.js';
import type { Tensor } from '../../src/tensor.js';
import { assertClose, type Tolerance } from './compare.js';

export async function assertGpuMatchesCpu(gpu: Gpu, inputs: readonly Tensor[], op: (...xs: Tensor[]) => Tensor, tol: Tolerance = {}, what = ''): Promise<void> {
  const expected = op(...inputs);
  const onGpu = await Promise.all(inputs.map((t) => t.toGpu(gpu)));
  const result = op(...onGpu);
  const actual = await result.toCpu();
  result.dispose();
  for (const t of onGpu) t.dispose();
  assertClose(actual, expected, tol, what);
}
