/**
 * A run of consecutive pointwise colour transforms on the image. Fused (the default), the run is
 * one pass of the colour chain (src/ops/color/chain.ts) through each sample's concatenated
 * stages: the values stay f32 between transforms, clamped to the image's range after each step as
 * the unfused transforms clamp, and are rounded once at the end. Unfused, each transform runs its
 * own pass and integer images round after each: the two differ by those roundings, carried
 * through the later steps (docs/augment.md states the tolerance the tests hold).
 * A transform with a contrast stage (ColorJitter) starts a new pass: contrast blends toward the
 * grey mean of its pass's input, which must be its own input, as when it runs alone.
 */
import { colorChain } from '../ops/color/chain.js';
import type { Tensor } from '../tensor.js';
import type { ColorStage, Json, PointwiseTransform, SampleContext } from './transform.js';

/** What a colour transform's stage sees of the samples of `image`. */
export function contextOf(image: Tensor): SampleContext {
  const [, channels, height, width] = image.shape as [number, number, number, number];
  return { width, height, channels, dtype: image.dtype };
}

/** The pass of one transform's stages: each sample's steps (none where it was not drawn). */
export function applyStages<P extends Json>(image: Tensor, params: readonly (P | null)[], stage: (p: P, ctx: SampleContext) => readonly ColorStage[]): Tensor {
  const ctx = contextOf(image);
  return colorChain(image, { steps: params.map((p) => (p === null ? [] : stage(p, ctx))) });
}

/** Applies `run[k]` with the per-sample `params[k]` in order: one fused pass, or each transform's own with `fuse` false. */
export function applyPointwise(run: readonly PointwiseTransform[], params: readonly (readonly (Json | null)[])[], image: Tensor, fuse: boolean): Tensor {
  if (!fuse) return run.reduce((x, t, k) => (params[k]!.every((p) => p === null) ? x : t.apply(x, params[k]!)), image);
  return applyPasses(image, colorPasses(run, params, contextOf(image)));
}

/**
 * The passes of a fused run on images of `ctx`: passes[q][i] is sample i's steps in pass q (a
 * transform with a contrast stage starts a pass).
 */
export function colorPasses(run: readonly PointwiseTransform[], params: readonly (readonly (Json | null)[])[], ctx: SampleContext): ColorStage[][][] {
  const n = params[0]!.length;
  const stages = run.map((t, k) => params[k]!.map((p) => (p === null ? [] : t.stage(p, ctx))));
  const passes: number[][] = [];
  for (const [k, perSample] of stages.entries()) {
    const contrast = perSample.some((steps) => steps.some((s) => s.kind === 'contrast'));
    if (passes.length === 0 || contrast) passes.push([k]);
    else passes.at(-1)!.push(k);
  }
  return passes.map((pass) => Array.from({ length: n }, (_, i) => pass.flatMap((k) => stages[k]![i]!)));
}

/** Runs each pass that has a step, one colour chain each. */
export function applyPasses(image: Tensor, passes: readonly (readonly (readonly ColorStage[])[])[]): Tensor {
  return passes.reduce((x, chains) => (chains.every((c) => c.length === 0) ? x : colorChain(x, { steps: chains })), image);
}
