/** Pipeline files: the kept version-1 fixture still reads and draws what it drew; documents round-trip; YAML and JSON files load. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { augment, draw, fromJSON, fromYAML, loadPipeline, replay, toJSON, toYAML } from '../../src/augment/index.js';
import { assertClose } from '../_kit/compare.js';
import { tempDir } from '../_kit/tmp.js';
import { batchOf } from './_cases.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'geometric-v1.yaml');

describe('pipeline files', () => {
  test('the version-1 fixture loads and draws the parameters it drew when it was written (seed 1)', async () => {
    const pipeline = await loadPipeline(FIXTURE);
    const expected = JSON.parse(await readFile(join(import.meta.dirname, 'fixtures', 'geometric-v1.params.json'), 'utf8'));
    assert.deepEqual(draw(pipeline, 4, { width: 32, height: 32, channels: 3, dtype: 'u8' }, { seed: 1 }), expected);
    const batch = batchOf(4, 'u8', 32);
    const r = augment(pipeline, batch, { seed: 1 });
    assert.deepEqual(r.batch.image.shape, [4, 3, 16, 20]);
    assertClose(replay(pipeline, batch, expected).image, r.batch.image, { int: 0 });
  });

  test('the document written has every default filled and reads back to itself (JSON and YAML)', async () => {
    const pipeline = await loadPipeline(FIXTURE);
    const doc = toJSON(pipeline);
    assert.equal(doc.version, 1);
    assert.equal(doc.transform.name, 'Compose');
    assert.equal(doc.transform.transforms![2]!.p, 0.5, 'HorizontalFlip writes its default p');
    assert.deepEqual(toJSON(fromJSON(JSON.parse(JSON.stringify(doc)))), doc);
    assert.deepEqual(toJSON(fromYAML(toYAML(pipeline))), doc);
  });

  test('loadPipeline reads .json files too and names the file in its errors', async () => {
    const dir = tempDir('kensa-augment-');
    const json = join(dir, 'p.json');
    await writeFile(json, JSON.stringify(toJSON(await loadPipeline(FIXTURE))));
    assert.deepEqual(toJSON(await loadPipeline(json)), toJSON(await loadPipeline(FIXTURE)));
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'version: 1\ntransform: { name: HorizontalFlip, p: 3 }\n');
    await assert.rejects(loadPipeline(bad), {
      code: 'KENSA_ERR_AUGMENT',
      message: `${bad}: Expected a number at most 1 for transform.p but received 3 of type number`,
    });
    await assert.rejects(loadPipeline(join(dir, 'none.yaml')), { code: 'KENSA_ERR_AUGMENT', message: /for .*none\.yaml but reading it failed: ENOENT/ });
  });
});
