/**
 * Resize and PadIfNeeded: deterministic size-setting transforms (p = 1 only). Resize runs alone as
 * the resize op (cv.resize semantics; the mask nearest); PadIfNeeded is an exact integer
 * translation that runs as the pad op and, with a constant border, fuses with its neighbours.
 */
import { z } from 'zod';
import { BORDER_MODES } from '../../kernels/border.js';
import { pad } from '../../ops/geometry/pad.js';
import { resize } from '../../ops/geometry/resize.js';
import { IDENTITY, scaling, translation } from '../matrix.js';
import { defineTransform } from '../registry.js';
import type { GeometricTransform, Size } from '../transform.js';
import { side, SIZE_SETTING_P } from './common.js';

/** Resizes every target to `width`×`height` (interpolation 'bilinear' by default, also 'nearest' or 'area'; masks nearest). */
export const Resize = defineTransform(
  'Resize',
  z.strictObject({ p: SIZE_SETTING_P, width: side, height: side, interpolation: z.enum(['nearest', 'bilinear', 'area']).default('bilinear') }),
  (a): Omit<GeometricTransform<true>, 'name' | 'args'> => ({
    kind: 'geometric',
    p: a.p,
    params: z.literal(true),
    resample: { interpolation: a.interpolation === 'nearest' ? 'nearest' : 'bilinear', border: 'replicate', fill: 0, maskFill: 0 },
    sample: () => true,
    outputSize: (size, q) => (q === null ? size : { width: a.width, height: a.height }),
    matrix: (q, size) => (q === null ? IDENTITY : scaling(a.width / size.width, a.height / size.height)),
    warp: (x, _qs, target) => resize(x, { width: a.width, height: a.height, interpolation: target === 'mask' ? 'nearest' : a.interpolation }),
  }),
);

/** The margins that bring `size` to at least min: the image centred, the odd pixel at the bottom/right. */
function margins(size: Size, minWidth: number, minHeight: number): { top: number; bottom: number; left: number; right: number } {
  const dx = Math.max(0, minWidth - size.width);
  const dy = Math.max(0, minHeight - size.height);
  return { top: Math.floor(dy / 2), bottom: dy - Math.floor(dy / 2), left: Math.floor(dx / 2), right: dx - Math.floor(dx / 2) };
}

/** Pads every target to at least `minWidth`×`minHeight`, centred, the margin filled by `border` (constant: `fill`, masks `maskFill`). */
export const PadIfNeeded = defineTransform(
  'PadIfNeeded',
  z.strictObject({
    p: SIZE_SETTING_P,
    minWidth: side,
    minHeight: side,
    border: z.enum(BORDER_MODES).default('constant'),
    fill: z.number().default(0),
    maskFill: z.number().default(0),
  }),
  (a): Omit<GeometricTransform<true>, 'name' | 'args'> => ({
    kind: 'geometric',
    p: a.p,
    params: z.literal(true),
    resample: { interpolation: 'nearest', border: a.border, fill: a.fill, maskFill: a.maskFill },
    sample: () => true,
    outputSize: (size, q) => (q === null ? size : { width: Math.max(size.width, a.minWidth), height: Math.max(size.height, a.minHeight) }),
    matrix: (q, size) => {
      if (q === null) return IDENTITY;
      const m = margins(size, a.minWidth, a.minHeight);
      return translation(m.left, m.top);
    },
    warp: (x, _qs, target) => {
      const m = margins({ width: x.shape[3]!, height: x.shape[2]! }, a.minWidth, a.minHeight);
      return pad(x, { ...m, border: a.border, value: target === 'mask' ? a.maskFill : a.fill });
    },
  }),
);
