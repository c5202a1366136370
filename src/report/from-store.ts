/**
 * A run's report from what the store holds: the run row and its sessions, its items (paged, so a
 * million items never sit in memory) with their defects, and the masks written with `--masks`.
 * NG items come by score, highest first (as `kensa inspect` lists them), the others by key.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KensaError } from '../errors.js';
import { maskFileName } from '../pipeline/inspect.js';
import type { ItemRecord } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { writeReport, type ReportItem, type ReportResult } from './report.js';

const PAGE = 500;

async function* itemsOf(store: Store, runId: string, masksDir: string | undefined): AsyncGenerator<ReportItem> {
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.items(runId, { status: 'ng', order: 'score', limit: PAGE, offset });
    for (const it of page) yield await toReportItem(store, it, masksDir);
    if (page.length < PAGE) break;
  }
  let after: string | undefined;
  for (;;) {
    const page = await store.items(runId, { limit: PAGE, ...(after !== undefined ? { after } : {}) });
    for (const it of page) if (it.status !== 'ng') yield await toReportItem(store, it, masksDir);
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.itemKey;
  }
}

async function toReportItem(store: Store, it: ItemRecord, masksDir: string | undefined): Promise<ReportItem> {
  const mask = masksDir ? join(masksDir, maskFileName(it.itemKey)) : null;
  return {
    path: it.path,
    status: it.status,
    verdict: it.verdict,
    score: it.score,
    error: it.error,
    width: it.width,
    height: it.height,
    stageTimings: it.stageTimings,
    defects:
      it.status === 'ng'
        ? (await store.defects(it.runId, it.itemKey)).map((d) => ({
            x: d.x,
            y: d.y,
            w: d.w,
            h: d.h,
            area: d.area,
            score: d.score,
            class: d.class,
            meanGradient: d.meanGradient,
          }))
        : [],
    maskPath: mask && existsSync(mask) ? mask : null,
  };
}

/** Writes the HTML report of run `runId` into `dir`. */
export async function writeRunReport(store: Store, runId: string, dir: string, masksDir?: string): Promise<ReportResult> {
  const run = await store.getRun(runId);
  if (!run)
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected the id of a run in the store ${store.url} for runId but received ${JSON.stringify(runId)}`);
  const elapsed = run.timings.elapsedMs ?? 0;
  const totals = new Map<string, number>();
  let after: string | undefined;
  for (;;) {
    const page = await store.items(runId, { limit: PAGE, ...(after !== undefined ? { after } : {}) });
    for (const it of page) for (const [k, v] of Object.entries(it.stageTimings)) totals.set(k, (totals.get(k) ?? 0) + v);
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.itemKey;
  }
  const sources = run.options.sources;
  return writeReport(dir, {
    run: {
      id: run.id,
      recipe: { name: run.recipeName, hash: run.recipeHash },
      device: run.device,
      totalMs: elapsed,
      stages: [...totals].map(([name, ms]) => ({ name, ms })),
      startedAt: run.createdAt,
      source: Array.isArray(sources) ? sources.join(' ') : null,
      sessions: await store.sessions(runId),
    },
    items: itemsOf(store, runId, masksDir),
  });
}
