/** Colour and intensity ops: dtype conversion, normalisation, grey, brightness/contrast, gamma, fused colour chains. */
export { brightnessContrast, type BrightnessContrastOptions } from './brightness-contrast.js';
export { clahe, type ClaheOptions } from './clahe.js';
export { colorChain, type ColorChainOptions, type ColorStep } from './chain.js';
export { convert, type ConvertOptions } from './convert.js';
export { fillRects, type FillRectsOptions, type Rect } from './fill-rects.js';
export { gaussNoise, type GaussNoiseOptions } from './noise.js';
export { gamma, type GammaOptions } from './gamma.js';
export { rgbToGray, type RgbToGrayOptions } from './gray.js';
export { normalize, type NormalizeOptions } from './normalize.js';
