/**
 * bench/augment/fusion: geometric augmentation on a GPU-resident 32×3×1080×1920 u8 batch (as in a
 * training loop): each geometric transform alone, and a 5-transform geometric pipeline fused (one
 * warp) and unfused, image alone and image + mask; GPU time of the recorded passes, median and IQR
 * over 20 runs, per batch and per image. The draw happens on the host and is included in the
 * wall time only. Reports, never fails.
 * Usage: node dist/bench/augment/fusion.bench.js   (after npx tsc -p tsconfig.device.json)
 */
import {
  Affine,
  augment,
  CenterCrop,
  Compose,
  HorizontalFlip,
  Perspective,
  RandomCrop,
  RandomResizedCrop,
  RandomRotate90,
  Resize,
  ShiftScaleRotate,
  Transpose,
  VerticalFlip,
  type AugmentBatch,
  type Transform,
} from '../../src/augment/index.js';
import { Gpu } from '../../src/gpu/gpu.js';
import { Tensor } from '../../src/tensor.js';
import { metadata, repeat } from '../_kit/stats.js';

const [N, H, W] = [32, 1080, 1920];
const gpu = await Gpu.open();
const host = new Uint8Array(N * 3 * H * W);
for (let i = 0; i < host.length; i++) host[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
const maskHost = new Uint8Array(N * H * W);
for (let i = 0; i < maskHost.length; i++) maskHost[i] = (i % W) % 97 < 20 ? 1 : 0;
const image = await Tensor.fromArray(host, [N, 3, H, W], 'u8').toGpu(gpu);
const mask = await Tensor.fromArray(maskHost, [N, 1, H, W], 'u8').toGpu(gpu);

const geometric = () => [
  HorizontalFlip({ p: 0.5 }),
  RandomRotate90({ p: 0.5 }),
  Affine({ p: 0.7, rotate: [-15, 15], scale: [0.9, 1.1] }),
  Perspective({ p: 0.5 }),
  RandomCrop({ width: 1024, height: 1024 }),
];
const cases: [string, Transform, boolean, boolean][] = [
  ['HorizontalFlip', HorizontalFlip({ p: 1 }), true, false],
  ['VerticalFlip', VerticalFlip({ p: 1 }), true, false],
  ['RandomRotate90 (0 or 2 turns)', RandomRotate90({ p: 1 }), true, false],
  ['Transpose', Transpose({ p: 1 }), true, false],
  ['Affine', Affine({ p: 1, rotate: [-15, 15], scale: [0.9, 1.1] }), true, false],
  ['ShiftScaleRotate', ShiftScaleRotate({ p: 1 }), true, false],
  ['Perspective', Perspective({ p: 1 }), true, false],
  ['RandomCrop 1024²', RandomCrop({ width: 1024, height: 1024 }), true, false],
  ['CenterCrop 1024²', CenterCrop({ width: 1024, height: 1024 }), true, false],
  ['RandomResizedCrop 512²', RandomResizedCrop({ width: 512, height: 512 }), true, false],
  ['Resize 960×540', Resize({ width: 960, height: 540 }), true, false],
  ['5 geometric, fused', Compose({ transforms: geometric() }), true, false],
  ['5 geometric, unfused', Compose({ transforms: geometric() }), false, false],
  ['5 geometric + mask, fused', Compose({ transforms: geometric() }), true, true],
  ['5 geometric + mask, unfused', Compose({ transforms: geometric() }), false, true],
];

console.log(JSON.stringify(metadata(gpu.info.name)));
const out = ['| case | GPU ms / batch | q1–q3 | ms / image |', '|---|---|---|---|'];
let seed = 0;
for (const [name, pipeline, fuse, withMask] of cases) {
  const batch: AugmentBatch = withMask ? { image, mask } : { image };
  const s = await repeat(3, 20, async () => {
    const timer = gpu.startTimer();
    const r = augment(pipeline, batch, { seed: seed++, fuse });
    const { gpuMs } = await timer.stop();
    if (r.batch.image !== image) r.batch.image.dispose();
    if (r.batch.mask !== undefined && r.batch.mask !== mask) r.batch.mask.dispose();
    return gpuMs;
  });
  out.push(`| ${name} | ${s.median.toFixed(3)} | ${s.q1.toFixed(3)}–${s.q3.toFixed(3)} | ${(s.median / N).toFixed(4)} |`);
}
console.log(`${N}×3×${H}×${W} u8 on ${gpu.info.name}`);
console.log(out.join('\n'));
image.dispose();
mask.dispose();
gpu.destroy();
