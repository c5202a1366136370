import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as internal from '../../../src/internal.js';
import * as features from '../../../src/ops/features/index.js';
import { randomImage } from '../../_kit/images.js';

describe('features index', () => {
  test('re-exports the public functions, which run on CPU tensors', () => {
    const x = randomImage([1, 1, 8, 9], 'u8', 3);
    assert.deepEqual(features.sobel(x, { dx: 1, dy: 0 }).shape, [1, 1, 8, 9]);
    assert.deepEqual(features.scharr(x, { dx: 0, dy: 1 }).shape, [1, 1, 8, 9]);
    assert.equal(features.gradientMagnitude(x).dtype, 'f32');
    assert.equal(features.crackMask(x, { threshold: 10 }).dtype, 'u8');
    assert.deepEqual(features.pyrDown(x).shape, [1, 1, 4, 5]);
    assert.equal(features.multiScaleFeatures(x).length, 3);
    assert.deepEqual([...features.GRADIENT_OPERATORS], ['sobel', 'scharr', 'central']);
    for (const programs of [internal.sobelPrograms(), internal.gradientPrograms(), internal.crackPrograms(), internal.pyramidPrograms()])
      assert.ok(programs.length > 0);
  });
});
