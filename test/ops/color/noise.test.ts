import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gaussNoise, gaussNoisePrograms, noiseValue, pcgHash } from '../../../src/ops/color/noise.js';
import { Tensor } from '../../../src/tensor.js';
import { arithmeticExact, assertClose, EXACT } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

function sample(t: Tensor, n: number): Tensor {
  const [, c, h, w] = t.shape as [number, number, number, number];
  const per = c * h * w;
  return Tensor.fromArray(t.data.slice(n * per, (n + 1) * per), [1, c, h, w], t.dtype);
}

describe('gaussNoise', () => {
  test('pcgHash is PCG-RXS-M-XS (reference values from the C code)', () => {
    // uint32_t pcg_hash(uint32_t v) { uint32_t s = v * 747796405u + 2891336453u; uint32_t w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u; return (w >> 22u) ^ w; }
    assert.equal(pcgHash(0), 129708002);
    assert.equal(pcgHash(1), 2831084092);
    assert.equal(pcgHash(0xffffffff), pcgHash(-1));
  });

  test('the draws are standard normal: mean, variance and tail fractions over 60000 values', () => {
    let s1 = 0;
    let s2 = 0;
    let beyond2 = 0;
    const count = 60000;
    for (let e = 0; e < count; e++) {
      const z = noiseValue(7, e);
      s1 += z;
      s2 += z * z;
      if (Math.abs(z) > 2) beyond2++;
    }
    const mean = s1 / count;
    const variance = s2 / count - mean * mean;
    // standard errors: mean 1/√n = 0.004, variance √(2/n) = 0.006, P(|z|>2) = 0.0455 ± 0.0009
    assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.03, `variance ${variance}`);
    assert.ok(Math.abs(beyond2 / count - 0.0455) < 0.005, `P(|z| > 2) ${beyond2 / count}`);
  });

  test('f32: out = x + mean + sigma · z with the documented draw; sigma 0 is the identity', () => {
    const x = naturalImage([2, 3, 5, 7], 'f32', 1);
    const y = gaussNoise(x, { sigma: [0.1, 0.2], mean: 0.05, seed: [3, 9] });
    for (let n = 0; n < 2; n++)
      for (let e = 0; e < 105; e++) {
        const i = n * 105 + e;
        const want = Math.fround(x.at(i) + Math.fround(Math.fround(noiseValue(n ? 9 : 3, e) * Math.fround(n ? 0.2 : 0.1)) + Math.fround(0.05)));
        assert.equal(y.at(i), want, `sample ${n} element ${e}`);
      }
    assertClose(gaussNoise(x, { sigma: 0, seed: 5 }), x, EXACT, 'sigma 0');
  });

  test('perChannel false: one noise value per pixel, shared by its channels', () => {
    const x = Tensor.zeros([1, 3, 4, 4], 'f32');
    const y = gaussNoise(x, { sigma: 1, seed: 11, perChannel: false });
    for (let i = 0; i < 16; i++) {
      assert.equal(y.at(i), y.at(16 + i));
      assert.equal(y.at(i), y.at(32 + i));
    }
    const z = gaussNoise(x, { sigma: 1, seed: 11 });
    assert.notEqual(z.at(0), z.at(16));
  });

  test('GPU equals the CPU (bit for bit on lavapipe; see arithmeticExact) (u8, u16, f32, f16; per channel and shared), and a batch equals its samples alone', {
    skip: gpuSkip(gpu),
  }, async () => {
    for (const dtype of ['u8', 'u16', 'f32', 'f16'] as const) {
      const x = naturalImage([3, 3, 9, 13], dtype, 2);
      const sigma = dtype === 'u8' ? 12 : dtype === 'u16' ? 3000 : 0.05;
      for (const perChannel of [true, false]) {
        const o = { sigma: [sigma, 0, 2 * sigma], mean: [0, sigma, -sigma], seed: [1, 0xffffffff, 123456789], perChannel };
        await assertGpuMatchesCpu(gpu!, [x], (t) => gaussNoise(t, o), arithmeticExact(gpu!), `${dtype} perChannel ${perChannel}`);
        const batch = gaussNoise(x, o);
        for (let n = 0; n < 3; n++) {
          const alone = gaussNoise(sample(x, n), { sigma: o.sigma[n]!, mean: o.mean[n]!, seed: o.seed[n]!, perChannel });
          assertClose(sample(batch, n), alone, EXACT, `${dtype} sample ${n}`);
        }
      }
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of gaussNoisePrograms()) await gpu!.compile(p);
  });

  test('bad parameters are refused with one sentence naming them', () => {
    const x = naturalImage([2, 1, 4, 4], 'u8', 1);
    assert.throws(() => gaussNoise(x, { sigma: -1 }), /Expected number between 0 and 1000000000 for sigma but received -1 of type number/);
    assert.throws(() => gaussNoise(x, { sigma: 1, seed: 1.5 }), /Expected integer between 0 and 4294967295 for seed but received 1.5 of type number/);
    assert.throws(
      () => gaussNoise(x, { sigma: [1, 2, 3] }),
      /Expected a number or one per sample \(2 numbers as an array or a CPU tensor\) for sigma but received an array of 3/,
    );
    assert.throws(() => gaussNoise(x, { sigma: 1, seed: [1, -2] }), /for seed\[1\] but received -2/);
  });
});
