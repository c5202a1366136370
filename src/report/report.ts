/**
 * The HTML report of an inspection run: `writeReport(dir, data)` writes a self-contained folder
 * (no scripts, no network, inline CSS; images only from the folder itself):
 *
 *   index.html            summary (run, recipe, device, counts, inspection throughput, the
 *                         report's own writing time, stage timings),
 *                         NG gallery page 1, OK samples, error table page 1, report notes
 *   gallery-<k>.html      NG gallery page k ≥ 2 (`galleryPageSize` thumbnails per page)
 *   errors-<k>.html       error table page k ≥ 2 (`errorPageSize` rows per page)
 *   items/<name>.html     one page per NG item, error item and the first `okItemPages` OK items
 *   thumbs/<name>.jpg     thumbnails with the defect boxes (and tinted mask) drawn on them
 *   images/<name>.jpg     the item pages' larger images, same overlays
 *
 * `<name>` is safeName(item.path): no path separators, no traversal, unique per path.
 * Items stream through (an array or any async iterable, e.g. rows read from the store): memory
 * holds one gallery page, one error page and the OK samples, never the whole run. An image
 * that cannot be rendered (moved, corrupt, unreadable mask) becomes a placeholder with the
 * reason, is listed under "Report notes", and the report goes on. Listings keep the order the
 * items come in (writeRunReport gives NG items by score, highest first, as the CLI lists them).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { integerInRange, invalidParameter, is, oneOf } from '../validate.js';
import { baseName, classLabel, duration, escapeHtml, legend, num, page, pager, plural, safeName } from './html.js';
import { renderOverlays, type DefectClass, type RawImage } from './overlay.js';
import type { Defect } from '../store/schema.js';

export type { DefectClass, RawImage } from './overlay.js';

export const DEFECT_CLASSES = ['crack', 'scratch', 'spot'] as const satisfies readonly DefectClass[];

/** One defect of an item, in the image's pixel coordinates: the store's defect without its mask. */
export type ReportDefect = Omit<Defect, 'maskRle'>;

/** One inspected item as the store holds it. */
export interface ReportItem {
  /** The source path (shown as text; the thumbnail is read from it unless options.readImage says otherwise). */
  path: string;
  /** As the store's items.status: 'ok' and 'ng' were inspected; 'error' could not be, and has a message. */
  status: 'ok' | 'ng' | 'error';
  /** The recipe's verdict text, shown as is (the status decides where the item is listed). */
  verdict?: string | null;
  score?: number | null;
  /** The error message when status is 'error'. */
  error?: string | null;
  /** The image's full size, the frame of the defect boxes (read from the file when omitted). */
  width?: number | null;
  height?: number | null;
  defects?: readonly ReportDefect[];
  /** An 8-bit predicted mask (255 = defect) to tint over the image. */
  maskPath?: string | null;
  /** Per-stage milliseconds for this item (stage name → ms). */
  stageTimings?: Readonly<Record<string, number>> | null;
}

/** A pipeline stage's time over the run. */
export interface ReportStage {
  name: string;
  /** Busy milliseconds summed over the stage's workers (may exceed the wall time). */
  ms: number;
  /** Items the stage handled (default: every processed item). */
  count?: number;
}

/** The run, as the runs table holds it. */
export interface ReportRun {
  id: string;
  recipe: { name: string; hash: string };
  /** The device that ran the GPU stage, e.g. "NVIDIA H100 80GB HBM3 (vulkan)" or "cpu". */
  device: string;
  /** Wall time of the run in milliseconds. */
  totalMs: number;
  stages: readonly ReportStage[];
  /** ISO time the run started. */
  startedAt?: string | null;
  /** What was inspected (folder, glob, list file). */
  source?: string | null;
  /** Images per second as the pipeline measured it (default: processed items / total time). */
  imagesPerSecond?: number | null;
  /** Each start and resume of the run with its device (shown when there is more than one). */
  sessions?: readonly { startedAt: string; device: string }[] | null;
}

export interface ReportData {
  run: ReportRun;
  items: Iterable<ReportItem> | AsyncIterable<ReportItem>;
}

export interface ReportOptions {
  /** NG thumbnails per gallery page (1–10000, default 200). */
  galleryPageSize?: number;
  /** Error rows per error page (1–100000, default 500). */
  errorPageSize?: number;
  /** OK items that also get a thumbnail and an item page (0–100000, default 20). */
  okItemPages?: number;
  /** Thumbnail long side in pixels (32–1024, default 240). */
  thumbSize?: number;
  /** Item-page image long side in pixels (64–8192, default 1024). */
  imageSize?: number;
  /** Images rendered at once (1–64, default min(4, cores)). */
  concurrency?: number;
  /** Decodes an item's image for formats sharp cannot read (raw frames); return a path or pixels. Default: the item's path. */
  readImage?: (item: ReportItem) => Promise<string | RawImage>;
}

export interface ReportResult {
  /** Absolute path of index.html. */
  index: string;
  /** HTML pages written, index.html included. */
  pages: number;
  counts: { ok: number; ng: number; error: number };
  /** Thumbnails written. */
  thumbnails: number;
  /** Items whose image (or mask) could not be rendered; each is listed in the report. */
  notes: number;
}

const NOTES_SHOWN = 200;

interface Resolved {
  galleryPageSize: number;
  errorPageSize: number;
  okItemPages: number;
  thumbSize: number;
  imageSize: number;
  concurrency: number;
  readImage: (item: ReportItem) => Promise<string | RawImage>;
}

/** A rendered item as the listings show it. */
interface Entry {
  name: string;
  item: ReportItem;
  kind: 'ng' | 'error' | 'ok';
  /** 1-based page of its listing. */
  page: number;
  thumb?: { width: number; height: number };
  problem?: string;
}

/**
 * Writes the report of one run into `dir` (created when missing; files of an earlier report
 * there are overwritten). Counts are taken from the items themselves. Throws a KensaError
 * (KENSA_ERR_INVALID_ARGUMENT) naming the field for malformed data or options, before writing
 * anything for a bad run or options, or at the first malformed item.
 */
export async function writeReport(dir: string, data: ReportData, options: ReportOptions = {}): Promise<ReportResult> {
  if (typeof dir !== 'string' || dir === '') throw invalidParameter('dir', 'a non-empty path', dir);
  const o = resolveOptions(options);
  if (typeof data !== 'object' || data === null) throw invalidParameter('data', 'an object with run and items', data);
  const run = checkRun(data.run);
  const items = data.items as unknown;
  if (!isIterable(items)) throw invalidParameter('data.items', 'an array or (async) iterable of items', items);

  const started = performance.now();
  const root = resolve(dir);
  await Promise.all(['thumbs', 'images', 'items'].map((d) => mkdir(join(root, d), { recursive: true })));
  const runLabel = `run ${run.id} · ${run.recipe.name}`;
  const shell = (title: string, indexHref: string, body: string) => page({ title, runLabel, indexHref, body, thumbSize: o.thumbSize });

  const counts = { ok: 0, ng: 0, error: 0 };
  const used = new Set<string>();
  let pages = 1;
  let thumbnails = 0;
  let notes = 0;
  const notesShown: { path: string; problem: string }[] = [];
  const okSamples: Entry[] = [];
  const gallery = new Listing('gallery', o.galleryPageSize);
  const errors = new Listing('errors', o.errorPageSize);

  const writeListingPage = async (l: Listing, entries: Entry[], k: number, hasNext: boolean) => {
    const nav = pager({ current: k, total: null, hasNext, href: l.href, label: `${l.kind} pages` });
    const body =
      l.kind === 'gallery'
        ? `<h2>NG gallery, page ${k}</h2>${legend()}${nav}${galleryGrid(entries, '')}${nav}`
        : `<h2>Errors, page ${k}</h2>${nav}${errorTable(entries, '', (k - 1) * l.pageSize)}${nav}`;
    await writeFile(join(root, l.href(k)), shell(`${l.kind === 'gallery' ? 'NG gallery' : 'Errors'} ${k} · run ${run.id}`, 'index.html', body));
    pages++;
  };
  const collect = async (e: Entry) => {
    if (e.thumb) thumbnails++;
    if (e.problem !== undefined) {
      notes++;
      if (notesShown.length < NOTES_SHOWN) notesShown.push({ path: e.item.path, problem: e.problem });
    }
    if (e.kind === 'ok') okSamples.push(e);
    else {
      const full = (e.kind === 'ng' ? gallery : errors).add(e);
      if (full) await writeListingPage(full.listing, full.entries, full.page, true);
    }
  };

  const render = async (entry: Entry): Promise<Entry> => {
    const { item, name } = entry;
    let image: { width: number; height: number } | undefined;
    if (item.status !== 'error') {
      try {
        const r = await renderOverlays({
          input: await o.readImage(item),
          ...(item.width && item.height ? { frame: { width: item.width, height: item.height } } : {}),
          boxes: item.defects ?? [],
          ...(item.maskPath ? { maskPath: item.maskPath } : {}),
          imageSize: o.imageSize,
          thumbSize: o.thumbSize,
          imageFile: join(root, 'images', `${name}.jpg`),
          thumbFile: join(root, 'thumbs', `${name}.jpg`),
        });
        image = r.image;
        entry.thumb = r.thumb;
        if (r.maskProblem !== undefined) entry.problem = r.maskProblem;
      } catch (e) {
        entry.problem = `image could not be rendered: ${(e as Error).message}`;
      }
    }
    const back =
      entry.kind === 'ok'
        ? 'index.html#ok'
        : entry.page === 1
          ? `index.html#${entry.kind === 'ng' ? 'gallery' : 'errors'}`
          : (entry.kind === 'ng' ? gallery : errors).href(entry.page);
    await writeFile(
      join(root, 'items', `${name}.html`),
      shell(`${baseName(item.path)} · run ${run.id}`, '../index.html', itemBody(entry, run, image, `../${back}`)),
    );
    return entry;
  };

  const window: Promise<Entry>[] = [];
  let index = 0;
  for await (const raw of items as Iterable<unknown> | AsyncIterable<unknown>) {
    const item = checkItem(raw, index++);
    const kind = item.status;
    const ordinal = counts[kind]++;
    if (kind === 'ok' && ordinal >= o.okItemPages) continue;
    let name = safeName(item.path);
    for (let k = 2; used.has(name); k++) name = `${safeName(item.path)}-${k}`;
    used.add(name);
    const pageNo = kind === 'ng' ? Math.floor(ordinal / o.galleryPageSize) + 1 : kind === 'error' ? Math.floor(ordinal / o.errorPageSize) + 1 : 1;
    pages++;
    const p = render({ name, item, kind, page: pageNo });
    p.catch(() => {}); // rejections surface when the window awaits it, in order
    window.push(p);
    if (window.length >= o.concurrency) await collect(await window.shift()!);
  }
  while (window.length > 0) await collect(await window.shift()!);
  for (const l of [gallery, errors]) {
    const last = l.finish();
    if (last) await writeListingPage(l, last.entries, last.page, false);
  }

  const indexFile = join(root, 'index.html');
  // all but the index itself, which is small
  const reportMs = performance.now() - started;
  const body = indexBody({ run, counts, o, gallery, errors, okSamples, notes, notesShown, reportMs });
  await writeFile(indexFile, shell(`Inspection report · run ${run.id}`, 'index.html', body));
  return { index: indexFile, pages, counts, thumbnails, notes };
}

/** A paginated listing that keeps page 1 (for the index) and hands back each later page once the next one starts. */
class Listing {
  readonly first: Entry[] = [];
  private current: Entry[] = [];
  private currentPage = 1;
  readonly kind: 'gallery' | 'errors';
  readonly pageSize: number;
  constructor(kind: 'gallery' | 'errors', pageSize: number) {
    this.kind = kind;
    this.pageSize = pageSize;
  }
  readonly href = (k: number): string => (k === 1 ? `index.html#${this.kind}` : `${this.kind}-${k}.html`);
  get pages(): number {
    return this.first.length === 0 ? 0 : this.currentPage;
  }
  /** Adds an entry (in order); returns the finished page k ≥ 2 when this entry opened page k + 1. */
  add(e: Entry): { listing: Listing; entries: Entry[]; page: number } | undefined {
    if (e.page === 1) {
      this.first.push(e);
      return undefined;
    }
    let done: { listing: Listing; entries: Entry[]; page: number } | undefined;
    if (e.page !== this.currentPage) {
      if (this.currentPage >= 2) done = { listing: this, entries: this.current, page: this.currentPage };
      this.current = [];
      this.currentPage = e.page;
    }
    this.current.push(e);
    return done;
  }
  /** The last page k ≥ 2, if any. */
  finish(): { entries: Entry[]; page: number } | undefined {
    return this.currentPage >= 2 ? { entries: this.current, page: this.currentPage } : undefined;
  }
}

function classCounts(defects: readonly ReportDefect[]): string {
  const n: Record<string, number> = {};
  for (const d of defects) n[d.class] = (n[d.class] ?? 0) + 1;
  const parts = DEFECT_CLASSES.filter((c) => n[c]).map((c) => `<span class="cls-${c}">${plural(n[c]!, c)}</span>`);
  return parts.length > 0 ? parts.join(' · ') : 'no defects';
}

function galleryGrid(entries: readonly Entry[], prefix: string): string {
  const figures = entries.map((e) => {
    const href = `${prefix}items/${e.name}.html`;
    const alt = escapeHtml(baseName(e.item.path));
    const visual = e.thumb
      ? `<img src="${prefix}thumbs/${e.name}.jpg" width="${e.thumb.width}" height="${e.thumb.height}" alt="${alt}">`
      : `<div class="placeholder">image unavailable</div>`;
    return (
      `<figure data-item="${e.name}"><a href="${href}" title="${escapeHtml(e.item.path)}">${visual}</a>` +
      `<figcaption><a href="${href}">${alt}</a><br><span class="muted">score ${num(e.item.score)}</span> · ${classCounts(e.item.defects ?? [])}</figcaption></figure>`
    );
  });
  return `<div class="gallery">${figures.join('\n')}</div>`;
}

function errorTable(entries: readonly Entry[], prefix: string, offset: number): string {
  const rows = entries.map(
    (e, i) =>
      `<tr data-item="${e.name}"><td class="n">${offset + i + 1}</td><td><a href="${prefix}items/${e.name}.html"><code>${escapeHtml(e.item.path)}</code></a></td><td class="msg">${escapeHtml(e.item.error ?? '')}</td></tr>`,
  );
  return `<table class="errors"><thead><tr><th class="n">#</th><th>path</th><th>message</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

function indexBody(a: {
  run: ReportRun;
  counts: { ok: number; ng: number; error: number };
  o: Resolved;
  gallery: Listing;
  errors: Listing;
  okSamples: readonly Entry[];
  notes: number;
  notesShown: readonly { path: string; problem: string }[];
  reportMs: number;
}): string {
  const { run, counts } = a;
  const processed = counts.ok + counts.ng + counts.error;
  const rate = run.imagesPerSecond ?? (run.totalMs > 0 ? processed / (run.totalMs / 1000) : Number.NaN);
  const card = (id: string, cls: string, k: string, v: string) =>
    `<div class="card ${cls}" id="${id}"><div class="v">${v}</div><div class="k">${k}</div></div>`;
  const cards = [
    card('count-total', '', 'images', String(processed)),
    card('count-ok', 'ok', 'OK', String(counts.ok)),
    card('count-ng', 'ng', 'NG', String(counts.ng)),
    card('count-error', 'error', 'errors', String(counts.error)),
    card('throughput', '', 'images/s (inspection)', num(rate, 1)),
    card('total-time', '', 'inspection time', escapeHtml(duration(run.totalMs))),
    card('report-time', '', 'report writing', escapeHtml(duration(a.reportMs))),
    card('wall-time', '', 'wall time with report', escapeHtml(duration(run.totalMs + a.reportMs))),
  ].join('');
  const info: [string, string][] = [
    ['run', `<code id="run-id">${escapeHtml(run.id)}</code>`],
    ['recipe', `<span id="recipe-name">${escapeHtml(run.recipe.name)}</span>`],
    ['recipe hash', `<code id="recipe-hash">${escapeHtml(run.recipe.hash)}</code>`],
    ['device', `<span id="device">${escapeHtml(run.device)}</span>`],
  ];
  if (run.startedAt) info.push(['started', escapeHtml(run.startedAt)]);
  if (run.source) info.push(['source', `<code>${escapeHtml(run.source)}</code>`]);
  if (run.sessions && run.sessions.length > 1) {
    const list = run.sessions.map((s, i) => `<li>${i === 0 ? 'started' : 'resumed'} ${escapeHtml(s.startedAt)} on ${escapeHtml(s.device)}</li>`);
    info.push(['sessions', `<ol id="sessions">${list.join('')}</ol>`]);
  }
  const infoTable = `<table class="run">${info.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;

  const stageRows = run.stages.map((s) => {
    const n = s.count ?? processed;
    return (
      `<tr><td>${escapeHtml(s.name)}</td><td class="n">${escapeHtml(duration(s.ms))}</td><td class="n">${num(n > 0 ? s.ms / n : Number.NaN, 3)}</td>` +
      `<td class="n">${num(s.ms > 0 ? n / (s.ms / 1000) : Number.NaN, 1)}</td><td class="n">${num(run.totalMs > 0 ? (100 * s.ms) / run.totalMs : Number.NaN, 1)}</td></tr>`
    );
  });
  const stages =
    run.stages.length === 0
      ? '<p class="muted">No stage timings recorded.</p>'
      : `<table class="stages"><thead><tr><th>stage</th><th class="n">busy time</th><th class="n">ms / image</th><th class="n">images/s</th><th class="n">busy time as % of inspection time</th></tr></thead><tbody>${stageRows.join('')}</tbody></table>` +
        '<p class="muted" id="stages-note">Busy time is summed over every thread and worker that ran the stage, so a stage that runs on several at once can exceed 100 % of the inspection time; ms / image and images/s are per thread.</p>';

  const gp = a.gallery.pages;
  const gNav = pager({ current: 1, total: gp, hasNext: gp > 1, href: a.gallery.href, label: 'gallery pages' });
  const galleryHtml =
    counts.ng === 0
      ? '<p class="muted">No NG images.</p>'
      : `<p>${plural(counts.ng, 'NG image')}${gp > 1 ? ` on ${gp} pages of ${a.o.galleryPageSize}` : ''}.</p>${legend()}${gNav}${galleryGrid(a.gallery.first, '')}${gNav}`;

  const okHtml =
    a.okSamples.length === 0
      ? ''
      : `<h2 id="ok">OK samples</h2><p class="muted">The first ${a.okSamples.length} of ${counts.ok} OK images.</p>${galleryGrid(a.okSamples, '')}`;

  const ep = a.errors.pages;
  const eNav = pager({ current: 1, total: ep, hasNext: ep > 1, href: a.errors.href, label: 'error pages' });
  const errorsHtml = counts.error === 0 ? '<p class="muted">No errors.</p>' : `${eNav}${errorTable(a.errors.first, '', 0)}${eNav}`;

  const notesHtml =
    a.notes === 0
      ? ''
      : `<h2 id="notes">Report notes</h2><p>${plural(a.notes, 'image')} could not be fully rendered${a.notes > a.notesShown.length ? ` (the first ${a.notesShown.length} are listed)` : ''}.</p>` +
        `<table class="notes"><thead><tr><th>path</th><th>problem</th></tr></thead><tbody>${a.notesShown.map((n) => `<tr><td><code>${escapeHtml(n.path)}</code></td><td class="msg">${escapeHtml(n.problem)}</td></tr>`).join('')}</tbody></table>`;

  return `<h2>Summary</h2><div class="cards">${cards}</div>${infoTable}
<h2 id="stages">Stage timings</h2>${stages}
<h2 id="gallery">NG gallery</h2>${galleryHtml}
${okHtml}
<h2 id="errors">Errors</h2>${errorsHtml}
${notesHtml}`;
}

function itemBody(e: Entry, run: ReportRun, image: { width: number; height: number } | undefined, back: string): string {
  const { item, name } = e;
  const status =
    item.status === 'error'
      ? '<span class="status-error">error</span>'
      : `<span class="verdict-${item.status.toUpperCase()}">${item.status.toUpperCase()}</span>`;
  const defects = item.defects ?? [];
  const size = item.width && item.height ? `${item.width} × ${item.height}` : '—';
  const facts: [string, string][] = [
    ['path', `<code id="item-path">${escapeHtml(item.path)}</code>`],
    ['status', status],
    ['verdict', item.verdict ? escapeHtml(item.verdict) : '—'],
    ['score', num(item.score)],
    ['size', size],
    ['defects', String(defects.length)],
    ['recipe', `${escapeHtml(run.recipe.name)} <code>${escapeHtml(run.recipe.hash)}</code>`],
  ];
  let html = `<p><a id="back" href="${back}">← back</a></p><h2>${escapeHtml(baseName(item.path))}</h2>`;
  html += `<table class="facts">${facts.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
  if (item.status === 'error') html += `<h2>Error</h2><p class="msg" id="error-message">${escapeHtml(item.error ?? '')}</p>`;
  if (image) {
    html += `${legend()}<figure class="big"><img src="../images/${name}.jpg" width="${image.width}" height="${image.height}" alt="${escapeHtml(baseName(item.path))} with defect overlays"></figure>`;
  } else if (item.status !== 'error') {
    html += `<div class="placeholder" style="max-width:320px">image unavailable</div>`;
  }
  if (e.problem !== undefined) html += `<p class="msg muted" id="problem">${escapeHtml(e.problem)}</p>`;
  if (defects.length > 0) {
    const rows = defects.map(
      (d, i) =>
        `<tr><td class="n">${i + 1}</td><td>${classLabel(d.class)}</td><td class="n">${num(d.x)}</td><td class="n">${num(d.y)}</td><td class="n">${num(d.w)}</td><td class="n">${num(d.h)}</td>` +
        `<td class="n">${num(d.area)}</td><td class="n">${num(d.score)}</td><td class="n">${num(d.meanGradient)}</td></tr>`,
    );
    html += `<h2>Defects</h2><table class="defects"><thead><tr><th class="n">#</th><th>class</th><th class="n">x</th><th class="n">y</th><th class="n">w</th><th class="n">h</th><th class="n">area</th><th class="n">score</th><th class="n">mean gradient</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  }
  const timings = item.stageTimings ? Object.entries(item.stageTimings) : [];
  if (timings.length > 0) {
    html += `<h2>Stage timings</h2><table class="timings"><thead><tr><th>stage</th><th class="n">ms</th></tr></thead><tbody>${timings.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td class="n">${num(v)}</td></tr>`).join('')}</tbody></table>`;
  }
  return html;
}

function resolveOptions(options: ReportOptions): Resolved {
  if (typeof options !== 'object' || options === null) throw invalidParameter('options', 'an object', options);
  const opt = (name: keyof ReportOptions, fallback: number, lo: number, hi: number) => {
    const v = options[name];
    return v === undefined ? fallback : integerInRange(`options.${name}`, v, lo, hi);
  };
  const readImage = options.readImage ?? ((item: ReportItem) => Promise.resolve(item.path));
  if (typeof readImage !== 'function') throw invalidParameter('options.readImage', 'a function', readImage);
  return {
    galleryPageSize: opt('galleryPageSize', 200, 1, 10000),
    errorPageSize: opt('errorPageSize', 500, 1, 100000),
    okItemPages: opt('okItemPages', 20, 0, 100000),
    thumbSize: opt('thumbSize', 240, 32, 1024),
    imageSize: opt('imageSize', 1024, 64, 8192),
    concurrency: opt('concurrency', Math.min(4, os.availableParallelism()), 1, 64),
    readImage,
  };
}

function isIterable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (Symbol.iterator in v || Symbol.asyncIterator in v);
}

function str(name: string, v: unknown, allowEmpty = false): string {
  if (typeof v !== 'string' || (!allowEmpty && v === '')) throw invalidParameter(name, allowEmpty ? 'a string' : 'a non-empty string', v);
  return v;
}

function nonNegative(name: string, v: unknown): number {
  if (!is.number(v) || v < 0) throw invalidParameter(name, 'a finite number ≥ 0', v);
  return v;
}

function optional<T>(v: T | null | undefined, check: (v: T) => unknown): void {
  if (v !== undefined && v !== null) check(v);
}

function checkRun(v: unknown): ReportRun {
  if (typeof v !== 'object' || v === null) throw invalidParameter('data.run', 'an object', v);
  const r = v as ReportRun;
  str('data.run.id', r.id);
  if (typeof r.recipe !== 'object' || r.recipe === null) throw invalidParameter('data.run.recipe', 'an object with name and hash', r.recipe);
  str('data.run.recipe.name', r.recipe.name);
  str('data.run.recipe.hash', r.recipe.hash);
  str('data.run.device', r.device, true);
  nonNegative('data.run.totalMs', r.totalMs);
  if (!Array.isArray(r.stages)) throw invalidParameter('data.run.stages', 'an array', r.stages);
  r.stages.forEach((s: ReportStage, i: number) => {
    if (typeof s !== 'object' || s === null) throw invalidParameter(`data.run.stages[${i}]`, 'an object with name and ms', s);
    str(`data.run.stages[${i}].name`, s.name);
    nonNegative(`data.run.stages[${i}].ms`, s.ms);
    optional(s.count, (c) => integerInRange(`data.run.stages[${i}].count`, c, 0, Number.MAX_SAFE_INTEGER));
  });
  optional(r.startedAt, (s) => str('data.run.startedAt', s, true));
  optional(r.source, (s) => str('data.run.source', s, true));
  optional(r.imagesPerSecond, (x) => nonNegative('data.run.imagesPerSecond', x));
  optional(r.sessions, (list) => {
    if (!Array.isArray(list)) throw invalidParameter('data.run.sessions', 'an array of {startedAt, device}', list);
    list.forEach((s: { startedAt: string; device: string }, i: number) => {
      if (typeof s !== 'object' || s === null) throw invalidParameter(`data.run.sessions[${i}]`, 'an object with startedAt and device', s);
      str(`data.run.sessions[${i}].startedAt`, s.startedAt, true);
      str(`data.run.sessions[${i}].device`, s.device, true);
    });
  });
  return r;
}

function checkItem(v: unknown, i: number): ReportItem {
  const at = `data.items[${i}]`;
  if (typeof v !== 'object' || v === null) throw invalidParameter(at, 'an item object', v);
  const it = v as ReportItem;
  str(`${at}.path`, it.path);
  oneOf(`${at}.status`, it.status, ['ok', 'ng', 'error'] as const);
  optional(it.verdict, (x) => str(`${at}.verdict`, x, true));
  optional(it.score, (x) => {
    if (typeof x !== 'number') throw invalidParameter(`${at}.score`, 'a number or null', x);
  });
  optional(it.error, (x) => str(`${at}.error`, x, true));
  optional(it.width, (x) => integerInRange(`${at}.width`, x, 1, 1 << 30));
  optional(it.height, (x) => integerInRange(`${at}.height`, x, 1, 1 << 30));
  optional(it.maskPath, (x) => str(`${at}.maskPath`, x));
  optional(it.stageTimings, (t) => {
    if (typeof t !== 'object') throw invalidParameter(`${at}.stageTimings`, 'an object of stage → ms', t);
    for (const [k, ms] of Object.entries(t)) if (typeof ms !== 'number') throw invalidParameter(`${at}.stageTimings.${k}`, 'a number', ms);
  });
  if (it.defects !== undefined) {
    if (!Array.isArray(it.defects)) throw invalidParameter(`${at}.defects`, 'an array', it.defects);
    it.defects.forEach((d: ReportDefect, j: number) => {
      const da = `${at}.defects[${j}]`;
      if (typeof d !== 'object' || d === null) throw invalidParameter(da, 'a defect object', d);
      for (const k of ['x', 'y'] as const) if (!is.number(d[k])) throw invalidParameter(`${da}.${k}`, 'a finite number', d[k]);
      for (const k of ['w', 'h'] as const) nonNegative(`${da}.${k}`, d[k]);
      for (const k of ['area', 'score', 'meanGradient'] as const) if (typeof d[k] !== 'number') throw invalidParameter(`${da}.${k}`, 'a number', d[k]);
      oneOf(`${da}.class`, d.class, DEFECT_CLASSES);
    });
  }
  return it;
}
