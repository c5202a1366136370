/**
 * Schema migrations, in code (no files are read at run time), applied by Kysely's Migrator when a
 * store opens. Migration names sort in the order they apply; never edit a released one, add the
 * next (`0003_…`). Bookkeeping lives in `kensa_migration` / `kensa_migration_lock`.
 *
 * Per-dialect details are confined to {@link columnTypes}: MySQL needs bounded VARCHAR keys, a
 * binary collation (item keys are file paths: `A.png` ≠ `a.png`) and MEDIUMTEXT for long JSON and
 * masks; SQLite stores the composite-key tables WITHOUT ROWID (one B-tree per table, not two).
 */
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { DialectName } from './dialect.js';
import { MAX_ITEM_KEY_LENGTH, MAX_RUN_ID_LENGTH, type KensaDb } from './schema.js';

export const MIGRATION_TABLE = 'kensa_migration';
export const MIGRATION_LOCK_TABLE = 'kensa_migration_lock';

function columnTypes(dialect: DialectName) {
  return {
    runId: sql.raw(`varchar(${MAX_RUN_ID_LENGTH})`),
    itemKey: sql.raw(`varchar(${MAX_ITEM_KEY_LENGTH})`),
    longText: sql.raw(dialect === 'mysql' ? 'mediumtext' : 'text'),
    tableEnd: dialect === 'mysql' ? sql`character set utf8mb4 collate utf8mb4_bin` : sql``,
    keyedTableEnd: dialect === 'mysql' ? sql`character set utf8mb4 collate utf8mb4_bin` : dialect === 'sqlite' ? sql`without rowid` : sql``,
  };
}

// Kysely's Migration interface takes Kysely<any>: a migration runs against whatever schema exists.
// biome-ignore lint/suspicious/noExplicitAny: Kysely's Migration interface is typed with Kysely<any>
type AnyDb = Kysely<any>;

/** The migrations for one dialect, by name. */
export function migrations(dialect: DialectName): Record<string, Migration> {
  const t = columnTypes(dialect);
  return {
    '0001_initial': {
      async up(db: AnyDb) {
        await db.schema
          .createTable('runs')
          .addColumn('id', t.runId, (c) => c.primaryKey())
          .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
          .addColumn('finished_at', 'varchar(32)')
          .addColumn('status', 'varchar(16)', (c) => c.notNull().check(sql`status in ('running', 'interrupted', 'done', 'failed')`))
          .addColumn('recipe_name', 'varchar(255)', (c) => c.notNull())
          .addColumn('recipe_hash', 'varchar(128)', (c) => c.notNull())
          .addColumn('recipe_json', t.longText, (c) => c.notNull())
          .addColumn('device', 'varchar(255)', (c) => c.notNull())
          .addColumn('options_json', t.longText, (c) => c.notNull())
          .addColumn('count_total', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('count_ok', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('count_ng', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('count_error', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('timings_json', t.longText, (c) => c.notNull())
          .modifyEnd(t.tableEnd)
          .execute();
        await db.schema.createIndex('runs_created_at').on('runs').column('created_at').execute();

        await db.schema
          .createTable('items')
          .addColumn('run_id', t.runId, (c) => c.notNull())
          .addColumn('item_key', t.itemKey, (c) => c.notNull())
          .addColumn('path', t.longText, (c) => c.notNull())
          .addColumn('content_hash', 'varchar(64)')
          .addColumn('size_bytes', 'bigint')
          .addColumn('width', 'integer')
          .addColumn('height', 'integer')
          .addColumn('status', 'varchar(16)', (c) => c.notNull().check(sql`status in ('ok', 'ng', 'error')`))
          .addColumn('error', t.longText)
          .addColumn('verdict', 'varchar(64)')
          .addColumn('score', 'double precision')
          .addColumn('stage_timings_json', t.longText, (c) => c.notNull())
          .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
          .addPrimaryKeyConstraint('items_pk', ['run_id', 'item_key'])
          .addForeignKeyConstraint('items_run_fk', ['run_id'], 'runs', ['id'], (fk) => fk.onDelete('cascade'))
          .modifyEnd(t.keyedTableEnd)
          .execute();
        await db.schema.createIndex('items_run_status').on('items').columns(['run_id', 'status']).execute();

        await db.schema
          .createTable('defects')
          .addColumn('run_id', t.runId, (c) => c.notNull())
          .addColumn('item_key', t.itemKey, (c) => c.notNull())
          .addColumn('idx', 'integer', (c) => c.notNull())
          .addColumn('x', 'integer', (c) => c.notNull())
          .addColumn('y', 'integer', (c) => c.notNull())
          .addColumn('w', 'integer', (c) => c.notNull())
          .addColumn('h', 'integer', (c) => c.notNull())
          .addColumn('area', 'bigint', (c) => c.notNull())
          .addColumn('score', 'double precision', (c) => c.notNull())
          .addColumn('mean_gradient', 'double precision', (c) => c.notNull())
          .addColumn('class', 'varchar(16)', (c) => c.notNull().check(sql`class in ('crack', 'scratch', 'spot')`))
          .addColumn('mask_rle', t.longText)
          .addPrimaryKeyConstraint('defects_pk', ['run_id', 'item_key', 'idx'])
          .addForeignKeyConstraint('defects_item_fk', ['run_id', 'item_key'], 'items', ['run_id', 'item_key'], (fk) => fk.onDelete('cascade'))
          .modifyEnd(t.keyedTableEnd)
          .execute();
      },
      async down(db: AnyDb) {
        await db.schema.dropTable('defects').execute();
        await db.schema.dropTable('items').execute();
        await db.schema.dropTable('runs').execute();
      },
    },
    // each resume may run on another device: one row per session, the first backfilled from runs
    '0002_run_sessions': {
      async up(db: AnyDb) {
        await db.schema
          .createTable('run_sessions')
          .addColumn('run_id', t.runId, (c) => c.notNull())
          .addColumn('idx', 'integer', (c) => c.notNull())
          .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
          .addColumn('device', 'varchar(255)', (c) => c.notNull())
          .addPrimaryKeyConstraint('run_sessions_pk', ['run_id', 'idx'])
          .addForeignKeyConstraint('run_sessions_run_fk', ['run_id'], 'runs', ['id'], (fk) => fk.onDelete('cascade'))
          .modifyEnd(t.keyedTableEnd)
          .execute();
        await db
          .insertInto('run_sessions')
          .columns(['run_id', 'idx', 'started_at', 'device'])
          .expression(db.selectFrom('runs').select(['id', sql.lit(0).as('idx'), 'created_at', 'device']))
          .execute();
      },
      async down(db: AnyDb) {
        await db.schema.dropTable('run_sessions').execute();
      },
    },
    // a classification model's top class per item (null for recipes and segmentation models)
    '0003_item_labels': {
      async up(db: AnyDb) {
        await db.schema.alterTable('items').addColumn('label', 'varchar(255)').execute();
        await db.schema.alterTable('items').addColumn('label_score', 'double precision').execute();
      },
      async down(db: AnyDb) {
        await db.schema.alterTable('items').dropColumn('label_score').execute();
        await db.schema.alterTable('items').dropColumn('label').execute();
      },
    },
  };
}

/** Kysely's MigrationProvider over the in-code list. */
export class InCodeMigrationProvider implements MigrationProvider {
  readonly #dialect: DialectName;
  constructor(dialect: DialectName) {
    this.#dialect = dialect;
  }
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrations(this.#dialect));
  }
}

/** A Migrator over the in-code migrations, with kensa's bookkeeping table names. */
export function migrator(db: KensaDb, dialect: DialectName): Migrator {
  return new Migrator({
    db,
    provider: new InCodeMigrationProvider(dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

/** Applies every pending migration; returns the Migrator's result set (error included, not thrown). */
export function migrateToLatest(db: KensaDb, dialect: DialectName): Promise<MigrationResultSet> {
  return migrator(db, dialect).migrateToLatest();
}
