/**
 * A scratch queue on a real Redis (KENSA_TEST_REDIS, default redis://127.0.0.1:6379): one of its
 * databases 1–15, claimed for the test so that test processes running at once never share one
 * (a key per database in database 0, set only if absent, with an expiry renewed while the test
 * runs: a process killed mid-test frees its database within a minute), obliterated when the test
 * starts and ends, and released. Redis down: throws on CI, else the reason to skip.
 */
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { parseQueueUrl, QUEUE_NAME } from '../../src/pipeline/jobs.js';

const REDIS = process.env.KENSA_TEST_REDIS ?? 'redis://127.0.0.1:6379';
/** Databases 1..DATABASES are handed out (a Redis has 16 by default; 0 holds the claims). */
const DATABASES = 15;
/** How long a claim lives unless renewed, s. */
const CLAIM_TTL_S = 60;
/** Deletes a claim only if it is still this test's. */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

export async function scratchQueue(): Promise<{ url: string; queue: Queue } | string> {
  const base = REDIS.replace(/\/\d*$/, '');
  const claims = new Redis(`${base}/0`, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  claims.on('error', () => {});
  try {
    await Promise.race([claims.connect(), sleep(3000).then(() => Promise.reject(new Error('timeout')))]);
  } catch (e) {
    claims.disconnect();
    const reason = `redis at ${base} unreachable: ${(e as Error).message}`;
    if (process.env.CI === 'true') throw new Error(reason, { cause: e });
    return reason;
  }
  const token = `${process.pid}:${randomBytes(6).toString('hex')}`;
  const claim = async () => {
    for (let n = 1; n <= DATABASES; n++) if ((await claims.set(`kensa-test:db:${n}`, token, 'EX', CLAIM_TTL_S, 'NX')) === 'OK') return n;
    return 0;
  };
  let db = await claim();
  // every database claimed by other tests: wait for one to be released (or to expire)
  for (let waits = 0; db === 0; waits++) {
    if (waits === 2 * CLAIM_TTL_S) {
      claims.disconnect();
      throw new Error(`every database 1–${DATABASES} of ${base} stayed claimed by other tests for ${CLAIM_TTL_S} s`);
    }
    await sleep(500);
    db = await claim();
  }
  const key = `kensa-test:db:${db}`;
  const renew = setInterval(() => void claims.expire(key, CLAIM_TTL_S).catch(() => undefined), (CLAIM_TTL_S * 1000) / 3);
  const url = `${base}/${db}`;
  const queue = new Queue(QUEUE_NAME, { connection: parseQueueUrl(url) });
  after(async () => {
    clearInterval(renew);
    await queue.obliterate({ force: true });
    await queue.close();
    await claims.eval(RELEASE, 1, key, token);
    await claims.quit();
  });
  // jobs an earlier test left behind when it was killed would be taken by this test's workers
  await queue.obliterate({ force: true });
  return { url, queue };
}
