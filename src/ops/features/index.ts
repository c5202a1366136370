/** Feature extraction: derivatives, gradient magnitude, crack mask, pyramids. */
export { sobel, scharr } from './sobel.js';
export type { SobelOptions, ScharrOptions, DerivOrder, SobelKsize } from './sobel.js';
export { gradientMagnitude, GRADIENT_OPERATORS } from './gradient.js';
export type { GradientMagnitudeOptions, GradientOperator } from './gradient.js';
export { crackMask } from './crack.js';
export type { CrackMaskOptions } from './crack.js';
export { pyrDown, multiScaleFeatures } from './pyramid.js';
export type { PyrDownOptions, MultiScaleFeaturesOptions } from './pyramid.js';
