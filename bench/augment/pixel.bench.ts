/**
 * bench/augment/pixel: colour and pixel augmentation on a GPU-resident 32×3×1080×1920 u8 batch (as
 * in a training loop): each colour and pixel transform drawn for every sample, a 5-transform colour
 * run fused (one pass) and unfused, and the composite (RandomRotate90 p 0.5, HorizontalFlip
 * p 0.5, RandomBrightnessContrast p 0.2, GaussianBlur blur_limit (3, 7) p 0.1); GPU time of the
 * recorded passes, median and IQR over 20 runs, per batch and per image, and the composite's wall
 * time with upload and readback. The draw happens on the host (in the wall time only). Reports, never fails.
 * Usage: node dist/bench/augment/pixel.bench.js   (after npx tsc -p tsconfig.device.json)
 */
import {
  augment,
  CLAHE,
  CoarseDropout,
  ColorJitter,
  Compose,
  GaussianBlur,
  GaussNoise,
  HorizontalFlip,
  HueSaturationValue,
  MotionBlur,
  Normalize,
  RandomBrightnessContrast,
  RandomGamma,
  RandomRotate90,
  ToGray,
  type Transform,
} from '../../src/augment/index.js';
import { Gpu } from '../../src/gpu/gpu.js';
import { Tensor } from '../../src/tensor.js';
import { metadata, repeat } from '../_kit/stats.js';

const [N, H, W] = [32, 1080, 1920];
const gpu = await Gpu.open();
const host = new Uint8Array(N * 3 * H * W);
for (let i = 0; i < host.length; i++) host[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
const image = await Tensor.fromArray(host, [N, 3, H, W], 'u8').toGpu(gpu);

const colourRun = () => [
  RandomBrightnessContrast({ p: 1 }),
  RandomGamma({ p: 1 }),
  HueSaturationValue({ p: 1 }),
  ToGray({ p: 0.2 }),
  RandomBrightnessContrast({ p: 1, brightnessLimit: 0.1 }),
];
const composite = () =>
  Compose({
    transforms: [RandomRotate90({ p: 0.5 }), HorizontalFlip({ p: 0.5 }), RandomBrightnessContrast({ p: 0.2 }), GaussianBlur({ p: 0.1, blurLimit: [3, 7] })],
  });
const cases: [string, Transform, boolean][] = [
  ['RandomBrightnessContrast', RandomBrightnessContrast({ p: 1 }), true],
  ['RandomGamma', RandomGamma({ p: 1 }), true],
  ['HueSaturationValue', HueSaturationValue({ p: 1 }), true],
  ['ColorJitter', ColorJitter({ p: 1 }), true],
  ['ToGray', ToGray({ p: 1 }), true],
  ['GaussianBlur (3, 7)', GaussianBlur({ p: 1, blurLimit: [3, 7] }), true],
  ['MotionBlur (3, 7)', MotionBlur({ p: 1, blurLimit: [3, 7] }), true],
  ['GaussNoise', GaussNoise({ p: 1 }), true],
  ['CLAHE', CLAHE({ p: 1 }), true],
  ['Normalize (→ f32)', Normalize(), true],
  ['CoarseDropout (1–8 holes)', CoarseDropout({ p: 1, numHolesRange: [1, 8] }), true],
  ['5 colour, fused', Compose({ transforms: colourRun() }), true],
  ['5 colour, unfused', Compose({ transforms: colourRun() }), false],
  ['issue composite (per-sample draws)', composite(), true],
];

console.log(JSON.stringify(metadata(gpu.info.name)));
const out = ['| case | GPU ms / batch | q1–q3 | ms / image |', '|---|---|---|---|'];
let seed = 0;
for (const [name, pipeline, fuse] of cases) {
  const s = await repeat(3, 20, async () => {
    const timer = gpu.startTimer();
    const r = augment(pipeline, { image }, { seed: seed++, fuse });
    const { gpuMs } = await timer.stop();
    if (r.batch.image !== image) r.batch.image.dispose();
    return gpuMs;
  });
  out.push(`| ${name} | ${s.median.toFixed(3)} | ${s.q1.toFixed(3)}–${s.q3.toFixed(3)} | ${(s.median / N).toFixed(4)} |`);
}
const wall = await repeat(2, 10, async () => {
  const start = performance.now();
  const up = await Tensor.fromArray(host, [N, 3, H, W], 'u8').toGpu(gpu);
  const r = augment(composite(), { image: up }, { seed: seed++ });
  const back = await r.batch.image.toCpu();
  if (r.batch.image !== up) r.batch.image.dispose();
  up.dispose();
  back.dispose();
  return performance.now() - start;
});
out.push(
  `| issue composite with upload and readback (wall) | ${wall.median.toFixed(3)} | ${wall.q1.toFixed(3)}–${wall.q3.toFixed(3)} | ${(wall.median / N).toFixed(4)} |`,
);
console.log(`${N}×3×${H}×${W} u8 on ${gpu.info.name}`);
console.log(out.join('\n'));
image.dispose();
gpu.destroy();
