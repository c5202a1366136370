import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend } from '../../src/backend.js';
import { openBackend } from '../../src/backend.js';
import { classicDetector } from '../../src/detect/classic.js';
import { classicTileGeometry, classicTiled } from '../../src/detect/classic-tiled.js';
import type { ImageDetection } from '../../src/detect/detector.js';
import type { Gpu } from '../../src/gpu/gpu.js';
import { DEFAULT_RECIPE, type ClassicRecipe } from '../../src/detect/recipe.js';
import { registerTemplate } from '../../src/detect/template.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor } from '../../src/tensor.js';
import { testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();
const recipe = DEFAULT_RECIPE.recipe as ClassicRecipe;

/** Noisy grey with a crack across every tile, a spot on a tile corner and a faint stain across a tile border. */
function surface(W: number, H: number): Uint8Array {
  const img = new Uint8Array(W * H);
  const r = mulberry32(11);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const stain = Math.min(1, Math.max(0, (18 - Math.hypot(y - 40, x - 100)) / 6));
      img[y * W + x] = Math.round(120 + 18 * stain + (r() - 0.5) * 4);
    }
  for (let x = 4; x < W - 4; x++) for (let t = 0; t < 2; t++) img[(Math.round(H / 2 + (H / 3) * Math.sin(x / 23)) + t) * W + x] = 30;
  for (let y = 92; y < 101; y++) for (let x = 92; x < 101; x++) img[y * W + x] = 230;
  return img;
}

/** A template of the surface with structured changes (so its blur near a tile border matters), open at the sizes compared below. */
const TEMPLATE_SHA = 'c'.repeat(64);
for (const [W, H] of [
  [203, 137],
  [229, 197],
])
  registerTemplate({
    path: 'structured',
    sha256: TEMPLATE_SHA,
    width: W!,
    height: H!,
    dtype: 'u8',
    data: Uint8Array.from(surface(W!, H!), (v, i) => v ^ (i % 7)),
  });

const VARIANTS: [string, ClassicRecipe][] = [
  ['default', recipe],
  [
    'scales 3, fillHoles, 4-connected',
    { ...recipe, gradient: { ...recipe.gradient, scales: 3 }, morphology: { close: 5, fillHoles: 64 }, components: { ...recipe.components, connectivity: 4 } },
  ],
  ['contrast on level 1, no closing', { ...recipe, contrast: { ...recipe.contrast, background: 16 }, morphology: { close: 0, fillHoles: 0 } }],
  [
    'contrast off, denoise sigma 3',
    { ...recipe, contrast: { ...recipe.contrast, background: 0 }, denoise: { sigma: 3 }, threshold: { ...recipe.threshold, value: 0.02 } },
  ],
  ['black-hat 9 and top-hat 5, weighted', { ...recipe, blackhat: { size: 9, weight: 2 }, tophat: { size: 5, weight: 1 } }],
  // the template's blur reads 6 px around each pixel of the image and of the template
  ['template sigma 1.5, weight 2', { ...recipe, template: { path: 'structured', sha256: TEMPLATE_SHA, sigma: 1.5, weight: 2 } }],
  // without its own sigma it compares the denoised image
  ['template at the denoise sigma, weight 3', { ...recipe, template: { path: 'structured', sha256: TEMPLATE_SHA, weight: 3 } }],
  // the halo of the largest of a black-hat's sizes
  ['black-hat 5 + 31, top-hat 5', { ...recipe, blackhat: { size: [5, 31], weight: 1 }, tophat: { size: 5, weight: 1 } }],
  // wider than the tile: its halo spans neighbouring tiles
  [
    'black-hat 95 alone',
    { ...recipe, gradient: { ...recipe.gradient, weight: 0 }, contrast: { ...recipe.contrast, background: 0 }, blackhat: { size: 95, weight: 1 } },
  ],
];

function boxes(d: ImageDetection) {
  return d.defects.map((x) => [x.x, x.y, x.w, x.h, x.area, x.class]);
}

/** Untiled and tiled detections of the same image agree: masks and boxes exactly, means exactly or to f32 summation. */
async function compare(backend: Backend, W: number, H: number, tile: number, exactMeans: boolean, variants = VARIANTS) {
  const u8 = surface(W, H);
  const cases = [...variants.map(([what, r]) => [what, r, u8] as const), ['default, 16-bit', recipe, Uint16Array.from(u8, (v) => v * 257)] as const];
  for (const [what, r, data] of cases) {
    const x = await backend.toDevice(Tensor.fromArray(data, [1, 1, H, W], data instanceof Uint16Array ? 'u16' : 'u8'));
    const [wholePayload] = await classicDetector.device(x, r, true);
    const whole = classicDetector.post(wholePayload!, r);
    x.dispose();
    const tiledPayload = await classicTiled({ data, width: W, height: H }, r, true, { backend, tile });
    const tiled = classicDetector.post(tiledPayload, r);
    // the response histogram of the background verdict rule: the same pixels in the same bins
    assert.deepEqual(tiledPayload.hist, wholePayload!.hist, what);
    assert.deepEqual(tiled.counted, whole.counted, what);
    assert.ok(whole.defects.length >= 1, `${what}: no defects to compare`);
    assert.deepEqual(tiled.mask, whole.mask, what);
    assert.deepEqual(boxes(tiled), boxes(whole), what);
    assert.equal(tiled.verdict, whole.verdict, what);
    tiled.defects.forEach((d, k) => {
      const m = whole.defects[k]!.meanGradient;
      if (exactMeans) assert.equal(d.meanGradient, m, what);
      else assert.ok(Math.abs(d.meanGradient - m) <= 1e-5 * Math.abs(m), what);
    });
  }
}

test('the halo covers the stencils of each pass; tiles align to the deepest pyramid level', () => {
  assert.deepEqual(classicTileGeometry(recipe), { halo: 24, align: 8, bytesPerPixel: 4 }); // contrast on level 3: 3 wrong pixels there
  assert.deepEqual(classicTileGeometry({ ...recipe, contrast: { ...recipe.contrast, background: 0 }, morphology: { close: 9, fillHoles: 0 } }), {
    halo: 8,
    align: 1,
    bytesPerPixel: 4,
  });
  // a template blurred with sigma 3: a 25-tap kernel (8σ + 1, OpenCV's rule for float images) reads 12 px each side
  const template = { path: 't', sigma: 3, weight: 1 };
  assert.equal(classicTileGeometry({ ...recipe, contrast: { ...recipe.contrast, background: 0 }, morphology: { close: 0, fillHoles: 0 }, template }).halo, 12);
});

test('tiled = untiled on the CPU: masks, boxes and means exactly', async () => {
  await compare(await openBackend({ device: 'cpu' }), 203, 137, 48, true);
});

test('tiled = untiled on the GPU: masks and boxes exactly, means to f32 summation', { skip: gpu ? false : 'no GPU adapter' }, async () => {
  const backend = await openBackend({ device: 'gpu' });
  try {
    await compare(backend, 229, 197, 96, false);
    // a binding smaller than the contrast level (29 × 25 f32): its scores are computed on the CPU
    const info = { ...backend.gpu!.info, limits: { ...backend.gpu!.info.limits, maxStorageBufferBindingSize: 2048 } };
    const small = { ...backend, gpu: Object.create(backend.gpu!, { info: { value: info } }) as Gpu };
    await compare(small, 229, 197, 96, false, VARIANTS.slice(0, 1));
  } finally {
    backend.close();
  }
});

test('hysteresis is refused tile by tile: its regions cross the tiles', async () => {
  const backend = await openBackend({ device: 'cpu' });
  const r = { ...recipe, threshold: { ...recipe.threshold, hysteresis: 0.5 } };
  await assert.rejects(classicTiled({ data: surface(64, 48), width: 64, height: 48 }, r, false, { backend, tile: 32 }), {
    code: 'KENSA_ERR_RECIPE',
    message: /^threshold\.hysteresis follows regions across the whole image and is not tiled, but a 64×48 image exceeds one storage binding/,
  });
});

test('the area channel is refused tile by tile: its background mean reaches beyond any halo', async () => {
  const backend = await openBackend({ device: 'cpu' });
  const r = { ...recipe, area: { sigma: 4, background: 32, weight: 1 } };
  await assert.rejects(classicTiled({ data: surface(64, 48), width: 64, height: 48 }, r, false, { backend, tile: 32 }), {
    code: 'KENSA_ERR_RECIPE',
    message: /^the area channel's background mean reaches 4 × area\.background px and is not tiled, but a 64×48 image exceeds one storage binding/,
  });
});
