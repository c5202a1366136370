/**
 * Geometric fusion: consecutive geometric transforms compose, per sample, into one matrix and run
 * as one warp of the image (its interpolation) and one of the mask (nearest), instead of one
 * resampling each. Transforms join a fused group when their resampling agrees: exact integer maps
 * (`resample` null: flips, quarter turns, transposes, crops) join any group; others join when
 * their border is 'constant' with the same fills and no crop came before them in the group (they
 * would read the cropped-away pixels instead of the fill); a transform with another border
 * (Resize, RandomResizedCrop, reflect padding) runs alone, through its own op. A group of exact maps only
 * samples nearest and equals the unfused chain bit for bit; a group that resamples once where the
 * chain resampled several times differs from it by the chain's extra interpolation (see
 * docs/augment.md for the tolerance).
 * A container (OneOf, Sequential, SomeOf; not Compose, whose end drops boxes) whose transforms
 * are all exact maps keeping the size joins a group as one member (`exactContainer`): each
 * sample's drawn children compose into its matrix, so Albumentations' Flip (a OneOf of flips) and
 * a RandomRotate90 before it run as one gather. Boxes and keypoints move member by member
 * (targets.ts), fused or not; maps that permute pixels move a box the same composed or step by step.
 * A colour run right after a geometric run joins its last warp where that warp samples nearest by an
 * affine matrix: the colour chain reads each pixel through the warp (colorChainThrough), one pass
 * for both and the same values as the warp then the chain (its first pass only; a contrast step
 * still reads the warped image).
 */
import { colorChainThrough } from '../ops/color/chain.js';
import { warpAffine, warpAffineNearestMap } from '../ops/geometry/warp-affine.js';
import { warpPerspective } from '../ops/geometry/warp-perspective.js';
import type { Tensor } from '../tensor.js';
import { KensaError } from '../errors.js';
import { IDENTITY, isAffine, multiply, toCentreCoordinates } from './matrix.js';
import type { RunState } from './state.js';
import { applyPasses, applyPointwise, colorPasses } from './pointwise.js';
import { mapBox, mapKeypoint } from './targets.js';
import type { ColorStage, ContainerTransform, GeometricTransform, Json, Matrix3, PointwiseTransform, ResampleSpec, Size, Transform } from './transform.js';

/** What a fused group needs of a member: a leaf geometric transform or an exact container. */
export type Geometry = Pick<GeometricTransform, 'name' | 'resample' | 'outputSize' | 'matrix' | 'warp'>;

/**
 * Exact maps that keep the size (up to a transpose) only, and no Compose (its end drops boxes,
 * which a fused member would skip). The exact maps that set the size (RandomCrop, CenterCrop: a
 * width and a height) stay out: inside a container they would give one batch two sizes, and the
 * error should name them, not their container.
 */
function allExact(t: Transform): boolean {
  if (t.kind === 'container') return t.name !== 'Compose' && t.children.every(allExact);
  return t.kind === 'geometric' && t.resample === null && !('width' in t.args && 'height' in t.args);
}

/** One sample's drawn children of an exact container, folded: the composed matrix and the size after. */
function foldDrawn(t: Transform, params: Json, size: Size, m: Matrix3): { m: Matrix3; size: Size } {
  if (params === null || t.kind === 'pointwise' || t.kind === 'image') return { m, size };
  if (t.kind === 'geometric') return { m: multiply(t.matrix(params, size), m), size: t.outputSize(size, params) };
  let r = { m, size };
  for (const [j, child] of t.children.entries()) r = foldDrawn(child, (params as readonly Json[])[j]!, r.size, r.m);
  return r;
}

/** A container of exact maps only as one geometric member (its parameters: the container's own); null for any other container. */
export function exactContainer(t: ContainerTransform): Geometry | null {
  if (!allExact(t)) return null;
  return {
    name: t.name,
    resample: null,
    outputSize: (size, params) => foldDrawn(t, params, size, IDENTITY).size,
    matrix: (params, size) => foldDrawn(t, params, size, IDENTITY).m,
  };
}

/** Settings of the warp that runs a group; null spec members read only inside their source. */
function joins(group: ResampleSpec | null, next: ResampleSpec | null): boolean {
  if (next === null || group === null) return next === null || next.border === 'constant';
  return next.border === 'constant' && group.border === 'constant' && next.fill === group.fill && next.maskFill === group.maskFill;
}

/** Warps every sample of `x` by its matrix (pixel-edge coordinates) to `size`. */
export function warpBatch(x: Tensor, matrices: readonly Matrix3[], size: Size, spec: ResampleSpec | null, target: 'image' | 'mask'): Tensor {
  const centre = matrices.map(toCentreCoordinates);
  const common = { ...warpSampling(size, spec, target), interpolation: target === 'mask' || spec === null ? 'nearest' : spec.interpolation } as const;
  if (centre.every(isAffine)) return warpAffine(x, { ...common, matrix: centre.map((m) => m.slice(0, 6)) });
  return warpPerspective(x, { ...common, matrix: centre.map((m) => [...m]) });
}

function warpSampling(size: Size, spec: ResampleSpec | null, target: 'image' | 'mask') {
  return {
    width: size.width,
    height: size.height,
    border: spec?.border ?? 'constant',
    borderValue: target === 'mask' ? (spec?.maskFill ?? 0) : (spec?.fill ?? 0),
  } as const;
}

/** warpBatch of the image, then the colour `passes`; after a nearest affine warp, the first pass reads through the warp (one dispatch). */
function warpColor(x: Tensor, matrices: readonly Matrix3[], size: Size, spec: ResampleSpec | null, passes: readonly ColorStage[][][]): Tensor {
  const centre = matrices.map(toCentreCoordinates);
  const [first, ...rest] = passes;
  const nearest = spec === null || spec.interpolation === 'nearest';
  if (!nearest || !centre.every(isAffine) || first!.every((c) => c.length === 0)) return applyPasses(warpBatch(x, matrices, size, spec, 'image'), passes);
  const map = warpAffineNearestMap(x, { ...warpSampling(size, spec, 'image'), matrix: centre.map((m) => m.slice(0, 6)) });
  return applyPasses(colorChainThrough(x, { steps: first! }, map), rest);
}

/** The one size every sample has after `t`; KENSA_ERR_AUGMENT when the draws disagree. */
function outputSize(t: Geometry, size: Size, params: readonly Json[]): Size {
  const sizes = params.map((p) => t.outputSize(size, p));
  const first = sizes[0]!;
  const other = sizes.find((s) => s.width !== first.width || s.height !== first.height);
  if (other !== undefined) {
    throw new KensaError(
      'KENSA_ERR_AUGMENT',
      `Expected one output size for the batch from ${t.name} but its samples give ${first.width}×${first.height} and ${other.width}×${other.height}; a transform that sets the size must run on every sample (p 1, outside OneOf and SomeOf)`,
    );
  }
  return first;
}

/**
 * Runs a group of geometric transforms on the image and the mask: alone through its op, or fused
 * into one warp; then the colour `passes` on the image, if given.
 */
function warpGroup(
  group: readonly Geometry[],
  params: readonly (readonly Json[])[],
  s: RunState,
  out: Size,
  passes: ColorStage[][][] | undefined,
): Pick<RunState['batch'], 'image' | 'mask'> {
  const { image, mask } = s.batch;
  const t = group[0]!;
  if (group.length === 1 && t.warp !== undefined) {
    const warped = t.warp(image, params[0]!, 'image');
    return { image: passes ? applyPasses(warped, passes) : warped, ...(mask !== undefined && { mask: t.warp(mask, params[0]!, 'mask') }) };
  }
  // the group's one resampling spec (its members' agree but for interpolation): bilinear if any member interpolates
  const specs = group.map((m) => m.resample).filter((r) => r !== null);
  const spec: ResampleSpec | null =
    specs.length === 0 ? null : { ...specs[0]!, interpolation: specs.some((r) => r.interpolation === 'bilinear') ? 'bilinear' : 'nearest' };
  const n = image.shape[0]!;
  const matrices = Array.from({ length: n }, (_, i) => {
    let size = s.size;
    let m = IDENTITY;
    for (const [k, g] of group.entries()) {
      m = multiply(g.matrix(params[k]![i]!, size), m);
      size = g.outputSize(size, params[k]![i]!);
    }
    return m;
  });
  return {
    image: passes ? warpColor(image, matrices, out, spec, passes) : warpBatch(image, matrices, out, spec, 'image'),
    ...(mask !== undefined && { mask: warpBatch(mask, matrices, out, spec, 'mask') }),
  };
}

/** A run of colour transforms right after a geometric run, with their per-sample parameters. */
export interface ColorAfter {
  readonly run: readonly PointwiseTransform[];
  readonly params: readonly (readonly Json[])[];
}

/**
 * Applies consecutive geometric transforms `run` (params[k]: transform k's per-sample parameters)
 * to every target, then the `color` run after it, if given, to the image (fused: in the last warp
 * where it can). With `fuse`, joinable neighbours run as one warp; otherwise each runs alone.
 */
export function applyGeometric(run: readonly Geometry[], params: readonly (readonly Json[])[], s: RunState, fuse: boolean, color?: ColorAfter): RunState {
  let state = s;
  let colorDone = color === undefined;
  let j = 0;
  while (j < run.length) {
    let k = j + 1;
    let spec = run[j]!.resample;
    // once a member has cropped, a member that reads outside its input would read the cropped-away pixels: it starts a new group
    let size = state.size;
    let cropped = false;
    const enter = (t: Geometry, p: readonly Json[]) => {
      const out = outputSize(t, size, p);
      cropped ||= t.resample === null && out.width * out.height < size.width * size.height;
      size = out;
    };
    enter(run[j]!, params[j]!);
    if (fuse && (spec === null || spec.border === 'constant')) {
      while (k < run.length && joins(spec, run[k]!.resample) && !(cropped && run[k]!.resample !== null)) {
        spec ??= run[k]!.resample;
        enter(run[k]!, params[k]!);
        k++;
      }
    }
    const group = run.slice(j, k).filter((_, g) => !params[j + g]!.every((p) => p === null));
    const groupParams = params.slice(j, k).filter((p) => !p.every((v) => v === null));
    const last = k >= run.length;
    if (group.length > 0) {
      state = moveTargets(group, groupParams, state, last ? color : undefined);
      colorDone ||= last;
    }
    j = k;
  }
  if (colorDone) return state;
  return { ...state, batch: { ...state.batch, image: applyPointwise(color!.run, color!.params, state.batch.image, fuse) } };
}

/** One group: pixels by warpGroup (and the colour run after it, if given), boxes and keypoints transform by transform. */
function moveTargets(group: readonly Geometry[], params: readonly (readonly Json[])[], s: RunState, color: ColorAfter | undefined): RunState {
  let size = s.size;
  let boxes = s.batch.boxes;
  let visible = s.visible;
  let keypoints = s.batch.keypoints;
  for (const [k, t] of group.entries()) {
    const out = outputSize(t, size, params[k]!);
    const matrices = params[k]!.map((p) => t.matrix(p, size));
    if (boxes !== undefined) {
      const mapped = boxes.map((l, i) => l.map((b) => mapBox(b, matrices[i]!, out)));
      boxes = mapped.map((l) => l.map((m) => m.box));
      visible = mapped.map((l, i) => l.map((m, b) => m.visible * visible[i]![b]!));
    }
    keypoints = keypoints?.map((l, i) => l.map((p) => mapKeypoint(p, matrices[i]!)));
    size = out;
  }
  const [, channels] = s.batch.image.shape as [number, number];
  const passes = color && colorPasses(color.run, color.params, { ...size, channels, dtype: s.batch.image.dtype });
  const pixels = warpGroup(group, params, s, size, passes);
  return {
    ...s,
    size,
    visible,
    batch: { ...pixels, ...(boxes !== undefined && { boxes }), ...(keypoints !== undefined && { keypoints }) },
  };
}
