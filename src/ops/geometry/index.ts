/** Geometry ops: resize, crop, pad, flip, rot90, transpose, warpAffine. */
export { crop, cropPrograms, type CropOptions } from './crop.js';
export { flip, flipPrograms, FLIP_AXES, type FlipAxis, type FlipOptions } from './flip.js';
export { pad, padPrograms, type PadOptions } from './pad.js';
export { resize, resizePrograms, INTERPOLATIONS, type ResizeBox, type ResizeInterpolation, type ResizeOptions } from './resize.js';
export { rot90, rot90Programs, type Rot90Options } from './rot90.js';
export { transpose, transposePrograms, type TransposeOptions } from './transpose.js';
export { invertAffine, warpAffine, warpAffinePrograms, WARP_INTERPOLATIONS, type AffineMatrix, type WarpAffineOptions, type WarpInterpolation } from './warp-affine.js';
