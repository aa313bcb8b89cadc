/**
 * Support for the re-evaluation's tests and benchmark (bench/reevaluate.mjs), not used by the server: uploads through
 * the real ingestion without HTTP, a store-independent dump of what the detections say, and real changes to a
 * vulnerability database file made through core's writer (the same atomic swap `tally db update` does).
 */
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { VulnDbWriter, type Advisory, type ScanReport } from '@tally/core';
import type { Store } from '../store/database.js';
import { ingestReport } from '../ingest/ingest.js';
import { receiveBody } from '../ingest/spool.js';
import { SENSOR_PROTOCOL, type UploadResponse } from '../protocol.js';
import type { ServerVulnDb } from './vulndb.js';

/** One report in, as `POST /api/v1/scans` stores it. */
export async function uploadReport(store: Store, vulndb: ServerVulnDb, report: ScanReport | Buffer, tmpDir: string): Promise<UploadResponse> {
  const body = Buffer.isBuffer(report) ? report : Buffer.from(JSON.stringify(report));
  const received = await receiveBody(Readable.from([body]), undefined, tmpDir);
  try {
    return await ingestReport(store, vulndb, { body: received, sensor: { explicitId: null, version: 'test', protocol: SENSOR_PROTOCOL, host: 'reevaluate-test', tokenId: null }, idempotencyKey: null });
  } finally {
    received.dispose();
  }
}

/**
 * Everything the stored detections say, keyed by natural ids (image id, package identity), one sorted JSON line per
 * detection, per image count row, per scan count row and per fleet vulnerability row (store/fleet-aggregates.ts):
 * equal for two stores that hold the same evaluation.
 */
export async function detectionState(store: Store): Promise<string[]> {
  const detections = await store.read
    .selectFrom('detections as d')
    .innerJoin('images as i', 'i.pk', 'd.image_pk')
    .innerJoin('packages as p', 'p.pk', 'd.package_pk')
    .innerJoin('finding_data as f', 'f.hash', 'd.finding')
    .select(['i.image_id', 'p.pkey', 'd.vuln_id', 'd.scan_type', 'd.class', 'd.severity', 'd.severity_rank', 'd.status', 'd.has_fix', 'd.layer_index', 'd.kev', 'd.epss', 'd.cvss_score', 'd.finding', 'f.fixed_versions', 'f.data'])
    .execute();
  const images = await store.read
    .selectFrom('images')
    .select(['image_id', 'vulns_total', 'vulns_critical', 'vulns_high', 'vulns_medium', 'vulns_low', 'vulns_negligible', 'vulns_unknown', 'cvss_max', 'cvss_min'])
    .execute();
  const scans = await store.read.selectFrom('scans as s').innerJoin('images as i', 'i.pk', 's.image_pk').select(['i.image_id', 's.scan_type', 's.vulns']).execute();
  const fleet = await store.read.selectFrom('fleet_vulns').selectAll().where('images', '>', 0).execute();
  const num = (v: unknown): unknown => (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : v);
  const line = (tag: string, row: Record<string, unknown>): string => JSON.stringify([tag, ...Object.values(row).map(num)]);
  return [...detections.map((r) => line('d', r)), ...images.map((r) => line('i', r)), ...scans.map((r) => line('s', r)), ...fleet.map((r) => line('f', r))].sort();
}

/** An advisory as stored, with the source it belongs to. */
export interface StoredAdvisory {
  readonly source: { readonly name: string; readonly kind: string; readonly origin: string };
  readonly key: string;
  readonly advisory: Advisory;
}

/** The advisories affecting any of these lookup keys (JSON [ecosystem, name], as evaluation_keys holds them). */
export function advisoriesAffecting(dbPath: string, lookupKeys: Iterable<string>): StoredAdvisory[] {
  return readAdvisories(dbPath, 'JOIN affected f ON f.advisory = a.pk WHERE f.ecosystem = ? AND f.package = ?', [...lookupKeys].map((k) => JSON.parse(k) as [string, string]));
}

/** Every advisory in the database. */
export function allAdvisories(dbPath: string): StoredAdvisory[] {
  return readAdvisories(dbPath, '', [[]]);
}

/** The advisories with any of these ids. */
export function advisoriesWithId(dbPath: string, ids: Iterable<string>): StoredAdvisory[] {
  return readAdvisories(dbPath, 'WHERE a.id = ?', [...ids].map((id) => [id]));
}

function readAdvisories(dbPath: string, where: string, params: readonly (readonly string[])[]): StoredAdvisory[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const stmt = db.prepare(`SELECT s.name, s.kind, s.origin, a.key, a.json FROM advisories a JOIN sources s ON s.id = a.source_id ${where} ORDER BY a.pk`);
    const out = new Map<string, StoredAdvisory>();
    for (const p of params) {
      for (const r of stmt.all(...p) as { name: string; kind: string; origin: string; key: string; json: string }[]) {
        out.set(`${r.name}\u0000${r.key}`, { source: { name: r.name, kind: r.kind, origin: r.origin }, key: r.key, advisory: JSON.parse(r.json) as Advisory });
      }
    }
    return [...out.values()];
  } finally {
    db.close();
  }
}

export interface VulnDbEdits {
  /** Replace a stored advisory (merge import of its source). */
  revise(stored: StoredAdvisory, advisory: Advisory): void;
  remove(stored: StoredAdvisory): void;
  /** Add a CISA KEV entry. */
  kev(cve: string): void;
}

/** Apply edits to the database at `livePath` as one atomic swap (no edits: the same content in a new file). */
export async function changeVulnDb(livePath: string, edit: (e: VulnDbEdits) => void): Promise<void> {
  const bySource = new Map<string, { spec: StoredAdvisory['source']; ops: ((sink: { advisory(k: string, a: Advisory): void; remove(k: string): boolean }) => void)[] }>();
  const kevs: string[] = [];
  const op = (s: StoredAdvisory, f: (sink: { advisory(k: string, a: Advisory): void; remove(k: string): boolean }) => void): void => {
    let entry = bySource.get(s.source.name);
    if (entry === undefined) bySource.set(s.source.name, (entry = { spec: s.source, ops: [] }));
    entry.ops.push(f);
  };
  edit({
    revise: (s, a) => op(s, (sink) => sink.advisory(s.key, a)),
    remove: (s) =>
      op(s, (sink) => {
        if (!sink.remove(s.key)) throw new Error(`advisory ${s.key} of ${s.source.name} is not stored`);
      }),
    kev: (cve) => kevs.push(cve),
  });
  const writer = VulnDbWriter.beginSwap(livePath);
  try {
    for (const { spec, ops } of bySource.values()) {
      await writer.importSource(spec, 'merge', async (sink) => {
        for (const f of ops) f(sink);
      });
    }
    if (kevs.length > 0) {
      await writer.importSource({ name: 'kev:test', kind: 'kev', origin: 'test' }, 'merge', async (sink) => {
        for (const cve of kevs) sink.kev({ cve, dateAdded: '2026-11-29', dueDate: null, knownRansomwareCampaignUse: null });
      });
    }
    writer.commit();
  } catch (err) {
    writer.abort();
    throw err;
  }
}
