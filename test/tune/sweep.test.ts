import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openBackend } from '../../src/backend.js';
import { classicDetector, detectClassic } from '../../src/detect/classic.js';
import { parseRecipe, type ClassicRecipe } from '../../src/detect/recipe.js';
import { registerTemplate } from '../../src/detect/template.js';
import { Tensor } from '../../src/tensor.js';
import { recipeCounts, sweepCounts, sweepLevels } from '../../src/tune/score.js';
import { sweepGrid, RELATIVE_THRESHOLDS, SWEPT_MIN_AREAS } from '../../src/tune/search.js';
import { CLASSIC_SPACE } from '../../src/tune/space.js';
import { labelled } from './_data.js';

const frames = labelled(4, 64, 5);
const classic = (data: unknown) => parseRecipe(data).recipe as ClassicRecipe;
const TEMPLATE_SHA = 'd'.repeat(64);
const f0 = frames[0]!;
registerTemplate({ path: 'first frame', sha256: TEMPLATE_SHA, width: f0.width, height: f0.height, dtype: f0.dtype, data: f0.data });

describe('the threshold sweep', () => {
  test('counts of every threshold, hysteresis ratio and minimum area equal separate runs of those recipes', async () => {
    const backend = await openBackend({ device: 'cpu' });
    for (const base of [
      classic({ threshold: { mode: 'relative', value: 2 }, blackhat: { size: 7, weight: 2 } }),
      classic({ contrast: { background: 0 }, morphology: { close: 3, fillHoles: 20 } }),
      // the template channel alone, against the first frame
      classic({ gradient: { weight: 0 }, contrast: { background: 0 }, template: { path: 'first frame', sha256: TEMPLATE_SHA } }),
      // the area channel with a black-hat, under an absolute threshold (its map does not depend on the value either)
      classic({ contrast: { background: 0 }, blackhat: { size: 9 }, area: { sigma: 2, background: 16, weight: 2 } }),
    ]) {
      const grid = { thresholds: base.threshold.mode === 'relative' ? [1, 2.5, 4] : [0.03, 0.08], hysteresis: [1, 0.5], minAreas: [1, 12, 60] };
      const swept = await sweepCounts(backend, frames, base, grid, 2);
      for (const [t, level] of sweepLevels(grid).entries())
        for (const [a, minArea] of grid.minAreas.entries()) {
          const r = { ...base, threshold: { ...base.threshold, ...level }, components: { ...base.components, minArea } };
          const what = `${base.threshold.mode} ${level.value}, hysteresis ${level.hysteresis}, minArea ${minArea}`;
          assert.deepEqual(swept[t]![a], await recipeCounts(backend, frames, r, 2), what);
        }
      assert.notDeepEqual(swept[0]![0], swept[1]![0], 'hysteresis changes the masks');
      assert.notDeepEqual(swept[0]![0], swept.at(-1)!.at(-1), 'the grid points differ');
    }
    backend.close();
  });

  test('the grid: relative k, the absolute range without the local contrast, the own value with it', () => {
    const relative = sweepGrid(classic({ threshold: { mode: 'relative', value: 2 } }), CLASSIC_SPACE);
    assert.deepEqual(relative.thresholds, RELATIVE_THRESHOLDS);
    assert.deepEqual(relative.minAreas, SWEPT_MIN_AREAS, 'the minimum areas inside the space: all of them');
    const narrow = CLASSIC_SPACE.map((d) => (d.path === 'components.minArea' ? { ...d, min: 10, max: 400 } : d));
    assert.deepEqual(
      sweepGrid(classic({ threshold: { mode: 'relative', value: 2 } }), narrow).minAreas,
      [10, 20, 40, 80, 150, 250, 400],
      'a narrower range: those inside it',
    );
    const absolute = sweepGrid(classic({ contrast: { background: 0 } }), CLASSIC_SPACE);
    assert.deepEqual([absolute.thresholds[0], absolute.thresholds.at(-1)], [0.01, 0.4]);
    assert.deepEqual(sweepGrid(classic({ threshold: { value: 0.07 } }), CLASSIC_SPACE).thresholds, [0.07]);
    const noArea = sweepGrid(
      classic({ components: { minArea: 33 } }),
      CLASSIC_SPACE.filter((d) => d.path !== 'components.minArea'),
    );
    assert.deepEqual(noArea.minAreas, [33], 'a dimension the space leaves out is not swept');
    assert.deepEqual(relative.hysteresis, [0.25, 0.5, 0.75, 1], 'hysteresis ratios: the range, off (1) among them');
    assert.deepEqual(absolute.hysteresis, [0.25, 0.5, 0.75, 1], 'under an absolute threshold too');
    const noHysteresis = CLASSIC_SPACE.filter((d) => d.path !== 'threshold.hysteresis');
    assert.deepEqual(sweepGrid(classic({ threshold: { value: 0.07, hysteresis: 0.6 } }), noHysteresis).hysteresis, [0.6], 'left out: the own ratio');
    assert.deepEqual(sweepGrid(classic({}), noHysteresis).hysteresis, [1], 'absent: off');
  });

  test('bad grids are named', async () => {
    const backend = await openBackend({ device: 'cpu' });
    await assert.rejects(sweepCounts(backend, frames, classic({}), { thresholds: [0.05, 0.1], hysteresis: [1], minAreas: [1] }, 2), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: /grid\.thresholds/,
    });
    await assert.rejects(sweepCounts(backend, frames, classic({}), { thresholds: [], hysteresis: [1], minAreas: [1] }, 2), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: /grid/,
    });
    backend.close();
  });
});

describe('the relative threshold', () => {
  /** A textured frame of even values with a dark line, and the same at half the contrast, lifted by 60. */
  function exposures(): Tensor {
    const S = 64;
    const img = new Uint8Array(2 * S * S);
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const v = 2 * Math.round(60 + 10 * Math.sin(x / 3) * Math.cos(y / 4) - (Math.abs(y - 32 - Math.round(x / 8)) < 2 ? 40 : 0));
        img[y * S + x] = v;
        img[S * S + y * S + x] = v / 2 + 60;
      }
    return Tensor.fromArray(img, [2, 1, S, S], 'u8');
  }

  test('mean + k·std of each image: the same mask at half the contrast, where an absolute threshold loses it', async () => {
    const relative = classic({ threshold: { mode: 'relative', value: 2.5 }, contrast: { background: 0 }, blackhat: { size: 9, weight: 1 } });
    const [a, b] = await detectClassic(exposures(), relative, true);
    const differ = a!.mask!.filter((v, i) => v !== b!.mask![i]).length;
    assert.ok(a!.mask!.filter((v) => v).length > 100, 'the line is found');
    assert.ok(differ <= 0.005 * a!.mask!.length, `${differ} pixels differ`);
    const absolute = { ...relative, threshold: { mode: 'absolute' as const, value: 0.12 } };
    const [c, d] = await detectClassic(exposures(), absolute, true);
    assert.ok(d!.mask!.filter((v) => v).length < 0.5 * c!.mask!.filter((v) => v).length, 'absolute: half the contrast, far fewer pixels');
  });

  test('bad modes are named; the tiled path refuses it', async () => {
    assert.throws(() => parseRecipe({ threshold: { mode: 'percentile' } }), { code: 'KENSA_ERR_RECIPE', message: /threshold\.mode/ });
    const backend = await openBackend({ device: 'cpu' });
    const frame = { data: new Uint8Array(64 * 64), width: 64, height: 64 };
    await assert.rejects(classicDetector.tiled!.device(frame, classic({ threshold: { mode: 'relative', value: 2 } }), false, { backend, tile: 32 }), {
      code: 'KENSA_ERR_RECIPE',
      message: /threshold\.mode 'relative'.*64×64/,
    });
    backend.close();
  });
});
