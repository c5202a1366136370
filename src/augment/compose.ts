/**
 * Containers and the executor: `augment` draws every sample's parameters from its own seeded
 * stream and applies them; `replay` applies given parameters, bit-exactly the same result.
 *
 * Draws: sample i draws from the stream (seed, index i) (`indices` renames them), on the host, so
 * a sample's parameters depend on the seed, its index and its size only: the same on the GPU and
 * the CPU, in any batch. Each transform takes one number from the stream for its `p` and then
 * what its sampler takes.
 * - Compose and Sequential run their children in order, each with its own p. Compose also ends
 *   the boxes' and keypoints' journey: boxes below its `minVisibility` (or with nothing visible)
 *   and keypoints outside the image are dropped.
 * - OneOf runs one child, picked with weights proportional to the children's p (the picked one
 *   runs whatever its p).
 * - SomeOf picks `n` distinct children uniformly, runs them in their order, each with its own p.
 *
 * Apply: per container, consecutive geometric children run as one warp (fuse.ts) and
 * consecutive pointwise ones as one run (pointwise.ts), the first joining the warp of geometric
 * children right before it where that warp only copies pixels; a child container of exact maps only
 * (Albumentations' Flip: a OneOf of flips) counts as one geometric child there; a child that no
 * sample drew is skipped.
 */
import { z } from 'zod';
import { KensaError } from '../errors.js';
import { tidy } from '../tensor.js';
import { integerInRange, is } from '../validate.js';
import { mulberry32 } from '../rng.js';
import { applyGeometric, exactContainer, type Geometry } from './fuse.js';
import { applyPointwise } from './pointwise.js';
import { pathName, parseOrThrow, probability } from './registry.js';
import { finishState, startState, withBatch, type RunState } from './state.js';
import { keypointInside } from './targets.js';
import type { AugmentBatch, ContainerMode, ContainerTransform, Json, PointwiseTransform, Rng, SampleContext, SampleParams, Transform } from './transform.js';

export interface ComposeArgs {
  readonly transforms: readonly Transform[];
  /** Default 1. */
  readonly p?: number;
  /** Boxes with less than this fraction of their area visible when the Compose ends are dropped; default 0 (only boxes with nothing visible). */
  readonly minVisibility?: number;
}

export interface ContainerArgs {
  readonly transforms: readonly Transform[];
  /** Default 1. */
  readonly p?: number;
}

export interface SomeOfArgs extends ContainerArgs {
  /** How many children run, 0 to their count. */
  readonly n: number;
}

/** Arguments of each container other than its children (serialize.ts validates files with these). */
export const CONTAINER_SCHEMAS = {
  Compose: z.strictObject({ p: probability(1), minVisibility: z.number().min(0).max(1).default(0) }),
  Sequential: z.strictObject({ p: probability(1) }),
  OneOf: z.strictObject({ p: probability(1) }),
  SomeOf: z.strictObject({ p: probability(1), n: z.number().int().min(0) }),
} as const;

/** Builds a container from validated arguments (`args` without the children). */
export function container(name: ContainerMode, args: { [key: string]: Json }, children: readonly Transform[], where: string = name): ContainerTransform {
  if (!Array.isArray(children) || !children.every(isTransform)) {
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected an array of transforms for ${where}.transforms but received ${typeof children}`);
  }
  if (name === 'SomeOf') integerInRange(`${where}.n`, args.n, 0, children.length);
  return { kind: 'container', name, p: args.p as number, args, children };
}

function isTransform(t: unknown): t is Transform {
  return typeof t === 'object' && t !== null && 'kind' in t && 'name' in t && 'p' in t;
}

function makeContainer(name: ContainerMode, a: ContainerArgs | ComposeArgs | SomeOfArgs | undefined): ContainerTransform {
  const { transforms, ...rest } = (a ?? {}) as ContainerArgs;
  return container(name, parseOrThrow(CONTAINER_SCHEMAS[name] as z.ZodType<{ [key: string]: Json }>, rest, name, 'KENSA_ERR_INVALID_ARGUMENT'), transforms);
}

/** Runs its transforms in order; the root of a pipeline, where boxes and keypoints that left the image are dropped. */
export const Compose = (args: ComposeArgs): ContainerTransform => makeContainer('Compose', args);
/** Runs its transforms in order. */
export const Sequential = (args: ContainerArgs): ContainerTransform => makeContainer('Sequential', args);
/** Runs one of its transforms, picked with weights proportional to their p. */
export const OneOf = (args: ContainerArgs): ContainerTransform => makeContainer('OneOf', args);
/** Runs `n` of its transforms picked uniformly, in their order, each with its own p. */
export const SomeOf = (args: SomeOfArgs): ContainerTransform => makeContainer('SomeOf', args);

/** The stream of sample `index` under `seed` (murmur3's finaliser over both, then mulberry32). */
export function sampleRng(seed: number, index: number): Rng {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index >>> 0, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return mulberry32(h >>> 0);
}

/** One sample's draw of `t`; `force` runs it whatever its p (OneOf's pick). */
function drawNode(t: Transform, rng: Rng, ctx: SampleContext, force: boolean): { params: Json; ctx: SampleContext } {
  const on = rng() < t.p || force;
  if (!on) return { params: null, ctx };
  if (t.kind !== 'container') {
    const params = t.sample(rng, ctx);
    return { params, ctx: t.kind === 'geometric' ? { ...ctx, ...t.outputSize(ctx, params) } : ctx };
  }
  const params: Json[] = t.children.map(() => null);
  let picked: number[];
  if (t.name === 'OneOf') {
    const total = t.children.reduce((s, c) => s + c.p, 0);
    let u = rng() * total;
    const k = t.children.findIndex((c) => (u -= c.p) < 0);
    picked = total > 0 ? [k < 0 ? t.children.length - 1 : k] : [];
  } else if (t.name === 'SomeOf') {
    const order = t.children.map((_, i) => i);
    for (let i = 0; i < (t.args.n as number); i++) {
      const j = i + Math.floor(rng() * (order.length - i));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    picked = order.slice(0, t.args.n as number).sort((a, b) => a - b);
  } else picked = t.children.map((_, i) => i);
  let c = ctx;
  for (const i of picked) {
    const r = drawNode(t.children[i]!, rng, c, t.name === 'OneOf');
    params[i] = r.params;
    c = r.ctx;
  }
  return { params, ctx: c };
}

export interface DrawOptions {
  /** The run's seed (a 32-bit integer). */
  readonly seed: number;
  /** Sample i's stream index; default i. A loader passes each item's index in the data set so draws do not depend on batching. */
  readonly indices?: readonly number[];
}

export interface AugmentOptions extends DrawOptions {
  /**
   * Run consecutive geometric transforms as one warp and consecutive colour transforms as one pass;
   * default true. False runs each alone (exact integer ops stay exact either way).
   */
  readonly fuse?: boolean;
}

/** What `augment` returns: the batch and every sample's parameters (JSON), for `replay`. */
export interface Augmented {
  readonly batch: AugmentBatch;
  readonly params: readonly SampleParams[];
}

/** Draws every sample's parameters for a batch of `n` samples of `ctx` (no pixels touched). */
export function draw(pipeline: Transform, n: number, ctx: SampleContext, options: DrawOptions): SampleParams[] {
  const seed = integerInRange('seed', options?.seed, -(2 ** 31), 2 ** 32 - 1);
  const indices = options.indices ?? Array.from({ length: n }, (_, i) => i);
  if (!Array.isArray(indices) || indices.length !== n || !indices.every((i) => is.integer(i) && i >= 0)) {
    throw new KensaError(
      'KENSA_ERR_INVALID_ARGUMENT',
      `Expected ${n} integers at least 0 for indices but received ${Array.isArray(indices) ? `an array of ${indices.length}` : typeof indices}`,
    );
  }
  return indices.map((index) => drawNode(pipeline, sampleRng(seed, index), ctx, false).params);
}

/**
 * Augments a batch: draws each sample's parameters (seeded, per sample) and applies them to the
 * image and every target given. Runs where the image lives; GPU and CPU give the same bytes.
 * @example const { batch, params } = augment(Compose({ transforms: [HorizontalFlip({ p: 0.5 })] }), { image, mask }, { seed: 1 });
 * @throws KensaError KENSA_ERR_AUGMENT when a transform that sets the size ran on some samples only.
 */
export function augment(pipeline: Transform, batch: AugmentBatch, options: AugmentOptions): Augmented {
  const s = startState(batch);
  const [n, c] = batch.image.shape as [number, number];
  const params = draw(pipeline, n, { ...s.size, channels: c, dtype: batch.image.dtype }, options);
  return { batch: run(pipeline, s, params, options.fuse ?? true), params };
}

/**
 * Applies drawn parameters (one per sample, as `augment` returned them) to a batch: the same
 * bytes as the draw's own result. Parameters are checked against the pipeline.
 * @throws KensaError KENSA_ERR_AUGMENT naming the first bad parameter (`params[2][0].angle`).
 */
export function replay(pipeline: Transform, batch: AugmentBatch, params: readonly SampleParams[], options: { readonly fuse?: boolean } = {}): AugmentBatch {
  const s = startState(batch);
  const n = batch.image.shape[0]!;
  if (!Array.isArray(params) || params.length !== n) {
    throw new KensaError(
      'KENSA_ERR_AUGMENT',
      `Expected one entry per sample (${n}) for params but received ${Array.isArray(params) ? `an array of ${params.length}` : typeof params}`,
    );
  }
  const checked = params.map((p, i) => checkParams(pipeline, p, `params[${i}]`));
  return run(pipeline, s, checked, options.fuse ?? true);
}

function checkParams(t: Transform, p: unknown, where: string): Json {
  if (p === null) return null;
  if (t.kind !== 'container') return parseOrThrow(t.params, p, where, 'KENSA_ERR_AUGMENT');
  if (!Array.isArray(p) || p.length !== t.children.length) {
    throw new KensaError(
      'KENSA_ERR_AUGMENT',
      `Expected null or an array of ${t.children.length} (one per child of ${t.name}) for ${where} but received ${JSON.stringify(p)}`,
    );
  }
  return t.children.map((c, j) => checkParams(c, p[j], pathName(where, [j])));
}

/** Applies the pipeline; at its end, as at a Compose's, boxes with nothing visible and keypoints off the image are dropped. */
function run(pipeline: Transform, s: RunState, params: readonly Json[], fuse: boolean): AugmentBatch {
  return tidy(() => finishState(dropLost(applyNode(pipeline, s, params, fuse), s, 0)));
}

function allNull(params: readonly Json[]): boolean {
  return params.every((p) => p === null);
}

function applyNode(t: Transform, s: RunState, params: readonly Json[], fuse: boolean): RunState {
  if (allNull(params)) return s;
  switch (t.kind) {
    case 'geometric':
      return applyGeometric([t], [params], s, fuse);
    case 'pointwise':
      return { ...s, batch: { ...s.batch, image: applyPointwise([t], [params], s.batch.image, fuse) } };
    case 'image':
      return withBatch(s, t.apply(s.batch, params));
    case 'container':
      return applyContainer(t, s, params, fuse);
  }
}

function applyContainer(t: ContainerTransform, entry: RunState, params: readonly Json[], fuse: boolean): RunState {
  const childParams = t.children.map((_, j) => params.map((p) => (p === null ? null : (p as readonly Json[])[j]!)));
  // with fusion, a container of exact maps is one geometric member of its neighbours' group
  const geometry: (Geometry | null)[] = t.children.map((c) => (c.kind === 'geometric' ? c : fuse && c.kind === 'container' ? exactContainer(c) : null));
  const kindOf = (j: number) => (geometry[j] ? 'geometric' : t.children[j]!.kind);
  let s = entry;
  let j = 0;
  while (j < t.children.length) {
    const kind = kindOf(j);
    let k = j + 1;
    if (kind === 'geometric' || kind === 'pointwise') while (k < t.children.length && kindOf(k) === kind) k++;
    const groupParams = childParams.slice(j, k);
    if (kind === 'geometric') {
      // with fusion, the colour run right after joins the last warp (fuse.ts)
      let end = k;
      while (fuse && end < t.children.length && kindOf(end) === 'pointwise') end++;
      const color = end > k ? { run: t.children.slice(k, end) as PointwiseTransform[], params: childParams.slice(k, end) } : undefined;
      s = applyGeometric(geometry.slice(j, k) as Geometry[], groupParams, s, fuse, color);
      k = end;
    } else if (kind === 'pointwise')
      s = { ...s, batch: { ...s.batch, image: applyPointwise(t.children.slice(j, k) as PointwiseTransform[], groupParams, s.batch.image, fuse) } };
    else s = applyNode(t.children[j]!, s, groupParams[0]!, fuse);
    j = k;
  }
  return t.name === 'Compose' ? dropLost(s, entry, t.args.minVisibility as number) : s;
}

/** Compose's end: boxes below `minVisibility` of their visibility at its start, or with none, and keypoints off the image are dropped. */
function dropLost(s: RunState, entry: RunState, minVisibility: number): RunState {
  return {
    ...s,
    droppedBoxes: s.droppedBoxes.map((l, i) =>
      l.map((dropped, k) => {
        const v = s.visible[i]![k]!;
        const before = entry.visible[i]?.[k] ?? 1;
        return dropped || v <= 0 || v < minVisibility * before;
      }),
    ),
    droppedKeypoints: s.droppedKeypoints.map((l, i) => l.map((dropped, k) => dropped || !keypointInside(s.batch.keypoints![i]![k]!, s.size))),
  };
}
