/**
 * Stored results, from the store `kensa inspect` and the service write to: `GET /v1/runs`,
 * `/v1/runs/:id/throughput`, `/v1/items` (keyset pagination by item key: pass the `next` it
 * answered as `after`; offset pagination for order=score), `/v1/defects`, and an item's original
 * image and mask where the run kept them (`/v1/items/original`, `/v1/items/mask`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { KensaError } from '../errors.js';
import { maskFileName } from '../pipeline/inspect.js';
import type { RunRecord } from '../store/schema.js';
import { defectProperties, labelSchema } from './inspect-routes.js';
import type { Store } from '../store/store.js';

const MAX_PAGE = 1000;
const MAX_THROUGHPUT_ITEMS = 200_000;

const runSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    createdAt: { type: 'string' },
    finishedAt: { type: ['string', 'null'] },
    status: { type: 'string' },
    recipeName: { type: 'string' },
    recipeHash: { type: 'string' },
    device: { type: 'string' },
    service: { type: 'boolean' },
    counts: { type: 'object', properties: { total: { type: 'integer' }, ok: { type: 'integer' }, ng: { type: 'integer' }, error: { type: 'integer' } } },
    timings: { type: 'object', additionalProperties: { type: 'number' } },
  },
} as const;

const itemSchema = {
  type: 'object',
  properties: {
    runId: { type: 'string' },
    itemKey: { type: 'string' },
    path: { type: 'string' },
    width: { type: ['integer', 'null'] },
    height: { type: ['integer', 'null'] },
    status: { type: 'string' },
    error: { type: ['string', 'null'] },
    verdict: { type: ['string', 'null'] },
    score: { type: ['number', 'null'] },
    label: labelSchema,
    stageTimings: { type: 'object', additionalProperties: { type: 'number' } },
    createdAt: { type: 'string' },
  },
} as const;

const defectSchema = {
  type: 'object',
  properties: {
    runId: { type: 'string' },
    itemKey: { type: 'string' },
    idx: { type: 'integer' },
    ...defectProperties,
  },
} as const;

const page = {
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
  offset: { type: 'integer', minimum: 0, default: 0 },
} as const;

const itemRef = {
  type: 'object',
  required: ['run', 'key'],
  properties: { run: { type: 'string', maxLength: 64 }, key: { type: 'string', maxLength: 700 } },
  additionalProperties: false,
} as const;

/** A run as listed: a running run's counts are counted now (they are stored when it finishes). */
async function listed(store: Store, run: RunRecord): Promise<RunRecord & { service: boolean }> {
  const counts = run.status === 'running' ? await store.counts(run.id) : run.counts;
  return { ...run, counts, service: run.options.service === true };
}

async function requireRun(store: Store, id: string): Promise<RunRecord> {
  const run = await store.getRun(id).catch(() => undefined);
  if (!run) throw new KensaError('KENSA_ERR_NOT_FOUND', `Expected the id of a stored run for run but received ${JSON.stringify(id)}`);
  return run;
}

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.webp': 'image/webp',
  '.bmp': 'image/bmp',
};

export async function resultsPlugin(app: FastifyInstance): Promise<void> {
  const store = app.kensa.store!;

  app.get<{ Querystring: { status?: string; recipe?: string; limit: number; offset: number } }>(
    '/v1/runs',
    {
      schema: {
        summary: 'Runs, newest first (batch and service runs)',
        querystring: {
          type: 'object',
          properties: { status: { type: 'string', enum: ['running', 'interrupted', 'done', 'failed'] }, recipe: { type: 'string' }, ...page },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { runs: { type: 'array', items: runSchema }, total: { type: 'integer' } } } },
      },
    },
    async (request) => {
      const { status, recipe, limit, offset } = request.query;
      const all = (await store.listRuns()).filter((r) => (status === undefined || r.status === status) && (recipe === undefined || r.recipeName === recipe));
      const runs = await Promise.all(all.slice(offset, offset + limit).map((r) => listed(store, r)));
      return { runs, total: all.length };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { bucketS: number } }>(
    '/v1/runs/:id/throughput',
    {
      schema: {
        summary:
          "Images stored per time bucket of a run (its items' write times), with the mean time of each stage over the images inspected (errors left out)",
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
        querystring: { type: 'object', properties: { bucketS: { type: 'integer', minimum: 1, maximum: 86_400, default: 1 } }, additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: {
              bucketS: { type: 'integer' },
              points: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    t: { type: 'string' },
                    images: { type: 'integer' },
                    ng: { type: 'integer' },
                    error: { type: 'integer' },
                    stages: { type: 'object', description: 'mean ms of each stage per image judged OK or NG', additionalProperties: { type: 'number' } },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      await requireRun(store, request.params.id);
      const bucketMs = request.query.bucketS * 1000;
      const rows = await store.db
        .selectFrom('items')
        .select(['created_at', 'status', 'stage_timings_json'])
        .where('run_id', '=', request.params.id)
        .orderBy('created_at')
        .limit(MAX_THROUGHPUT_ITEMS)
        .execute();
      const buckets = new Map<number, { images: number; ng: number; error: number; sums: Record<string, number> }>();
      for (const r of rows) {
        const t = Math.floor(Date.parse(r.created_at) / bucketMs) * bucketMs;
        const b = buckets.get(t) ?? { images: 0, ng: 0, error: 0, sums: {} };
        b.images++;
        if (r.status === 'ng') b.ng++;
        buckets.set(t, b);
        // an error item ran only the stages before its failure: counted in the means, it would pull them down
        if (r.status === 'error') {
          b.error++;
          continue;
        }
        for (const [stage, ms] of Object.entries(JSON.parse(r.stage_timings_json) as Record<string, number>)) b.sums[stage] = (b.sums[stage] ?? 0) + ms;
      }
      const points = [...buckets].map(([t, b]) => ({
        t: new Date(t).toISOString(),
        images: b.images,
        ng: b.ng,
        error: b.error,
        stages: Object.fromEntries(Object.entries(b.sums).map(([stage, sum]) => [stage, sum / (b.images - b.error)])),
      }));
      return { bucketS: request.query.bucketS, points };
    },
  );

  app.get<{ Querystring: { run: string; status?: 'ok' | 'ng' | 'error'; order?: 'key' | 'score'; after?: string; limit: number; offset?: number } }>(
    '/v1/items',
    {
      schema: {
        summary: "A run's items: keyset pages by key (after = the previous page's next), offset pages by score",
        querystring: {
          type: 'object',
          required: ['run'],
          properties: {
            run: { type: 'string', maxLength: 64 },
            status: { type: 'string', enum: ['ok', 'ng', 'error'] },
            order: { type: 'string', enum: ['key', 'score'] },
            after: { type: 'string', maxLength: 700 },
            limit: page.limit,
            offset: { type: 'integer', minimum: 0 },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: itemSchema }, next: { type: ['string', 'null'] } } } },
      },
    },
    async (request) => {
      const { run, status, order, after, limit, offset } = request.query;
      await requireRun(store, run);
      if (after !== undefined && order === 'score') throw new KensaError('KENSA_ERR_BAD_REQUEST', 'Expected offset, not after, for order=score');
      if (offset !== undefined && order !== 'score') throw new KensaError('KENSA_ERR_BAD_REQUEST', 'Expected after, not offset, for order=key (keyset pages)');
      const items = await store.items(run, {
        limit,
        ...(status ? { status } : {}),
        ...(order ? { order } : {}),
        ...(after !== undefined ? { after } : {}),
        ...(offset !== undefined ? { offset } : {}),
      });
      const next = order !== 'score' && items.length === limit ? items[items.length - 1]!.itemKey : null;
      return { items, next };
    },
  );

  app.get<{ Querystring: { run: string; item?: string; class?: string; limit: number; offset: number } }>(
    '/v1/defects',
    {
      schema: {
        summary: "A run's defects (of one item, of one class), by item key and index",
        querystring: {
          type: 'object',
          required: ['run'],
          properties: {
            run: { type: 'string', maxLength: 64 },
            item: { type: 'string', maxLength: 700 },
            class: { type: 'string', enum: ['crack', 'scratch', 'spot'] },
            ...page,
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { defects: { type: 'array', items: defectSchema }, total: { type: 'integer' } } } },
      },
    },
    async (request) => {
      const { run, item, limit, offset } = request.query;
      await requireRun(store, run);
      const all = (await store.defects(run, item)).filter((d) => request.query.class === undefined || d.class === request.query.class);
      return { defects: all.slice(offset, offset + limit), total: all.length };
    },
  );

  /** An item's file, or 404 when the run did not keep it. */
  async function itemFile(runId: string, key: string, which: 'original' | 'mask'): Promise<{ bytes: Buffer; type: string }> {
    const run = await requireRun(store, runId);
    const item = await store.db.selectFrom('items').select('path').where('run_id', '=', runId).where('item_key', '=', key).executeTakeFirst();
    if (!item) throw new KensaError('KENSA_ERR_NOT_FOUND', `Expected the key of an item of run ${runId} for key but received ${JSON.stringify(key)}`);
    const masks = typeof run.options.masks === 'string' ? run.options.masks : null;
    const path =
      which === 'original'
        ? item.path
        : masks === null
          ? null
          : run.options.service === true
            ? join(masks, runId, maskFileName(key))
            : join(masks, maskFileName(key));
    const ext = path?.slice(path.lastIndexOf('.')).toLowerCase() ?? '';
    if (path === null || !(which === 'mask' || Object.hasOwn(CONTENT_TYPES, ext) || run.options.service === true))
      throw new KensaError('KENSA_ERR_NOT_FOUND', `Run ${runId} kept no ${which} for item ${key}`);
    try {
      return { bytes: await readFile(path), type: CONTENT_TYPES[ext] ?? 'application/octet-stream' };
    } catch {
      throw new KensaError('KENSA_ERR_NOT_FOUND', `The ${which} of item ${key} of run ${runId} is no longer at ${path}`);
    }
  }

  for (const which of ['original', 'mask'] as const) {
    app.get<{ Querystring: { run: string; key: string } }>(
      `/v1/items/${which}`,
      {
        schema: {
          summary: `An item's ${which === 'original' ? 'original image' : 'defect mask (PNG, 255 = defect)'}, where its run kept it`,
          querystring: itemRef,
        },
      },
      async (request, reply) => {
        const file = await itemFile(request.query.run, request.query.key, which);
        return reply.type(file.type).send(file.bytes);
      },
    );
  }
}
