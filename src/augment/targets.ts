/**
 * Boxes and keypoints under a geometric transform: host math in double, transform by transform
 * (also inside a fused warp, so fused and unfused runs give the same boxes).
 * A box maps to the axis-aligned bounds of its four mapped corners (which enclose the mapped box,
 * whatever the rotation), clipped to the output; its visible fraction is multiplied by the
 * clipped area over the unclipped one, so a box half cut by a crop keeps visibility 0.5 whatever
 * the scale. Compose drops boxes whose visibility fell below its `minVisibility` (and always
 * those with none left) and keypoints outside the image, when it ends.
 */
import { mapPoint } from './matrix.js';
import type { Box, Keypoint, Matrix3, Size } from './transform.js';

/** A box after a transform and the fraction of it still visible. */
export interface MappedBox {
  readonly box: Box;
  readonly visible: number;
}

/** Maps a box by `m` (pixel-edge coordinates) and clips it to an image of `size`. */
export function mapBox(box: Box, m: Matrix3, size: Size): MappedBox {
  const corners = [mapPoint(m, box.x0, box.y0), mapPoint(m, box.x1, box.y0), mapPoint(m, box.x0, box.y1), mapPoint(m, box.x1, box.y1)];
  const xs = corners.map((c) => c[0]);
  const ys = corners.map((c) => c[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const y0 = Math.min(...ys);
  const y1 = Math.max(...ys);
  const cx0 = Math.min(Math.max(x0, 0), size.width);
  const cx1 = Math.min(Math.max(x1, 0), size.width);
  const cy0 = Math.min(Math.max(y0, 0), size.height);
  const cy1 = Math.min(Math.max(y1, 0), size.height);
  const area = (x1 - x0) * (y1 - y0);
  const visible = area > 0 ? ((cx1 - cx0) * (cy1 - cy0)) / area : 0;
  return { box: { x0: cx0, y0: cy0, x1: cx1, y1: cy1, label: box.label }, visible };
}

/** Maps a keypoint by `m` (pixel-edge coordinates); it may leave the image (Compose drops it at its end). */
export function mapKeypoint(k: Keypoint, m: Matrix3): Keypoint {
  const [x, y] = mapPoint(m, k.x, k.y);
  return k.label === undefined ? { x, y } : { x, y, label: k.label };
}

/** Whether a keypoint lies on an image of `size`. */
export function keypointInside(k: Keypoint, size: Size): boolean {
  return k.x >= 0 && k.x < size.width && k.y >= 0 && k.y < size.height;
}
