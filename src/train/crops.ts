/**
 * The training crops of an epoch. Without defect crops (`defectCrops` 0) on images of one size: the
 * loader's RandomCrop, a uniform window of each image the loader's shuffle visits (on images of
 * several sizes, the same windows as below with f = 0, cut on the host). With a share f of defect crops, the
 * epoch is a sequence of N samples (N training images, in the loader's shuffle) in which sample j
 * is a defect crop when ⌊(j + 1) · f⌋ > ⌊j · f⌋, so any run of consecutive samples (a batch)
 * holds f of them to within one. A defect crop takes, in place of the shuffle's image, a training
 * image with defects (uniformly among them) and one of its defect pixels (uniformly), and centres
 * the window there, moved by up to a quarter of the crop each way and clamped inside the image
 * (the pixel stays inside the window); the other samples are uniform windows of the shuffle's
 * images. Sample j draws from its own stream (seed, epoch · N + j), apart from the pipeline's, so
 * an epoch's windows are a function of the seed and the epoch (a resumed run gets the same). The
 * windows are cut on the host before the upload, so the loader batches crop-sized images in the
 * sequence's order and the pipeline's RandomCrop has nothing left to choose.
 */
import { sampleRng } from '../augment/compose.js';
import type { Transform } from '../augment/transform.js';
import type { Backend } from '../backend.js';
import { KensaError } from '../errors.js';
import type { AugmentItem, LoadedItem } from '../pipeline/augment-files.js';
import { augmentLoader, epochOrder, type LoaderBatch } from '../pipeline/augment-loader.js';
import type { TrainConfig } from './config.js';
import type { TrainData, TrainImageDefects } from './data.js';

/** One sample's window: the item it cuts (a copy per sample), its index in the training items, its top-left corner, whether it is centred on a defect. */
export interface CropWindow {
  item: AugmentItem;
  source: number;
  x: number;
  y: number;
  defect: boolean;
}

/** Kept apart from the pipeline's streams (seed, index), which the same indices draw from. */
const WINDOW_STREAM = 0x3c6ef372;

/** Whether sample j of an epoch is a defect crop under share `fraction`. */
export function isDefectSlot(j: number, fraction: number): boolean {
  return Math.floor((j + 1) * fraction) > Math.floor(j * fraction);
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** A window centred on a uniform defect pixel of `image`, moved by up to crop/4 each way, inside the image. */
function centredWindow(image: TrainImageDefects, crop: number, rng: () => number): { x: number; y: number } {
  const at = image.defects[Math.floor(rng() * image.defects.length)]!;
  const q = Math.floor(crop / 4);
  const jitter = () => Math.floor(rng() * (2 * q + 1)) - q;
  const x = (at % image.width) - Math.floor(crop / 2) + jitter();
  const y = Math.floor(at / image.width) - Math.floor(crop / 2) + jitter();
  return { x: clamp(x, 0, image.width - crop), y: clamp(y, 0, image.height - crop) };
}

/** The windows of epoch `epoch`: one per training item, defect crops at the slots `isDefectSlot` picks. */
export function epochWindows(
  train: readonly AugmentItem[],
  images: readonly TrainImageDefects[],
  o: { seed: number; epoch: number; crop: number; fraction: number },
): CropWindow[] {
  const withDefects = images.flatMap((d, i) => (d.defects.length ? [i] : []));
  if (o.fraction > 0 && !withDefects.length)
    throw new KensaError(
      'KENSA_ERR_TRAIN_DATA',
      `--defect-crops ${o.fraction} centres crops on defects but none of the ${train.length} training images has one`,
    );
  return epochOrder(train.length, o.seed, o.epoch, true).map((shuffled, j): CropWindow => {
    const rng = sampleRng((o.seed ^ WINDOW_STREAM) >>> 0, o.epoch * train.length + j);
    const defect = isDefectSlot(j, o.fraction);
    const source = defect ? withDefects[Math.floor(rng() * withDefects.length)]! : shuffled;
    const image = images[source]!;
    const corner = defect
      ? centredWindow(image, o.crop, rng)
      : { x: Math.floor(rng() * (image.width - o.crop + 1)), y: Math.floor(rng() * (image.height - o.crop + 1)) };
    return { item: { ...train[source]! }, source, ...corner, defect };
  });
}

/** `crop`² of planar `planes`×H×W values at (x, y). */
function cutPlanes<T extends Uint8Array | Uint16Array | Int32Array>(data: T, planes: number, width: number, height: number, w: CropWindow, crop: number): T {
  const out = new (data.constructor as new (n: number) => T)(planes * crop * crop);
  for (let c = 0; c < planes; c++)
    for (let r = 0; r < crop; r++) {
      const start = (c * height + w.y + r) * width + w.x;
      out.set(data.subarray(start, start + crop), (c * crop + r) * crop);
    }
  return out;
}

/** The window of a loaded item: its image and mask cut to `crop`². */
export function cutWindow(loaded: LoadedItem, w: CropWindow, crop: number): LoadedItem {
  const { width, height, channels } = loaded.image;
  const image = { ...loaded.image, width: crop, height: crop, data: cutPlanes(loaded.image.data, channels, width, height, w, crop) };
  return { ...loaded, image, ...(loaded.mask ? { mask: { ...loaded.mask, data: cutPlanes(loaded.mask.data, 1, width, height, w, crop) } } : {}) };
}

/** What an epoch's batches come from. */
export interface EpochBatchesOptions {
  config: TrainConfig;
  data: TrainData;
  /** The loader's pipeline: RandomCrop to the crop, then the run's augmentation. */
  pipeline: Transform;
  backend: Backend;
  epoch: number;
  /** Reads a training item (decoded, mask 0/1). */
  load: (item: AugmentItem) => Promise<LoadedItem>;
}

/** Whether the windows are cut on the host: with defect crops, or when the training images differ in size (the loader batches one size at a time, so mixed sizes would make batches of one or two). */
export function cutsOnHost(config: TrainConfig, data: TrainData): boolean {
  const [first] = data.images;
  return config.defectCrops > 0 || data.images.some((d) => d.width !== first!.width || d.height !== first!.height);
}

/**
 * The loader of one epoch, and its windows (null when the loader's RandomCrop draws them: no defect
 * crops, images of one size). A sample's window is `windows[index − epoch · N]` by its stream index.
 */
export function epochBatches(o: EpochBatchesOptions): { batches: AsyncGenerator<LoaderBatch>; windows: CropWindow[] | null } {
  const { config, data, epoch } = o;
  const common = { images: config.data, pipeline: o.pipeline, backend: o.backend, batchSize: config.batchSize, seed: config.seed, firstEpoch: epoch };
  if (!cutsOnHost(config, data)) return { batches: augmentLoader({ ...common, items: data.train, load: o.load }), windows: null };
  const windows = epochWindows(data.train, data.images, { seed: config.seed, epoch, crop: config.crop, fraction: config.defectCrops });
  const byItem = new Map(windows.map((w) => [w.item, w]));
  const load = async (item: AugmentItem) => cutWindow(await o.load(item), byItem.get(item)!, config.crop);
  return { batches: augmentLoader({ ...common, items: windows.map((w) => w.item), load, shuffle: false }), windows };
}
