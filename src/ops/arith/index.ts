/** Arithmetic family: in-place accumulation for gradients and optimizer steps. */
export { axpy, axpyPrograms, type AxpyOptions } from './axpy.js';
