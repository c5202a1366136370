/**
 * A scratch queue on a real Redis (KENSA_TEST_REDIS, default redis://127.0.0.1:6379): a random
 * database of it, obliterated when the test file ends. Redis down: throws on CI, else the reason to skip.
 */
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { parseQueueUrl, QUEUE_NAME } from '../../src/pipeline/jobs.js';

const REDIS = process.env.KENSA_TEST_REDIS ?? 'redis://127.0.0.1:6379';

export async function scratchQueue(): Promise<{ url: string; queue: Queue } | string> {
  const url = `${REDIS.replace(/\/\d*$/, '')}/${1 + Math.floor(Math.random() * 15)}`;
  const probe = new Queue(QUEUE_NAME, { connection: { ...parseQueueUrl(url), maxRetriesPerRequest: 1, enableOfflineQueue: false } });
  probe.on('error', () => {});
  try {
    await Promise.race([probe.getJobCounts(), sleep(3000).then(() => Promise.reject(new Error('timeout')))]);
  } catch (e) {
    const reason = `redis at ${url} unreachable: ${(e as Error).message}`;
    if (process.env.CI === 'true') throw new Error(reason, { cause: e });
    return reason;
  } finally {
    await probe.close().catch(() => undefined);
  }
  const queue = new Queue(QUEUE_NAME, { connection: parseQueueUrl(url) });
  // jobs an earlier test left behind when it was killed would be taken by this test's workers
  await queue.obliterate({ force: true });
  after(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  });
  return { url, queue };
}
