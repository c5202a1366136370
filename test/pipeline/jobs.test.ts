/**
 * Scale-out on a real Redis (KENSA_TEST_REDIS, default redis://127.0.0.1:6379, a random database
 * of it): queue URLs, and a worker's Prometheus metrics. Workers SIGKILLed mid-job: chaos.test.ts.
 * Redis down: fails on CI, skips locally.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KensaError } from '../../src/errors.js';
import { parseQueueUrl } from '../../src/pipeline/jobs.js';

test('--queue URLs are checked', () => {
  for (const bad of ['http://h', 'redis://', 'redis://h/x', 'h:6379'])
    assert.throws(
      () => parseQueueUrl(bad),
      (e: unknown) => e instanceof KensaError && /for --queue/.test(e.message),
    );
  assert.deepEqual(parseQueueUrl('redis://u:p%40@h:7000/3'), { host: 'h', port: 7000, db: 3, username: 'u', password: 'p@', maxRetriesPerRequest: null });
});
