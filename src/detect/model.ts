/**
 * The model recipe: a model (src/models: an ONNX file, or a kensa UNet's safetensors) as a
 * detector, on a batch tensor (N×1×H×W u8 or u16) on either device:
 *   pre    (pixel / max − mean) / std in the model's input dtype (f32 or f16) with kensa's convert
 *          on the batch's device, read back once as the model's input (the gray plane repeated
 *          for a 3-channel model);
 *   infer  the open model (src/models/registry.ts), the whole batch at once, or tile by
 *          tile through src/tiling's grid: overlapping windows batched together, each window's
 *          centre (its tile) pasted into the image's output, so a tiled run of a translation-
 *          equivariant model equals the whole-image one;
 *   post   segmentation: the defect probability map (activation, background channel) on the
 *          batch's device, threshold and connected components as the classic recipe's regions;
 *          classification: each image's class scores.
 */
import { f16BitsToF32 } from '../dtype.js';
import { KensaError } from '../errors.js';
import type { OutputData } from '../models/session-worker.js';
import type { Gpu } from '../gpu/gpu.js';
import { openedModel, openModel, readModelFile, type ModelRunner, type OpenModel } from '../models/registry.js';
import type { SessionOptions } from '../models/session.js';
import { UNetRunner } from '../models/unet-runner.js';
import { convert } from '../ops/color/convert.js';
import { resize } from '../ops/geometry/resize.js';
import { customKernel } from '../ops/custom/kernel.js';
import { componentsBytesPerPixel } from '../ops/analysis/components.js';
import { threshold } from '../ops/threshold/binary.js';
import { Tensor } from '../tensor.js';
import { cropPlane, pasteInterior, roundUp, tileGrid, type Tile, type TileGridOptions } from '../tiling/grid.js';
import type { Detector, ImageDetection } from './detector.js';
import { MODEL_THRESHOLD, parseRecipe, type LoadedRecipe, type ModelRecipe } from './recipe.js';
import { regionDetection, regionsOf, type RegionPayload } from './regions.js';

const ACTIVATIONS = { none: 0, sigmoid: 1, softmax: 2 } as const;

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/**
 * The defect probability (N×1×H×W) of a segmentation output x (N×C×H×W): C = 1, x after the
 * activation; C ≥ 2, 1 − p(channel 0) with p the softmax over channels (or x itself with `none`;
 * with `sigmoid`, the largest σ of the other channels).
 */
const defectProbability = customKernel({
  name: 'defect_probability',
  inputs: ['x'],
  uniforms: { activation: 'u32' },
  pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, xx: u32) -> f32 {
  let channels = u.x_shape.y;
  if (channels == 1u) {
    let v = x_px(n, 0u, y, xx);
    return select(v, 1.0 / (1.0 + exp(-v)), u.activation == 1u);
  }
  if (u.activation == 1u) {
    var best = 0.0;
    for (var k = 1u; k < channels; k++) { best = max(best, 1.0 / (1.0 + exp(-x_px(n, k, y, xx)))); }
    return best;
  }
  if (u.activation == 0u) { return 1.0 - x_px(n, 0u, y, xx); }
  var m = x_px(n, 0u, y, xx);
  for (var k = 1u; k < channels; k++) { m = max(m, x_px(n, k, y, xx)); }
  var sum = 0.0;
  for (var k = 0u; k < channels; k++) { sum += exp(x_px(n, k, y, xx) - m); }
  return 1.0 - exp(x_px(n, 0u, y, xx) - m) / sum;
}`,
  cpu: ({ x }, u, n, _c, y, xx) => {
    const channels = x.shape[1];
    if (channels === 1) return u.activation === 1 ? sigmoid(x.px(n, 0, y, xx)) : x.px(n, 0, y, xx);
    const values = Array.from({ length: channels }, (_, k) => x.px(n, k, y, xx));
    if (u.activation === 1) return Math.max(0, ...values.slice(1).map(sigmoid));
    if (u.activation === 0) return 1 - values[0]!;
    const m = Math.max(...values);
    const sum = values.reduce((s, v) => s + Math.exp(v - m), 0);
    return 1 - Math.exp(values[0]! - m) / sum;
  },
});

/** One image's model result: a segmentation's regions (the mean probability over each), or a classification's scores. */
export type ModelPayload = RegionPayload | { scores: Float32Array };

/** A batch of model inputs on the host. */
export interface HostInput {
  data: Float32Array | Uint16Array;
  dims: [number, number, number, number];
}

/** The model's input channels: 1, or 3 for a model of three (the gray plane repeated); KENSA_ERR_MODEL otherwise. */
function inputChannels(session: ModelRunner): number {
  const c = session.input.shape[1];
  if (typeof c === 'string' || c === 1) return 1;
  if (c === 3) return 3;
  throw new KensaError('KENSA_ERR_MODEL', `Model ${session.name}: expected an input of 1 or 3 channels (N×C×H×W) but input ${session.input.name} has ${c}`);
}

/** The input's height and width when the model fixes them; null when either is dynamic. */
function fixedSize(session: ModelRunner): { h: number; w: number } | null {
  const [, , h, w] = session.input.shape;
  return typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0 ? { h, w } : null;
}

/**
 * How a segmentation model's batches are tiled: the recipe's tiling for a model of any size; for
 * a model of a fixed square size S, windows of S (tiles of S − 2 · overlap) wherever the image is
 * not S × S; null: whole images.
 */
function tilingOf(session: ModelRunner, r: ModelRecipe, h: number, w: number): { tile: number; halo: number; align: number; window: boolean } | null {
  if (r.model.task !== 'segmentation') return null;
  const fixed = fixedSize(session);
  const { tile, overlap, align } = r.tiling;
  if (!fixed) return tile > 0 ? { tile, halo: overlap, align, window: false } : null;
  if (fixed.h === h && fixed.w === w) return null;
  const side = fixed.h - 2 * overlap;
  if (fixed.h !== fixed.w || side < align || overlap % align !== 0) {
    throw new KensaError(
      'KENSA_ERR_MODEL',
      `Model ${session.name}: a fixed input of ${fixed.w}×${fixed.h} runs on ${w}×${h} images through square windows of its side with tiling.overlap a multiple of tiling.align below half of it, but overlap is ${overlap} and align ${align}`,
    );
  }
  return { tile: side, halo: overlap, align, window: true };
}

/**
 * Checks at load what the model declares against the recipe: 1 or 3 input channels, a first output
 * of rank 4 (segmentation) or 2 (classification); KENSA_ERR_MODEL naming what does not fit.
 */
export function checkModelFits(session: ModelRunner, r: ModelRecipe): void {
  inputChannels(session);
  const out = session.outputs[0];
  const rank = r.model.task === 'segmentation' ? 4 : 2;
  if (!out) throw new KensaError('KENSA_ERR_MODEL', `Model ${session.name} has no output`);
  if (out.shape.length !== rank) {
    const want = rank === 4 ? 'N×C×H×W (rank 4)' : 'N×K (rank 2)';
    throw new KensaError(
      'KENSA_ERR_MODEL',
      `Model ${session.name}: a ${r.model.task} model's first output must be ${want} but output ${out.name} is [${out.shape.join(', ')}]`,
    );
  }
}

/**
 * The batch as the model's input: resized to a classification model's fixed size, normalised with
 * kensa's convert on the batch's device, then read back.
 */
async function modelInput(batch: Tensor, r: ModelRecipe, session: ModelRunner): Promise<HostInput> {
  const fixed = r.model.task === 'classification' ? fixedSize(session) : null;
  const [n, , bh, bw] = batch.shape as [number, number, number, number];
  const [h, w] = fixed ? [fixed.h, fixed.w] : [bh, bw];
  const max = batch.dtype === 'u16' ? 65535 : 255;
  const { mean, std } = r.normalize;
  const interpolation = h * w < bh * bw ? 'area' : 'bilinear';
  using resized = fixed && (h !== bh || w !== bw) ? resize(batch, { width: w, height: h, interpolation }) : null;
  using x = convert(resized ?? batch, { dtype: session.inputDType, scale: 1 / (max * std), offset: -mean / std });
  const gray = (await x.toCpu()).data as Float32Array | Uint16Array;
  const channels = inputChannels(session);
  if (channels === 1) return { data: gray, dims: [n, 1, h, w] };
  const data = new (gray.constructor as new (k: number) => Float32Array | Uint16Array)(n * channels * h * w);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) data.set(gray.subarray(i * h * w, (i + 1) * h * w), (i * channels + c) * h * w);
  return { data, dims: [n, channels, h, w] };
}

/** The first output of a run, checked against what the task reads. */
function firstOutput(out: OutputData[], r: ModelRecipe, session: ModelRunner, n: number): OutputData {
  const o = out[0]!;
  const want = r.model.task === 'segmentation' ? 'N×C×H×W (rank 4)' : 'N×K (rank 2)';
  const rank = r.model.task === 'segmentation' ? 4 : 2;
  if (o.dims.length !== rank || o.dims[0] !== n) {
    throw new KensaError(
      'KENSA_ERR_MODEL',
      `Model ${session.name}: a ${r.model.task} output must be ${want} for ${n} images but output ${o.name} is [${o.dims.join(', ')}]`,
    );
  }
  return o;
}

/**
 * The model's output for the batch, tile by tile: each image's windows (tileGrid's crops, `overlap`
 * of context around each tile) are batched by size and inferred; each window's tile is pasted into
 * the image's output plane, channel by channel.
 */
async function tiledOutput(session: ModelRunner, input: HostInput, r: ModelRecipe, grid: TileGridOptions): Promise<OutputData> {
  const [n, c, h, w] = input.dims;
  const tiles = tileGrid(w, h, grid);
  const bySize = new Map<string, { image: number; tile: Tile }[]>();
  for (let image = 0; image < n; image++) {
    for (const tile of tiles) {
      const key = `${tile.crop.w}x${tile.crop.h}`;
      bySize.set(key, [...(bySize.get(key) ?? []), { image, tile }]);
    }
  }
  let out: { data: Float32Array | Uint16Array; channels: number; name: string; type: string } | null = null;
  for (const group of bySize.values()) {
    const { w: cw, h: ch } = group[0]!.tile.crop;
    const Ctor = input.data.constructor as new (k: number) => Float32Array | Uint16Array;
    const windows = new Ctor(group.length * c * cw * ch);
    for (const [k, { image, tile }] of group.entries()) {
      for (let p = 0; p < c; p++) {
        const plane = { data: input.data.subarray((image * c + p) * h * w, (image * c + p + 1) * h * w), width: w, height: h };
        windows.set(cropPlane(plane, tile.crop), (k * c + p) * cw * ch);
      }
    }
    const o = firstOutput(await session.runBatch(windows, [group.length, c, ch, cw]), r, session, group.length);
    const [, oc, oh, ow] = o.dims as [number, number, number, number];
    if (oh !== ch || ow !== cw) {
      throw new KensaError('KENSA_ERR_MODEL', `Model ${session.name}: tiling needs an output of its input's size, but a ${cw}×${ch} window gave ${ow}×${oh}`);
    }
    out ??= { data: new (o.data.constructor as new (k: number) => Float32Array | Uint16Array)(n * oc * h * w), channels: oc, name: o.name, type: o.type };
    for (const [k, { image, tile }] of group.entries()) {
      for (let p = 0; p < oc; p++) {
        const dst = { data: out.data.subarray((image * oc + p) * h * w, (image * oc + p + 1) * h * w), width: w, height: h };
        pasteInterior(dst, o.data.subarray((k * oc + p) * ch * cw, (k * oc + p + 1) * ch * cw), tile.crop, tile.interior);
      }
    }
  }
  return { name: out!.name, type: out!.type, dims: [n, out!.channels, h, w], data: out!.data };
}

/** The model's first output for a batch of inputs (N×C×H×W on the host): tiled when the recipe or the model's fixed size asks, else the whole batch at once. */
export async function modelOutput(session: ModelRunner, input: HostInput, r: ModelRecipe): Promise<OutputData> {
  const tiling = tilingOf(session, r, input.dims[2], input.dims[3]);
  return tiling ? await tiledOutput(session, input, r, tiling) : firstOutput(await session.runBatch(input.data, input.dims), r, session, input.dims[0]);
}

/** The device stage: pre-processing, inference (tiled when the recipe asks), then the regions or the scores. */
async function device(batch: Tensor, r: ModelRecipe, wantMasks: boolean): Promise<ModelPayload[]> {
  const session = openedModel(r.model.sha256 ?? 'unhashed', r.model.path);
  const n = batch.shape[0]!;
  const input = await modelInput(batch, r, session);
  const output = await modelOutput(session, input, r);
  if (r.model.task === 'classification') {
    const k = output.dims[1]!;
    const values = output.type === 'float16' ? Float32Array.from(output.data, f16BitsToF32) : (output.data as Float32Array);
    return Array.from({ length: n }, (_, i) => ({ scores: classScores(values.subarray(i * k, (i + 1) * k), r.activation) }));
  }
  const host = Tensor.fromArray(output.data, output.dims, output.type === 'float16' ? 'f16' : 'f32');
  using raw = batch.device === 'gpu' ? await host.toGpu(batch.gpu.gpu) : host;
  // an output at another resolution (a decoder that stops at 1/4) is resized to the image's
  const [, , h, w] = input.dims;
  using sized = raw.shape[2] !== h || raw.shape[3] !== w ? resize(raw, { width: w, height: h, interpolation: 'bilinear' }) : null;
  using probability = defectProbability([sized ?? raw], { uniforms: { activation: ACTIVATIONS[r.activation] }, dtype: 'f32', shape: [n, 1, h, w] });
  using mask = threshold(probability, { thresh: thresholdOf(r), maxval: 255, dtype: 'u8', type: 'binary' });
  return await regionsOf(mask, probability, r.components.connectivity, wantMasks);
}

/** Class scores after the activation (softmax over the classes, or σ of each). */
function classScores(logits: Float32Array, activation: ModelRecipe['activation']): Float32Array {
  if (activation === 'none') return logits.slice();
  if (activation === 'sigmoid') return logits.map(sigmoid);
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

/**
 * The post stage. Segmentation: defects as the classic recipe's (the mean probability over each
 * region in `meanGradient`, its score that over the threshold), NG when more than maxDefects score
 * at least minScore. Classification: no defects; NG when the top class is not `classes.ok`; the
 * score is 1 − the ok class's score; `label` names the top class.
 */
function post(p: ModelPayload, r: ModelRecipe): ImageDetection {
  if ('scores' in p) {
    let top = 0;
    for (let k = 1; k < p.scores.length; k++) if (p.scores[k]! > p.scores[top]!) top = k;
    const label = r.classes.labels[top] ?? `class ${top}`;
    return {
      defects: [],
      verdict: top === r.classes.ok ? 'OK' : 'NG',
      score: 1 - (p.scores[r.classes.ok] ?? 0),
      label: { name: label, score: p.scores[top]! },
    };
  }
  return regionDetection(p, r.components.minArea, thresholdOf(r), r.classify, r.verdict);
}

export const modelDetector: Detector<ModelRecipe, ModelPayload> = {
  device,
  post,
  // the probability map and the labels take 4 bytes a pixel, the labelling's per-block statistics more
  bytesPerPixel: (r) => Math.max(4, componentsBytesPerPixel(r.components.connectivity)),
  tiled: null,
  portable: false,
};

/** Side of the warm-up input of a model that does not fix its size and runs on whole images (theirs are not known yet). */
const WARM_UP_SIDE = 64;

/** The probability above which a pixel is a defect: the recipe's threshold (filled in when its model opens), else MODEL_THRESHOLD. */
function thresholdOf(r: ModelRecipe): number {
  return r.threshold.value ?? MODEL_THRESHOLD;
}

/**
 * What a kensa UNet's file decides in its recipe: the activation of its head (a recipe's 'none'
 * becomes it; another one is refused), tiles aligned to its stride, the threshold when the recipe
 * sets none (the file's, chosen on validation by kensa train; an explicit recipe threshold wins);
 * its preprocessing comes from the file, so the recipe's normalize must stay mean 0, std 1.
 * KENSA_ERR_MODEL naming what does not fit.
 */
function unetRecipe(r: ModelRecipe, unet: UNetRunner): ModelRecipe {
  if (r.normalize.mean !== 0 || r.normalize.std !== 1) {
    throw new KensaError(
      'KENSA_ERR_MODEL',
      `Model ${r.model.path}: a kensa UNet takes its preprocessing from its file, so the recipe's normalize must be mean 0 and std 1 but is mean ${r.normalize.mean} and std ${r.normalize.std}`,
    );
  }
  if (r.activation !== 'none' && r.activation !== unet.head) {
    throw new KensaError('KENSA_ERR_MODEL', `Model ${r.model.path}: this UNet's head is a ${unet.head}, but the recipe's activation is ${r.activation}`);
  }
  return {
    ...r,
    activation: unet.head,
    tiling: { ...r.tiling, align: Math.max(r.tiling.align, unet.stride) },
    threshold: { value: r.threshold.value ?? unet.threshold ?? MODEL_THRESHOLD },
  };
}

/**
 * Opens the model of a model recipe: reads the file, fills in (or checks) its sha256 in the
 * recipe, and opens it (a UNet's safetensors on `gpu`, or the CPU when null; an ONNX file's
 * sessions), warmed up on batches of 1 and `maxBatch` of the window (tiled) or the model's own
 * size, checked against the task. Returns the recipe with its sha256 (and, for a UNet, what its
 * file decides) and the open model (the caller closes it).
 */
async function openModelOf(r: ModelRecipe, options: SessionOptions, maxBatch: number, gpu: Gpu | null): Promise<{ recipe: ModelRecipe; model: OpenModel }> {
  const file = await readModelFile(r.model.path);
  if (r.model.sha256 !== undefined && r.model.sha256 !== file.sha256) {
    throw new KensaError(
      'KENSA_ERR_MODEL',
      `Model ${r.model.path} has sha256 ${file.sha256.slice(0, 12)}, not the recipe's ${r.model.sha256.slice(0, 12)}: the file changed since the recipe named it`,
    );
  }
  const { tile, overlap, align } = r.tiling;
  const side = r.model.task === 'segmentation' && tile > 0 ? Math.max(align, Math.floor(tile / align) * align) + 2 * roundUp(overlap, align) : WARM_UP_SIDE;
  const warmUp = [...new Set([1, maxBatch])].map((n) => [n, 1, side, side]);
  const model = await openModel(file, { ...options, warmUp }, gpu);
  try {
    const hashed = { ...r, model: { ...r.model, sha256: file.sha256 } };
    const recipe = model.session instanceof UNetRunner ? unetRecipe(hashed, model.session) : { ...hashed, threshold: { value: thresholdOf(hashed) } };
    checkModelFits(model.session, recipe);
    return { recipe, model };
  } catch (e) {
    await model.close();
    throw e;
  }
}

/**
 * Opens every model a recipe names for a run (a model recipe's; a cascade's stages'), so the run's
 * stored recipe (returned, sha256s filled in) and its hash cover the weights. The caller closes
 * the models; none are left open when one fails.
 */
export async function openRecipeModels(
  loaded: LoadedRecipe,
  options: SessionOptions,
  maxBatch: number,
  gpu: Gpu | null,
): Promise<{ loaded: LoadedRecipe; models: OpenModel[] }> {
  const r = loaded.recipe;
  const models: OpenModel[] = [];
  const open = async (m: ModelRecipe) => {
    const opened = await openModelOf(m, options, maxBatch, gpu);
    models.push(opened.model);
    return opened.recipe;
  };
  try {
    if (r.kind === 'model') return { loaded: parseRecipe(await open(r), `recipe ${r.name}`), models };
    if (r.kind === 'cascade') {
      const first = r.first.kind === 'model' ? await open(r.first) : r.first;
      return { loaded: parseRecipe({ ...r, first, full: await open(r.full) }, `recipe ${r.name}`), models };
    }
    return { loaded, models };
  } catch (e) {
    await Promise.all(models.map((m) => m.close()));
    throw e;
  }
}
