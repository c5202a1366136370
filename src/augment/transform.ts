/**
 * The augmentation contract (after Albumentations and Kornia): a transform is a **sampler** that
 * draws one sample's parameters (plain JSON data) from a seeded generator, and an **apply** that
 * runs kensa ops on a whole batch with one set of parameters per sample (`null` where the
 * transform was not drawn for that sample). The same draw moves every target: geometry applies to
 * image, mask, boxes and keypoints; colour to the image only.
 *
 * Kinds tell the executor (compose.ts) what it may fuse:
 * - 'geometric': exposes a per-sample 3×3 matrix and output size; consecutive geometric
 *   transforms run as one warp (fuse.ts), boxes and keypoints move by the matrices (targets.ts).
 * - 'pointwise': a per-pixel colour map; exposes a per-sample `ColorStage` so a run of them can be
 *   one pass (pointwise.ts).
 * - 'image': anything else (blurs, noise, synthetic defects): `apply` sees the whole batch.
 * - 'container': Compose, Sequential, OneOf, SomeOf (compose.ts).
 *
 * Coordinates of boxes, keypoints and matrices are **pixel edges**: pixel (i, j) covers
 * [j, j + 1) × [i, i + 1), so a box over columns 3..5 has x0 = 3, x1 = 6, and the centre of
 * column 3 is x = 3.5 (COCO's and Albumentations' convention).
 */
import type { z } from 'zod';
import type { DType } from '../dtype.js';
import type { BorderMode } from '../kernels/border.js';
import type { Tensor } from '../tensor.js';

/** Plain JSON data: what parameters and transform arguments are made of. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/** A generator of uniform numbers in [0, 1) (src/rng.ts mulberry32, one stream per sample). */
export type Rng = () => number;

/** An axis-aligned box in pixel-edge coordinates, x0 < x1 and y0 < y1, with its class. */
export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  readonly label: number | string;
}

/** A point in pixel-edge coordinates (the centre of pixel (i, j) is (j + 0.5, i + 0.5)). */
export interface Keypoint {
  readonly x: number;
  readonly y: number;
  readonly label?: number | string;
}

/**
 * What a pipeline transforms: an N×C×H×W image batch (u8, u16 or f32; the dtype is kept), and
 * optionally an N×1×H×W mask of labels (u8 or i32; resampled nearest, so labels stay exact),
 * and per sample a list of boxes and of keypoints. All targets live on the image's device.
 */
export interface AugmentBatch {
  readonly image: Tensor;
  readonly mask?: Tensor;
  readonly boxes?: readonly (readonly Box[])[];
  readonly keypoints?: readonly (readonly Keypoint[])[];
}

/** A sample's size in pixels. */
export interface Size {
  readonly width: number;
  readonly height: number;
}

/** What a sampler sees of one sample as it enters the transform. */
export interface SampleContext extends Size {
  readonly channels: number;
  readonly dtype: DType;
}

/** A 3×3 matrix, row-major, mapping source to destination pixel-edge coordinates: (x', y', w') = M·(x, y, 1). */
export type Matrix3 = readonly [number, number, number, number, number, number, number, number, number];

/** How a geometric transform resamples when it runs as a warp (also the fused warp's settings). */
export interface ResampleSpec {
  /** The image's interpolation; masks are always sampled nearest. */
  readonly interpolation: 'nearest' | 'bilinear';
  /** How pixels outside the source are read. */
  readonly border: BorderMode;
  /** The image's value outside the source with border 'constant'. */
  readonly fill: number;
  /** The mask's label outside the source with border 'constant'. */
  readonly maskFill: number;
}

/** What every transform has. `P` is one sample's parameters. */
interface TransformBase<P extends Json> {
  /** The registry name (`HorizontalFlip`); `fromJSON` builds it back from `{ name, ...args }`. */
  readonly name: string;
  /** The chance, in [0, 1], that a sample gets this transform. */
  readonly p: number;
  /** The validated arguments with defaults filled (p included): what `toJSON` writes. */
  readonly args: { readonly [key: string]: Json };
  /** Draws one sample's parameters (called only for samples that drew the transform). */
  sample(rng: Rng, ctx: SampleContext): P;
  /** Validates replayed parameters of one sample. */
  readonly params: z.ZodType<P>;
}

/**
 * A transform of the geometry: pixels of every target move by one matrix per sample.
 * `matrix` and `outputSize` take `null` for a sample that did not draw it (the identity, same size);
 * the output size must not depend on the draw otherwise, so a batch keeps one size.
 */
export interface GeometricTransform<P extends Json = Json> extends TransformBase<P> {
  readonly kind: 'geometric';
  /** The sample's size after the transform. */
  outputSize(size: Size, params: P | null): Size;
  /** The source → destination matrix in pixel-edge coordinates, for a source of `size`. */
  matrix(params: P | null, size: Size): Matrix3;
  /**
   * Resampling when the transform is a warp; null for an exact integer map that reads only inside
   * the source (flips, quarter turns, transposes, crops), which fuses with any neighbour.
   */
  readonly resample: ResampleSpec | null;
  /**
   * A faster exact path than a warp for this transform alone (flip, rot90, crop ops), same
   * result as the warp; `target` says which resampling to use. Optional.
   */
  warp?(x: Tensor, params: readonly (P | null)[], target: 'image' | 'mask'): Tensor;
}

/**
 * A per-channel, per-pixel colour map in one sample's form, for fusing consecutive pointwise
 * transforms into one pass. Values are in the image's units (0..255 for u8, 0..65535 for u16);
 * a fused pass saturates to the dtype once at the end. `affine`: y = scale[c]·x + offset[c]
 * (one entry serves every channel). `gamma`: y = range·(x / range)^gamma. aug-ops may add kinds.
 */
export type ColorStage =
  | { readonly op: 'affine'; readonly scale: readonly number[]; readonly offset: readonly number[] }
  | { readonly op: 'gamma'; readonly gamma: number; readonly range: number };

/** A pointwise colour transform: the image only; masks, boxes and keypoints pass unchanged. */
export interface PointwiseTransform<P extends Json = Json> extends TransformBase<P> {
  readonly kind: 'pointwise';
  /** The unfused path: the image with each sample's parameters (null: unchanged). */
  apply(image: Tensor, params: readonly (P | null)[]): Tensor;
  /** The sample's colour map (null parameters: the identity), for fusion. */
  stage(params: P | null, ctx: SampleContext): ColorStage;
}

/**
 * Any other transform: sees and returns the whole batch (a blur changes the image; a synthetic
 * defect the image and the mask, and may append boxes). It keeps the size and never removes or
 * reorders boxes or keypoints (the executor tracks them by index).
 */
export interface ImageTransform<P extends Json = Json> extends TransformBase<P> {
  readonly kind: 'image';
  apply(batch: AugmentBatch, params: readonly (P | null)[]): AugmentBatch;
}

/** How a container picks its children for a sample. */
export type ContainerMode = 'Compose' | 'Sequential' | 'OneOf' | 'SomeOf';

/**
 * Compose, Sequential, OneOf, SomeOf (compose.ts). A sample's parameters of a container are null
 * (not drawn) or one entry per child (null for children it did not run).
 */
export interface ContainerTransform {
  readonly kind: 'container';
  readonly name: ContainerMode;
  readonly p: number;
  /** The arguments other than the children (p, n, minVisibility). */
  readonly args: { readonly [key: string]: Json };
  readonly children: readonly Transform[];
}

/** Any transform of a pipeline. */
export type Transform = GeometricTransform | PointwiseTransform | ImageTransform | ContainerTransform;

/** A leaf (non-container) transform. */
export type LeafTransform = GeometricTransform | PointwiseTransform | ImageTransform;

/** One sample's drawn parameters of a whole pipeline (a tree following its containers), JSON. */
export type SampleParams = Json;
