/**
 * `inspect --model` with a kensa UNet on this machine's GPU: the model detector (the same tiler
 * and post stage as a run: windows batched, centres stitched, probability → threshold →
 * components) on 2048×2048 u8 frames already on the GPU, tiled into 512-px tiles read with 64 px
 * of overlap (windows of 640², 576² at the edges: 16 per frame; the overlap covers the 4-level
 * net's receptive radius, so the stitched result is the whole-frame one). UNet 64-128-256-512 (f32, drawn
 * weights: speed only), then the same net pruned to 48-96-192-384 (`pruneUNet`) and its speed-up.
 * Median and IQR of ms per frame over repeats after a warm-up. Prints one JSON line; PyTorch f16
 * with the same tiling: bench/models/unet_inspect_torch.py.
 *   node --import tsx bench/models/unet-inspect.bench.ts [frame=2048] [repeats=10] [batch=1]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { detect } from '../../src/detect/detector.js';
import { openRecipeModels } from '../../src/detect/model.js';
import { parseRecipe, type ModelRecipe } from '../../src/detect/recipe.js';
import { Gpu } from '../../src/gpu/gpu.js';
import { pruneUNet } from '../../src/models/prune.js';
import { UNET_WIDTHS, UNet } from '../../src/models/unet.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor } from '../../src/tensor.js';
import { tileGrid } from '../../src/tiling/grid.js';
import { metadata, repeat, type Summary } from '../_kit/stats.js';

const frame = Number(process.argv[2] ?? 2048);
const repeats = Number(process.argv[3] ?? 10);
const batch = Number(process.argv[4] ?? 1);
const TILING = { tile: 512, overlap: 64 };

const gpu = await Gpu.open();
const next = mulberry32(1);
const frames = Uint8Array.from({ length: batch * frame * frame }, () => 100 + Math.floor(next() * 56));
const input = await Tensor.fromArray(frames, [batch, 1, frame, frame], 'u8').toGpu(gpu);

/** ms per frame of the model detector on `net` (written to a safetensors file and opened as a run opens it). */
async function msPerFrame(net: UNet, name: string): Promise<Summary> {
  const path = join(tmpdir(), `kensa-bench-${name}.safetensors`);
  writeFileSync(path, await net.toSafetensors());
  const { loaded, models } = await openRecipeModels(parseRecipe({ kind: 'model', model: { path, task: 'segmentation' }, tiling: TILING }), {}, batch, gpu);
  try {
    const recipe = loaded.recipe as ModelRecipe;
    const ms = await repeat(2, repeats, async () => {
      const t0 = performance.now();
      await detect(input, recipe, false);
      return performance.now() - t0;
    });
    return { ...ms, median: ms.median / batch, min: ms.min / batch, max: ms.max / batch, q1: ms.q1 / batch, q3: ms.q3 / batch };
  } finally {
    await Promise.all(models.map((m) => m.close()));
  }
}

const full = await UNet.create({ widths: UNET_WIDTHS.default }, { gpu, seed: 1 });
const fullMs = await msPerFrame(full, 'default');
const slim = await pruneUNet(full, UNET_WIDTHS.slim, { gpu });
const slimMs = await msPerFrame(slim, 'slim');
const windows = tileGrid(frame, frame, { tile: TILING.tile, halo: TILING.overlap, align: 8 }).length;
console.log(
  JSON.stringify({
    bench: 'inspect --model UNet (kensa nn, f32)',
    meta: metadata(gpu.info.name),
    frame: `${frame}x${frame} u8`,
    batch,
    tiling: { ...TILING, align: 8, windows, window: TILING.tile + 2 * TILING.overlap, stitch: 'centre crop' },
    default: { widths: UNET_WIDTHS.default, msPerFrame: fullMs },
    slim: { widths: UNET_WIDTHS.slim, msPerFrame: slimMs },
    slimSpeedup: fullMs.median / slimMs.median,
  }),
);
gpu.destroy();
