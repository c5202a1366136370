/** Morphology family: structuring elements, erosion, dilation and morphologyEx (OpenCV-compatible), hole filling. */
export { structuringElement, ELEMENT_SHAPES, type ElementShape } from './element.js';
export { dilate, erode, morphologyEx, MORPH_OPS, type MorphologyExOptions, type MorphologyOptions, type MorphOp } from './morphology.js';
export { fillHoles, type FillHolesOptions } from './fill-holes.js';
