/** Filters family: blurs and 2-D correlation (OpenCV-compatible; see each file's header). */
export { gaussianBlur, type GaussianBlurOptions } from './gaussian.js';
export { boxBlur, type BoxBlurOptions } from './box.js';
export { filter2d, type Filter2dOptions } from './filter2d.js';
export { medianBlur, type MedianBlurOptions } from './median.js';
export { motionBlur, type MotionBlurOptions } from './motion-blur.js';
