import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isKensaError } from '../../../src/errors.js';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { checkIdentifier, customKernel, rawKernel } from '../../../src/ops/custom/kernel.js';
import { Tensor } from '../../../src/tensor.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

/**
 * The crack kernel as a user writes it: central-difference gradient magnitude
 * |((I(x+1) − I(x−1))/2, (I(y+1) − I(y−1))/2)| > threshold → 255, else 0 (border replicate).
 * Compared squared and unhalved, so integer inputs give exact f32 arithmetic on both backends.
 */
const crack = customKernel({
  name: 'crack',
  border: 'replicate',
  uniforms: { threshold: 'f32' },
  pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let yi = i32(y);
  let xi = i32(x);
  let gx = x_at(n, c, yi, xi + 1) - x_at(n, c, yi, xi - 1);
  let gy = x_at(n, c, yi + 1, xi) - x_at(n, c, yi - 1, xi);
  let t = 2.0 * u.threshold;
  return select(0.0, 255.0, gx * gx + gy * gy > t * t);
}`,
  cpu: ({ x }, { threshold }, n, c, y, xx) => {
    const gx = x!.at(n, c, y, xx + 1) - x!.at(n, c, y, xx - 1);
    const gy = x!.at(n, c, y + 1, xx) - x!.at(n, c, y - 1, xx);
    return gx * gx + gy * gy > 4 * threshold * threshold ? 255 : 0;
  },
});

/** Independent CPU implementation of the crack kernel: plain loops, clamped indices, Math.hypot. */
function crackReference(t: Tensor, threshold: number): Uint8Array {
  const [N, C, H, W] = t.shape as [number, number, number, number];
  const out = new Uint8Array(t.size);
  const v = (n: number, c: number, y: number, x: number) => t.data[((n * C + c) * H + Math.min(H - 1, Math.max(0, y))) * W + Math.min(W - 1, Math.max(0, x))]!;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const mag = Math.hypot((v(n, c, y, x + 1) - v(n, c, y, x - 1)) / 2, (v(n, c, y + 1, x) - v(n, c, y - 1, x)) / 2);
          out[((n * C + c) * H + y) * W + x] = mag > threshold ? 255 : 0;
        }
  return out;
}

/** Two inputs, all uniform types, bordered reads with offsets: exercises bindings and uniforms. */
const blend = customKernel({
  name: 'blend',
  inputs: ['a', 'b'],
  uniforms: { wa: 'f32', dx: 'i32', dy: 'u32' },
  pixel: /* wgsl */ `
fn shifted(n: u32, c: u32, y: u32, x: u32) -> f32 {
  return b_at(n, c, i32(y) - i32(u.dy), i32(x) + u.dx);
}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  return u.wa * a_px(n, c, y, x) + (1.0 - u.wa) * shifted(n, c, y, x) - 0.25;
}`,
  cpu: ({ a, b }, { wa, dx, dy }, n, c, y, x) =>
    Math.fround(Math.fround(wa * a!.px(n, c, y, x)) + Math.fround(Math.fround(1 - wa) * b!.at(n, c, y - dy, x + dx))) - 0.25,
});

/** Output shape differs from the input: 3-channel mean of 2×2 blocks (reads with _px and u.x_shape). */
const grayHalf = customKernel({
  name: 'gray_half',
  pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  var s = 0.0;
  for (var k = 0u; k < u.x_shape.y; k++) {
    s += x_px(n, k, 2u * y, 2u * x) + x_px(n, k, 2u * y + 1u, 2u * x) + x_px(n, k, 2u * y, 2u * x + 1u) + x_px(n, k, 2u * y + 1u, 2u * x + 1u);
  }
  return s / f32(4u * u.x_shape.y);
}`,
  cpu: ({ x }, _u, n, _c, y, xx) => {
    let s = 0;
    for (let k = 0; k < x!.shape[1]; k++)
      s += x!.px(n, k, 2 * y, 2 * xx) + x!.px(n, k, 2 * y + 1, 2 * xx) + x!.px(n, k, 2 * y, 2 * xx + 1) + x!.px(n, k, 2 * y + 1, 2 * xx + 1);
    return s / (4 * x!.shape[1]);
  },
});

describe('customKernel', () => {
  test('crack kernel: CPU path equals an independent CPU implementation', () => {
    for (const [shape, dtype, thr] of [
      [[1, 1, 23, 17], 'u8', 20],
      [[2, 3, 9, 12], 'u16', 4000],
    ] as const) {
      const x = naturalImage(shape as unknown as [number, number, number, number], dtype, 3);
      const ours = crack(x, { uniforms: { threshold: thr }, dtype: 'u8' });
      assert.deepEqual([...ours.data], [...crackReference(x, thr)], `${dtype}`);
      assert.ok(ours.data.some((v) => v === 255) && ours.data.some((v) => v === 0), 'the image has cracks and flat areas');
    }
  });

  test('crack kernel: GPU equals the CPU implementation exactly (batches, odd sizes, 1 and 3 channels)', { skip: gpuSkip(gpu) }, async () => {
    for (const [shape, dtype, thr] of [
      [[1, 1, 31, 29], 'u8', 20],
      [[3, 1, 8, 5], 'u8', 10],
      [[2, 3, 11, 13], 'u8', 25],
      [[2, 3, 9, 12], 'u16', 4000],
    ] as const) {
      const x = (shape[0] > 1 ? randomImage : naturalImage)(shape as unknown as [number, number, number, number], dtype, 5);
      const g = await x.toGpu(gpu!);
      const out = crack(g, { uniforms: { threshold: thr }, dtype: 'u8' });
      const got = await out.toCpu();
      out.dispose();
      g.dispose();
      assert.equal(got.dtype, 'u8');
      assert.deepEqual([...got.data], [...crackReference(x, thr)], `${dtype} [${shape.join(',')}]`);
    }
  });

  test('two inputs, f32/i32/u32 uniforms, every border and output dtype: GPU matches CPU', { skip: gpuSkip(gpu) }, async () => {
    const a = naturalImage([2, 3, 13, 11], 'u8', 1);
    const b = randomImage([2, 3, 13, 11], 'u8', 2);
    for (const border of BORDER_MODES) {
      for (const dtype of ['u8', 'u16', 'i32', 'f32', 'f16'] as const) {
        const uniforms = { wa: 0.3, dx: -2, dy: 3 };
        await assertGpuMatchesCpu(gpu!, [a, b], (p, q) => blend([p!, q!], { uniforms, border, borderValue: 7, dtype }), {}, `${border} ${dtype}`);
      }
    }
    const f = randomImage([1, 1, 6, 33], 'f16', 4);
    await assertGpuMatchesCpu(gpu!, [f, f], (p, q) => blend([p!, q!], { uniforms: { wa: 0.5, dx: 1, dy: 0 } }), {}, 'f16 in');
  });

  test('output shape and dtype options: 3 channels → 1, half size', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([2, 3, 14, 10], 'u8', 6);
    const cpu = grayHalf(x, { shape: [2, 1, 7, 5], dtype: 'f32' });
    assert.deepEqual([...cpu.shape], [2, 1, 7, 5]);
    const d = x.data;
    const expected = (d[0]! + d[1]! + d[10]! + d[11]! + (d[140]! + d[141]! + d[150]! + d[151]!) + (d[280]! + d[281]! + d[290]! + d[291]!)) / 12;
    assert.ok(Math.abs(cpu.at(0) - expected) < 1e-4, `${cpu.at(0)} vs ${expected}`);
    await assertGpuMatchesCpu(gpu!, [x], (t) => grayHalf(t, { shape: [2, 1, 7, 5], dtype: 'f32' }), {}, 'gray half f32');
    await assertGpuMatchesCpu(gpu!, [x], (t) => grayHalf(t, { shape: [2, 1, 7, 5] }), {}, 'gray half u8');
  });

  test('kernels of one name with different code do not share a pipeline', { skip: gpuSkip(gpu) }, async () => {
    const mk = (v: number) => customKernel({ name: 'same', pixel: `fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 { return ${v}.0; }` });
    const x = await Tensor.zeros([1, 1, 2, 3], 'u8').toGpu(gpu!);
    const one = await mk(1)(x).toCpu();
    const two = await mk(2)(x).toCpu();
    assert.deepEqual([...one.data, ...two.data], [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
  });

  test('every variant compiles; a WGSL error is KENSA_ERR_SHADER naming the user line', { skip: gpuSkip(gpu) }, async () => {
    for (const k of [crack, blend, grayHalf])
      for (const dtype of ['u8', 'u16', 'i32', 'f32', 'f16'] as const)
        for (const border of BORDER_MODES) await k.compile(gpu!, { inputs: dtype, dtype, border });
    const broken = customKernel({
      name: 'broken',
      pixel: `fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let v = x_at(n, c, i32(y), i32(x));
  return v +* 2.0;
}`,
    });
    await assert.rejects(broken.compile(gpu!), (e: unknown) => {
      assert.ok(isKensaError(e, 'KENSA_ERR_SHADER'), String(e));
      assert.match(e.message, /^WGSL of kernel broken failed to compile:\npixel line 3 \(generated line \d+\): .+\n {2}return v \+\* 2\.0;/);
      return true;
    });
    const unknownFn = customKernel({ name: 'unknown_fn', pixel: '\nfn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {\n  return nope(x);\n}' });
    await assert.rejects(unknownFn.compile(gpu!), /pixel line 3 \(generated line \d+\): unresolved call target 'nope'/);
    // the failed compile does not leak into the device's next synchronisation
    await gpu!.sync();
  });

  test('bad identifiers and specs are rejected with pinned messages', () => {
    const pixel = 'fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 { return 0.0; }';
    const ident = 'a WGSL identifier \\(a letter or _, then letters, digits, _; not _ alone or __-prefixed\\)';
    assert.throws(() => customKernel({ name: '1abc', pixel }), new RegExp(`^KensaError: Expected ${ident} for name but received "1abc" of type string$`));
    assert.throws(
      () => customKernel({ name: 'k', pixel, inputs: ['img', 'ma-sk'] }),
      new RegExp(`Expected ${ident} for inputs\\[1\\] but received "ma-sk" of type string`),
    );
    assert.throws(
      () => customKernel({ name: 'k', pixel, inputs: ['__x'] }),
      new RegExp(`Expected ${ident} for inputs\\[0\\] but received "__x" of type string`),
    );
    assert.throws(
      () => customKernel({ name: 'k', pixel, inputs: ['out'] }),
      /Expected a name not reserved by WGSL or kensa for inputs\[0\] but received "out" of type string/,
    );
    assert.throws(() => customKernel({ name: 'main', pixel }), /Expected a name not reserved by WGSL or kensa for name but received "main" of type string/);
    assert.throws(
      () => customKernel({ name: 'k', pixel, inputs: ['loop'] }),
      /Expected a name not reserved by WGSL or kensa for inputs\[0\] but received "loop"/,
    );
    assert.throws(
      () => customKernel({ name: 'k', pixel, inputs: ['a', 'a'] }),
      /Expected a name not used twice for inputs\[1\] but received "a" of type string/,
    );
    assert.throws(() => customKernel({ name: 'k', pixel, inputs: [] }), /Expected an array of 1 to 8 names for inputs but received \[\] of type object/);
    assert.throws(
      () => customKernel({ name: 'k', pixel, uniforms: { u: 'f32' } }),
      /Expected a name not reserved by WGSL or kensa for uniforms key but received "u" of type string/,
    );
    assert.throws(
      () => customKernel({ name: 'k', pixel, uniforms: { x_shape: 'u32' } }),
      /Expected a name other than out_shape, out_words, out_numel, border_value, x_shape for uniforms key but received "x_shape"/,
    );
    assert.throws(
      () => customKernel({ name: 'k', pixel, uniforms: { t: 'f64' as never } }),
      /Expected one of "f32", "u32", "i32" for uniforms.t but received "f64" of type string/,
    );
    assert.throws(
      () => customKernel({ name: 'k', pixel: 'fn main() {}' }),
      /Expected WGSL defining fn pixel\(n: u32, c: u32, y: u32, x: u32\) -> f32 for pixel but received "fn main\(\) \{\}" of type string/,
    );
    assert.throws(
      () => customKernel({ name: 'k', pixel, border: 'wrap' as never }),
      /Expected one of "reflect101", "replicate", "constant" for border but received "wrap"/,
    );
    assert.equal(checkIdentifier('n', 'crack_v2'), 'crack_v2');
  });

  test('bad calls are rejected with pinned messages', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => blend(x, { uniforms: { wa: 1, dx: 0, dy: 0 } }), /^KensaError: Expected 2 tensors \(a, b\) for inputs of blend but received 1$/);
    assert.throws(
      () => crack(x, {} as never),
      /Expected number between -3.4e\+38 and 3.4e\+38 for uniforms.threshold but received undefined of type undefined/,
    );
    assert.throws(
      () => crack(x, { uniforms: { threshold: 1, extra: 2 } as never }),
      /Expected only the declared uniforms \(threshold\) for uniforms but received "extra" of type string/,
    );
    assert.throws(
      () => blend([x, x], { uniforms: { wa: 1, dx: 0, dy: -1 } }),
      /Expected integer between 0 and 4294967295 for uniforms.dy but received -1 of type number/,
    );
    assert.throws(
      () => blend([x, x], { uniforms: { wa: 1, dx: 0.5, dy: 0 } }),
      /Expected integer between -2147483648 and 2147483647 for uniforms.dx but received 0.5 of type number/,
    );
    assert.throws(
      () => crack(x, { uniforms: { threshold: 1 }, shape: [1, 4, 4] }),
      /Expected \[N, C, H, W\] of positive integers for shape but received \[1, 4, 4\] of type object/,
    );
    assert.throws(
      () => crack(x, { uniforms: { threshold: 1 }, dtype: 'u32' as never }),
      /Expected one of "u8", "u16", "i32", "f32", "f16" for dtype but received "u32"/,
    );
    assert.throws(() => crack(x.reshape([16]), { uniforms: { threshold: 1 } }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
    const gpuOnly = customKernel({ name: 'gpu_only', pixel: 'fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 { return 1.0; }' });
    assert.throws(
      () => gpuOnly(x),
      /Kernel gpu_only has no CPU implementation \(give customKernel a cpu function\) but received CPU tensors; move them to the GPU first/,
    );
    assert.throws(() => crack(x, { uniforms: { threshold: 1 }, shape: [1, 3, 4, 4] }), /x: image 0, channel 1 is outside the input's N = 1, C = 1/);
  });
});

describe('rawKernel', () => {
  /** Per-image sum: a workgroup reduces a chunk of one image in shared memory, one atomicAdd per workgroup. */
  const perImageSum = rawKernel({
    name: 'per_image_sum',
    inputs: [{ name: 'x', dtype: 'u8' }],
    outputs: [{ name: 'sums', dtype: 'i32', atomic: true, zero: true }],
    uniforms: [{ name: 'plane', type: 'u32' }],
    workgroupSize: 64,
    wgsl: /* wgsl */ `
var<workgroup> partial: array<i32, WG>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let n = wid.y;
  let i = wid.x * WG + li;
  var v = 0;
  if (i < u.plane) { v = i32(x_load(n * u.plane + i)); }
  partial[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (li < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  if (li == 0u) { atomicAdd(&sums[n], partial[0]); }
}`,
  });

  test('per-image sum with workgroup reduction and atomics equals the CPU sum', { skip: gpuSkip(gpu) }, async () => {
    await perImageSum.compile(gpu!);
    for (const shape of [
      [3, 1, 17, 23],
      [2, 3, 8, 8],
    ] as const) {
      const x = randomImage(shape as unknown as [number, number, number, number], 'u8', 9);
      const [N] = shape;
      const plane = x.size / N;
      const g = await x.toGpu(gpu!);
      const sums = Tensor.empty(gpu!, [N], 'i32');
      // run twice: `zero` must reset the pooled accumulator each time
      for (let r = 0; r < 2; r++) perImageSum(gpu!, { inputs: [g], outputs: { sums }, uniforms: { plane }, workgroups: [Math.ceil(plane / 64), N, 1] });
      const got = await sums.toCpu();
      const expected = Array.from({ length: N }, (_, n) => Array.from(x.data.subarray(n * plane, (n + 1) * plane)).reduce((s, v) => s + v, 0));
      assert.deepEqual([...got.data], expected, `[${shape.join(',')}]`);
      g.dispose();
      sums.dispose();
    }
  });

  test('a WGSL error names the line of the user code', { skip: gpuSkip(gpu) }, async () => {
    const broken = rawKernel({
      name: 'broken_raw',
      inputs: [],
      outputs: [{ name: 'y', dtype: 'f32' }],
      wgsl: '@compute @workgroup_size(WG)\nfn main(@builtin(global_invocation_id) g: vec3<u32>) {\n  y_store(g.x, missing);\n}',
    });
    await assert.rejects(broken.compile(gpu!), (e: unknown) => {
      assert.ok(isKensaError(e, 'KENSA_ERR_SHADER'));
      assert.match(e.message, /wgsl line 3 \(generated line \d+\): unresolved value 'missing'\n {2}y_store\(g.x, missing\);/);
      return true;
    });
    await gpu!.sync();
  });

  test('bad specs and calls are rejected with pinned messages', { skip: gpuSkip(gpu) }, async () => {
    const wgsl = '@compute @workgroup_size(WG) fn main() {}';
    assert.throws(
      () => rawKernel({ name: 'r', wgsl: 'fn f() {}', inputs: [], outputs: [{ name: 'y', dtype: 'f32' }] }),
      /Expected WGSL with @compute @workgroup_size\(WG\) fn main\(...\) for wgsl but received "fn f\(\) \{\}"/,
    );
    assert.throws(
      () => rawKernel({ name: 'r', wgsl, inputs: [{ name: 'u', dtype: 'u8' }], outputs: [{ name: 'y', dtype: 'f32' }] }),
      /Expected a name not reserved by WGSL or kensa for inputs\[0\].name but received "u"/,
    );
    assert.throws(
      () => rawKernel({ name: 'r', wgsl, inputs: [{ name: 'a', dtype: 'u32' as never }], outputs: [{ name: 'y', dtype: 'f32' }] }),
      /Expected one of "u8", "u16", "i32", "f32", "f16" for inputs\[0\].dtype but received "u32"/,
    );
    assert.throws(
      () => rawKernel({ name: 'r', wgsl, inputs: [{ name: 'a', dtype: 'u8' }], outputs: [{ name: 'a', dtype: 'f32' }] }),
      /Expected binding names used once for inputs\/outputs but received "a"/,
    );
    assert.throws(
      () => rawKernel({ name: 'r', wgsl, inputs: [], outputs: [] }),
      /Expected an array of 1 to 8 \{name, dtype\} bindings for outputs but received \[\]/,
    );
    assert.throws(
      () => rawKernel({ name: 'r', wgsl, inputs: [], outputs: [{ name: 'y', dtype: 'f32' }], workgroupSize: 2048 }),
      /Expected integer between 1 and 1024 for workgroupSize but received 2048/,
    );
    assert.throws(
      () => rawKernel({ name: 'r', wgsl, inputs: [], outputs: [{ name: 'y', dtype: 'f32' }], uniforms: { k: 'f64' as never } }),
      /Expected one of "u32", "i32", "f32", "vec4u", "vec4i", "vec4f" for uniforms.k but received "f64"/,
    );
    const x = randomImage([1, 1, 4, 4], 'u8');
    const g = await x.toGpu(gpu!);
    const sums = Tensor.empty(gpu!, [1], 'i32');
    const args = { inputs: [g], outputs: [sums], uniforms: { plane: 16 }, workgroups: 1 };
    assert.throws(() => perImageSum(gpu!, { ...args, inputs: [x] }), /Expected inputs.x on the kernel's GPU but received a tensor on the CPU/);
    const f = await randomImage([1, 1, 4, 4], 'f32').toGpu(gpu!);
    assert.throws(() => perImageSum(gpu!, { ...args, inputs: [f] }), /Expected inputs.x of dtype u8 but received f32/);
    assert.throws(() => perImageSum(gpu!, { ...args, inputs: [] }), /Expected 1 tensors \(x\) for inputs but received 0/);
    assert.throws(
      () => perImageSum(gpu!, { ...args, uniforms: {} }),
      /Expected a value for the declared u32 uniform for uniforms.plane but received undefined/,
    );
    assert.throws(() => perImageSum(gpu!, { ...args, workgroups: 0 }), /Expected integer between 1 and 4294836225 for workgroups but received 0/);
    g.dispose();
    f.dispose();
    sums.dispose();
    await gpu!.sync();
  });
});
