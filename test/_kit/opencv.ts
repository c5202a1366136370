/**
 * OpenCV (opencv.js 4.12.0, npm @techstark/opencv-js) as the parity oracle for CPU references.
 * Planes go in and out as single-channel Mats of the matching depth.
 */
import cvModule from '@techstark/opencv-js';
import type { DType } from '../../src/dtype.js';
import { Tensor } from '../../src/tensor.js';

// opencv.js ships loose typings; the few calls the tests make are typed through this alias.
// biome-ignore lint/suspicious/noExplicitAny: opencv.js has no usable typings
export type CV = any;

// The Emscripten module is a thenable that resolves to itself: resolving a promise with it
// loops forever, so it travels wrapped in an object.
let loaded: Promise<{ cv: CV }> | undefined;

/** Usage: `const { cv } = await opencv();` (never return `cv` itself from an async function). */
export function opencv(): Promise<{ cv: CV }> {
  loaded ??= (async () => {
    const m: CV = cvModule;
    if (m instanceof Promise) return { cv: await m };
    if (!m.Mat) {
      await new Promise<void>((resolve) => {
        m.onRuntimeInitialized = () => resolve();
      });
    }
    return { cv: m };
  })();
  return loaded;
}

function matType(cv: CV, dtype: DType): number {
  switch (dtype) {
    case 'u8':
      return cv.CV_8UC1;
    case 'u16':
      return cv.CV_16UC1;
    case 'i32':
      return cv.CV_32SC1;
    case 'f32':
      return cv.CV_32FC1;
    default:
      throw new Error(`no OpenCV depth for ${dtype}`);
  }
}

/** Plane (n, c) of a CPU tensor as a Mat (caller deletes it). */
export function toMat(cv: CV, t: Tensor, n = 0, c = 0): CV {
  const [, C, H, W] = t.shape as [number, number, number, number];
  const plane = t.data.subarray((n * C + c) * H * W, (n * C + c + 1) * H * W);
  const mat = new cv.Mat(H, W, matType(cv, t.dtype));
  (mat.data as Uint8Array).set(new Uint8Array(plane.buffer, plane.byteOffset, plane.byteLength));
  return mat;
}

/** A single-channel Mat as a 1×1×H×W tensor of `dtype`. */
export function fromMat(mat: CV, dtype: DType): Tensor {
  const H: number = mat.rows;
  const W: number = mat.cols;
  const src: ArrayBufferView = dtype === 'u8' ? mat.data : dtype === 'u16' ? mat.data16U : dtype === 'i32' ? mat.data32S : mat.data32F;
  const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength).slice();
  const data =
    dtype === 'u8' ? bytes : dtype === 'u16' ? new Uint16Array(bytes.buffer) : dtype === 'i32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer);
  return Tensor.fromArray(data, [1, 1, H, W], dtype);
}

export function cvBorder(cv: CV, mode: 'reflect101' | 'replicate' | 'constant'): number {
  return mode === 'reflect101' ? cv.BORDER_REFLECT_101 : mode === 'replicate' ? cv.BORDER_REPLICATE : cv.BORDER_CONSTANT;
}
