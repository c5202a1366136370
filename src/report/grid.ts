/**
 * A contact sheet for a person to look at: one row per image, its original first and then its
 * variants, each fitted into a square cell, the mask's outline drawn around it (the inside
 * lightly tinted) and the boxes as rectangles, a caption above each cell. Written as one PNG.
 */
import sharp, { type OverlayOptions } from 'sharp';
import { escapeHtml, MASK_TINT } from './html.js';

/** One picture of the sheet: planar C×H×W pixels (1 or 3 channels), an optional label mask and boxes. */
export interface GridCell {
  data: Uint8Array | Uint16Array | Float32Array;
  width: number;
  height: number;
  channels: number;
  /** H×W labels; non-zero pixels are outlined. */
  mask?: ArrayLike<number>;
  /** Pixel-edge boxes of the image. */
  boxes?: readonly { x0: number; y0: number; x1: number; y1: number }[];
  caption: string;
}

const PAD = 8;
const CAPTION = 18;
const BACKGROUND = { r: 32, g: 32, b: 36 };
const OUTLINE = [255, 230, 0] as const;
const BOX = '#00d0ff';

/** 8-bit value of a pixel: u16 scaled by 1/257, f32 (0 … 1) by 255. */
function to8(data: GridCell['data'], i: number): number {
  const v = data[i]!;
  if (data instanceof Uint8Array) return v;
  if (data instanceof Uint16Array) return Math.round(v / 257);
  return Math.min(255, Math.max(0, Math.round(v * 255)));
}

/** The cell's pixels fitted into size × size (aspect kept), as interleaved RGB, with the mask outlined. */
async function renderCell(cell: GridCell, size: number): Promise<{ rgb: Buffer; width: number; height: number }> {
  const { width: W, height: H, channels: C } = cell;
  const n = W * H;
  const rgb = Buffer.alloc(n * 3);
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) rgb[i * 3 + k] = to8(cell.data, (C >= 3 ? k : 0) * n + i);
  const scale = Math.min(size / W, size / H);
  const width = Math.max(1, Math.round(W * scale));
  const height = Math.max(1, Math.round(H * scale));
  const out = await sharp(rgb, { raw: { width: W, height: H, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: scale > 1 ? 'nearest' : 'lanczos3' })
    .raw()
    .toBuffer();
  if (cell.mask) {
    // a cell pixel is in the mask when any source pixel under it is (thin cracks stay visible when reduced)
    const mask = cell.mask;
    const inside = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {
      const sy0 = Math.floor((y * H) / height);
      const sy1 = Math.max(sy0 + 1, Math.floor(((y + 1) * H) / height));
      for (let x = 0; x < width; x++) {
        const sx0 = Math.floor((x * W) / width);
        const sx1 = Math.max(sx0 + 1, Math.floor(((x + 1) * W) / width));
        let any = 0;
        for (let yy = sy0; yy < sy1 && !any; yy++) for (let xx = sx0; xx < sx1; xx++) if (mask[yy * W + xx] !== 0) any = 1;
        inside[y * width + x] = any;
      }
    }
    const at = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && inside[y * width + x] === 1;
    const [tr, tg, tb] = MASK_TINT.rgb;
    const a = MASK_TINT.alpha / 3;
    // the outline runs just outside the mask, so thin defects stay visible inside it
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        if (at(x, y))
          [out[o], out[o + 1], out[o + 2]] = [
            Math.round(out[o]! * (1 - a) + tr * a),
            Math.round(out[o + 1]! * (1 - a) + tg * a),
            Math.round(out[o + 2]! * (1 - a) + tb * a),
          ];
        else if (at(x - 1, y) || at(x + 1, y) || at(x, y - 1) || at(x, y + 1)) [out[o], out[o + 1], out[o + 2]] = OUTLINE;
      }
  }
  return { rgb: out, width, height };
}

/** Writes the sheet of `rows` (each: original, then variants) to a PNG at `path`, cells `cellSize` pixels square; returns its size. */
export async function writeGrid(path: string, rows: readonly (readonly GridCell[])[], cellSize = 224): Promise<{ width: number; height: number }> {
  const columns = Math.max(1, ...rows.map((r) => r.length));
  const rendered = await Promise.all(rows.map((row) => Promise.all(row.map((cell) => renderCell(cell, cellSize)))));
  // each row as tall as its tallest fitted picture
  const rowHeights = rendered.map((row) => Math.max(1, ...row.map((img) => img.height)));
  const width = PAD + columns * (cellSize + PAD);
  const height = PAD + rowHeights.reduce((sum, h) => sum + CAPTION + h + PAD, 0);
  const layers: OverlayOptions[] = [];
  const svg: string[] = [];
  let rowTop = PAD;
  for (const [r, row] of rows.entries()) {
    for (const [c, cell] of row.entries()) {
      const left = PAD + c * (cellSize + PAD);
      const top = rowTop + CAPTION;
      const img = rendered[r]![c]!;
      layers.push({ input: img.rgb, raw: { width: img.width, height: img.height, channels: 3 }, left, top });
      // about 6.5 pixels a character at 12 px: longer captions are cut to the cell
      const fit = Math.floor(cellSize / 6.5);
      const caption = cell.caption.length > fit ? `${cell.caption.slice(0, fit - 1)}…` : cell.caption;
      svg.push(`<text x="${left}" y="${top - 5}" font-family="sans-serif" font-size="12" fill="#e8e8e8">${escapeHtml(caption)}</text>`);
      const sx = img.width / cell.width;
      const sy = img.height / cell.height;
      for (const b of cell.boxes ?? [])
        svg.push(
          `<rect x="${(left + b.x0 * sx).toFixed(1)}" y="${(top + b.y0 * sy).toFixed(1)}" width="${((b.x1 - b.x0) * sx).toFixed(1)}" height="${((b.y1 - b.y0) * sy).toFixed(1)}" fill="none" stroke="${BOX}" stroke-width="1.5"/>`,
        );
    }
    rowTop += CAPTION + rowHeights[r]! + PAD;
  }
  layers.push({ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${svg.join('')}</svg>`), left: 0, top: 0 });
  await sharp({ create: { width, height, channels: 3, background: BACKGROUND } })
    .composite(layers)
    .png()
    .toFile(path);
  return { width, height };
}
