/** A stencil spec for the engines' own tests: a weighted box with its weights written into the WGSL. */
import type { DType } from '../../src/dtype.js';
import type { BorderMode } from '../../src/kernels/border.js';
import type { StencilTileSpec } from '../../src/kernels/stencil-tile.js';

/** Σ over the window of kx(dx)·ky(dy)·x (f32 out), and the 1-D weights for filter2dSeparable. */
export function weightedBox(inDtype: DType, border: BorderMode, rx: number, ry: number): { spec: StencilTileSpec; kx: number[]; ky: number[] } {
  const kx = Array.from({ length: 2 * rx + 1 }, (_, i) => i + 1);
  const ky = Array.from({ length: 2 * ry + 1 }, (_, i) => (i % 2 ? -0.5 : 1));
  const sum = (k: number[], r: number, at: (d: number) => string) => k.map((w, i) => `${w.toFixed(1)} * ${at(i - r)}`).join(' + ');
  const spec: StencilTileSpec = {
    name: 'test_weighted_box',
    key: `${kx.join(',')}|${ky.join(',')}`,
    inDtype,
    outDtype: 'f32',
    border,
    rx,
    ry,
    uniforms: [],
    rows: { h: (p) => sum(kx, rx, p) },
    combine: (r) => `let v = ${sum(ky, ry, (dy) => r('h', dy))};`,
  };
  return { spec, kx, ky };
}
