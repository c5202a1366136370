/**
 * A run of consecutive pointwise colour transforms on the image. Each runs its own `apply` here;
 * fusing the run into one pass through the transforms' `ColorStage`s replaces this body.
 */
import type { Tensor } from '../tensor.js';
import type { Json, PointwiseTransform } from './transform.js';

/** Applies `run[k]` with the per-sample `params[k]` in order. */
export function applyPointwise(run: readonly PointwiseTransform[], params: readonly (readonly (Json | null)[])[], image: Tensor): Tensor {
  return run.reduce((x, t, k) => (params[k]!.every((p) => p === null) ? x : t.apply(x, params[k]!)), image);
}
