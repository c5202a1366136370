/** Bad pipelines, arguments, parameters and batches get one KensaError sentence naming them. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Affine,
  augment,
  Compose,
  fromJSON,
  fromYAML,
  HorizontalFlip,
  OneOf,
  RandomCrop,
  replay,
  SomeOf,
  Transpose,
  type Transform,
} from '../../src/augment/index.js';
import { Tensor } from '../../src/tensor.js';
import { batchOf } from './_cases.js';

function throwsWith(fn: () => unknown, code: string, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.equal((e as { code?: string }).code, code);
    if (typeof message === 'string') assert.equal((e as Error).message, message);
    else assert.match((e as Error).message, message);
    return true;
  });
}

describe('errors', () => {
  test('factories name the argument', () => {
    throwsWith(() => HorizontalFlip({ p: 2 }), 'KENSA_ERR_INVALID_ARGUMENT', 'Expected a number at most 1 for HorizontalFlip.p but received 2 of type number');
    throwsWith(
      () => Affine({ rotate: [10, -10] }),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected a range [lo, hi] with lo ≤ hi for Affine.rotate but received [10, -10] of type object',
    );
    throwsWith(
      () => Affine({ rotate: [1] as never }),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected an array of at least 2 items for Affine.rotate but received [1] of type object',
    );
    throwsWith(
      () => HorizontalFlip({ q: 1 } as never),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected a known argument for HorizontalFlip.q but received 1 of type number',
    );
    throwsWith(
      () => RandomCrop({ width: 8, height: 8, p: 0.5 as 1 }),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected one of 1 for RandomCrop.p but received 0.5 of type number',
    );
    throwsWith(
      () => RandomCrop({ width: 0, height: 8 }),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected a number at least 1 for RandomCrop.width but received 0 of type number',
    );
    throwsWith(
      () => Compose({ transforms: 3 as never }),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected an array of transforms for Compose.transforms but received number',
    );
    throwsWith(
      () => SomeOf({ transforms: [HorizontalFlip()], n: 2 }),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected integer between 0 and 1 for SomeOf.n but received 2 of type number',
    );
  });

  test('pipeline files name the field by its path', () => {
    const doc = (transform: unknown, version: unknown = 1) => ({ version, transform });
    throwsWith(
      () => fromJSON(doc({ name: 'Compose', transforms: [{ name: 'HorizontalFlip' }, { name: 'Affine', p: 1.5 }] })),
      'KENSA_ERR_AUGMENT',
      'Expected a number at most 1 for transform.transforms[1].p but received 1.5 of type number',
    );
    throwsWith(
      () => fromJSON(doc({ name: 'Compose', transforms: [{ name: 'OneOf', transforms: [{ name: 'Blurr' }] }] })),
      'KENSA_ERR_AUGMENT',
      /^Expected a registered transform \(Compose, Sequential, OneOf, SomeOf, .*HorizontalFlip.*\) for transform\.transforms\[0\]\.transforms\[0\]\.name but received "Blurr" of type string$/,
    );
    throwsWith(
      () => fromJSON(doc({ name: 'HorizontalFlip' }, 2)),
      'KENSA_ERR_AUGMENT',
      'Expected an integer from 1 to 1 for version but received 2 of type number',
    );
    throwsWith(() => fromJSON({ ...doc({ name: 'HorizontalFlip' }), extra: 1 }), 'KENSA_ERR_AUGMENT', /for extra but received 1 of type number/);
    throwsWith(
      () => fromJSON(doc({ name: 'Compose' })),
      'KENSA_ERR_AUGMENT',
      'Expected an array of transforms for transform.transforms but received undefined of type undefined',
    );
    throwsWith(
      () => fromJSON(doc({ name: 'HorizontalFlip', transforms: [] })),
      'KENSA_ERR_AUGMENT',
      'Expected no transforms (HorizontalFlip is not a container) for transform.transforms but received [] of type object',
    );
    throwsWith(
      () => fromJSON(doc({ name: 'SomeOf', n: 3, transforms: [{ name: 'HorizontalFlip' }] })),
      'KENSA_ERR_AUGMENT',
      'Expected integer between 0 and 1 for transform.n but received 3 of type number',
    );
    throwsWith(
      () => fromJSON(doc({ name: 'RandomCrop', width: 8 })),
      'KENSA_ERR_AUGMENT',
      'Expected a value of type number for transform.height but received undefined of type undefined',
    );
    throwsWith(() => fromYAML('version: 1\ntransform: [\n'), 'KENSA_ERR_AUGMENT', /^Expected YAML for the pipeline but it does not parse: /);
    throwsWith(
      () => fromJSON('HorizontalFlip'),
      'KENSA_ERR_AUGMENT',
      'Expected an object { version, transform } for the pipeline but received "HorizontalFlip" of type string',
    );
  });

  test('replayed parameters are checked against the pipeline, naming the bad one', () => {
    const pipeline: Transform = Compose({ transforms: [HorizontalFlip(), RandomCrop({ width: 8, height: 8 })] });
    const b = batchOf(2);
    throwsWith(() => replay(pipeline, b, [null]), 'KENSA_ERR_AUGMENT', 'Expected one entry per sample (2) for params but received an array of 1');
    throwsWith(
      () => replay(pipeline, b, [null, [true]]),
      'KENSA_ERR_AUGMENT',
      'Expected null or an array of 2 (one per child of Compose) for params[1] but received [true]',
    );
    throwsWith(
      () => replay(pipeline, b, [null, [true, { x: -1, y: 0 }]]),
      'KENSA_ERR_AUGMENT',
      'Expected a number at least 0 for params[1][1].x but received -1 of type number',
    );
    throwsWith(
      () => replay(pipeline, b, [null, [1, { x: 0, y: 0 }]]),
      'KENSA_ERR_AUGMENT',
      'Expected one of true for params[1][0] but received 1 of type number',
    );
  });

  test('draws that cannot make one batch, and images too small, say why', () => {
    const b = batchOf(6);
    throwsWith(
      () => augment(Compose({ transforms: [OneOf({ transforms: [RandomCrop({ width: 8, height: 8 }), HorizontalFlip()] })] }), b, { seed: 1 }),
      'KENSA_ERR_AUGMENT',
      /^Expected one output size for the batch from RandomCrop but its samples give (8×8 and 24×24|24×24 and 8×8); a transform that sets the size must run on every sample \(p 1, outside OneOf and SomeOf\)$/,
    );
    throwsWith(
      () => augment(RandomCrop({ width: 32, height: 8 }), b, { seed: 1 }),
      'KENSA_ERR_AUGMENT',
      'Expected images of at least 32×8 for RandomCrop but received 24×24 (PadIfNeeded before it brings them to size)',
    );
    const wide = { image: Tensor.zeros([2, 1, 8, 12], 'u8') };
    throwsWith(
      () => augment(Transpose({ p: 0.5 }), wide, { seed: 3 }),
      'KENSA_ERR_AUGMENT',
      'Expected p 1 for Transpose of non-square images (12×8) but received 0.5',
    );
  });

  test('bad options and batches', () => {
    const b = batchOf(2);
    const t = HorizontalFlip();
    throwsWith(
      () => augment(t, b, { seed: 1.5 }),
      'KENSA_ERR_INVALID_ARGUMENT',
      /^Expected integer between -2147483648 and 4294967295 for seed but received 1.5/,
    );
    throwsWith(
      () => augment(t, b, { seed: 1, indices: [0] }),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected 2 integers at least 0 for indices but received an array of 1',
    );
    throwsWith(
      () => augment(t, { ...b, boxes: [[]] }, { seed: 1 }),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected one list of boxes per sample (2 lists) for batch.boxes but received an array of 1',
    );
    throwsWith(
      () => augment(t, { ...b, boxes: [[], [{ x0: 5, y0: 1, x1: 5, y1: 4, label: 1 }]] }, { seed: 1 }),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected a box { x0, y0, x1, y1, label } of finite numbers with x0 < x1 and y0 < y1 for batch.boxes[1][0] but received {"x0":5,"y0":1,"x1":5,"y1":4,"label":1}',
    );
    throwsWith(
      () => augment(t, { ...b, keypoints: [[{ x: 1, y: Number.NaN }], []] }, { seed: 1 }),
      'KENSA_ERR_INVALID_ARGUMENT',
      'Expected a keypoint { x, y } of finite numbers for batch.keypoints[0][0] but received {"x":1,"y":null}',
    );
    throwsWith(
      () => augment(t, { ...b, mask: Tensor.zeros([2, 1, 8, 8], 'u8') }, { seed: 1 }),
      'KENSA_ERR_SHAPE',
      'Expected batch.mask of shape [2, 1, 24, 24] but received [2, 1, 8, 8]',
    );
  });
});
