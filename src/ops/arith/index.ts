/** Arithmetic family: in-place accumulation for gradients and optimizer steps. */
export { axpy, type AxpyOptions } from './axpy.js';
