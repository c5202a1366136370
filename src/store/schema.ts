/**
 * The database schema as Kysely table interfaces (one per table), plus the shapes the Store API
 * takes and returns. Column names are snake_case as in SQL; the API maps them to camelCase.
 *
 * Portable choices (one schema for SQLite, PostgreSQL and MySQL/MariaDB):
 * - timestamps are ISO 8601 UTC text (`2026-11-24T10:15:30.123Z`): they sort as text and read the
 *   same from every driver;
 * - JSON is stored as text (`*_json` columns) and parsed by the Store;
 * - item keys are at most {@link MAX_ITEM_KEY_LENGTH} characters: the (run_id, item_key) key must
 *   fit InnoDB's 3072-byte index limit with 4-byte characters; MySQL compares them byte-wise
 *   (utf8mb4_bin), like the file system does.
 */
import type { Kysely } from 'kysely';
import type { Defect, DefectClass } from '../detect/defect.js';

export { DEFECT_CLASSES, type Defect, type DefectClass } from '../detect/defect.js';

export type RunStatus = 'running' | 'interrupted' | 'done' | 'failed';
export type ItemStatus = 'ok' | 'ng' | 'error';

export const RUN_STATUSES: readonly RunStatus[] = ['running', 'interrupted', 'done', 'failed'];
export const ITEM_STATUSES: readonly ItemStatus[] = ['ok', 'ng', 'error'];

/** Longest run id (characters). */
export const MAX_RUN_ID_LENGTH = 64;
/** Longest item key (characters); see the module comment. */
export const MAX_ITEM_KEY_LENGTH = 700;

/** `runs`: one row per inspection run. */
export interface RunsTable {
  id: string;
  created_at: string;
  finished_at: string | null;
  status: RunStatus;
  recipe_name: string;
  /** sha256 hex of the recipe's canonical JSON (or the hash the caller gave). */
  recipe_hash: string;
  /** The recipe content as used by the run. */
  recipe_json: string;
  /** The device of the run's latest session (`run_sessions` holds every one). */
  device: string;
  options_json: string;
  count_total: number;
  count_ok: number;
  count_ng: number;
  count_error: number;
  /** Stage name → milliseconds. */
  timings_json: string;
}

/** `run_sessions`: one row per start or resume of a run, with the device it computed on; primary key (run_id, idx). */
export interface RunSessionsTable {
  run_id: string;
  /** 0 for the start, 1… for each resume. */
  idx: number;
  started_at: string;
  device: string;
}

/** `items`: one row per inspected file; primary key (run_id, item_key). */
export interface ItemsTable {
  run_id: string;
  /** The path relative to the source root; unique within the run. */
  item_key: string;
  path: string;
  /** sha256 hex of the file's bytes; null when the file could not be read. */
  content_hash: string | null;
  size_bytes: number | null;
  width: number | null;
  height: number | null;
  status: ItemStatus;
  error: string | null;
  verdict: string | null;
  score: number | null;
  stage_timings_json: string;
  created_at: string;
  /** A classification model's top class and its score; null otherwise. */
  label: string | null;
  label_score: number | null;
}

/** `defects`: one row per defect of an item; primary key (run_id, item_key, idx). */
export interface DefectsTable {
  run_id: string;
  item_key: string;
  idx: number;
  x: number;
  y: number;
  w: number;
  h: number;
  area: number;
  score: number;
  mean_gradient: number;
  class: DefectClass;
  mask_rle: string | null;
}

/** The whole database, as Kysely sees it. */
export interface Database {
  runs: RunsTable;
  run_sessions: RunSessionsTable;
  items: ItemsTable;
  defects: DefectsTable;
}

export type KensaDb = Kysely<Database>;

/** A JSON value (what the `*_json` columns hold). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Items per status, as stored on a finished run and computed by `Store.counts()`. */
export interface RunCounts {
  total: number;
  ok: number;
  ng: number;
  error: number;
}

/** What `Store.createRun()` takes. */
export interface NewRun {
  /** Defaults to a fresh `YYYYMMDD-HHMMSS-xxxxxx` id; letters, digits, `.`, `_`, `-`, at most 64. */
  id?: string;
  recipeName: string;
  /** The recipe content as used (after defaults were applied). */
  recipe: Json;
  /** Defaults to {@link recipeHash}(recipe). */
  recipeHash?: string;
  /** The device the run computes on, e.g. "NVIDIA H100 (webgpu)" or "cpu". */
  device: string;
  options?: { [key: string]: Json };
}

/** One start or resume of a run, as `Store.sessions()` returns it. */
export interface RunSession {
  startedAt: string;
  device: string;
}

/** A run as the Store returns it. */
export interface RunRecord {
  id: string;
  createdAt: string;
  finishedAt: string | null;
  status: RunStatus;
  recipeName: string;
  recipeHash: string;
  recipe: Json;
  /** The device of the latest session (see `Store.sessions()` for each start and resume). */
  device: string;
  options: { [key: string]: Json };
  counts: RunCounts;
  timings: Record<string, number>;
}

/** One inspected item, as the pipeline hands it to `Store.writeResults()`. */
export interface ItemResult {
  /** Unique within the run: the path relative to the source root. */
  itemKey: string;
  path: string;
  contentHash: string | null;
  sizeBytes: number | null;
  width: number | null;
  height: number | null;
  status: ItemStatus;
  error?: string | null;
  verdict?: string | null;
  score?: number | null;
  /** A classification model's top class (at most 255 characters) and its score. */
  label?: { name: string; score: number } | null;
  /** Stage name → milliseconds. */
  stageTimings?: Record<string, number>;
  defects?: readonly Defect[];
}

/** An item as the Store returns it. */
export interface ItemRecord {
  runId: string;
  itemKey: string;
  path: string;
  contentHash: string | null;
  sizeBytes: number | null;
  width: number | null;
  height: number | null;
  status: ItemStatus;
  error: string | null;
  verdict: string | null;
  score: number | null;
  label: { name: string; score: number } | null;
  stageTimings: Record<string, number>;
  createdAt: string;
}

/** A defect as the Store returns it: the detection's Defect with its run, item and index. */
export interface DefectRecord extends Omit<Defect, 'maskRle'> {
  runId: string;
  itemKey: string;
  idx: number;
  maskRle: string | null;
}
