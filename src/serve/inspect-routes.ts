/**
 * Inspection routes. `POST /v1/inspect` takes one image as the raw request body (its
 * Content-Type one of IMAGE_TYPES) and answers its verdict, defects and (a classification
 * model's) label; `POST /v1/inspect/batch` takes JSON `{ images: [{ key?, data: base64 }] }`
 * and answers one result per image, in order (an image that fails answers its error in its
 * place). Both name a recipe (`recipe`, default the server's first) and may override its fields
 * (`params`, JSON merged into the recipe); with `mask=png` each result carries its defect mask as
 * a base64 PNG (`mask`, 255 = defect, the image's size). A deadline (`X-Deadline-Ms` header or
 * `deadlineMs` query: milliseconds from the request's arrival) is enforced while the image waits
 * for the device: 504 once it passes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { parseRecipe, type LoadedRecipe } from '../detect/recipe.js';
import { KensaError } from '../errors.js';
import { decodeBuffer, type DecodeOptions, type Frame } from '../pipeline/decode.js';
import { maskFileName } from '../pipeline/inspect.js';
import { MAX_ITEM_KEY_LENGTH, type ItemResult as StoredItem } from '../store/schema.js';
import { httpError, type ServiceContext, withStatus } from './app.js';
import type { Inspection } from './engine.js';

/** Raw body types and the file name decodeBuffer reads them as (its reader goes by extension). */
export const IMAGE_TYPES: Readonly<Record<string, string>> = {
  'image/png': 'upload.png',
  'image/jpeg': 'upload.jpg',
  'image/tiff': 'upload.tiff',
  'image/webp': 'upload.webp',
  'image/bmp': 'upload.bmp',
  'application/x-npy': 'upload.npy',
  'application/octet-stream': 'upload',
};

/** Recipe variants (a recipe with params) the server keeps lanes for; more are refused. */
const MAX_RECIPE_VARIANTS = 32;
const MAX_BATCH_IMAGES = 256;

/** A defect's fields as answers and /v1/defects serialize them. */
export const defectProperties = {
  x: { type: 'number' },
  y: { type: 'number' },
  w: { type: 'number' },
  h: { type: 'number' },
  area: { type: 'number' },
  score: { type: 'number' },
  meanGradient: { type: 'number' },
  class: { type: 'string', enum: ['crack', 'scratch', 'spot'] },
} as const;

const defectSchema = { type: 'object', properties: defectProperties } as const;

/** A classification model's top class and its score, as answers and /v1/items serialize it (null for other recipes). */
export const labelSchema = {
  type: ['object', 'null'],
  properties: { name: { type: 'string' }, score: { type: 'number' } },
  description: "a classification model's top class and its score; null for other recipes",
} as const;

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;

const resultSchema = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    run: { type: ['string', 'null'] },
    recipe: { type: 'string' },
    verdict: { type: 'string', enum: ['OK', 'NG'] },
    score: { type: 'number' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    defects: { type: 'array', items: defectSchema },
    label: labelSchema,
    timings: {
      type: 'object',
      properties: {
        decodeMs: { type: 'number' },
        queueMs: { type: 'number' },
        computeMs: { type: 'number' },
        deviceMs: { type: 'number' },
        batchSize: { type: 'integer' },
        serverMs: { type: 'number', description: 'from the request arriving (headers read) to its answer ready, body upload included' },
      },
    },
    mask: { type: 'string', description: 'base64 PNG of the defect mask (255 = defect), with mask=png' },
    error: errorSchema.properties.error,
  },
} as const;

const commonQuery = {
  recipe: { type: 'string', description: "a recipe's name (default: the server's first)" },
  model: { type: 'string', description: "a served model's name (--model NAME=PATH), instead of a recipe" },
  params: { type: 'string', description: 'JSON object merged into the recipe (e.g. {"threshold":{"value":3}})' },
  mask: { type: 'string', enum: ['png'], description: 'png: return each defect mask as a base64 PNG' },
  deadlineMs: { type: 'integer', minimum: 1, description: 'give up (504) if the image has not reached the device this many ms after arrival' },
} as const;

/** An item key a client names: what the store takes (an empty or longer key would be answered, then fail to store). */
const itemKeySchema = { type: 'string', minLength: 1, maxLength: MAX_ITEM_KEY_LENGTH } as const;

const batchBodySchema = {
  type: 'object',
  required: ['images'],
  additionalProperties: false,
  properties: {
    recipe: commonQuery.recipe,
    model: commonQuery.model,
    params: { type: 'object', description: 'merged into the recipe' },
    mask: commonQuery.mask,
    images: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_BATCH_IMAGES,
      items: {
        type: 'object',
        required: ['data'],
        additionalProperties: false,
        properties: {
          key: itemKeySchema,
          data: { type: 'string', contentEncoding: 'base64', description: 'the image file, base64' },
        },
      },
    },
  },
} as const;

interface InspectQuery {
  recipe?: string;
  model?: string;
  params?: string;
  mask?: 'png';
  deadlineMs?: number;
  key?: string;
}

interface BatchBody {
  recipe?: string;
  model?: string;
  params?: Record<string, unknown>;
  mask?: 'png';
  images: { key?: string; data: string }[];
}

export interface InspectResult {
  key: string;
  run: string | null;
  recipe: string;
  verdict: 'OK' | 'NG';
  score: number;
  width: number;
  height: number;
  defects: Inspection['detection']['defects'];
  label: { name: string; score: number } | null;
  timings: { decodeMs: number; queueMs: number; computeMs: number; deviceMs: number; batchSize: number; serverMs?: number };
  mask?: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `params` merged into `base`, objects field by field. */
function merge(base: unknown, params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = isPlainObject(base) ? { ...base } : {};
  for (const [k, v] of Object.entries(params)) out[k] = isPlainObject(v) && isPlainObject(out[k]) ? merge(out[k], v) : v;
  return out;
}

/** What a request names: a recipe, or a served model (not both), and params merged into it. */
interface Choice {
  recipe?: string | undefined;
  model?: string | undefined;
  params?: unknown;
}

/** The model a request names; 404 listing the served models when there is none of that name. */
function modelOf(context: ServiceContext, name: string): LoadedRecipe {
  const found = context.models.get(name);
  if (found) return found;
  const served = [...context.models.keys()];
  const list = served.length > 0 ? `one of ${served.join(', ')}` : 'a served model (this server serves none: start it with --model NAME=PATH)';
  throw new KensaError('KENSA_ERR_NOT_FOUND', `Expected ${list} for model but received ${JSON.stringify(name)}`);
}

/** The recipe a request names (a recipe, or a model), with its params applied. */
function recipeOf(context: ServiceContext, variants: Map<string, LoadedRecipe>, choice: Choice): LoadedRecipe {
  const { recipe: name, model, params } = choice;
  if (model !== undefined && name !== undefined)
    throw new KensaError(
      'KENSA_ERR_BAD_REQUEST',
      `Expected a recipe or a model but received both (recipe ${JSON.stringify(name)}, model ${JSON.stringify(model)})`,
    );
  const base = model !== undefined ? modelOf(context, model) : name === undefined ? context.defaultRecipe : context.recipes.get(name);
  if (!base)
    throw new KensaError('KENSA_ERR_BAD_REQUEST', `Expected one of ${[...context.recipes.keys()].join(', ')} for recipe but received ${JSON.stringify(name)}`);
  if (params === undefined) return base;
  if (!isPlainObject(params)) throw new KensaError('KENSA_ERR_BAD_REQUEST', `Expected a JSON object for params but received ${JSON.stringify(params)}`);
  const loaded = parseRecipe(merge(JSON.parse(base.json), params), `recipe ${base.recipe.name} with params`);
  const known = variants.get(loaded.hash);
  if (known) return known;
  if (variants.size >= MAX_RECIPE_VARIANTS)
    throw new KensaError(
      'KENSA_ERR_BAD_REQUEST',
      `This server already batches ${MAX_RECIPE_VARIANTS} recipe variants, its limit; send params it has seen, or start a server with the recipe`,
    );
  variants.set(loaded.hash, loaded);
  return loaded;
}

function parseParams(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new KensaError('KENSA_ERR_BAD_REQUEST', `Expected a JSON object for params but received ${JSON.stringify(text.slice(0, 80))}`);
  }
}

/** Form fields a multipart upload may carry beside its image files (as the raw body's query). */
const FORM_FIELDS = ['recipe', 'model', 'params', 'mask', 'key'] as const;

interface Upload {
  fields: Partial<Record<(typeof FORM_FIELDS)[number], string>>;
  files: { bytes: Buffer; name: string }[];
}

/** The Content-Type of a raw image body as decodeBuffer's file name; 415 for another type. */
function imageName(contentType: string | undefined, what: string): string {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (Object.hasOwn(IMAGE_TYPES, type)) return IMAGE_TYPES[type]!;
  const message = `Expected one of ${Object.keys(IMAGE_TYPES).join(', ')} for the Content-Type of ${what} but received ${JSON.stringify(type)}`;
  throw withStatus(new KensaError('KENSA_ERR_BAD_REQUEST', message), 415);
}

/**
 * A multipart/form-data request's image files (each with an image Content-Type, at most
 * `maxFiles`, together within the body limit: 413 past it) and its FORM_FIELDS; any other field is a 400.
 */
async function readUpload(request: FastifyRequest, maxFiles: number, bodyLimit: number): Promise<Upload> {
  const upload: Upload = { fields: {}, files: [] };
  let total = 0;
  for await (const part of request.parts()) {
    if (part.type === 'field') {
      if (!(FORM_FIELDS as readonly string[]).includes(part.fieldname) || typeof part.value !== 'string')
        throw new KensaError(
          'KENSA_ERR_BAD_REQUEST',
          `Expected form fields among ${FORM_FIELDS.join(', ')} and image files but received the field ${JSON.stringify(part.fieldname)}`,
        );
      if (part.fieldname === 'mask' && part.value !== 'png')
        throw new KensaError('KENSA_ERR_BAD_REQUEST', `Expected png for the field mask but received ${JSON.stringify(part.value.slice(0, 80))}`);
      if (part.fieldname === 'key' && (part.value.length < 1 || part.value.length > MAX_ITEM_KEY_LENGTH))
        throw new KensaError(
          'KENSA_ERR_BAD_REQUEST',
          `Expected 1 to ${MAX_ITEM_KEY_LENGTH} characters for the field key but received ${part.value.length} characters`,
        );
      upload.fields[part.fieldname as (typeof FORM_FIELDS)[number]] = part.value;
      continue;
    }
    const name = imageName(part.mimetype, `the file ${JSON.stringify(part.filename)}`);
    if (upload.files.length === maxFiles) throw new KensaError('KENSA_ERR_BAD_REQUEST', `Expected at most ${maxFiles} image files but received more`);
    const bytes = await part.toBuffer();
    total += bytes.length;
    if (total > bodyLimit)
      throw withStatus(new KensaError('KENSA_ERR_BAD_REQUEST', `The uploaded files pass the body limit of ${bodyLimit} bytes (--body-limit)`), 413);
    upload.files.push({ bytes, name });
  }
  if (upload.files.length === 0)
    throw new KensaError('KENSA_ERR_BAD_REQUEST', 'Expected at least one image file in the multipart/form-data body but received none');
  return upload;
}

/** The deadline of a request, as a performance.now() time: its header or query, counted from arrival. */
function deadlineOf(request: FastifyRequest, query: InspectQuery, arrived: number): number | undefined {
  const header = request.headers['x-deadline-ms'];
  const text = Array.isArray(header) ? header[0] : header;
  if (text !== undefined) {
    const ms = Number(text);
    if (!/^\d+$/.test(text.trim()) || !(ms >= 1))
      throw new KensaError('KENSA_ERR_BAD_REQUEST', `Expected an integer ≥ 1 for X-Deadline-Ms but received ${JSON.stringify(text)}`);
    return arrived + ms;
  }
  return query.deadlineMs === undefined ? undefined : arrived + query.deadlineMs;
}

/** 8-bit PNG of a detection mask (255 = defect). */
function maskPng(mask: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(mask, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}

export async function inspectPlugin(app: FastifyInstance): Promise<void> {
  const context = app.kensa;
  const engine = context.engine!;
  const variants = new Map<string, LoadedRecipe>();
  let counter = 0;

  app.addContentTypeParser(Object.keys(IMAGE_TYPES), { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  const bodyLimit = app.initialConfig.bodyLimit!;
  // each file within the body limit, as a raw body is; the request's files together are checked in readUpload
  await app.register(multipart, { limits: { fileSize: bodyLimit, files: MAX_BATCH_IMAGES, fields: FORM_FIELDS.length, fieldSize: 64 * 1024 } });

  /** One image: decode, queue, store, answer. */
  async function inspectOne(
    loaded: LoadedRecipe,
    bytes: Buffer,
    name: string,
    key: string,
    wantMask: boolean,
    deadline: number | undefined,
  ): Promise<InspectResult> {
    engine.admit();
    const t = performance.now();
    let image: Frame;
    let hash: string;
    const options: DecodeOptions = {
      channels: 'gray',
      maxPixels: context.maxImagePixels,
      scale: loaded.recipe.input.scale,
      jpegOnDevice: context.jpegOnDevice,
    };
    // the bytes travel to a worker (and back, on success): their size is read before
    const sizeBytes = bytes.length;
    try {
      ({ image, bytes, hash } = await context.decode(name, bytes, options));
    } catch (e) {
      await failed(loaded, key, sizeBytes, e, performance.now() - t);
      throw e;
    }
    const decodeMs = performance.now() - t;
    context.metrics.decode.observe(decodeMs / 1000);
    const upload = bytes;
    let inspection: Inspection;
    try {
      inspection = await engine.submit(loaded, image, {
        wantMask: wantMask || context.imagesDir !== null,
        redecode: () => decodeBuffer(name, upload, { ...options, jpegOnDevice: false }),
        ...(deadline !== undefined ? { deadline } : {}),
      });
    } catch (e) {
      // only the image's own failure (its JPEG undecodable on the GPU and by sharp) counts; a deadline or an overload does not
      if (e instanceof KensaError && e.code === 'KENSA_ERR_DECODE') await failed(loaded, key, sizeBytes, e, decodeMs);
      throw e;
    }
    context.metrics.queueWait.observe(inspection.queueMs / 1000);
    const { detection } = inspection;
    const { width, height } = image.original;
    context.metrics.images.inc({ recipe: loaded.recipe.name, verdict: detection.verdict });
    const png = detection.mask && (wantMask || context.imagesDir) ? await maskPng(detection.mask, width, height) : null;
    const run = context.recorder ? await context.recorder.runFor(loaded) : null;
    let path = `http:${key}`;
    if (run && context.imagesDir) {
      const dir = join(context.imagesDir, run);
      path = join(dir, 'images', key.replace(/[^\w.-]/g, '_'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes);
      if (png) {
        const maskPath = join(dir, maskFileName(key));
        await mkdir(dirname(maskPath), { recursive: true });
        await writeFile(maskPath, png);
      }
    }
    if (run && context.recorder) {
      const item: StoredItem = {
        itemKey: key,
        path,
        contentHash: hash,
        sizeBytes: bytes.length,
        width,
        height,
        status: detection.verdict === 'NG' ? 'ng' : 'ok',
        verdict: detection.verdict,
        score: detection.score,
        label: detection.label ?? null,
        stageTimings: { decode: decodeMs, queue: inspection.queueMs, detect: inspection.computeMs / inspection.batchSize },
        defects: detection.defects,
      };
      context.recorder.record(run, item);
    }
    return {
      key,
      run,
      recipe: loaded.recipe.name,
      verdict: detection.verdict,
      score: detection.score,
      width,
      height,
      defects: detection.defects,
      label: detection.label ?? null,
      timings: { decodeMs, queueMs: inspection.queueMs, computeMs: inspection.computeMs, deviceMs: inspection.deviceMs, batchSize: inspection.batchSize },
      ...(wantMask && png ? { mask: png.toString('base64') } : {}),
    };
  }

  /**
   * An upload that failed before or in the engine: counted; one whose image cannot be decoded is stored as an error item of the recipe's run
   * (as `inspect` stores an unreadable file), so the dashboard and /v1/items show it. A store that is
   * down costs the request nothing: the answer is the decode error.
   */
  async function failed(loaded: LoadedRecipe, key: string, sizeBytes: number, e: unknown, decodeMs: number): Promise<void> {
    context.metrics.images.inc({ recipe: loaded.recipe.name, verdict: 'error' });
    if (!context.recorder || !(e instanceof KensaError && e.code === 'KENSA_ERR_DECODE')) return;
    const run = await context.recorder.runFor(loaded).catch(() => null);
    if (run === null) return;
    context.recorder.record(run, {
      itemKey: key,
      path: `http:${key}`,
      contentHash: null,
      sizeBytes,
      width: null,
      height: null,
      status: 'error',
      error: e.message,
      stageTimings: { decode: decodeMs },
      defects: [],
    });
  }

  const nextKey = () => `${Date.now().toString(36)}-${(counter++).toString(36)}`;

  app.post<{ Querystring: InspectQuery; Body: Buffer }>(
    '/v1/inspect',
    {
      schema: {
        summary: 'Inspect one image: the raw request body, or one file of a multipart/form-data body (fields recipe, model, params, mask, key)',
        consumes: [...Object.keys(IMAGE_TYPES), 'multipart/form-data'],
        querystring: {
          type: 'object',
          properties: { ...commonQuery, key: { ...itemKeySchema, description: 'the item key stored for this image (default: a fresh id)' } },
          additionalProperties: false,
        },
        headers: { type: 'object', properties: { 'x-deadline-ms': { type: 'string', description: 'deadline in ms from arrival' } } },
        response: { 200: resultSchema, '4xx': errorSchema, '5xx': errorSchema },
      },
    },
    async (request, reply) => {
      const arrived = performance.now();
      const deadline = deadlineOf(request, request.query, arrived);
      let result: InspectResult;
      if (request.isMultipart()) {
        const { fields, files } = await readUpload(request, 1, bodyLimit);
        const q = { ...request.query, ...fields };
        const loaded = recipeOf(context, variants, { recipe: q.recipe, model: q.model, params: parseParams(q.params) });
        result = await inspectOne(loaded, files[0]!.bytes, files[0]!.name, q.key ?? nextKey(), q.mask === 'png', deadline);
      } else {
        const name = imageName(request.headers['content-type'], 'the body');
        const q = request.query;
        const loaded = recipeOf(context, variants, { recipe: q.recipe, model: q.model, params: parseParams(q.params) });
        result = await inspectOne(loaded, request.body, name, request.query.key ?? nextKey(), request.query.mask === 'png', deadline);
      }
      // the server's whole share of the request (a load generator subtracts it from its latency)
      result.timings.serverMs = reply.elapsedTime;
      return result;
    },
  );

  app.post<{ Querystring: InspectQuery; Body: BatchBody }>(
    '/v1/inspect/batch',
    {
      schema: {
        summary: 'Inspect several images (JSON with base64 images, or multipart/form-data files); one result or error per image, in order',
        consumes: ['application/json', 'multipart/form-data'],
        querystring: { type: 'object', properties: { deadlineMs: commonQuery.deadlineMs }, additionalProperties: false },
        body: { content: { 'application/json': { schema: batchBodySchema }, 'multipart/form-data': { schema: {} } } },
        response: { 200: { type: 'object', properties: { results: { type: 'array', items: resultSchema } } }, '4xx': errorSchema, '5xx': errorSchema },
      },
    },
    async (request) => {
      const arrived = performance.now();
      const deadline = deadlineOf(request, request.query, arrived);
      let body: {
        recipe?: string | undefined;
        model?: string | undefined;
        params?: unknown;
        mask?: string | undefined;
        images: { key?: string | undefined; bytes: Buffer; name: string }[];
      };
      if (request.isMultipart()) {
        const { fields, files } = await readUpload(request, MAX_BATCH_IMAGES, bodyLimit);
        if (fields.key !== undefined)
          throw new KensaError('KENSA_ERR_BAD_REQUEST', 'Expected no key field in a batch (each image gets its own key) but received one');
        body = { recipe: fields.recipe, model: fields.model, params: parseParams(fields.params), mask: fields.mask, images: files };
      } else {
        const json = request.body;
        body = { ...json, images: json.images.map((img) => ({ key: img.key, bytes: Buffer.from(img.data, 'base64'), name: 'upload' })) };
      }
      const loaded = recipeOf(context, variants, body);
      const batchKey = nextKey();
      const results = await Promise.all(
        body.images.map((img, i) => {
          const key = img.key ?? `${batchKey}/${i}`;
          return inspectOne(loaded, img.bytes, img.name, key, body.mask === 'png', deadline).catch((e: unknown) => {
            const { code, message } = httpError(e);
            return { key, error: { code, message } };
          });
        }),
      );
      return { results };
    },
  );
}
