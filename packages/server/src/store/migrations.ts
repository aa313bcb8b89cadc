/**
 * Schema migrations, run with Kysely's Migrator on both engines. Each migration is written once with the schema
 * builder; the few column types that differ between SQLite and PostgreSQL go through `Ddl`.
 *
 * Indexes follow the queries (api/ and query/fields.ts): every search field resolves to `images.pk IN (SELECT
 * image_pk FROM <table> WHERE <column> …)`, so each searchable column has an index that starts with it and ends with
 * image_pk (an index-only scan gives the image set), and each per-image list has an index that starts with image_pk.
 * One exception, on SQLite only: package → images goes through an FTS5 index (0009, store/package-holders.ts).
 */
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect } from './database.js';
import type { Tables } from './schema.js';
import { rebuildFleetAggregates, refreshFleetVulns } from './fleet-aggregates.js';
import { createHoldersIndex } from './package-holders.js';
import { createVulnHoldersIndex } from './vuln-holders.js';

interface Ddl {
  /** Autoincrementing surrogate key. */
  readonly serial: 'integer' | 'bigserial';
  readonly double: 'real' | 'double precision';
}

function ddlFor(dialect: Dialect): Ddl {
  return dialect === 'sqlite' ? { serial: 'integer', double: 'real' } : { serial: 'bigserial', double: 'double precision' };
}

async function initial(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  const d = ddlFor(dialect);
  const s = db.schema;
  // Surrogate keys: `integer primary key autoincrement` on SQLite (never reuses a deleted rowid, so a stale pk held
  // by a running job cannot point at a newer row), `bigserial primary key` on PostgreSQL.

  await s
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('tokens')
    .addColumn('pk', d.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('token_id', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();

  await s
    .createTable('sensors')
    .addColumn('pk', d.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('sensor_key', 'text', (c) => c.notNull().unique())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('protocol', 'integer', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('perform_sca', 'integer', (c) => c.notNull())
    .addColumn('token_id', 'text')
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('images')
    .addColumn('pk', d.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('image_id', 'text', (c) => c.notNull().unique())
    .addColumn('repo', 'text')
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('manifest_digest', 'text')
    .addColumn('platform_os', 'text')
    .addColumn('architecture', 'text')
    .addColumn('variant', 'text')
    .addColumn('created', 'text')
    .addColumn('created_ts', 'text')
    .addColumn('os_family', 'text')
    .addColumn('os_name', 'text')
    .addColumn('os_version', 'text')
    .addColumn('os_pretty', 'text')
    .addColumn('layer_count', 'integer', (c) => c.notNull())
    .addColumn('history', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .addColumn('packages_total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('vulns_total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('vulns_critical', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('vulns_high', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('vulns_medium', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('vulns_low', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('vulns_negligible', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('vulns_unknown', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cvss_max', d.double)
    .addColumn('cvss_min', d.double)
    .execute();
  await s.createIndex('images_manifest_digest').on('images').column('manifest_digest').execute();
  await s.createIndex('images_last_seen').on('images').columns(['last_seen', 'pk']).execute();
  await s.createIndex('images_created').on('images').columns(['created_ts', 'pk']).execute();
  await s.createIndex('images_image_id_lower').on('images').expression(sql`lower(image_id)`).execute();
  await s.createIndex('images_repo').on('images').columns(['repo', 'pk']).execute();

  await s
    .createTable('image_refs')
    .addColumn('image_pk', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('tag', 'text')
    .addColumn('digest', 'text')
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_refs_pk', ['image_pk', 'value'])
    .execute();
  // Searches fold case with lower() on both engines (query/compile.ts), so the search indexes are on lower(col).
  await s.createIndex('image_refs_repo').on('image_refs').expression(sql`lower(repo), image_pk`).execute();
  await s.createIndex('image_refs_tag').on('image_refs').expression(sql`lower(tag), image_pk`).execute();

  await s
    .createTable('image_sensors')
    .addColumn('image_pk', 'bigint', (c) => c.notNull())
    .addColumn('sensor_pk', 'bigint', (c) => c.notNull())
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_sensors_pk', ['image_pk', 'sensor_pk'])
    .execute();
  await s.createIndex('image_sensors_sensor').on('image_sensors').columns(['sensor_pk', 'image_pk']).execute();

  await s
    .createTable('scans')
    .addColumn('image_pk', 'bigint', (c) => c.notNull())
    .addColumn('scan_type', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('scanned_at', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('sensor_pk', 'bigint')
    .addColumn('tool_version', 'text', (c) => c.notNull())
    .addColumn('packages', 'integer', (c) => c.notNull())
    .addColumn('vulns', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('scans_pk', ['image_pk', 'scan_type'])
    .execute();
  await s.createIndex('scans_type').on('scans').columns(['scan_type', 'active', 'image_pk']).execute();

  await s
    .createTable('image_package_types')
    .addColumn('image_pk', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_package_types_pk', ['image_pk', 'type'])
    .execute();
  await s.createIndex('image_package_types_type').on('image_package_types').columns(['type', 'image_pk']).execute();

  await s
    .createTable('uploads')
    .addColumn('pk', d.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('idem_key', 'text', (c) => c.notNull().unique())
    .addColumn('body_sha256', 'text', (c) => c.notNull())
    .addColumn('image_pk', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('scan_types', 'text', (c) => c.notNull())
    .addColumn('sensor_pk', 'bigint')
    .addColumn('response', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('uploads_image').on('uploads').columns(['image_pk', 'received_at']).execute();

  await s
    .createTable('layers')
    .addColumn('image_pk', 'bigint', (c) => c.notNull())
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('digest', 'text')
    .addColumn('diff_id', 'text')
    .addColumn('media_type', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint')
    .addColumn('created_by', 'text')
    .addColumn('created', 'text')
    .addColumn('comment', 'text')
    .addPrimaryKeyConstraint('layers_pk', ['image_pk', 'idx'])
    .execute();
  await s.createIndex('layers_diff_id').on('layers').columns(['diff_id', 'image_pk']).execute();

  await createPackagesTable(db, dialect, 'packages', { uniquePkey: true });
  await createPackagesIndexes(db);
  await s.createIndex('packages_group').on('packages').columns(['name', 'version', 'type']).execute();

  await s
    .createTable('image_packages')
    .addColumn('pk', d.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('image_pk', 'bigint', (c) => c.notNull())
    .addColumn('package_pk', 'bigint', (c) => c.notNull())
    .addColumn('scan_type', 'text', (c) => c.notNull())
    .addColumn('layer_index', 'integer', (c) => c.notNull())
    .addColumn('locations', 'text', (c) => c.notNull())
    .addColumn('evidence', 'text', (c) => c.notNull())
    .addColumn('evidence_sources', 'text')
    .addColumn('identified_by', 'text')
    .execute();
  await s.createIndex('image_packages_image').on('image_packages').columns(['image_pk', 'scan_type']).execute();
  await s.createIndex('image_packages_package').on('image_packages').columns(['package_pk', 'image_pk']).execute();

  await s
    .createTable('detections')
    .addColumn('pk', d.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('image_pk', 'bigint', (c) => c.notNull())
    .addColumn('image_package_pk', 'bigint', (c) => c.notNull())
    .addColumn('package_pk', 'bigint', (c) => c.notNull())
    .addColumn('vuln_id', 'text', (c) => c.notNull())
    .addColumn('scan_type', 'text', (c) => c.notNull())
    .addColumn('class', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('severity_rank', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('has_fix', 'integer', (c) => c.notNull())
    .addColumn('layer_index', 'integer', (c) => c.notNull())
    .addColumn('kev', 'integer', (c) => c.notNull())
    .addColumn('epss', d.double)
    .addColumn('cvss_score', d.double)
    .addColumn('finding', 'text', (c) => c.notNull())
    .execute();
  // Two indexes only: every one is paid for by every detection of every upload. Lookups by vulnerability id go
  // through lower(vuln_id) (the search folds case; exact lookups add `vuln_id = ?` on top); on SQLite migration 0011
  // replaces the second with a term index and detections(image_pk, lower(vuln_id)) (store/vuln-holders.ts).
  await s.createIndex('detections_image').on('detections').columns(['image_pk', 'scan_type', 'severity_rank']).execute();
  await s.createIndex('detections_vuln').on('detections').expression(sql`lower(vuln_id), image_pk`).execute();

  await s
    .createTable('finding_data')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('fixed_versions', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('evaluations')
    .addColumn('distro', 'text', (c) => c.notNull())
    .addColumn('package_pk', 'bigint', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('evaluations_pk', ['distro', 'package_pk'])
    .execute();

  await s
    .createTable('containers')
    .addColumn('pk', d.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('sensor_pk', 'bigint')
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('container_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('image_id', 'text', (c) => c.notNull())
    .addColumn('image_ref', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created', 'text')
    .addColumn('ports', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .addColumn('removed_at', 'text')
    .addUniqueConstraint('containers_host_id', ['host', 'container_id'])
    .execute();
  await s.createIndex('containers_image').on('containers').columns(['image_id']).execute();
  await s.createIndex('containers_sensor').on('containers').columns(['sensor_pk']).execute();
}

/**
 * Registries scanned on a schedule (jobs/registries.ts) and the history of background jobs on PostgreSQL
 * (jobs/pg-queue.ts: graphile-worker deletes a job once it succeeds, so what ran, where and with what result is
 * kept here). Credentials are never stored: only a reference the worker resolves (`env:NAME`, `file:PATH`).
 */
async function registries(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  const d = ddlFor(dialect);
  await db.schema
    .createTable('registries')
    .addColumn('pk', d.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('url', 'text', (c) => c.notNull().unique())
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('insecure', 'integer', (c) => c.notNull())
    .addColumn('schedule', 'text')
    .addColumn('perform_sca', 'integer', (c) => c.notNull())
    .addColumn('repos', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('username', 'text')
    .addColumn('password_ref', 'text')
    .addColumn('ca_cert_ref', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_sync_at', 'text')
    .addColumn('last_sync_state', 'text')
    .addColumn('last_sync_error', 'text')
    .addColumn('last_sync_stats', 'text')
    .execute();
  await db.schema
    .createTable('job_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('subject', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('worker', 'text')
    .addColumn('owner', 'integer')
    .addColumn('locked_by', 'text')
    .addColumn('queued_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('progress_done', 'integer')
    .addColumn('progress_total', 'integer')
    .addColumn('result', 'text')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('job_runs_queued').on('job_runs').columns(['queued_at']).execute();
  await db.schema.createIndex('job_runs_state').on('job_runs').columns(['state', 'finished_at']).execute();
  // A registry sync asks "is this manifest (or index) digest stored already?" for every tag it lists.
  await db.schema.createIndex('image_refs_digest').on('image_refs').columns(['digest', 'image_pk']).execute();
}

/** The shared layer cache (store/layer-cache.ts): evicted oldest `last_used` first, so that column is indexed. */
async function layerCache(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('layer_cache')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('result', dialect === 'sqlite' ? 'blob' : 'bytea', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('layer_cache_lru').on('layer_cache').columns(['last_used', 'key', 'size']).execute();
}

/**
 * What each (distro, package) pair's stored detections were computed from: one row per lookup key the matcher makes
 * for it, with that key's advisory fingerprint (evaluate/fingerprints.ts). A database change then re-matches only
 * the pairs whose keys' fingerprints changed (evaluate/reevaluate.ts). Migration 0012 drops the index made here.
 */
async function evaluationKeys(db: Kysely<Tables>): Promise<void> {
  await db.schema
    .createTable('evaluation_keys')
    .addColumn('distro', 'text', (c) => c.notNull())
    .addColumn('package_pk', 'bigint', (c) => c.notNull())
    .addColumn('lookup_key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('evaluation_keys_pk', ['distro', 'package_pk', 'lookup_key'])
    .execute();
  await db.schema.createIndex('evaluation_keys_key').on('evaluation_keys').columns(['lookup_key', 'fingerprint', 'distro', 'package_pk']).execute();
}

/**
 * The aggregates behind the fleet lists (store/fleet-aggregates.ts), filled from the rows already stored. SQLite
 * keeps the counter tables WITHOUT ROWID (the row lives in its key's b-tree: one page per counter change). The
 * `desc` indexes served descending sorts with ascending ties; 0008 drops them.
 */
async function fleetAggregates(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  const d = ddlFor(dialect);
  const s = db.schema;
  const clustered = dialect === 'sqlite' ? sql`without rowid` : sql``;
  await s
    .createTable('fleet_packages')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('images', 'integer', (c) => c.notNull())
    .addColumn('bucket', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('fleet_packages_pk', ['name', 'version', 'type'])
    .modifyEnd(clustered)
    .execute();
  await s.createIndex('fleet_packages_name_desc').on('fleet_packages').columns(['name desc', 'version', 'type']).execute();
  await s.createIndex('fleet_packages_version').on('fleet_packages').columns(['version', 'name', 'type']).execute();
  await s.createIndex('fleet_packages_version_desc').on('fleet_packages').columns(['version desc', 'name', 'type']).execute();
  await s.createIndex('fleet_packages_type').on('fleet_packages').columns(['type', 'name', 'version']).execute();
  await s.createIndex('fleet_packages_type_desc').on('fleet_packages').columns(['type desc', 'name', 'version']).execute();
  await s.createIndex('fleet_packages_bucket').on('fleet_packages').column('bucket').execute();
  await s
    .createTable('fleet_package_scans')
    .addColumn('package_pk', 'bigint', (c) => c.notNull())
    .addColumn('scan_type', 'text', (c) => c.notNull())
    .addColumn('images', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('fleet_package_scans_pk', ['package_pk', 'scan_type'])
    .modifyEnd(clustered)
    .execute();
  await s
    .createTable('fleet_vuln_facets')
    .addColumn('pk', d.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('fkey', 'text', (c) => c.notNull().unique())
    .addColumn('vuln_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('scan_type', 'text', (c) => c.notNull())
    .addColumn('class', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('severity_rank', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('has_fix', 'integer', (c) => c.notNull())
    .addColumn('kev', 'integer', (c) => c.notNull())
    .addColumn('epss', d.double)
    .addColumn('cvss_score', d.double)
    .execute();
  await s.createIndex('fleet_vuln_facets_vuln').on('fleet_vuln_facets').columns(['vuln_id', 'pk']).execute();
  await s
    .createTable('fleet_vuln_sets')
    .addColumn('pk', d.serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('skey', 'text', (c) => c.notNull().unique())
    .addColumn('vuln_id', 'text', (c) => c.notNull())
    .addColumn('images', 'integer', (c) => c.notNull())
    .execute();
  await s.createIndex('fleet_vuln_sets_vuln').on('fleet_vuln_sets').columns(['vuln_id', 'pk']).execute();
  await s
    .createTable('fleet_vuln_set_facets')
    .addColumn('set_pk', 'bigint', (c) => c.notNull())
    .addColumn('facet_pk', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('fleet_vuln_set_facets_pk', ['set_pk', 'facet_pk'])
    .modifyEnd(clustered)
    .execute();
  await s.createIndex('fleet_vuln_set_facets_facet').on('fleet_vuln_set_facets').columns(['facet_pk', 'set_pk']).execute();
  await s
    .createTable('fleet_vulns')
    .addColumn('vuln_id', 'text', (c) => c.primaryKey())
    .addColumn('images', 'integer', (c) => c.notNull())
    .addColumn('severity_rank', 'integer', (c) => c.notNull())
    .addColumn('cvss_score', d.double)
    .addColumn('epss', d.double)
    .addColumn('kev', 'integer', (c) => c.notNull())
    .addColumn('has_fix', 'integer', (c) => c.notNull())
    .execute();
  // Created here too: the rebuild below uses them (0006 and 0010 add them to stores migrated before they existed).
  await fleetTotalsTable(db);
  await fleetPackageLogTable(db, dialect);
  await rebuildFleetAggregates(db, dialect);
  // Statistics now, not at the next autovacuum: until then PostgreSQL plans the lists' searches blind (seconds).
  if (dialect === 'postgres') await sql`analyze fleet_packages, fleet_package_scans, fleet_vuln_facets, fleet_vuln_sets, fleet_vuln_set_facets, fleet_vulns`.execute(db);
}

async function fleetTotalsTable(db: Kysely<Tables>): Promise<void> {
  await db.schema
    .createTable('fleet_totals')
    .ifNotExists()
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('n', 'integer', (c) => c.notNull())
    .execute();
}

async function fleetPackageLogTable(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('fleet_package_log')
    .ifNotExists()
    .addColumn('pk', ddlFor(dialect).serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('groups', 'text', (c) => c.notNull())
    .addColumn('scans', 'text', (c) => c.notNull())
    .execute();
}

/** The software list's total without q, kept as a counter (a count(*) of fleet_packages per page is 30 ms on PostgreSQL). */
async function fleetTotals(db: Kysely<Tables>): Promise<void> {
  await fleetTotalsTable(db);
  await db.deleteFrom('fleet_totals').where('name', '=', 'packages').execute();
  await db
    .insertInto('fleet_totals')
    .expression((eb) => eb.selectFrom('fleet_packages').select([sql.lit('packages').as('name'), eb.fn.countAll().as('n')]))
    .execute();
}

/**
 * The software list's descending sorts now order ties descending as well (a descending page is the ascending order
 * reversed), so the name, version and type indexes serve them read backwards. Each of these three indexes cost
 * every new (type, name, version) an entry on a random page: ~10% of the WAL pages an upload writes.
 */
async function dropDescendingIndexes(db: Kysely<Tables>): Promise<void> {
  for (const name of ['fleet_packages_name_desc', 'fleet_packages_version_desc', 'fleet_packages_type_desc']) await db.schema.dropIndex(name).ifExists().execute();
}

/** The package dictionary's table (migration 0001 with a unique pkey; 0013 rebuilds it on SQLite without). */
async function createPackagesTable(db: Kysely<Tables>, dialect: Dialect, name: string, options: { uniquePkey: boolean }): Promise<void> {
  await db.schema
    .createTable(name)
    .addColumn('pk', ddlFor(dialect).serial, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('pkey', 'text', (c) => (options.uniquePkey ? c.notNull().unique() : c.notNull()))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('purl', 'text', (c) => c.notNull())
    .addColumn('class', 'text', (c) => c.notNull())
    .addColumn('source_name', 'text')
    .addColumn('source_version', 'text')
    .addColumn('arch', 'text')
    .addColumn('vendor', 'text')
    .addColumn('licenses', 'text')
    .addColumn('owned_by', 'text')
    .addColumn('metadata', 'text')
    .execute();
}

/** The dictionary's search indexes (the searches fold case with lower(): query/compile.ts). */
async function createPackagesIndexes(db: Kysely<Tables>): Promise<void> {
  await db.schema.createIndex('packages_name').ifNotExists().on('packages').expression(sql`lower(name)`).execute();
  await db.schema.createIndex('packages_version').ifNotExists().on('packages').expression(sql`lower(version)`).execute();
}

/**
 * Migration 0013: the dictionary's identity as one unique index, (name, version, type, pkey), instead of a unique
 * pkey beside an index on (name, version, type). A new package's row then goes into three indexes at random places,
 * not four (the pkey index took 42 of the ~260 WAL pages an upload wrote); lookups name the whole key
 * (store/packages.ts), and the software list's walk by (name, version, type) reads its prefix. SQLite cannot drop a
 * column's UNIQUE constraint, so the table is rebuilt (pks kept). Safe to run again.
 */
async function packagesIdentity(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  if (dialect === 'sqlite') {
    await createPackagesTable(db, dialect, 'packages_rebuilt', { uniquePkey: false });
    const columns = sql.raw('pk, pkey, type, name, version, purl, class, source_name, source_version, arch, vendor, licenses, owned_by, metadata');
    await sql`insert into packages_rebuilt (${columns}) select ${columns} from packages order by pk`.execute(db);
    await db.schema.dropTable('packages').execute();
    await sql`alter table packages_rebuilt rename to packages`.execute(db);
    await createPackagesIndexes(db);
  } else {
    await sql`alter table packages drop constraint if exists packages_pkey_key`.execute(db);
    await db.schema.dropIndex('packages_group').ifExists().execute();
  }
  await db.schema.createIndex('packages_identity').ifNotExists().unique().on('packages').columns(['name', 'version', 'type', 'pkey']).execute();
}

function provider(dialect: Dialect): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '0001_initial': { up: (db: Kysely<Tables>) => initial(db, dialect) },
    '0002_evaluation_fingerprints': { up: (db: Kysely<Tables>) => evaluationKeys(db) },
    '0003_layer_cache': { up: (db: Kysely<Tables>) => layerCache(db, dialect) },
    '0004_registries': { up: (db: Kysely<Tables>) => registries(db, dialect) },
    '0005_fleet_aggregates': { up: (db: Kysely<Tables>) => fleetAggregates(db, dialect) },
    '0006_fleet_totals': { up: (db: Kysely<Tables>) => fleetTotals(db) },
    // Concurrent PostgreSQL writers could leave a vulnerability's fleet_vulns row with a stale sum (fixed in
    // refreshVulns); recomputing every row from the sets repairs stores written before the fix.
    '0007_fleet_vulns_refresh': { up: (db: Kysely<Tables>) => refreshFleetVulns(db, dialect) },
    '0008_fleet_packages_one_index_per_sort': { up: (db: Kysely<Tables>) => dropDescendingIndexes(db) },
    '0009_package_holders_index': { up: (db: Kysely<Tables>) => createHoldersIndex(db, dialect) },
    '0010_fleet_package_log': { up: (db: Kysely<Tables>) => fleetPackageLogTable(db, dialect) },
    '0011_vuln_holders_index': { up: (db: Kysely<Tables>) => createVulnHoldersIndex(db, dialect) },
    // The re-evaluation reads evaluation_keys in one pass (evaluate/reevaluate.ts, stalePairs).
    '0012_evaluation_keys_unindexed': { up: (db: Kysely<Tables>) => db.schema.dropIndex('evaluation_keys_key').ifExists().execute() },
    '0013_packages_identity': { up: (db: Kysely<Tables>) => packagesIdentity(db, dialect) },
  };
  return { getMigrations: () => Promise.resolve(migrations) };
}

/** Bring the schema to the latest version; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  const migrator = new Migrator({ db, provider: provider(dialect), migrationTableName: 'tally_migrations', migrationLockTableName: 'tally_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
