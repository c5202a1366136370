/**
 * Structuring elements, exactly as OpenCV's cv::getStructuringElement with the default anchor
 * (the centre, (floor(w/2), floor(h/2))):
 *   rect     all ones
 *   cross    the anchor row and the anchor column
 *   ellipse  row i spans columns c ± dx, dx = cvRound(c·sqrt((r² − (i − r)²) / r²)),
 *            r = floor(h/2), c = floor(w/2) (an inscribed ellipse; 1×1 is a rect)
 * Sizes may be even (the anchor is then right of / below the middle, as in OpenCV).
 * Returned as rows of 0/1 numbers: element[y][x], h rows of w columns.
 */
import { roundHalfEven } from '../../dtype.js';
import { integerInRange, invalidParameter, is, oneOf } from '../../validate.js';

export const ELEMENT_SHAPES = ['rect', 'ellipse', 'cross'] as const;
export type ElementShape = (typeof ELEMENT_SHAPES)[number];

/** Largest element side the morphology ops take. */
export const MAX_ELEMENT_SIZE = 255;

/** Checks a [width, height] or a single side. */
export function checkElementSize(name: string, v: unknown): [number, number] {
  if (is.number(v)) {
    const s = integerInRange(name, v, 1, MAX_ELEMENT_SIZE);
    return [s, s];
  }
  if (!Array.isArray(v) || v.length !== 2) throw invalidParameter(name, `an integer between 1 and ${MAX_ELEMENT_SIZE} or a [width, height] pair`, v);
  return [integerInRange(`${name}[0]`, v[0], 1, MAX_ELEMENT_SIZE), integerInRange(`${name}[1]`, v[1], 1, MAX_ELEMENT_SIZE)];
}

/**
 * cv::getStructuringElement(shape, Size(w, h)).
 * @example structuringElement('ellipse', [5, 5])  // [[0,0,1,0,0],[1,1,1,1,1],[1,1,1,1,1],[1,1,1,1,1],[0,0,1,0,0]]
 */
export function structuringElement(shape: ElementShape, size: number | readonly [number, number]): number[][] {
  let kind = oneOf('shape', shape, ELEMENT_SHAPES);
  const [w, h] = checkElementSize('size', size);
  const ax = Math.floor(w / 2);
  const ay = Math.floor(h / 2);
  if (w === 1 && h === 1) kind = 'rect';
  const r = Math.floor(h / 2);
  const c = Math.floor(w / 2);
  const invR2 = r ? 1 / (r * r) : 0;
  const rows: number[][] = [];
  for (let i = 0; i < h; i++) {
    let j1 = 0;
    let j2 = 0;
    if (kind === 'rect' || (kind === 'cross' && i === ay)) j2 = w;
    else if (kind === 'cross') {
      j1 = ax;
      j2 = ax + 1;
    } else {
      const dy = i - r;
      if (Math.abs(dy) <= r) {
        const dx = roundHalfEven(c * Math.sqrt((r * r - dy * dy) * invR2));
        j1 = Math.max(c - dx, 0);
        j2 = Math.min(c + dx + 1, w);
      }
    }
    rows.push(Array.from({ length: w }, (_, j) => (j >= j1 && j < j2 ? 1 : 0)));
  }
  return rows;
}
