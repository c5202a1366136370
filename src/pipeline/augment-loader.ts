/**
 * The data loader a training loop consumes: batches of augmented images (and masks) resident on
 * the backend's device, from a folder of images and masks matched by name. The next batch is
 * read, decoded, uploaded and augmented while the current one is used (an async iterator with a
 * prefetch of one batch), so a GPU training step never waits for the host when decoding keeps up.
 *
 * Seeded: epoch e visits the images in the order of a shuffle drawn from (seed, e), and sample i
 * of the data set draws its parameters from the stream (seed, e × size + i), so a run gives the
 * same batches, bytes and parameters whatever the device (the transforms' GPU = CPU contract).
 * Mixed sizes: a batch holds images of one size (augment needs one); images wait in one bucket per
 * size until it holds `batchSize` of them; at the end of an epoch partial buckets are yielded, in
 * the order their first image came, unless `dropLast`.
 *
 * The consumer owns each batch's tensors: dispose them when done (`using` or `tidy`).
 *
 * @example
 * for await (const b of augmentLoader({ images: 'data/images', masks: 'data/masks', pipeline, backend, batchSize: 16, seed: 1, epochs: 10 })) {
 *   trainStep(b.image, b.mask);   // N×C×H×W on the GPU
 *   b.image.dispose(); b.mask?.dispose();
 * }
 */
import { augment } from '../augment/compose.js';
import type { SampleParams, Transform } from '../augment/transform.js';
import type { Backend } from '../backend.js';
import { KensaError } from '../errors.js';
import { mulberry32 } from '../rng.js';
import type { Tensor } from '../tensor.js';
import { integerInRange } from '../validate.js';
import { type AugmentItem, type ChannelChoice, listAugmentItems, type LoadedItem, loadItem } from './augment-files.js';

export interface AugmentLoaderOptions {
  /** A folder of images (searched recursively; a kensa samples folder stands for its images/). */
  images: string;
  /** A folder of masks matched by name; every image must have one. */
  masks?: string;
  /** The items to visit instead of listing `images` and `masks` (a training split). */
  items?: readonly AugmentItem[];
  pipeline: Transform;
  /** Where the batches live (openBackend()). */
  backend: Backend;
  /** Images per batch, 1 … 1024. */
  batchSize: number;
  /** Integer 0 … 2³²−1: the same seed gives the same batches. */
  seed: number;
  /** Passes over the data set, 1 … 1e6 (default 1). */
  epochs?: number;
  /** The first epoch's number, 0 … 1e6 (default 0): a resumed run continues with the epoch it stopped before. */
  firstEpoch?: number;
  /** Visit the images in a seeded random order per epoch (default true); false: name order. */
  shuffle?: boolean;
  /** Leave out each epoch's partial batches (default false). */
  dropLast?: boolean;
  channels?: ChannelChoice;
  /** Reads one item (default: decode with sharp, loadItem); a loader for other storage, or a test's counter. */
  load?: (item: AugmentItem) => Promise<LoadedItem>;
}

/** One batch: N×C×H×W images and N×1×H×W masks on the backend's device, and what they came from. */
export interface LoaderBatch {
  image: Tensor;
  mask?: Tensor;
  /** The images' names, in batch order. */
  names: string[];
  /** Each sample's stream index (epoch × data set size + item index) and drawn parameters (replayable). */
  indices: number[];
  params: readonly SampleParams[];
  epoch: number;
}

/** The images of one batch, as item indices into the sorted data set. */
type Plan = { epoch: number; items: number[] };

/** The epoch's visiting order of `n` items: Fisher–Yates from the stream (seed, epoch); name order without `shuffle`. */
export function epochOrder(n: number, seed: number, epoch: number, shuffle: boolean): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  if (!shuffle) return idx;
  const r = mulberry32((Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + epoch * 0x6d2b79f5) >>> 0);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

/**
 * Batches of augmented images from a folder, prefetching one batch ahead.
 * @throws KensaError KENSA_ERR_AUGMENT_DATA for a missing folder or images without masks (listed); KENSA_ERR_INVALID_ARGUMENT for bad options.
 */
export async function* augmentLoader(options: AugmentLoaderOptions): AsyncGenerator<LoaderBatch, void, undefined> {
  const batchSize = integerInRange('batchSize', options.batchSize, 1, 1024);
  const seed = integerInRange('seed', options.seed, 0, 0xffffffff);
  const epochs = integerInRange('epochs', options.epochs ?? 1, 1, 1e6);
  const firstEpoch = integerInRange('firstEpoch', options.firstEpoch ?? 0, 0, 1e6);
  const { items, missingMasks } = options.items ? { items: options.items, missingMasks: [] } : listAugmentItems(options.images, options.masks);
  if (missingMasks.length)
    throw new KensaError(
      'KENSA_ERR_AUGMENT_DATA',
      `Masks are missing in ${options.masks} for ${missingMasks.length} of the ${items.length + missingMasks.length} images: ${missingMasks.slice(0, 10).join(', ')}${missingMasks.length > 10 ? ', …' : ''}`,
    );
  const load = options.load ?? ((item: AugmentItem) => loadItem(item, options.channels ?? 'auto'));
  const { backend, pipeline } = options;
  // sizes are learnt when an image is first read (planning groups by size, so it reads ahead of
  // the batch); that read is kept for the batch, so every image is decoded once an epoch
  const sizes = new Map<number, string>();
  const early = new Map<number, LoadedItem>();
  const sizeOf = async (i: number): Promise<string> => {
    let s = sizes.get(i);
    if (s === undefined) {
      const loaded = await load(items[i]!);
      early.set(i, loaded);
      s = `${loaded.image.width}×${loaded.image.height}×${loaded.image.channels}:${loaded.image.dtype}`;
      sizes.set(i, s);
    }
    return s;
  };
  const take = (i: number): Promise<LoadedItem> => {
    const loaded = early.get(i);
    early.delete(i);
    return loaded ? Promise.resolve(loaded) : load(items[i]!);
  };

  async function* plans(): AsyncGenerator<Plan> {
    for (let epoch = firstEpoch; epoch < firstEpoch + epochs; epoch++) {
      const buckets = new Map<string, number[]>();
      for (const i of epochOrder(items.length, seed, epoch, options.shuffle ?? true)) {
        const key = await sizeOf(i);
        const bucket = [...(buckets.get(key) ?? []), i];
        if (bucket.length === batchSize) {
          buckets.delete(key);
          yield { epoch, items: bucket };
        } else buckets.set(key, bucket);
      }
      if (!options.dropLast) for (const bucket of buckets.values()) yield { epoch, items: bucket };
    }
  }

  const prepare = async ({ epoch, items: picked }: Plan): Promise<LoaderBatch> => {
    const loaded = await Promise.all(picked.map(take));
    const { width, height, channels, dtype } = loaded[0]!.image;
    const n = loaded.length;
    const image = await backend.framesToDevice(
      loaded.map((l) => l.image.data),
      [n, channels, height, width],
      dtype,
    );
    const masks = loaded.every((l) => l.mask) && loaded.every((l) => l.mask!.dtype === loaded[0]!.mask!.dtype);
    const mask = masks
      ? await backend.framesToDevice(
          loaded.map((l) => l.mask!.data),
          [n, 1, height, width],
          loaded[0]!.mask!.dtype,
        )
      : undefined;
    const indices = picked.map((i) => epoch * items.length + i);
    let out: { image?: Tensor; mask?: Tensor } = {};
    try {
      const { batch, params } = augment(pipeline, { image, ...(mask ? { mask } : {}) }, { seed, indices });
      out = batch;
      return { image: batch.image, ...(batch.mask ? { mask: batch.mask } : {}), names: picked.map((i) => items[i]!.name), indices, params, epoch };
    } finally {
      // the uploads, unless a pipeline that drew nothing handed them back
      if (out.image !== image) image.dispose();
      if (mask && out.mask !== mask) mask.dispose();
    }
  };

  const planned = plans();
  let next = await planned.next();
  let pending = next.done ? null : prepare(next.value);
  while (pending) {
    const current = await pending;
    next = await planned.next();
    // the next batch is prepared while the consumer uses this one
    pending = next.done ? null : prepare(next.value);
    // a failure of the prefetched batch surfaces when it is awaited; until then it is not unhandled
    pending?.catch(() => {});
    yield current;
  }
}
