/**
 * `inspect --model` with a kensa UNet on this machine's GPU: the model detector (the same tiler
 * and post stage as a run: windows batched, centres stitched, probability → threshold →
 * components) on 2048×2048 u8 frames already on the GPU, tiled into 512-px tiles read with 64 px
 * of overlap (windows of 640², 576² at the edges: 16 per frame; the overlap covers the 4-level
 * net's receptive radius, so the stitched result is the whole-frame one). UNet 64-128-256-512 (f32, drawn
 * weights: speed only), then the same net pruned to 48-96-192-384 (`pruneUNet`) and its speed-up.
 * Median and IQR of ms per frame over repeats after a warm-up, for the net alone on 16 windows, the
 * tiler (crops, net, stitch) and the whole detector (with its GPU time and defect count). Prints one JSON line; PyTorch f16
 * with the same tiling: bench/models/unet_inspect_torch.py.
 *   node --import tsx bench/models/unet-inspect.bench.ts [frame=2048] [repeats=10] [batch=1]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { detect } from '../../src/detect/detector.js';
import { modelOutput, openRecipeModels } from '../../src/detect/model.js';
import { parseRecipe, type ModelRecipe } from '../../src/detect/recipe.js';
import { Gpu } from '../../src/gpu/gpu.js';
import { pruneUNet } from '../../src/models/prune.js';
import { UNetRunner } from '../../src/models/unet-runner.js';
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

/** Where a frame's time goes: the net alone on the frame's windows, the tiler (crops, net, stitch), the whole detector; its defect count. */
interface Stages {
  forwardMs: Summary;
  tiledMs: Summary;
  detectMs: Summary;
  detectGpuMs: number | null;
  defects: number;
  chunk: string;
}

/** ms per frame of the model detector on `net` (written to a safetensors file and opened as a run opens it), split into its stages. */
async function msPerFrame(net: UNet, name: string): Promise<Stages> {
  const path = join(tmpdir(), `kensa-bench-${name}.safetensors`);
  writeFileSync(path, await net.toSafetensors());
  const { loaded, models } = await openRecipeModels(parseRecipe({ kind: 'model', model: { path, task: 'segmentation' }, tiling: TILING }), {}, batch, gpu);
  try {
    const recipe = loaded.recipe as ModelRecipe;
    const session = models[0]!.session;
    const host = { data: Float32Array.from(frames, (v) => v / 255), dims: [batch, 1, frame, frame] as [number, number, number, number] };
    const side = TILING.tile + 2 * TILING.overlap;
    const windows = new Float32Array(16 * side * side).fill(0.5);
    const timed = (f: () => Promise<unknown>) =>
      repeat(1, repeats, async () => {
        const t0 = performance.now();
        await f();
        return (performance.now() - t0) / batch;
      });
    const forwardMs = await timed(() => session.runBatch(windows, [16, 1, side, side]));
    const tiledMs = await timed(() => modelOutput(session, host, recipe));
    const detectMs = await timed(() => detect(input, recipe, false));
    const timer = gpu.hasTimestamps ? gpu.startTimer() : null;
    const found = await detect(input, recipe, false);
    const detectGpuMs = timer ? (await timer.stop()).gpuMs / batch : null;
    return {
      forwardMs,
      tiledMs,
      detectMs,
      detectGpuMs,
      defects: found.reduce((s, d) => s + d.defects.length, 0) / batch,
      chunk: session instanceof UNetRunner ? `${session.inputsPerForward(side, side)} windows a forward` : 'n/a',
    };
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
    default: { widths: UNET_WIDTHS.default, ...fullMs },
    slim: { widths: UNET_WIDTHS.slim, ...slimMs },
    slimSpeedup: fullMs.detectMs.median / slimMs.detectMs.median,
  }),
);
gpu.destroy();
