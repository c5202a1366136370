/** Geometry ops: resize, crop, pad, flip, rot90, transpose, warpAffine, warpPerspective. */
export { crop, type CropOptions } from './crop.js';
export { flip, FLIP_AXES, type FlipAxis, type FlipOptions } from './flip.js';
export { pad, type PadOptions } from './pad.js';
export { resize, INTERPOLATIONS, type ResizeBox, type ResizeInterpolation, type ResizeOptions } from './resize.js';
export { rot90, type Rot90Options } from './rot90.js';
export { transpose, type TransposeOptions } from './transpose.js';
export { invertPerspective, warpPerspective, type PerspectiveMatrix, type WarpPerspectiveOptions } from './warp-perspective.js';
export { invertAffine, warpAffine, WARP_INTERPOLATIONS, type AffineMatrix, type WarpAffineOptions, type WarpInterpolation } from './warp-affine.js';
