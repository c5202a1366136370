/**
 * Contrast-limited adaptive histogram equalisation of u8 images, as OpenCV's cv::CLAHE (clahe.cpp),
 * each channel of each sample on its own, the clip limit one per sample (augmentation's CLAHE):
 *  - the plane is cut into tilesX × tilesY tiles; when the size is not a multiple of the grid it
 *    is first extended right and down by reflect101 to the next multiple, as OpenCV pads it;
 *  - each tile's 256-bin histogram is clipped at max(⌊clipLimit · area / 256⌋, 1) (clipLimit 0:
 *    no clipping), the clipped count spread evenly and its remainder one by one at a stride of
 *    max(⌊256 / remainder⌋, 1), and its running sum scaled by 255 / area (f32) and rounded
 *    half to even gives the tile's lookup table;
 *  - each pixel interpolates bilinearly the tables of the four tiles around it (f32, OpenCV's
 *    expression), rounded half to even.
 * GPU: one workgroup per tile builds its table (workgroup histogram, clip, scan), then a pixel
 * program interpolates. The tables are integer-exact on both backends; the interpolation is the
 * same f32 expression (±1 on the GPU where a contracted multiply-add crosses a .5).
 */
import { onDevice } from '../../device.js';
import { roundHalfEven } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, numberInRange } from '../../validate.js';
import { borderIndex, wgslBorder } from '../../kernels/border.js';
import { cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { checkDType, checkImage, packPerSample, perSample, perSampleField, sampleValue, type PerSample, type PerSampleItem } from '../image.js';

export interface ClaheOptions {
  /**
   * Contrast limit, 0 (no clipping) to 1000, or one per sample, where null leaves the sample
   * unchanged (an augmentation's sample that did not draw CLAHE). Default 40 (OpenCV's).
   */
  clipLimit?: PerSample<number | null>;
  /** Tiles across and down, integers 1 to 64. Default [8, 8]. */
  tileGrid?: readonly [number, number];
}

const WG = 256;

interface Grid {
  tilesX: number;
  tilesY: number;
  tileW: number;
  tileH: number;
}

/** OpenCV's tile size: the plane extended to the next multiple of the grid, divided by it. */
function gridOf(h: number, w: number, tilesX: number, tilesY: number): Grid {
  const padW = w % tilesX === 0 ? w : w + tilesX - (w % tilesX);
  const padH = h % tilesY === 0 ? h : h + tilesY - (h % tilesY);
  return { tilesX, tilesY, tileW: padW / tilesX, tileH: padH / tilesY };
}

/** The clip of a tile of `area` pixels for a clipLimit (OpenCV: 0 means none); -1 for null, the identity table. */
function clipCount(clipLimit: number | null, area: number): number {
  if (clipLimit === null) return -1;
  return clipLimit > 0 ? Math.max(Math.floor((clipLimit * area) / 256), 1) : 0;
}

const LIMIT_ITEM: PerSampleItem<number | null> = {
  what: ['a number or null', 'numbers or nulls'],
  check: (name, v) => (v === null ? null : numberInRange(name, v, 0, 1000)),
};

export function claheLutProgram(): ProgramInfo {
  return {
    name: 'clahe_lut',
    key: '',
    inputs: [{ name: 'src', dtype: 'u8' }],
    outputs: [{ name: 'lut', dtype: 'f32' }],
    uniforms: [
      { name: 'groups', type: 'u32' },
      { name: 'height', type: 'u32' },
      { name: 'width', type: 'u32' },
      { name: 'channels', type: 'u32' },
      { name: 'tiles_x', type: 'u32' },
      { name: 'tiles_y', type: 'u32' },
      { name: 'tile_w', type: 'u32' },
      { name: 'tile_h', type: 'u32' },
      { name: 'lut_scale', type: 'f32' },
      perSampleField('clips', 'vec4i', 1),
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
${wgslBorder('reflect101')}
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> clipped_total: atomic<u32>;
var<workgroup> scan: array<u32, 256>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= u.groups) { return; }
  atomicStore(&hist[li], 0u);
  if (li == 0u) { atomicStore(&clipped_total, 0u); }
  workgroupBarrier();
  let tiles = u.tiles_x * u.tiles_y;
  let plane = g / tiles;
  let t = g - plane * tiles;
  let y0 = (t / u.tiles_x) * u.tile_h;
  let x0 = (t % u.tiles_x) * u.tile_w;
  let area = u.tile_w * u.tile_h;
  let base = plane * u.height * u.width;
  for (var i = li; i < area; i += WG) {
    let yy = u32(border(i32(y0 + i / u.tile_w), i32(u.height)));
    let xx = u32(border(i32(x0 + i % u.tile_w), i32(u.width)));
    atomicAdd(&hist[u32(src_load(base + yy * u.width + xx))], 1u);
  }
  workgroupBarrier();
  let clip_code = u.clips[plane / u.channels].x;
  if (clip_code < 0) {
    // null: the identity table
    lut_store(g * 256u + li, f32(li));
    return;
  }
  // clip 0 (no clipping) as a limit no bin reaches, so every workgroup takes the same path
  let clip = u32(clip_code);
  let limit = select(clip, 0xffffffffu, clip == 0u);
  var h = atomicLoad(&hist[li]);
  if (h > limit) {
    atomicAdd(&clipped_total, h - limit);
    h = limit;
  }
  workgroupBarrier();
  let clipped = atomicLoad(&clipped_total);
  let batch = clipped / 256u;
  let residual = clipped - batch * 256u;
  h += batch;
  if (residual != 0u) {
    let stride = max(256u / residual, 1u);
    if (li % stride == 0u && li / stride < residual) { h += 1u; }
  }
  scan[li] = h;
  workgroupBarrier();
  for (var off = 1u; off < 256u; off *= 2u) {
    var add = 0u;
    if (li >= off) { add = scan[li - off]; }
    workgroupBarrier();
    scan[li] += add;
    workgroupBarrier();
  }
  lut_store(g * 256u + li, min(round(f32(scan[li]) * u.lut_scale), 255.0));
}`,
  };
}

export function claheApplyProgram(): ProgramInfo {
  return pixelProgram({
    name: 'clahe_apply',
    key: '',
    inputs: [
      { name: 'src', dtype: 'u8' },
      { name: 'lut', dtype: 'f32' },
    ],
    output: 'u8',
    border: 'replicate',
    uniforms: [
      { name: 'tiles_x', type: 'u32' },
      { name: 'tiles_y', type: 'u32' },
      { name: 'inv_tw', type: 'f32' },
      { name: 'inv_th', type: 'f32' },
    ],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let txf = f32(x) * u.inv_tw - 0.5;
  let tyf = f32(y) * u.inv_th - 0.5;
  let fx = floor(txf);
  let fy = floor(tyf);
  let xa = txf - fx;
  let ya = tyf - fy;
  let tx1 = u32(max(i32(fx), 0));
  let tx2 = u32(min(i32(fx) + 1, i32(u.tiles_x) - 1));
  let ty1 = u32(max(i32(fy), 0));
  let ty2 = u32(min(i32(fy) + 1, i32(u.tiles_y) - 1));
  let v = u32(src_px(n, c, y, x));
  let rows = (n * u.src_shape.y + c) * u.tiles_y;
  let r1 = (rows + ty1) * u.tiles_x;
  let r2 = (rows + ty2) * u.tiles_x;
  let l11 = lut_load((r1 + tx1) * 256u + v);
  let l12 = lut_load((r1 + tx2) * 256u + v);
  let l21 = lut_load((r2 + tx1) * 256u + v);
  let l22 = lut_load((r2 + tx2) * 256u + v);
  return (l11 * (1.0 - xa) + l12 * xa) * (1.0 - ya) + (l21 * (1.0 - xa) + l22 * xa) * ya;
}`,
  });
}

/** The CPU tables: f32 [N, C, tiles, 256], as the GPU's first pass. */
function cpuLuts(x: Tensor, grid: Grid, clips: readonly number[]): Tensor {
  const [N, C, H, W] = x.shape as Dims4;
  const tiles = grid.tilesX * grid.tilesY;
  const area = grid.tileW * grid.tileH;
  const lutScale = Math.fround(255 / area);
  const out = new Float32Array(N * C * tiles * 256);
  const src = x.data;
  const hist = new Uint32Array(256);
  for (let plane = 0; plane < N * C; plane++) {
    const clip = clips[Math.floor(plane / C)]!;
    for (let t = 0; t < tiles; t++) {
      const base = (plane * tiles + t) * 256;
      if (clip < 0) {
        for (let i = 0; i < 256; i++) out[base + i] = i;
        continue;
      }
      hist.fill(0);
      const y0 = Math.floor(t / grid.tilesX) * grid.tileH;
      const x0 = (t % grid.tilesX) * grid.tileW;
      for (let yy = y0; yy < y0 + grid.tileH; yy++)
        for (let xx = x0; xx < x0 + grid.tileW; xx++) hist[src[(plane * H + borderIndex(yy, H, 'reflect101')) * W + borderIndex(xx, W, 'reflect101')]!]!++;
      if (clip > 0) {
        let clipped = 0;
        for (let i = 0; i < 256; i++) {
          if (hist[i]! > clip) {
            clipped += hist[i]! - clip;
            hist[i] = clip;
          }
        }
        const batch = Math.floor(clipped / 256);
        let residual = clipped - batch * 256;
        for (let i = 0; i < 256; i++) hist[i]! += batch;
        if (residual !== 0) {
          const stride = Math.max(Math.floor(256 / residual), 1);
          for (let i = 0; i < 256 && residual > 0; i += stride, residual--) hist[i]!++;
        }
      }
      let sum = 0;
      for (let i = 0; i < 256; i++) {
        sum += hist[i]!;
        out[base + i] = Math.min(roundHalfEven(Math.fround(sum * lutScale)), 255);
      }
    }
  }
  return Tensor.fromArray(out, [N, C, tiles, 256], 'f32');
}

/**
 * Equalises each channel of an N×C×H×W u8 batch by tiles with a contrast limit. Runs where `x` lives.
 * @example clahe(gray, { clipLimit: 2, tileGrid: [8, 8] })
 * @example clahe(batch3, { clipLimit: [1, null, 4] })   // a limit per sample (Albumentations' clip_limit draw); sample 1 unchanged
 * @throws KensaError KENSA_ERR_DTYPE unless x is u8; KENSA_ERR_INVALID_ARGUMENT for clipLimit outside [0, 1000] or tileGrid not two integers in [1, 64].
 */
export function clahe(x: Tensor, options: ClaheOptions = {}): Tensor {
  const d = checkImage('x', x);
  checkDType('x', x, ['u8']);
  const o = options ?? {};
  const limits = perSample('clipLimit', o.clipLimit === undefined ? 40 : o.clipLimit, d.n, LIMIT_ITEM);
  const tileGrid = o.tileGrid ?? [8, 8];
  if (!Array.isArray(tileGrid) || tileGrid.length !== 2) throw invalidParameter('tileGrid', '[tiles across, tiles down]', tileGrid);
  const tilesX = integerInRange('tileGrid[0]', tileGrid[0], 1, 64);
  const tilesY = integerInRange('tileGrid[1]', tileGrid[1], 1, 64);
  const grid = gridOf(d.h, d.w, tilesX, tilesY);
  const area = grid.tileW * grid.tileH;
  const clips = Array.from({ length: d.n }, (_, n) => clipCount(sampleValue(limits, n), area));
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  const interpolation = { tiles_x: tilesX, tiles_y: tilesY, inv_tw: Math.fround(1 / grid.tileW), inv_th: Math.fround(1 / grid.tileH) };
  return onDevice(x, {
    gpu: (gpu) => {
      const groups = d.n * d.c * tilesX * tilesY;
      const lut = Tensor.empty(gpu, [d.n, d.c, tilesX * tilesY, 256], 'f32');
      gpu.dispatch({
        program: claheLutProgram(),
        inputs: [x.gpu.ref],
        outputs: [lut.gpu.ref],
        uniforms: {
          groups,
          height: d.h,
          width: d.w,
          channels: d.c,
          tiles_x: tilesX,
          tiles_y: tilesY,
          tile_w: grid.tileW,
          tile_h: grid.tileH,
          lut_scale: Math.fround(255 / area),
          clips: packPerSample(
            clips.map((c) => [c]),
            1,
          ),
        },
        workgroups: groups,
      });
      const out = runPixelProgram(claheApplyProgram(), [x, lut], shape, 'u8', interpolation);
      lut.dispose();
      return out;
    },
    cpu: () => {
      const lut = cpuLuts(x, grid, clips).data;
      const src = x.data;
      const f = Math.fround;
      const tiles = tilesX * tilesY;
      return cpuPixelKernel(shape, 'u8', (n, c, y, xx) => {
        const txf = f(f(xx * interpolation.inv_tw) - 0.5);
        const tyf = f(f(y * interpolation.inv_th) - 0.5);
        const fx = Math.floor(txf);
        const fy = Math.floor(tyf);
        const xa = f(txf - fx);
        const ya = f(tyf - fy);
        const tx1 = Math.max(fx, 0);
        const tx2 = Math.min(fx + 1, tilesX - 1);
        const ty1 = Math.max(fy, 0);
        const ty2 = Math.min(fy + 1, tilesY - 1);
        const v = src[((n * d.c + c) * d.h + y) * d.w + xx]!;
        const at = (ty: number, tx: number) => lut[((n * d.c + c) * tiles + ty * tilesX + tx) * 256 + v]!;
        const xa1 = f(1 - xa);
        const ya1 = f(1 - ya);
        const top = f(f(at(ty1, tx1) * xa1) + f(at(ty1, tx2) * xa));
        const bottom = f(f(at(ty2, tx1) * xa1) + f(at(ty2, tx2) * xa));
        return f(f(top * ya1) + f(bottom * ya));
      });
    },
  });
}

/** Every program of clahe, for compile-all tests. */
export function clahePrograms(): ProgramInfo[] {
  return [claheLutProgram(), claheApplyProgram()];
}
