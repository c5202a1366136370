/**
 * A lost database during a run, on each server dialect: the task table and the store are reached
 * through a TCP proxy that cuts every connection and refuses new ones (a network outage). A
 * short outage pauses the run with a visible status and it goes on; one longer than --db-retry
 * ends it resumably with an error that says how to resume, and the resumed run finishes. Both
 * leave every score written back once and every item stored once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { run as inspectCli } from '../../src/cli/inspect.js';
import type { CliIO } from '../../src/cli/io.js';
import { formatProgressLine, ProgressMeter } from '../../src/pipeline/progress.js';
import type { DatabasePause } from '../../src/pipeline/retry.js';
import { tempDir } from '../_kit/tmp.js';
import { DIALECTS, scratchDatabase } from '../store/_dialects.js';
import { type DatabaseProxy, startProxy } from './_proxy.js';
import { checkWrittenOnce, seed, WRITE_BACK } from './_tasks.js';

const ROWS = 60;

test('the progress line shows a pause: what waits, the retry and since when', () => {
  const pause: DatabasePause = { stage: 'storing 64 results of run r', retry: 3, since: Date.UTC(2026, 11, 6, 12, 0, 3), error: 'ECONNREFUSED' };
  const line = formatProgressLine({ ...new ProgressMeter(10).snapshot({ decoded: 0, batches: 0, batching: 0 }), paused: pause });
  assert.match(line, / · paused: waiting for database \(storing 64 results of run r\), retry 3, since 12:00:03 UTC$/);
});

interface Events {
  pauses: DatabasePause[];
  resumed: number;
  text: string;
}

/** `kensa inspect --tasks … --write-back …` through the proxy; `onFirstProgress` runs once, when an item is done. */
async function inspectThrough(
  proxy: DatabaseProxy,
  project: string,
  extra: string[],
  onFirstProgress: () => void,
): Promise<{ code: number; runId: string | null; events: Events; argv: string[] }> {
  const events: Events = { pauses: [], resumed: 0, text: '' };
  let fired = false;
  let runId: string | null = null;
  const io = {
    out: { write: () => true },
    err: {
      write: (s: string) => {
        events.text += s;
        for (const line of s.split('\n')) {
          if (!line.startsWith('{')) {
            runId ??= /run (\S+) started/.exec(line)?.[1] ?? null;
            continue;
          }
          const p = JSON.parse(line) as { done: number; paused?: DatabasePause | null };
          if (p.paused) events.pauses.push(p.paused);
          else if (p.paused === null) events.resumed++;
          if (!fired && p.done > 0) {
            fired = true;
            onFirstProgress();
          }
        }
        return true;
      },
    },
  } as unknown as CliIO;
  const argv = [
    '--tasks',
    proxy.url,
    '--query',
    'SELECT id, sid FROM panoramas',
    '--path',
    join(project, '{sid}_{position}.png'),
    '--fan-out',
    'position=xm,xp,zm,zp',
    '--write-back',
    WRITE_BACK,
    '--db',
    proxy.url,
    '--device',
    'cpu',
    '--post-workers',
    '0',
    '--batch',
    '4',
    '--progress',
    'json',
    ...extra,
  ];
  const code = await inspectCli(argv, io);
  return { code, runId, events, argv };
}

describe('a lost database pauses the run', () => {
  for (const dialect of DIALECTS.filter((d) => d !== 'sqlite')) {
    test(`${dialect}: cut off for 2 s, the run shows it paused, reconnects and writes everything once`, async (t) => {
      const scratch = await scratchDatabase(dialect);
      if (typeof scratch === 'string') return t.skip(scratch);
      after(() => scratch.drop());
      const dir = tempDir('kensa-outage-');
      const project = await seed(scratch.url, dir, ROWS);
      const proxy = await startProxy(scratch.url);
      after(() => proxy.close());
      let outage: Promise<void> = Promise.resolve();
      const { code, runId, events } = await inspectThrough(proxy, project, [], () => {
        outage = proxy.block().then(() => sleep(2000).then(() => proxy.unblock()));
      });
      await outage;
      assert.equal(code, 0, events.text.slice(-2000));
      assert.ok(events.pauses.length > 0, 'the progress showed a pause');
      const last = events.pauses.at(-1)!;
      assert.match(last.stage, /results/);
      assert.ok(Math.max(...events.pauses.map((p) => p.retry)) >= 2, 'retried more than once during the outage');
      assert.ok(events.resumed > 0, 'the pause ended in the progress');
      assert.ok(runId, 'the run id was printed');
      await checkWrittenOnce(scratch.url, scratch.url, runId, ROWS);
    });

    test(`${dialect}: away longer than --db-retry, the run stops resumably with a clear error, and the resume finishes it`, async (t) => {
      const scratch = await scratchDatabase(dialect);
      if (typeof scratch === 'string') return t.skip(scratch);
      after(() => scratch.drop());
      const dir = tempDir('kensa-outage-long-');
      const project = await seed(scratch.url, dir, ROWS);
      const proxy = await startProxy(scratch.url);
      after(() => proxy.close());
      const first = await inspectThrough(proxy, project, ['--db-retry', '2'], () => void proxy.block());
      assert.equal(first.code, 1);
      assert.match(
        first.events.text,
        /failed \(retried for \d+ s; resume the run once the database is back\): .*; resume with: kensa inspect .* --resume \S+ \[KENSA_ERR_STORE\]/,
      );
      const resume = /resume with: kensa inspect .* --resume (\S+) \[KENSA_ERR_STORE\]/.exec(first.events.text)![1]!;
      assert.equal(resume, first.runId);
      await proxy.unblock();
      const second = await inspectThrough(proxy, project, ['--resume', resume], () => undefined);
      assert.equal(second.code, 0, second.events.text.slice(-2000));
      await checkWrittenOnce(scratch.url, scratch.url, resume, ROWS);
    });
  }
});
