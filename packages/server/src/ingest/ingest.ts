/**
 * `POST /api/v1/scans`: one report in, one transaction out.
 *
 * Pass 1 (inspect.ts; no database; in a worker thread for bodies held in memory): parse and validate every part
 * of the report, refuse what can be refused, and prepare the package rows.
 * Pass 2 (here; one transaction, grouped with other small uploads on SQLite: store/write-queue.ts): claim the
 * idempotency key, upsert sensor and image, replace the image's inventory for the uploaded scan types only, insert
 * the packages in batches (dictionary upsert, image_packages insert, match, detections insert), record containers,
 * counts and the fleet lists' aggregates (store/fleet-aggregates.ts: the image's contribution before the inventory
 * is replaced and after), store the response. A kill at any point leaves either nothing or everything; the retried
 * upload then finds its key free and lands once.
 *
 * Scan-type slots: the OS inventory is one slot filled by Static *or* Dynamic (both list the same OS packages by
 * different means; keeping both would count every OS vulnerability twice), so an upload with Static or Dynamic
 * replaces the OS packages of both and marks the other OS scan inactive; SCA is its own slot. An upload without
 * SCA never touches SCA packages, and one with SCA while the switch is off stores its Static/Dynamic part only.
 */
import { createHash } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { ScanType, SensorType } from '@tally/core';
import type { UploadResponse } from '../protocol.js';
import type { Dialect, Store } from '../store/database.js';
import { insertRows } from '../store/bulk.js';
import { writeQueueOf } from '../store/write-queue.js';
import { upsertDictionary } from '../store/packages.js';
import { Learned } from '../store/committed.js';
import { beginFleetUpdate, type WrittenDetection, type WrittenPackage } from '../store/fleet-aggregates.js';
import { syncHolders } from '../store/package-holders.js';
import { syncVulnHolders } from '../store/vuln-holders.js';
import type { Tables } from '../store/schema.js';
import { getSca } from '../store/settings.js';
import { storedOs, type MatchSeeds, type PackageInImage, type PostureMatcher } from '../evaluate/posture.js';
import { insertDetections } from '../evaluate/findings.js';
import type { ServerVulnDb } from '../evaluate/vulndb.js';
import { forEachPackageRow, IngestError, inspectReport, inspectWire, type Inspection, type PackageRow, type ReportHead } from './inspect.js';
import type { InspectPool } from './inspect-pool.js';
import type { Received, Spool } from './spool.js';
import { groupedWritten, recountImage, upsertContainers } from './records.js';

export { IngestError, STRING_CAPS } from './inspect.js';

/** Uploads with at least this many packages refresh PostgreSQL's statistics before querying what they wrote. */
const ANALYZE_AFTER_ROWS = 20_000;

/** Who sent the upload (from the sensor headers and the token). */
export interface SensorInfo {
  /** `id:<X-Tally-Sensor-Id>` when the sensor names itself; else the key is derived (sensorKey). */
  readonly explicitId: string | null;
  readonly version: string;
  readonly protocol: number;
  readonly host: string;
  readonly tokenId: string | null;
}

export interface IngestOptions {
  /** The body (spool.ts, receiveBody); the caller disposes of it. */
  readonly body: Received;
  readonly sensor: SensorInfo;
  /** The client's Idempotency-Key header, if any. */
  readonly idempotencyKey: string | null;
  readonly receivedAt?: Date;
  /** Packages per batch within the transaction (default 1000). */
  readonly batchSize?: number;
  /** Worker threads for pass 1; without one, pass 1 runs here. */
  readonly pool?: InspectPool;
  /** Progress for logs (and the fault tests, which kill the server once writing has begun). */
  readonly onStage?: (stage: 'inspected' | 'writing' | 'committed') => void;
}

const IMAGE_PACKAGE_SHAPE = {
  table: 'image_packages',
  columns: ['image_pk', 'package_pk', 'scan_type', 'layer_index', 'locations', 'evidence', 'evidence_sources', 'identified_by'],
  returningPk: true,
} as const;

const EVALUATION_SHAPE = { table: 'evaluations', columns: ['distro', 'package_pk', 'signature'], onConflictDoNothing: ['distro', 'package_pk'] } as const;

/** `repo:tag` / `repo@digest` split; the tag's colon is the last one after the last slash (registry ports). */
export function parseImageRef(value: string, kind: 'tag' | 'digest'): { repo: string; tag: string | null; digest: string | null } {
  if (kind === 'digest') {
    const at = value.indexOf('@');
    return at < 0 ? { repo: value, tag: null, digest: null } : { repo: value.slice(0, at), tag: null, digest: value.slice(at + 1) };
  }
  const slash = value.lastIndexOf('/');
  const colon = value.lastIndexOf(':');
  return colon > slash ? { repo: value.slice(0, colon), tag: value.slice(colon + 1), digest: null } : { repo: value, tag: null, digest: null };
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** ISO-8601 UTC for a timestamp written in an ISO form, else null (the literal is kept in its own column). */
export function normalizeTimestamp(value: string): string | null {
  if (!ISO_DATE.test(value)) return null;
  const t = Date.parse(value);
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
}

/** The image's identity: its config digest, else a stable id derived from the ref (rootfs and SBOM sources). */
export function imageIdOf(image: ReportHead['image']): string {
  return image.imageId ?? `ref:sha256:${createHash('sha256').update(image.ref).digest('hex')}`;
}

export const OS_SCAN_TYPES: readonly ScanType[] = ['Static', 'Dynamic'];

/** Without an explicit id, a sensor is its (type, host, token): one row per kind of sensor on a host. */
export function sensorKey(sensor: SensorInfo, type: string): string {
  return sensor.explicitId ?? `derived:${createHash('sha256').update(JSON.stringify([type, sensor.host, sensor.tokenId ?? ''])).digest('hex').slice(0, 32)}`;
}

export async function upsertSensor(trx: Transaction<Tables>, sensor: SensorInfo, type: SensorType, performSca: boolean, now: string): Promise<number> {
  const row = await trx
    .insertInto('sensors')
    .values({ sensor_key: sensorKey(sensor, type), type, version: sensor.version, protocol: sensor.protocol, host: sensor.host, perform_sca: performSca ? 1 : 0, token_id: sensor.tokenId, first_seen: now, last_seen: now })
    .onConflict((oc) =>
      oc.column('sensor_key').doUpdateSet({ type, version: sensor.version, protocol: sensor.protocol, host: sensor.host, perform_sca: performSca ? 1 : 0, token_id: sensor.tokenId, last_seen: now }),
    )
    .returning('pk')
    .executeTakeFirstOrThrow();
  return row.pk;
}

/** Pass 1's result, the body's hash, and where pass 2 reads the packages from. */
interface Inspected {
  readonly inspection: Inspection;
  /** sha256 (hex) of the inflated body. */
  readonly sha256: string;
  /** The package rows of a body held in memory (taken when written), or the spooled body to stream them from again. */
  readonly source: (() => readonly PackageRow[]) | Spool;
  readonly seeds: MatchSeeds | null;
}

async function inspect(options: IngestOptions): Promise<Inspected> {
  const { wire } = options.body;
  if (wire !== null) {
    const done = options.pool !== undefined ? await options.pool.inspect(wire) : await inspectWire(wire);
    if (done !== null) return { inspection: done.inspection, sha256: done.sha256, source: done.rows, seeds: done.seeds };
  }
  const spool = await options.body.spool();
  const inspection = await inspectReport(spool.chunks(), spool.inMemory);
  const { rows } = inspection;
  return { inspection, sha256: spool.sha256, source: rows !== null ? () => rows : spool, seeds: null };
}

export async function ingestReport(store: Store, vulndb: ServerVulnDb, options: IngestOptions): Promise<UploadResponse> {
  const { inspection, sha256, source, seeds } = await inspect(options);
  options.onStage?.('inspected');
  const { head } = inspection;
  const now = (options.receivedAt ?? new Date()).toISOString();
  const idemKey = options.idempotencyKey !== null ? `key:${options.sensor.tokenId ?? ''}:${options.idempotencyKey}` : `sha256:${sha256}`;
  const sca = await getSca(store.read);
  const accepted = head.scanTypes.filter((t) => t !== 'SCA' || sca.enabled);
  const dropped = head.scanTypes.filter((t) => !accepted.includes(t));
  const lease = vulndb.acquire();
  // Results from another handle are taken only from the same file (the identity is taken the same way for both).
  if (seeds !== null && lease.matcher !== null && seeds.identity === lease.identity) lease.matcher.seed(seeds);
  try {
    const { response, learned } = await writeQueueOf(store).run(async (trx) => {
      // What this attempt finds or writes for the caches, remembered once its group has committed (store/committed.ts).
      const learned = new Learned();
      // Claim the key first: a write, so SQLite takes its write lock now (no stale-snapshot upgrade later), and a
      // concurrent duplicate on PostgreSQL waits on the unique index until this transaction ends.
      const claimed = await trx
        .insertInto('uploads')
        .values({ idem_key: idemKey, body_sha256: sha256, image_pk: 0, received_at: now, scan_types: JSON.stringify(accepted), sensor_pk: null, response: '{}' })
        .onConflict((oc) => oc.column('idem_key').doNothing())
        .returning('pk')
        .executeTakeFirst();
      if (claimed === undefined) {
        const prior = await trx.selectFrom('uploads').select(['body_sha256', 'response']).where('idem_key', '=', idemKey).executeTakeFirstOrThrow();
        if (prior.body_sha256 !== sha256) {
          throw new IngestError('this Idempotency-Key was already used for a different report', 409, 'IDEMPOTENCY_CONFLICT');
        }
        await trx.updateTable('sensors').set({ last_seen: now }).where('sensor_key', '=', sensorKey(options.sensor, head.sensor.type)).execute();
        return { response: { ...(JSON.parse(prior.response) as UploadResponse), duplicate: true }, learned };
      }
      options.onStage?.('writing');
      const sensorPk = await upsertSensor(trx, options.sensor, head.sensor.type, head.sensor.performScaScan, now);
      const imagePk = await upsertImage(trx, head, now);
      await trx
        .insertInto('image_sensors')
        .values({ image_pk: imagePk, sensor_pk: sensorPk, first_seen: now, last_seen: now })
        .onConflict((oc) => oc.columns(['image_pk', 'sensor_pk']).doUpdateSet({ last_seen: now }))
        .execute();

      const replaceOs = accepted.some((t) => OS_SCAN_TYPES.includes(t));
      const replaced: ScanType[] = [...(replaceOs ? OS_SCAN_TYPES : []), ...(accepted.includes('SCA') ? (['SCA'] as const) : [])];
      const fleet = await beginFleetUpdate(trx, store.dialect, [imagePk]);
      if (replaced.length > 0) {
        await trx.deleteFrom('detections').where('image_pk', '=', imagePk).where('scan_type', 'in', replaced).execute();
        await trx.deleteFrom('image_packages').where('image_pk', '=', imagePk).where('scan_type', 'in', replaced).execute();
      }

      const stored = await insertPackages(store, trx, learned, imagePk, head, source, accepted, lease.matcher, options.batchSize ?? 1000);
      if (replaced.length > 0) {
        await syncHolders(trx, store.dialect, imagePk, fleet.heldNothing);
        await syncVulnHolders(trx, store.dialect, [imagePk], fleet.heldNothing);
      }
      // PostgreSQL plans the recount and aggregate queries below from table statistics that do not know about this
      // transaction's rows: after a huge upload into a young store it estimated one row and picked a nested loop
      // that ran for minutes. ANALYZE inside the transaction counts its own new rows; a big upload pays ~0.1 s.
      if (store.dialect === 'postgres' && stored.stored >= ANALYZE_AFTER_ROWS) await sql`analyze image_packages, packages, detections`.execute(trx);

      for (const t of accepted) {
        const row = { active: 1, scanned_at: head.scannedAt, received_at: now, sensor_pk: sensorPk, tool_version: head.tool.version, packages: stored.byScanType.get(t) ?? 0 };
        await trx
          .insertInto('scans')
          .values({ image_pk: imagePk, scan_type: t, ...row })
          .onConflict((oc) => oc.columns(['image_pk', 'scan_type']).doUpdateSet(row))
          .execute();
      }
      if (replaceOs) {
        const superseded = OS_SCAN_TYPES.filter((t) => !accepted.includes(t));
        if (superseded.length > 0) await trx.updateTable('scans').set({ active: 0 }).where('image_pk', '=', imagePk).where('scan_type', 'in', superseded).execute();
      }
      if (inspection.containers !== null) {
        await upsertContainers(trx, { sensorPk, host: options.sensor.host, now, containers: inspection.containers, scope: { imageId: imageIdOf(head.image) } });
      }
      // A new image's rows are all in hand: counted from them rather than read back.
      const counts = await recountImage(trx, imagePk, fleet.heldNothing && stored.written !== null ? groupedWritten(stored.written) : undefined);
      await fleet.finish(stored.written ?? undefined);

      const warnings: string[] = [];
      if (dropped.includes('SCA') || (!sca.enabled && head.sensor.performScaScan)) {
        warnings.push(
          `SCA is disabled on this backend: ${stored.dropped} SCA package${stored.dropped === 1 ? ' was' : 's were'} not stored; only Static and Dynamic results are accepted until an admin runs "tally admin sca enable" (or PUT /api/v1/settings/sca)`,
        );
      }
      if (lease.matcher === null) warnings.push('the backend has no vulnerability database yet: the inventory is stored and will be evaluated when one is installed');
      const response: UploadResponse = {
        uploadId: claimed.pk,
        imageId: imageIdOf(head.image),
        duplicate: false,
        scanTypes: accepted,
        droppedScanTypes: dropped,
        packages: { received: inspection.packages, stored: stored.stored, dropped: stored.dropped },
        vulnerabilities: counts,
        evaluated: lease.matcher !== null,
        warnings,
      };
      await trx.updateTable('uploads').set({ image_pk: imagePk, sensor_pk: sensorPk, response: JSON.stringify(response) }).where('pk', '=', claimed.pk).execute();
      return { response, learned };
    }, typeof source === 'function');
    learned.committed();
    options.onStage?.('committed');
    return response;
  } finally {
    lease.release();
  }
}

async function upsertImage(trx: Transaction<Tables>, head: ReportHead, now: string): Promise<number> {
  const image = head.image;
  const tags = [...new Set(image.repoTags)].map((value) => ({ kind: 'tag' as const, value, ...parseImageRef(value, 'tag') }));
  const digests = [...new Set(image.repoDigests)].map((value) => ({ kind: 'digest' as const, value, ...parseImageRef(value, 'digest') }));
  const repo = tags[0]?.repo ?? digests[0]?.repo ?? null;
  const facts = {
    ref: image.ref,
    source: image.source,
    platform_os: image.platform?.os ?? null,
    architecture: image.platform?.architecture ?? null,
    variant: image.platform?.variant ?? null,
    created: image.created,
    created_ts: image.created === null ? null : normalizeTimestamp(image.created),
    ...storedOs(image.os),
    layer_count: image.layers.length,
    history: JSON.stringify(image.history),
    last_seen: now,
  };
  const row = await trx
    .insertInto('images')
    .values({ image_id: imageIdOf(image), repo, manifest_digest: image.manifestDigest, first_seen: now, ...facts })
    .onConflict((oc) =>
      oc.column('image_id').doUpdateSet((eb) => ({
        ...facts,
        // A docker-archive upload has no manifest digest or tags where a registry upload of the same image did:
        // keep what an earlier upload knew.
        repo: eb.fn.coalesce(eb.ref('excluded.repo'), eb.ref('images.repo')),
        manifest_digest: eb.fn.coalesce(eb.ref('excluded.manifest_digest'), eb.ref('images.manifest_digest')),
      })),
    )
    .returning('pk')
    .executeTakeFirstOrThrow();
  const imagePk = row.pk;
  for (const r of [...tags, ...digests]) {
    await trx
      .insertInto('image_refs')
      .values({ image_pk: imagePk, kind: r.kind, value: r.value, repo: r.repo, tag: r.tag, digest: r.digest, first_seen: now, last_seen: now })
      .onConflict((oc) => oc.columns(['image_pk', 'value']).doUpdateSet({ last_seen: now }))
      .execute();
  }
  await trx.deleteFrom('layers').where('image_pk', '=', imagePk).execute();
  const layers = image.layers.map((l) => ({
    image_pk: imagePk,
    idx: l.index,
    digest: l.digest,
    diff_id: l.diffId,
    media_type: l.mediaType,
    size: l.size,
    created_by: l.createdBy,
    created: l.created,
    comment: l.comment,
  }));
  for (let i = 0; i < layers.length; i += 200) await trx.insertInto('layers').values(layers.slice(i, i + 200)).execute();
  return imagePk;
}

interface Stored {
  stored: number;
  dropped: number;
  byScanType: Map<string, number>;
  /** The rows written, when the report's rows were in memory anyway (a new image's counts and fleet contribution then need not read them back). */
  written: { packages: WrittenPackage[]; detections: WrittenDetection[] } | null;
}

async function insertPackages(
  store: Store,
  trx: Transaction<Tables>,
  learned: Learned,
  imagePk: number,
  head: ReportHead,
  source: (() => readonly PackageRow[]) | Spool,
  accepted: readonly ScanType[],
  matcher: PostureMatcher | null,
  batchSize: number,
): Promise<Stored> {
  const dialect: Dialect = store.dialect;
  const out: Stored = { stored: 0, dropped: 0, byScanType: new Map(), written: typeof source === 'function' ? { packages: [], detections: [] } : null };
  const os = storedOs(head.image.os);
  let batch: PackageRow[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    const pks = await upsertDictionary(
      trx,
      store,
      rows.map((r) => r.dict),
      learned,
    );
    const packagePks = rows.map((r) => pks.get(r.dict.pkey) as number);
    const ipPks = await insertRows(
      trx,
      dialect,
      IMAGE_PACKAGE_SHAPE,
      rows.map((r, i) => [imagePk, packagePks[i] as number, r.scanType, r.layerIndex, r.locations, r.evidence, r.evidenceSources, r.identifiedBy]),
    );
    for (const r of rows) out.byScanType.set(r.scanType, (out.byScanType.get(r.scanType) ?? 0) + 1);
    out.stored += rows.length;
    out.written?.packages.push(...rows.map((r, i) => ({ imagePk, packagePk: packagePks[i] as number, scanType: r.scanType, name: r.dict.name, version: r.dict.version, type: r.dict.type })));
    if (matcher === null) return;
    // The matchable columns by name, not a spread of the whole dictionary row: objects of one shape, built fast.
    const inImage: PackageInImage[] = rows.map(({ dict: d, scanType, layerIndex }, i) => ({
      pkey: d.pkey,
      type: d.type,
      name: d.name,
      version: d.version,
      purl: d.purl,
      class: d.class,
      source_name: d.source_name,
      source_version: d.source_version,
      owned_by: d.owned_by,
      image_package_pk: ipPks[i] as number,
      package_pk: packagePks[i] as number,
      scan_type: scanType,
      layer_index: layerIndex,
    }));
    const d = matcher.detections(imagePk, os, inImage, { rows: [], findings: new Map(), fresh: new Map() });
    await insertDetections(trx, store, d, learned);
    out.written?.detections.push(...d.rows);
    // Pairs this process matched for the first time: recorded for the re-evaluation, never overwritten here (a
    // stale signature must survive until the re-evaluation that follows a database change rewrites its images).
    await insertRows(trx, dialect, EVALUATION_SHAPE, [...(d.fresh ?? new Map<number, { distro: string; signature: string }>())].map(([pk, e]) => [e.distro, pk, e.signature]));
  };
  const take = (r: PackageRow): Promise<void> | undefined => {
    if (!accepted.includes(r.scanType)) {
      out.dropped++;
      return undefined;
    }
    batch.push(r);
    return batch.length >= batchSize ? flush() : undefined;
  };
  if (typeof source === 'function') {
    for (const r of source()) {
      const p = take(r);
      if (p !== undefined) await p;
    }
  } else {
    await forEachPackageRow(source.chunks(), take);
  }
  await flush();
  return out;
}
