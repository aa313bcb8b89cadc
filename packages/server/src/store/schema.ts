/**
 * The backend's tables as Kysely sees them (one definition for SQLite and PostgreSQL; the DDL is in migrations.ts).
 *
 * Conventions, chosen so that one query path serves both engines:
 *  - `pk` columns are internal surrogate keys (SQLite `integer primary key autoincrement`, PostgreSQL `bigserial`);
 *    the API exposes natural ids (imageId, vulnerability id, token id) except where none exists (containers,
 *    sensors), where the pk is the id.
 *  - Timestamps are ISO-8601 UTC text (`2026-11-29T10:00:00.000Z`), so they sort and compare as strings on both.
 *  - Booleans are integers 0/1; lists and small objects are JSON text.
 *  - PostgreSQL int8/numeric come back as numbers (a type parser is installed on the pool: see database.ts).
 *
 * Packages are split in two: `packages` is a dictionary of distinct package identities (type, name, version, purl,
 * source, arch, …: everything the matcher reads), shared by every image that has the package; `image_packages` says
 * which image has it, found by which scan, in which layer and where. A fleet of 10,000 images holds a few million
 * image_packages rows but only tens of thousands of distinct packages, so the re-evaluation after a database update
 * matches each distinct (distro, package) once instead of once per image, and `software.name:x` searches a small
 * table first.
 */
import type { Generated, Insertable, Selectable } from 'kysely';

export type Pk = Generated<number>;

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface TokensTable {
  pk: Pk;
  /** The public part of the token (`tly_<token_id>_<secret>`): shown in lists, used to find the row. */
  token_id: string;
  name: string;
  role: string;
  /** sha256 (hex) of the secret part. The secret is 256 random bits, so a fast hash is enough (no KDF). */
  secret_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface SensorsTable {
  pk: Pk;
  /** Stable identity: the sensor's own id header, else derived from type, host and token. */
  sensor_key: string;
  type: string;
  version: string;
  protocol: number;
  host: string;
  perform_sca: number;
  token_id: string | null;
  first_seen: string;
  last_seen: string;
}

export interface ImagesTable {
  pk: Pk;
  /** The config digest (`sha256:…`); `ref:sha256:<hash of ref>` for sources that have no config (rootfs, SBOM). */
  image_id: string;
  /** Repository of the first repo tag / digest, else the ref: the Images list's repo column. */
  repo: string | null;
  ref: string;
  source: string;
  manifest_digest: string | null;
  platform_os: string | null;
  architecture: string | null;
  variant: string | null;
  /** The config's created time as the report gave it, and normalised to ISO-8601 UTC when it parses (search, sort). */
  created: string | null;
  created_ts: string | null;
  os_family: string | null;
  os_name: string | null;
  os_version: string | null;
  os_pretty: string | null;
  layer_count: number;
  /** The config history, empty layers included (JSON array). */
  history: string;
  first_seen: string;
  last_seen: string;
  /** Denormalised counts over the image's detections (kept by ingestion and re-evaluation): list columns and sorting. */
  packages_total: Generated<number>;
  vulns_total: Generated<number>;
  vulns_critical: Generated<number>;
  vulns_high: Generated<number>;
  vulns_medium: Generated<number>;
  vulns_low: Generated<number>;
  vulns_negligible: Generated<number>;
  vulns_unknown: Generated<number>;
  /** Highest and lowest CVSS score among the detections: `vulnerabilities.cvss>=7` is `cvss_max >= 7`. */
  cvss_max: number | null;
  cvss_min: number | null;
}

export interface ImageRefsTable {
  image_pk: number;
  /** 'tag' (repo:tag) or 'digest' (repo@sha256:…). */
  kind: string;
  /** The whole ref as the image reported it. */
  value: string;
  repo: string;
  tag: string | null;
  digest: string | null;
  first_seen: string;
  last_seen: string;
}

export interface ImageSensorsTable {
  image_pk: number;
  sensor_pk: number;
  first_seen: string;
  last_seen: string;
}

export interface ScansTable {
  image_pk: number;
  scan_type: string;
  /** 1 while this scan's results are the image's inventory; 0 once superseded (a Dynamic scan replaces Static). */
  active: number;
  /** The report's scannedAt. */
  scanned_at: string;
  received_at: string;
  sensor_pk: number | null;
  tool_version: string;
  packages: number;
  /** Detections on this scan type's packages (kept with the image's counts): `vulnerabilities.scanType:SCA`. */
  vulns: Generated<number>;
}

/** The package types an image has (kept with its counts): `software.type:npm` without touching image_packages. */
export interface ImagePackageTypesTable {
  image_pk: number;
  type: string;
}

export interface UploadsTable {
  pk: Pk;
  /** sha256 of the inflated body, or `key:` + the client's Idempotency-Key. */
  idem_key: string;
  body_sha256: string;
  image_pk: number;
  received_at: string;
  scan_types: string;
  sensor_pk: number | null;
  /** The JSON response given the first time, replayed for duplicates. */
  response: string;
}

export interface LayersTable {
  image_pk: number;
  idx: number;
  digest: string | null;
  diff_id: string | null;
  media_type: string;
  size: number | null;
  created_by: string | null;
  created: string | null;
  comment: string | null;
}

export interface PackagesTable {
  pk: Pk;
  /** sha256 over the identity fields (see store/packages.ts). */
  pkey: string;
  type: string;
  name: string;
  version: string;
  purl: string;
  class: string;
  source_name: string | null;
  source_version: string | null;
  arch: string | null;
  vendor: string | null;
  licenses: string | null;
  owned_by: string | null;
  metadata: string | null;
}

export interface ImagePackagesTable {
  pk: Pk;
  image_pk: number;
  package_pk: number;
  scan_type: string;
  layer_index: number;
  /** JSON array of paths. */
  locations: string;
  evidence: string;
  evidence_sources: string | null;
  identified_by: string | null;
}

/** SQLite only (store/package-holders.ts, image-terms.ts): an FTS5 index of the packages each image holds; rowid = image pk. */
export interface ImagePackageTermsTable {
  rowid: number;
  /** The pks of the image's packages, separated by spaces. */
  package_pks: string;
}

/** SQLite only (store/vuln-holders.ts, image-terms.ts): an FTS5 index of the vulnerabilities each image has; rowid = image pk. */
export interface ImageVulnTermsTable {
  rowid: number;
  /** hex(lower(vuln_id)) of each of the image's vulnerability ids, separated by spaces. */
  vuln_ids: string;
}

export interface DetectionsTable {
  pk: Pk;
  image_pk: number;
  image_package_pk: number;
  package_pk: number;
  vuln_id: string;
  scan_type: string;
  class: string;
  severity: string;
  /** 0 = CRITICAL … 5 = UNKNOWN: sorts by severity without a CASE. */
  severity_rank: number;
  status: string;
  /** 1 when a fixed version exists. */
  has_fix: number;
  layer_index: number;
  kev: number;
  epss: number | null;
  /** Highest CVSS base score of the finding, for `vulnerabilities.cvss>=7`. */
  cvss_score: number | null;
  /**
   * → finding_data.hash: what the matcher decided for this package and distro. With scan_type and layer_index it
   * is the detection's fingerprint: the re-evaluation rewrites only detections whose fingerprint changed.
   */
  finding: string;
}

/**
 * The bulky part of a detection (fixed versions, aliases, CVSS vectors, summary, data source, match), stored once
 * per distinct finding and shared by every image with the same package on the same distro: a fleet's detections
 * are mostly the same few thousand findings repeated, and writing them once keeps uploads small.
 */
export interface FindingDataTable {
  hash: string;
  fixed_versions: string;
  /** aliases, cvss, severitySource, summary, dataSource, match (JSON). */
  data: string;
}

/**
 * What the matcher last decided for one package on one distro: the signature (sorted finding hashes) of the
 * findings the stored detections were built from. The re-evaluation re-matches the pairs a database change can
 * affect (evaluation_keys) and rewrites the detections only where the signature changed (evaluate/reevaluate.ts).
 */
export interface EvaluationsTable {
  /** JSON [family, name, version] of the image OS, or '' for images without one. */
  distro: string;
  package_pk: number;
  signature: string;
}

/**
 * One lookup key of a (distro, package) pair (JSON [ecosystem, name], as the matcher looks it up) and the
 * fingerprint of that key's advisory data the pair's stored detections were computed against ('' when the pair's
 * images may disagree: it is rewritten at the next re-evaluation). See evaluate/fingerprints.ts.
 */
export interface EvaluationKeysTable {
  distro: string;
  package_pk: number;
  lookup_key: string;
  fingerprint: string;
}

export interface ContainersTable {
  pk: Pk;
  sensor_pk: number | null;
  host: string;
  /** The runtime's container id. */
  container_id: string;
  name: string;
  /** The image id the runtime reports (joined to images.image_id at read time: the image may be scanned later). */
  image_id: string;
  image_ref: string;
  state: string;
  created: string | null;
  ports: string;
  first_seen: string;
  last_seen: string;
  removed_at: string | null;
}

/** A registry scanned by the jobs (jobs/registries.ts). Lists are JSON arrays of globs ([] = everything). */
export interface RegistriesTable {
  pk: Pk;
  /** What the user gave, normalised: `https://host[:port]` or `http://host[:port]`. */
  url: string;
  /** `host[:port]`: the registry part of the image references scanned. */
  registry: string;
  insecure: number;
  /** Five-field cron expression (UTC), or null: synced only on request. */
  schedule: string | null;
  perform_sca: number;
  repos: string;
  tags: string;
  username: string | null;
  /** Where the worker finds the password: `env:NAME` or `file:PATH`. The secret itself is never stored. */
  password_ref: string | null;
  /** A PEM file the worker trusts for this registry's TLS. */
  ca_cert_ref: string | null;
  created_at: string;
  last_sync_at: string | null;
  /** 'ok' | 'failed'. */
  last_sync_state: string | null;
  last_sync_error: string | null;
  /** JSON: repositories, tags, manifests, queued, known. */
  last_sync_stats: string | null;
}

/** One background job on PostgreSQL (the job's graphile-worker id), written by the worker that runs it. */
export interface JobRunsTable {
  id: string;
  name: string;
  key: string | null;
  reason: string;
  subject: string | null;
  /** running | retrying | done | failed | cancelled. */
  state: string;
  attempts: number;
  max_attempts: number;
  /** `host:pid/slot` of the worker that ran the last attempt. */
  worker: string | null;
  /** The advisory-lock key its process holds while alive, and graphile-worker's locked_by for that attempt. */
  owner: number | null;
  locked_by: string | null;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  progress_done: number | null;
  progress_total: number | null;
  /** JSON. */
  result: string | null;
  error: string | null;
}

/** The fleet's shared layer-result cache (api/routes/layer-cache.ts): one row per layer cache key. */
export interface LayerCacheTable {
  /** core's layerCacheKey: sha256 hex of diffId + extractor versions + options. */
  key: string;
  /** The entry as sensors send it: gzip of the serialized LayerResult JSON (checked before it was stored). */
  result: Buffer;
  /** Bytes of `result`: what the size bound counts. */
  size: number;
  created_at: string;
  /** Least-recently-used eviction order; refreshed by reads at most once a minute. */
  last_used: string;
}

/**
 * The fleet lists' aggregates (store/fleet-aggregates.ts, kept in the transactions that change image_packages or
 * detections): one row per (type, name, version) some image holds, with the number of images holding it.
 */
export interface FleetPackagesTable {
  name: string;
  version: string;
  type: string;
  images: number;
  /** Decimal digits of `images`: indexed in its place, so the index changes only when a count gains a digit. */
  bucket: number;
}

/** Per dictionary row and scan type: the images holding that row by that scan (`scanType:` searches, scan types). */
export interface FleetPackageScansTable {
  package_pk: number;
  scan_type: string;
  images: number;
}

/** One distinct (vulnerability, package name and type, image-independent detection columns) of some detection. */
export interface FleetVulnFacetsTable {
  pk: Pk;
  /** Hash of every other column: the identity. */
  fkey: string;
  vuln_id: string;
  type: string;
  name: string;
  scan_type: string;
  class: string;
  severity: string;
  severity_rank: number;
  status: string;
  has_fix: number;
  kev: number;
  epss: number | null;
  cvss_score: number | null;
}

/** One distinct set of facets an image has for a vulnerability, with the number of images having exactly it. */
export interface FleetVulnSetsTable {
  pk: Pk;
  /** Hash of the vulnerability id and the member facets' keys. */
  skey: string;
  vuln_id: string;
  images: number;
}

export interface FleetVulnSetFacetsTable {
  set_pk: number;
  facet_pk: number;
}

/** Per vulnerability id: the unfiltered columns of the fleet list (from the live sets and their facets). */
export interface FleetVulnsTable {
  vuln_id: string;
  images: number;
  severity_rank: number;
  cvss_score: number | null;
  epss: number | null;
  kev: number;
  has_fix: number;
}

/** Counts kept with the aggregates: `packages` = rows of fleet_packages (a count(*) per page costs 30 ms on PostgreSQL). */
export interface FleetTotalsTable {
  name: string;
  n: number;
}

/**
 * Changes to fleet_packages / fleet_package_scans not yet applied (store/fleet-aggregates.ts): one row per
 * transaction, folded into the counters every few seconds and before the software list is read.
 */
export interface FleetPackageLogTable {
  pk: Pk;
  /** JSON [[JSON [name, version, type], images added], …]. */
  groups: string;
  /** JSON [[JSON [package_pk, scan_type], images added], …]. */
  scans: string;
}

export interface Tables {
  settings: SettingsTable;
  tokens: TokensTable;
  sensors: SensorsTable;
  images: ImagesTable;
  image_refs: ImageRefsTable;
  image_sensors: ImageSensorsTable;
  scans: ScansTable;
  uploads: UploadsTable;
  layers: LayersTable;
  packages: PackagesTable;
  image_packages: ImagePackagesTable;
  image_package_terms: ImagePackageTermsTable;
  image_vuln_terms: ImageVulnTermsTable;
  image_package_types: ImagePackageTypesTable;
  detections: DetectionsTable;
  finding_data: FindingDataTable;
  evaluations: EvaluationsTable;
  evaluation_keys: EvaluationKeysTable;
  containers: ContainersTable;
  registries: RegistriesTable;
  job_runs: JobRunsTable;
  layer_cache: LayerCacheTable;
  fleet_packages: FleetPackagesTable;
  fleet_package_scans: FleetPackageScansTable;
  fleet_vuln_facets: FleetVulnFacetsTable;
  fleet_vuln_sets: FleetVulnSetsTable;
  fleet_vuln_set_facets: FleetVulnSetFacetsTable;
  fleet_vulns: FleetVulnsTable;
  fleet_totals: FleetTotalsTable;
  fleet_package_log: FleetPackageLogTable;
}

export type ImageRow = Selectable<ImagesTable>;
export type NewDetection = Insertable<DetectionsTable>;
export type NewImagePackage = Insertable<ImagePackagesTable>;
export type DetectionRow = Selectable<DetectionsTable>;
export type ContainerRow = Selectable<ContainersTable>;
export type SensorRow = Selectable<SensorsTable>;
export type TokenRow = Selectable<TokensTable>;
