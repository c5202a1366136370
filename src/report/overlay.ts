/**
 * Defect overlays rendered with sharp: the image is decoded once (JPEG shrink-on-load through
 * resize), reduced to 8-bit sRGB at the item page's size, tinted where the predicted mask is set,
 * then written twice with an SVG of the bounding boxes composited over it: the item page's image
 * and the gallery thumbnail. Boxes are drawn just outside each defect's bounding box, in the
 * class colour over a dark halo, so a box never hides the pixels it marks.
 */
import sharp from 'sharp';
import { KensaError } from '../errors.js';
import { CLASS_COLORS, MASK_TINT } from './html.js';

export type DefectClass = keyof typeof CLASS_COLORS;

/** A box in the coordinates of the image the detector saw (x, y: top-left pixel; w, h: pixels). */
export interface OverlayBox {
  x: number;
  y: number;
  w: number;
  h: number;
  class: DefectClass;
}

/** Decoded 8-bit pixels, interleaved (what a caller hands over for formats sharp cannot read, e.g. raw line-scan frames). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

export interface OverlayRequest {
  /** An image file sharp can read, or decoded pixels. */
  input: string | RawImage;
  /** The coordinate frame of `boxes` (the image's full size); the decoded size when omitted. */
  frame?: { width: number; height: number };
  boxes: readonly OverlayBox[];
  /** An 8-bit mask (255 = defect), stretched to the image; tinted over it. */
  maskPath?: string;
  /** Long side of the item-page image: larger images are reduced to it; smaller ones are enlarged by a whole factor (nearest neighbour) up to min(imageSize, 512). */
  imageSize: number;
  /** Long side of the thumbnail. */
  thumbSize: number;
  imageFile: string;
  thumbFile: string;
}

export interface OverlayResult {
  image: { width: number; height: number };
  thumb: { width: number; height: number };
  /** Why the mask was not drawn (unreadable file), when it was given and could not be used. */
  maskProblem?: string;
}

const JPEG = { quality: 85, chromaSubsampling: '4:4:4' } as const;

/** Renders the item image and thumbnail with overlays; throws when the image cannot be decoded. */
export async function renderOverlays(req: OverlayRequest): Promise<OverlayResult> {
  const source =
    typeof req.input === 'string'
      ? sharp(req.input)
      : sharp(req.input.data, { raw: { width: req.input.width, height: req.input.height, channels: req.input.channels } });
  const meta = await source.metadata();
  const srcW = meta.width;
  const srcH = meta.height;
  if (!srcW || !srcH) throw new KensaError('KENSA_ERR_DECODE', 'The image has no width or height');
  const scale = fitScale(Math.max(srcW, srcH), req.imageSize, Math.min(req.imageSize, 512));
  const width = Math.max(1, Math.round(srcW * scale));
  const height = Math.max(1, Math.round(srcH * scale));
  const { data: base } = await source
    .resize(width, height, { fit: 'fill', kernel: scale > 1 ? 'nearest' : 'lanczos3' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });

  let maskProblem: string | undefined;
  if (req.maskPath !== undefined) {
    try {
      await tintMask(base, width, height, req.maskPath);
    } catch (e) {
      maskProblem = `mask ${req.maskPath} could not be read: ${(e as Error).message}`;
    }
  }

  const frame = req.frame ?? { width: srcW, height: srcH };
  const raw = { raw: { width, height, channels: 3 as const } };
  await sharp(base, raw)
    .composite([{ input: Buffer.from(boxesSvg(req.boxes, frame, { width, height })), top: 0, left: 0 }])
    .jpeg(JPEG)
    .toFile(req.imageFile);

  const t = fitScale(Math.max(width, height), req.thumbSize, req.thumbSize);
  const thumb = { width: Math.max(1, Math.round(width * t)), height: Math.max(1, Math.round(height * t)) };
  await sharp(base, raw)
    .resize(thumb.width, thumb.height, { fit: 'fill', kernel: t > 1 ? 'nearest' : 'lanczos3' })
    .composite([{ input: Buffer.from(boxesSvg(req.boxes, frame, thumb)), top: 0, left: 0 }])
    .jpeg(JPEG)
    .toFile(req.thumbFile);

  return { image: { width, height }, thumb, ...(maskProblem === undefined ? {} : { maskProblem }) };
}

/** The scale that brings a long side to `size` when larger, or enlarges it by a whole factor up to `enlargeTo`. */
function fitScale(long: number, size: number, enlargeTo: number): number {
  return long > size ? size / long : Math.max(1, Math.floor(enlargeTo / long));
}

/** Blends the mask tint into interleaved RGB pixels in place (alpha × mask/255). */
async function tintMask(rgb: Buffer, width: number, height: number, maskPath: string): Promise<void> {
  const { data, info } = await sharp(maskPath)
    .resize(width, height, { fit: 'fill', kernel: 'nearest' })
    .toColourspace('b-w')
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1 || data.length !== width * height)
    throw new KensaError(
      'KENSA_ERR_DECODE',
      `Expected a one-channel mask of ${width}×${height} pixels but read ${info.channels} channels and ${data.length} bytes`,
    );
  const [tr, tg, tb] = MASK_TINT.rgb;
  for (let p = 0; p < data.length; p++) {
    const m = data[p]!;
    if (m === 0) continue;
    const a = (MASK_TINT.alpha * m) / 255;
    const o = p * 3;
    rgb[o] = Math.round(rgb[o]! * (1 - a) + tr * a);
    rgb[o + 1] = Math.round(rgb[o + 1]! * (1 - a) + tg * a);
    rgb[o + 2] = Math.round(rgb[o + 2]! * (1 - a) + tb * a);
  }
}

/**
 * The SVG of the boxes for an output of size `out`: each box scaled from `frame`, drawn with its
 * stroke just outside the defect (the halo ends at its edge) (at least 3 output pixels wide and high), class colour over a
 * dark halo. Stroke width: max(2, round(long side / 300)) output pixels.
 */
export function boxesSvg(boxes: readonly OverlayBox[], frame: { width: number; height: number }, out: { width: number; height: number }): string {
  const sx = out.width / frame.width;
  const sy = out.height / frame.height;
  const sw = Math.max(2, Math.round(Math.max(out.width, out.height) / 300));
  const f = (v: number) => String(Math.round(v * 100) / 100);
  const rects: string[] = [];
  for (const b of boxes) {
    let x0 = b.x * sx;
    let y0 = b.y * sy;
    let w = b.w * sx;
    let h = b.h * sy;
    if (w < 3) {
      x0 -= (3 - w) / 2;
      w = 3;
    }
    if (h < 3) {
      y0 -= (3 - h) / 2;
      h = 3;
    }
    // centre line sw/2 + 1 outside the box: colour band [edge − sw − 1, edge − 1], halo ends at the edge
    const geom = `x="${f(x0 - sw / 2 - 1)}" y="${f(y0 - sw / 2 - 1)}" width="${f(w + sw + 2)}" height="${f(h + sw + 2)}"`;
    rects.push(`<rect ${geom} fill="none" stroke="#000" stroke-opacity="0.55" stroke-width="${sw + 2}"/>`);
    rects.push(`<rect ${geom} fill="none" stroke="${CLASS_COLORS[b.class]}" stroke-width="${sw}"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${out.width}" height="${out.height}" viewBox="0 0 ${out.width} ${out.height}">${rects.join('')}</svg>`;
}
