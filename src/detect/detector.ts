/**
 * A recipe kind is a detector of two stages, so the pipeline can put each where it runs best:
 *   device  every step that needs the batch's device (on the GPU: one command stream and its
 *           readbacks), ending with one host-side payload per image;
 *   post    one payload to the image's detection (filters, classification, scores, verdict):
 *           plain CPU code that never touches a device, so it runs on a worker thread.
 * A payload is structured-cloneable and owns its typed arrays outright (no views into a buffer
 * another payload shares), so it crosses to a worker by transfer, not by copy. A new recipe kind
 * adds its detector to DETECTORS; the pipeline, the worker and `detect()` need nothing else.
 * A detector also declares what the pipeline sizes work by: the bytes per pixel of its widest
 * device buffer (batches fit the adapter's largest storage binding) and, when its device stage can
 * run tile by tile, its halo and tiled stage (an image whose batch of one would not fit).
 */
import type { Backend } from '../backend.js';
import type { Tensor } from '../tensor.js';
import type { Plane } from '../tiling/grid.js';
import type { Defect } from './defect.js';
import { classicDetector } from './classic.js';
import { decoupledDetector } from './decoupled.js';
import { cascadeDetector } from './cascade.js';
import { modelDetector } from './model.js';
import type { CascadeRecipe, Recipe } from './recipe.js';

export interface ImageDetection {
  defects: Defect[];
  verdict: 'OK' | 'NG';
  /** The image's score: classic, its highest defect score (0 without defects); decoupled, its mean congestion. */
  score: number;
  /** With a background verdict rule (recipe.verdict.background): per defect, whether it counts toward the verdict. */
  counted?: boolean[];
  /** H×W mask, 255 = defect pixel (before any filtering of components), when asked for. */
  mask?: Uint8Array;
  /** A classification model's top class and its score. */
  label?: { name: string; score: number };
  /** A cascade's stage that decided: `first` (an early exit) or `full` (the full model). */
  cascade?: 'first' | 'full';
}

/** What structured clone carries unchanged; typed arrays travel by transfer (see `transferables`). */
export type PayloadValue = number | string | boolean | null | ArrayBufferView | readonly PayloadValue[] | { readonly [key: string]: PayloadValue | undefined };

/** One image's hand-over from the device stage to the post stage. */
export type Payload = { readonly [key: string]: PayloadValue | undefined };

/** A one-channel u8 or u16 image on the host. */
export type Frame = Plane<Uint8Array | Uint16Array>;

/** Where a tiled stage runs, and its tiles' interior side. */
export interface TiledOptions {
  backend: Backend;
  tile: number;
}

/** What a tiled stage needs of its tiles. */
export interface TileGeometry {
  /** The context its stencils read around a tile, in pixels. */
  halo: number;
  /** The power of two its tile origins are multiples of (its pyramid's 2^depth). */
  align: number;
  /** Bytes per pixel of a tile's widest device buffer. */
  bytesPerPixel: number;
}

export interface TiledStage<R extends Recipe, P extends Payload> {
  geometry(recipe: R): TileGeometry;
  /** The device stage on one image, tile by tile: the payload `device` gives for the image (src/tiling). */
  device(frame: Frame, recipe: R, wantMasks: boolean, options: TiledOptions): Promise<P>;
}

export interface Detector<R extends Recipe, P extends Payload> {
  /** The device stage on an N×C×H×W batch: one payload per image, masks included when asked. */
  device(batch: Tensor, recipe: R, wantMasks: boolean): Promise<P[]>;
  /** The post stage: pure and synchronous; the same payload always gives the same detection. */
  post(payload: P, recipe: R): ImageDetection;
  /** Bytes per pixel of the device stage's widest buffer. */
  bytesPerPixel(recipe: R): number;
  /** The device stage tile by tile; null when a step needs the whole image at once. */
  tiled: TiledStage<R, P> | null;
  /** Both stages can run on any worker thread (false: the device stage needs what this thread holds, a model's sessions). */
  portable: boolean;
}

type RecipeOf<K extends Recipe['kind']> = Extract<Recipe, { kind: K }>;

// Each kind's payload type stays inside its detector: `post` only ever receives what the same
// detector's `device` made, which is why the map can widen it to Payload.
const DETECTORS: { readonly [K in Recipe['kind']]: Detector<RecipeOf<K>, Payload> } = {
  classic: classicDetector,
  decoupled: decoupledDetector,
  model: modelDetector,
  cascade: cascadeDetector(detectorFor) as unknown as Detector<CascadeRecipe, Payload>,
};

/** The detector of a recipe's kind. */
export function detectorFor<R extends Recipe>(recipe: R): Detector<R, Payload> {
  // TypeScript cannot relate an indexed access on the kind back to R; DETECTORS' type does
  return DETECTORS[recipe.kind as R['kind']] as unknown as Detector<R, Payload>;
}

/** Both stages on this thread: the recipe's detection of every image of the batch. */
export async function detect(batch: Tensor, recipe: Recipe, wantMasks: boolean): Promise<ImageDetection[]> {
  const detector = detectorFor(recipe);
  const payloads = await detector.device(batch, recipe, wantMasks);
  return payloads.map((p) => detector.post(p, recipe));
}

/**
 * The ArrayBuffers to transfer with `value`: those of its typed arrays (at any depth of plain
 * objects and arrays) that span their whole buffer. A view into a larger buffer is left to be
 * copied: transferring would detach memory it does not own.
 */
export function transferables(value: unknown, into = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    const b = value.buffer;
    if (b instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === b.byteLength) into.add(b);
  } else if (Array.isArray(value)) {
    for (const v of value) transferables(v, into);
  } else if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) transferables(v, into);
  }
  return [...into];
}
