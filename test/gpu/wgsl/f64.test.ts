import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProgramInfo } from '../../../src/gpu/program.js';
import { f64Bits, WGSL_F64 } from '../../../src/gpu/wgsl/f64.js';
import { Tensor } from '../../../src/tensor.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { rng } from '../../_kit/images.js';

const gpu = await testGpu();

const OPS = ['add', 'sub', 'mul', 'div', 'lt', 'from_u32'] as const;

function program(): ProgramInfo {
  return {
    name: 'f64_selftest',
    key: '',
    inputs: [{ name: 'args', dtype: 'i32' }],
    outputs: [{ name: 'res', dtype: 'i32' }],
    uniforms: [{ name: 'cases', type: 'u32' }],
    workgroupSize: 64,
    body: /* wgsl */ `
${WGSL_F64}
fn arg(i: u32) -> u32 { return bitcast<u32>(args[i]); }
fn put(i: u32, v: vec2<u32>) { res[i] = bitcast<i32>(v.x); res[i + 1u] = bitcast<i32>(v.y); }
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = linear_workgroup(wid, nwg) * WG + li;
  if (c >= u.cases) { return; }
  let a = vec2<u32>(arg(c * 5u), arg(c * 5u + 1u));
  let b = vec2<u32>(arg(c * 5u + 2u), arg(c * 5u + 3u));
  let o = c * 11u;
  put(o, f64_add(a, b));
  put(o + 2u, f64_sub(a, b));
  put(o + 4u, f64_mul(a, b));
  put(o + 6u, f64_div(a, b));
  res[o + 8u] = select(0, 1, f64_lt(a, b));
  put(o + 9u, f64_from_u32(arg(c * 5u + 4u)));
}`,
  };
}

/** Doubles like those of Otsu's search: probabilities, means up to 255, products, differences. */
function cases(n: number): [number, number, number][] {
  const r = rng(11);
  const pick = (): number => {
    const k = Math.floor(r() * 6);
    if (k === 0) return Math.floor(r() * 256);
    if (k === 1) return r();
    if (k === 2) return (r() - 0.5) * 512;
    if (k === 3) return Math.floor(r() * 4096) / Math.floor(1 + r() * 5000);
    if (k === 4) return (r() < 0.5 ? -1 : 1) * 2 ** Math.floor(r() * 80 - 40) * (1 + r());
    return 1 - r() * 1e-7;
  };
  const out: [number, number, number][] = [];
  for (let i = 0; i < n; i++) {
    const a = pick();
    let b = pick();
    if (i % 17 === 0) b = -a;
    if (i % 19 === 0) b = a * (1 + 2 ** -52);
    if (i % 23 === 0) b = 0;
    if (b === 0 && i % 2 === 0) b = 1 / 3;
    out.push([a, b, Math.floor(r() * 2 ** 32)]);
  }
  return out;
}

describe('software binary64 (WGSL)', () => {
  test('add, sub, mul, div, lt and u32 conversion are bit-exact with JS doubles', { skip: gpuSkip(gpu) }, async () => {
    const cs = cases(4000);
    const args = new Int32Array(cs.length * 5);
    cs.forEach(([a, b, u], i) => {
      const [al, ah] = f64Bits(a);
      const [bl, bh] = f64Bits(b);
      args.set([al | 0, ah | 0, bl | 0, bh | 0, u | 0], i * 5);
    });
    const input = await Tensor.fromArray(args, [args.length], 'i32').toGpu(gpu!);
    const out = Tensor.empty(gpu!, [cs.length * 11], 'i32');
    gpu!.dispatch({
      program: program(),
      inputs: [input.gpu.ref],
      outputs: [out.gpu.ref],
      uniforms: { cases: cs.length },
      workgroups: Math.ceil(cs.length / 64),
    });
    const res = (await out.toCpu()).data as Int32Array;
    input.dispose();
    out.dispose();
    const view = new DataView(new ArrayBuffer(8));
    const read = (i: number): number => {
      view.setInt32(0, res[i]!, true);
      view.setInt32(4, res[i + 1]!, true);
      return view.getFloat64(0, true);
    };
    let bad = 0;
    const first: string[] = [];
    cs.forEach(([a, b, u], i) => {
      const o = i * 11;
      const expected = [a + b, a - b, a * b, b === 0 ? 0 : a / b, a < b ? 1 : 0, u];
      const got = [read(o), read(o + 2), read(o + 4), b === 0 ? 0 : read(o + 6), res[o + 8]!, read(o + 9)];
      expected.forEach((e, k) => {
        if (!Object.is(e, got[k]) && !(e === 0 && got[k] === 0)) {
          bad++;
          if (first.length < 8) first.push(`${OPS[k]}(${a}, ${b}): got ${got[k]}, expected ${e}`);
        }
      });
    });
    assert.equal(bad, 0, first.join('\n'));
  });

  test('compiles', { skip: gpuSkip(gpu) }, async () => {
    await gpu!.compile(program());
  });
});
