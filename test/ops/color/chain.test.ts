import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { brightnessContrast } from '../../../src/ops/color/brightness-contrast.js';
import { COLOR_CHAIN_DTYPES, colorChain, colorChainPrograms, colorChainThrough, type ColorStep } from '../../../src/ops/color/chain.js';
import { flip } from '../../../src/ops/geometry/flip.js';
import { warpAffine, warpAffineNearestMap } from '../../../src/ops/geometry/warp-affine.js';
import { gamma } from '../../../src/ops/color/gamma.js';
import { rgbToGray } from '../../../src/ops/color/gray.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose, EXACT } from '../../_kit/compare.js';
import { dispatchedPrograms, gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

/** Sample n of a CPU batch as a batch of one. */
function sample(t: Tensor, n: number): Tensor {
  const [, c, h, w] = t.shape as [number, number, number, number];
  const per = c * h * w;
  return Tensor.fromArray(t.data.slice(n * per, (n + 1) * per), [1, c, h, w], t.dtype);
}

/** HSV shift in double precision (OpenCV's float RGB↔HSV, H in degrees), for a u8 pixel. */
function hsvReference(rgb: readonly number[], dh: number, ds: number, dv: number): number[] {
  const [r, g, b] = rgb as [number, number, number];
  const mx = Math.max(r, g, b);
  const d = mx - Math.min(r, g, b);
  let h = d === 0 ? 0 : mx === r ? (60 * (g - b)) / d : mx === g ? 120 + (60 * (b - r)) / d : 240 + (60 * (r - g)) / d;
  h = (((h + dh) % 360) + 360) % 360;
  const s = Math.min(1, Math.max(0, (mx > 0 ? d / mx : 0) + ds));
  const v = Math.min(255, Math.max(0, mx + dv * 255));
  const c = v * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = v - c;
  const k = Math.floor(h / 60) % 6;
  const [rr, gg, bb] = [
    [c, x, 0],
    [x, c, 0],
    [0, c, x],
    [0, x, c],
    [x, 0, c],
    [c, 0, x],
  ][k]!;
  return [rr! + m, gg! + m, bb! + m];
}

const RANDOM_CHAIN: ColorStep[] = [
  { kind: 'affine', alpha: [0.8, 1.3, 1, 0.6], beta: [10, -20, 0, 30] },
  { kind: 'hsv', hue: [15, -40, 180, 0], saturation: [0.2, -0.3, 0, 0.5], value: [0.05, 0, -0.1, 0] },
  { kind: 'saturation', factor: [0, 1.5, 0.7, 1] },
  { kind: 'contrast', factor: [1.2, 0.5, 1, 2] },
  { kind: 'gamma', gamma: [0.7, 1.4, 1, 2.2] },
];

describe('colorChain', () => {
  test('single steps equal their ops on the CPU: affine = brightnessContrast, gamma = gamma, gray = rgbToGray (u8, exact)', () => {
    const x = naturalImage([2, 3, 9, 11], 'u8', 3);
    assertClose(colorChain(x, { steps: [{ kind: 'affine', alpha: 1.3, beta: -12 }] }), brightnessContrast(x, { alpha: 1.3, beta: -12 }), EXACT, 'affine');
    assertClose(colorChain(x, { steps: [{ kind: 'gamma', gamma: 0.6 }] }), gamma(x, { gamma: 0.6 }), EXACT, 'gamma');
    const grey = rgbToGray(x);
    const chained = colorChain(x, { steps: [{ kind: 'gray' }] });
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 3; c++) for (let i = 0; i < 99; i++) assert.equal(chained.data[(n * 3 + c) * 99 + i], grey.data[n * 99 + i], `gray n${n} c${c} ${i}`);
  });

  test('hsv shifts hue, saturation and value as the double-precision formula (u8 ±1)', () => {
    const x = randomImage([1, 3, 8, 8], 'u8', 5);
    for (const [dh, ds, dv] of [
      [30, 0, 0],
      [-100, 0.25, -0.1],
      [200, -0.5, 0.2],
    ] as const) {
      const y = colorChain(x, { steps: [{ kind: 'hsv', hue: dh, saturation: ds, value: dv }] });
      for (let i = 0; i < 64; i++) {
        const want = hsvReference([x.data[i]!, x.data[64 + i]!, x.data[128 + i]!], dh, ds, dv);
        for (let c = 0; c < 3; c++)
          assert.ok(Math.abs(y.data[c * 64 + i]! - want[c]!) <= 1, `hsv ${dh},${ds},${dv} pixel ${i} channel ${c}: ${y.data[c * 64 + i]} vs ${want[c]}`);
      }
    }
  });

  test('saturation blends with grey and contrast with the grey mean (f32, 1e-5)', () => {
    const x = randomImage([1, 3, 6, 5], 'f32', 2);
    const plane = 30;
    const grey = (i: number) => 0.299 * x.at(i) + 0.587 * x.at(plane + i) + 0.114 * x.at(2 * plane + i);
    let mean = 0;
    for (let i = 0; i < plane; i++) mean += grey(i) / plane;
    const sat = colorChain(x, { steps: [{ kind: 'saturation', factor: 0.4 }] });
    const con = colorChain(x, { steps: [{ kind: 'contrast', factor: 1.7 }] });
    const clamp = (v: number) => Math.min(1, Math.max(0, v));
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < plane; i++) {
        const v = x.at(c * plane + i);
        assert.ok(Math.abs(sat.at(c * plane + i) - clamp(grey(i) + 0.4 * (v - grey(i)))) < 1e-5, `saturation ${c} ${i}`);
        assert.ok(Math.abs(con.at(c * plane + i) - clamp(mean + 1.7 * (v - mean))) < 1e-5, `contrast ${c} ${i}`);
      }
  });

  test('a 1-channel image: value shift only, grey is the value', () => {
    const x = naturalImage([1, 1, 5, 7], 'u8', 1);
    const y = colorChain(x, {
      steps: [
        { kind: 'hsv', hue: 90, saturation: 0.5, value: 0.1 },
        { kind: 'saturation', factor: 3 },
      ],
    });
    assertClose(y, brightnessContrast(x, { beta: 25.5 }), EXACT, 'value shift');
  });

  test('per-sample parameters and per-sample chains equal each sample alone (CPU and GPU)', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([4, 3, 9, 13], 'u8', 4);
    const chains: ColorStep[][] = [
      [{ kind: 'gray' }],
      [
        { kind: 'gamma', gamma: 0.8 },
        { kind: 'hsv', hue: 20 },
      ],
      [],
      [{ kind: 'contrast', factor: 1.5 }],
    ];
    for (const steps of [RANDOM_CHAIN, chains]) {
      for (const backend of ['cpu', 'gpu'] as const) {
        const run = async (t: Tensor, s: typeof steps) => {
          if (backend === 'cpu') return colorChain(t, { steps: s });
          const g = await t.toGpu(gpu!);
          const out = await colorChain(g, { steps: s }).toCpu();
          g.dispose();
          return out;
        };
        const all = await run(x, steps);
        for (let n = 0; n < 4; n++) {
          const alone: ColorStep[] =
            steps === chains
              ? chains[n]!
              : RANDOM_CHAIN.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Array.isArray(v) ? v[n] : v])) as ColorStep);
          assertClose(sample(all, n), await run(sample(x, n), steps === chains ? [alone] : alone), EXACT, `${backend} sample ${n}`);
        }
      }
    }
  });

  test('GPU matches the CPU reference (integers ±1, floats 1e-4): dtypes, 1 and 3 channels, batches', { skip: gpuSkip(gpu) }, async () => {
    for (const dtype of COLOR_CHAIN_DTYPES) {
      await assertGpuMatchesCpu(gpu!, [naturalImage([4, 3, 11, 9], dtype, 2)], (t) => colorChain(t, { steps: RANDOM_CHAIN }), { int: 1 }, `${dtype} rgb`);
      await assertGpuMatchesCpu(gpu!, [naturalImage([4, 3, 8, 12], dtype, 2)], (t) => colorChain(t, { steps: RANDOM_CHAIN }), { int: 1 }, `${dtype} rgb words`);
      await assertGpuMatchesCpu(gpu!, [randomImage([4, 1, 4, 12], dtype, 3)], (t) => colorChain(t, { steps: RANDOM_CHAIN }), { int: 1 }, `${dtype} grey`);
      await assertGpuMatchesCpu(
        gpu!,
        [randomImage([2, 3, 5, 6], dtype, 4)],
        (t) => colorChain(t, { steps: [{ kind: 'affine', alpha: [1.5, 0.5], beta: 3 }, { kind: 'gray' }] }),
        dtype === 'u8' || dtype === 'u16' ? EXACT : {},
        `${dtype} affine and gray`,
      );
    }
  });

  test('planes on a word run the word program, bit-exact with the pixel program (read through a map that pads a column)', { skip: gpuSkip(gpu) }, async () => {
    const chains: { shape: [number, number, number, number]; steps: ColorStep[] }[] = [
      // RGB triples (hsv, gray) and per-channel steps, 3 and 1 channels
      {
        shape: [2, 3, 8, 10],
        steps: [
          { kind: 'affine', alpha: [1.2, 0.7], beta: 5 },
          { kind: 'hsv', hue: [20, -90], saturation: 0.2 },
          { kind: 'gamma', gamma: 1.3 },
        ],
      },
      { shape: [2, 3, 6, 6], steps: [{ kind: 'gray' }] },
      { shape: [2, 3, 4, 12], steps: [{ kind: 'affine', alpha: [0.6, 1.4], beta: [-8, 3] }] },
      {
        shape: [3, 1, 6, 6],
        steps: [
          { kind: 'gamma', gamma: 0.8 },
          { kind: 'hsv', value: 0.1 },
        ],
      },
      // a lone channel: saturation and gray leave it, hsv shifts its value (the word program's run_lanes)
      {
        shape: [2, 1, 4, 8],
        steps: [
          { kind: 'saturation', factor: [1.5, 0.2] },
          { kind: 'gray' },
          { kind: 'hsv', hue: 40, value: [-0.2, 0.3] },
          { kind: 'gamma', gamma: [1.2, 0.5] },
        ],
      },
    ];
    for (const dtype of COLOR_CHAIN_DTYPES) {
      for (const { shape, steps } of chains) {
        const g = await naturalImage(shape, dtype, 8).toGpu(gpu!);
        const { result: words, names } = dispatchedPrograms(gpu!, () => colorChain(g, { steps }));
        assert.deepEqual(names, ['color_chain_words'], `${dtype} [${shape}]`);
        // one column wider than the image: not a flip, so the pixel program reads through it
        const padded = colorChainThrough(g, { steps }, warpAffineNearestMap(g, { matrix: [1, 0, 0, 0, 1, 0], width: shape[3] + 1 }));
        const pixels = padded.slice([undefined, undefined, undefined, [0, shape[3]]]);
        assertClose(await words.toCpu(), await pixels.toCpu(), EXACT, `${dtype} [${shape}] ${steps[0]!.kind}`);
        for (const t of [g, words, pixels, padded]) t.dispose();
      }
    }
  });

  test('read through a nearest warp: the chain of the warped image, the same bytes (border fill saturated as stored; a contrast step reads the warped image)', {
    skip: gpuSkip(gpu),
  }, async () => {
    // rotations that leave the corners to the fill, a fill past u8's range, per-sample steps
    const matrix = [0.3, -0.5].map((a) => [Math.cos(a), -Math.sin(a), 3, Math.sin(a), Math.cos(a), -2]);
    const warp = { matrix, width: 10, height: 8, border: 'constant', borderValue: 300 } as const;
    const chains: ColorStep[][] = [
      [
        { kind: 'affine', alpha: 0.9, beta: 12 },
        { kind: 'gamma', gamma: 1.3 },
      ],
      [{ kind: 'hsv', hue: 30, saturation: 0.1 }],
    ];
    for (const dtype of COLOR_CHAIN_DTYPES) {
      const x = naturalImage([2, 3, 9, 11], dtype, 6);
      const g = await x.toGpu(gpu!);
      for (const steps of [chains, [[{ kind: 'contrast', factor: 1.4 } as ColorStep], []]]) {
        const through = colorChainThrough(g, { steps }, warpAffineNearestMap(g, warp));
        const after = colorChain(warpAffine(g, { ...warp, interpolation: 'nearest' }), { steps });
        assert.deepEqual(through.shape, [2, 3, 8, 10]);
        assertClose(await through.toCpu(), await after.toCpu(), EXACT, `${dtype} ${steps[0]![0]!.kind}: GPU`);
        const cpu = colorChainThrough(x, { steps }, warpAffineNearestMap(x, warp));
        assertClose(cpu, colorChain(warpAffine(x, { ...warp, interpolation: 'nearest' }), { steps }), EXACT, `${dtype} ${steps[0]![0]!.kind}: CPU`);
        for (const t of [through, after]) t.dispose();
      }
      g.dispose();
    }
  });

  test('read through per-sample flips: one word pass, bit-exact with the chain after the flip', { skip: gpuSkip(gpu) }, async () => {
    const h = [false, true, false, true];
    const v = [false, false, true, true];
    // per-sample matrices (source → destination, as cv.warpAffine) of the four flips of a 12×5 image
    const matrix = h.map((fx, n) => [fx ? -1 : 1, 0, fx ? 11 : 0, 0, v[n] ? -1 : 1, v[n] ? 4 : 0]);
    for (const dtype of COLOR_CHAIN_DTYPES) {
      for (const steps of [
        [{ kind: 'affine', alpha: [1.2, 0.7, 1, 0.5], beta: 5 }],
        [
          { kind: 'hsv', hue: 20 },
          { kind: 'gamma', gamma: 1.3 },
        ],
      ] as ColorStep[][]) {
        const g = await naturalImage([4, 3, 5, 12], dtype, 9).toGpu(gpu!);
        const map = warpAffineNearestMap(g, { matrix });
        assert.deepEqual(map.flips, { horizontal: h, vertical: v }, 'the map knows its flips');
        const { result: through, names } = dispatchedPrograms(gpu!, () => colorChainThrough(g, { steps }, map));
        assert.deepEqual(names, ['color_chain_words'], dtype);
        const flipped = flip(g, { horizontal: h, vertical: v });
        const after = colorChain(flipped, { steps });
        assertClose(await through.toCpu(), await after.toCpu(), EXACT, `${dtype} ${steps[0]!.kind}`);
        for (const t of [g, through, flipped, after]) t.dispose();
      }
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    const x = await Tensor.zeros([1, 3, 4, 4], 'u8').toGpu(gpu!);
    // the variants reading through a nearest warp, per sample and for the batch
    for (const matrix of [[[1, 0, 1, 0, 1, 0]], [1, 0, 1, 0, 1, 0]])
      for (const p of colorChainPrograms(warpAffineNearestMap(x, { matrix }))) await gpu!.compile(p);
    x.dispose();
  });

  test('bad steps and parameters are refused with one sentence naming them', () => {
    const x = naturalImage([2, 3, 4, 4], 'u8', 1);
    assert.throws(
      () => colorChain(x, { steps: [{ kind: 'blur' } as unknown as ColorStep] }),
      /Expected one of "affine", .* for steps\[0\].kind but received "blur"/,
    );
    assert.throws(
      () => colorChain(x, { steps: [{ kind: 'gamma' } as ColorStep] }),
      /Expected number above 0 and at most 100 for steps\[0\].gamma but received undefined/,
    );
    assert.throws(() => colorChain(x, { steps: [{ kind: 'hsv', hue: [1, 2, 3] }] }), /for steps\[0\].hue but received an array of 3/);
    assert.throws(
      () => colorChain(x, { steps: [{ kind: 'affine', alpha: [1, -1] }] }),
      /Expected number between 0 and 1000 for steps\[0\].alpha\[1\] but received -1/,
    );
    assert.throws(
      () => colorChain(x, { steps: [[{ kind: 'gray' }]] }),
      /Expected one array of colour steps per sample \(2\) for steps but received "an array of 1"/,
    );
    assert.throws(
      () => colorChain(naturalImage([1, 2, 4, 4], 'u8', 1), { steps: [{ kind: 'gray' }] }),
      /Expected x with 1 or 3 channels for hsv, saturation and gray steps but received 2/,
    );
    assert.throws(() => colorChain(Tensor.zeros([1, 1, 2, 2], 'i32'), { steps: [] }), /Expected x of dtype u8, u16, f32, f16 but received i32/);
  });

  test('each range holds at its ends, in a chain per sample as for the batch, and names the sample and step past them', () => {
    const x = naturalImage([2, 3, 4, 4], 'u8', 1);
    const ends: ColorStep[][] = [
      [
        { kind: 'affine', alpha: 0, beta: -1e9 },
        { kind: 'gamma', gamma: 100 },
        { kind: 'hsv', hue: -360, saturation: -1, value: -1 },
      ],
      [
        { kind: 'affine', alpha: 1000, beta: 1e9 },
        { kind: 'hsv', hue: 360, saturation: 1, value: 1 },
        { kind: 'contrast', factor: 1000 },
      ],
    ];
    assert.deepEqual(colorChain(x, { steps: ends }).shape, [2, 3, 4, 4]);
    assert.deepEqual(
      colorChain(x, {
        steps: [
          { kind: 'saturation', factor: 0 },
          { kind: 'gamma', gamma: [1e-6, 100] },
        ],
      }).shape,
      [2, 3, 4, 4],
    );
    const past: [ColorStep, RegExp][] = [
      [{ kind: 'gamma', gamma: 0 }, /Expected number above 0 and at most 100 for steps\[1\]\[1\].gamma but received 0/],
      [{ kind: 'hsv', hue: 360.5 }, /Expected number between -360 and 360 for steps\[1\]\[1\].hue but received 360.5/],
      [{ kind: 'affine', alpha: Number.NaN }, /Expected number between 0 and 1000 for steps\[1\]\[1\].alpha but received NaN/],
      [{ kind: 'contrast', factor: Number.POSITIVE_INFINITY }, /for steps\[1\]\[1\].factor but received Infinity/],
      [{ kind: 'affine', beta: '1' } as unknown as ColorStep, /Expected number between -1000000000 and 1000000000 for steps\[1\]\[1\].beta but received "1"/],
    ];
    for (const [step, message] of past) assert.throws(() => colorChain(x, { steps: [[], [{ kind: 'gray' }, step]] }), message);
  });
});
