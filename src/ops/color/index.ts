/** Colour and intensity ops: dtype conversion, normalisation, grey, brightness/contrast, gamma. */
export { brightnessContrast, brightnessContrastPrograms, type BrightnessContrastOptions } from './brightness-contrast.js';
export { convert, convertPrograms, type ConvertOptions } from './convert.js';
export { gamma, gammaPrograms, type GammaOptions } from './gamma.js';
export { GRAY_WEIGHTS, rgbToGray, rgbToGrayPrograms, type RgbToGrayOptions } from './gray.js';
export { normalize, NORMALIZE_MAX_CHANNELS, normalizePrograms, type NormalizeOptions } from './normalize.js';
