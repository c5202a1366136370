/** Feature extraction: derivatives, gradient magnitude, crack mask, pyramids. */
export { sobel, scharr, sobelKernels, scharrKernels, sobelKernel1d, sobelPrograms } from './sobel.js';
export type { SobelOptions, ScharrOptions, DerivOrder, SobelKsize } from './sobel.js';
export { gradientMagnitude, gradientPrograms, GRADIENT_OPERATORS } from './gradient.js';
export type { GradientMagnitudeOptions, GradientOperator } from './gradient.js';
export { crackMask, crackPrograms } from './crack.js';
export type { CrackMaskOptions } from './crack.js';
export { pyrDown, pyrDownShape, multiScaleFeatures, pyramidPrograms } from './pyramid.js';
export type { PyrDownOptions, MultiScaleFeaturesOptions } from './pyramid.js';
