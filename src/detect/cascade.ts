/**
 * Early exit (the batch-recognition seed's cascade): the first stage judges the whole batch; an
 * image whose score falls in the uncertain band [low, high) is judged again by the full model,
 * one image at a time (by design few are), and that detection replaces the first's. Both stages
 * run in the device stage, so the payload is the final detection itself and `post` hands it on;
 * the payload also says which stage decided.
 */
import type { Tensor } from '../tensor.js';
import type { Detector, ImageDetection, Payload } from './detector.js';
import type { CascadeRecipe, Recipe } from './recipe.js';

/** An image's final detection (structured-cloneable: numbers, strings, arrays, its mask) and the stage that made it. */
export type CascadePayload = { detection: Payload; stage: 'first' | 'full' };

function asPayload(d: ImageDetection): Payload {
  return d as unknown as Payload;
}

/** The cascade detector over the detectors of its stages (`detectorFor`, passed in: detector.ts lists this one). */
export function cascadeDetector(detectorFor: <R extends Recipe>(r: R) => Detector<R, Payload>): Detector<CascadeRecipe, CascadePayload> {
  async function judge(batch: Tensor, r: Recipe, wantMasks: boolean): Promise<ImageDetection[]> {
    const d = detectorFor(r);
    return (await d.device(batch, r, wantMasks)).map((p) => d.post(p, r));
  }
  return {
    async device(batch, r, wantMasks) {
      const first = await judge(batch, r.first, wantMasks);
      const out: CascadePayload[] = [];
      for (const [i, detection] of first.entries()) {
        if (detection.score < r.band.low || detection.score >= r.band.high) {
          out.push({ detection: asPayload(detection), stage: 'first' });
          continue;
        }
        using one = batch.slice([[i, i + 1]]).contiguous();
        out.push({ detection: asPayload((await judge(one, r.full, wantMasks))[0]!), stage: 'full' });
      }
      return out;
    },
    post: (p) => ({ ...(p.detection as unknown as ImageDetection), cascade: p.stage }),
    // the wider of the stages' (the full model runs one image at a time)
    bytesPerPixel: (r) => Math.max(detectorFor(r.first).bytesPerPixel(r.first), detectorFor(r.full).bytesPerPixel(r.full)),
    tiled: null,
    portable: false,
  };
}
