/**
 * Per-sample image work on the samples that drew it only: the others are copied, not run through
 * an identity kernel (a blur of p 0.1 costs a tenth of a batch's blur and a copy). Exact for ops
 * that treat each sample alone, as the blurs do.
 */
import { putSamples, samplesOnWords, takeSamples } from '../../ops/samples.js';
import type { Tensor } from '../../tensor.js';

/**
 * `run` on the samples of `image` whose parameters are drawn (not null), the others kept; where
 * GPU samples cannot be moved by buffer copies (not on a storage word), `run` on the whole batch
 * with `identity` for the samples that did not draw.
 */
export function applyToDrawn<P>(image: Tensor, params: readonly (P | null)[], identity: P, run: (x: Tensor, params: readonly P[]) => Tensor): Tensor {
  const drawn = params.flatMap((p, i) => (p === null ? [] : [i]));
  if (drawn.length === 0 || drawn.length === params.length || (image.device === 'gpu' && !samplesOnWords(image)))
    return run(
      image,
      params.map((p) => p ?? identity),
    );
  const some = takeSamples(image, drawn);
  const done = run(
    some,
    drawn.map((i) => params[i]!),
  );
  const out = putSamples(image, drawn, done);
  some.dispose();
  done.dispose();
  return out;
}
