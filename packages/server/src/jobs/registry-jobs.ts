/**
 * The registry jobs.
 *
 * `registry-sync`: list the registry's repositories (`_catalog`, or the literal `--repo` names) and their tags,
 * HEAD each tag's manifest, and for every manifest digest the store does not hold yet queue one `scan-manifest` job
 * keyed by the digest (so a digest under ten tags, or listed by two overlapping syncs, is scanned once). Tags of
 * digests already stored are recorded on the stored image at once: a re-tag costs no scan.
 *
 * `scan-manifest`: scan `registry:HOST/REPO[:TAG]@DIGEST` (Static, plus SCA when the registry says so and the backend
 * accepts SCA) and ingest the report straight into the store, as an upload would. Idempotent: a digest found in the
 * store (a retry after the ingestion committed, or a sensor that uploaded it meanwhile) only gets its tags recorded.
 */
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { DEFAULT_PLATFORM, isRegistryError, RegistryClient, type RegistryErrorKind, scanSource, sourceForTarget, TOOL_VERSION, type LayerCache } from '@tally/core';
import type { Store } from '../store/database.js';
import { getSca } from '../store/settings.js';
import type { ServerVulnDb } from '../evaluate/vulndb.js';
import { ingestReport, parseImageRef, type SensorInfo } from '../ingest/ingest.js';
import { STRING_CAPS } from '../ingest/inspect.js';
import { receiveBody } from '../ingest/spool.js';
import { SENSOR_PROTOCOL } from '../protocol.js';
import type { JobContext, JobQueue } from './queue.js';
import { getRegistry, globMatcher, literalRepos, recordSync, registryOptions, type RegistryInfo } from './registries.js';
import type { ScopedLayerCache } from './layer-locks.js';

export interface RegistryJobDeps {
  readonly store: Store;
  readonly vulndb: ServerVulnDb;
  readonly queue: JobQueue;
  /** Upload spools and scan temp dirs. */
  readonly tmpDir: string;
  /** The layer cache for one scan (shared by the fleet's workers where it can be), or null. */
  readonly layerCache: ((signal: AbortSignal) => ScopedLayerCache) | null;
  /** Shown as the sensor host of the images this process scans. */
  readonly host?: string;
}

interface TagRef {
  readonly repo: string;
  readonly tag: string | null;
}

/** Plain-cache adapter: a cache without cross-process locks (SQLite runs one job at a time). */
export function unlockedScope(cache: LayerCache): ScopedLayerCache {
  return { get: (k) => cache.get(k), put: (k, r) => cache.put(k, r), release: () => Promise.resolve() };
}

function payloadNumber(ctx: JobContext, field: string): number {
  const v = ctx.payload[field];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`job payload: ${field} must be an integer`);
  return v;
}

/** The stored image this manifest (or index) digest names, when it has the inventory a scan would give. */
export async function storedImage(store: Store, digest: string, needSca: boolean): Promise<{ pk: number; imageId: string } | null> {
  const byManifest = store.db.selectFrom('images').select(['images.pk', 'images.image_id']).where('images.manifest_digest', '=', digest);
  const byRef = store.db.selectFrom('image_refs').innerJoin('images', 'images.pk', 'image_refs.image_pk').select(['images.pk', 'images.image_id']).where('image_refs.digest', '=', digest);
  for (const row of await byManifest.union(byRef).execute()) {
    const scans = (await store.db.selectFrom('scans').select('scan_type').where('image_pk', '=', row.pk).where('active', '=', 1).execute()).map((s) => s.scan_type);
    if (scans.some((t) => t === 'Static' || t === 'Dynamic') && (!needSca || scans.includes('SCA'))) return { pk: row.pk, imageId: row.image_id };
  }
  return null;
}

/** Record `HOST/REPO:TAG` and `HOST/REPO@DIGEST` on a stored image (what a re-tag through the API does). */
async function recordRefs(store: Store, imagePk: number, registry: string, digest: string, refs: readonly TagRef[]): Promise<void> {
  const now = new Date().toISOString();
  const values = [
    ...refs.filter((r) => r.tag !== null).map((r) => ({ kind: 'tag' as const, value: `${registry}/${r.repo}:${r.tag}` })),
    ...[...new Set(refs.map((r) => r.repo))].map((repo) => ({ kind: 'digest' as const, value: `${registry}/${repo}@${digest}` })),
  ].slice(0, STRING_CAPS.refsPerImage);
  await store.db.transaction().execute(async (trx) => {
    for (const v of values) {
      const parsed = parseImageRef(v.value, v.kind);
      await trx
        .insertInto('image_refs')
        .values({ image_pk: imagePk, kind: v.kind, value: v.value, repo: parsed.repo, tag: parsed.tag, digest: parsed.digest, first_seen: now, last_seen: now })
        .onConflict((oc) => oc.columns(['image_pk', 'value']).doUpdateSet({ last_seen: now }))
        .execute();
    }
    await trx.updateTable('images').set({ last_seen: now }).where('pk', '=', imagePk).execute();
  });
}

async function needsSca(store: Store, registry: RegistryInfo): Promise<boolean> {
  return registry.performSca && (await getSca(store.read)).enabled;
}

/** Failures of the registry as a whole: the sync fails and is retried with backoff. Others skip one tag or repository. */
const TRANSIENT = new Set<RegistryErrorKind>(['network', 'timeout', 'rate-limit', 'http', 'tls']);

export interface SyncStats {
  repositories: number;
  tags: number;
  manifests: number;
  queued: number;
  known: number;
  /** Tags that could not be read (deleted between the listing and the HEAD, access denied), first few named. */
  unreadable: number;
  errors: string[];
}

export async function syncRegistry(deps: RegistryJobDeps, ctx: JobContext): Promise<unknown> {
  const registry = await getRegistry(deps.store, payloadNumber(ctx, 'registry'));
  if (registry === null) return { skipped: 'the registry was removed' };
  const stats: SyncStats = { repositories: 0, tags: 0, manifests: 0, queued: 0, known: 0, unreadable: 0, errors: [] };
  const client = new RegistryClient(registry.registry, await registryOptions(registry));
  try {
    const repoMatch = globMatcher(registry.repos);
    const tagMatch = globMatcher(registry.tags);
    let repos = literalRepos(registry.repos);
    if (repos === null) {
      repos = [];
      for await (const repo of client.catalog({ signal: ctx.signal })) if (repoMatch(repo)) repos.push(repo);
    }
    stats.repositories = repos.length;
    // digest → the tags naming it; held for one registry pass (a few hundred bytes per tag).
    const byDigest = new Map<string, TagRef[]>();
    for (const [i, repo] of repos.entries()) {
      try {
        for await (const tag of client.tags(repo, { signal: ctx.signal })) {
          if (!tagMatch(tag)) continue;
          stats.tags++;
          try {
            const head = await client.headManifest(repo, tag, ctx.signal);
            const refs = byDigest.get(head.digest) ?? [];
            refs.push({ repo, tag });
            byDigest.set(head.digest, refs);
          } catch (err) {
            if (!isRegistryError(err) || TRANSIENT.has(err.kind)) throw err; // the registry is down: retry the whole sync later
            stats.unreadable++;
            if (stats.errors.length < 10) stats.errors.push(err.message);
          }
        }
      } catch (err) {
        if (!isRegistryError(err) || TRANSIENT.has(err.kind)) throw err;
        stats.unreadable++;
        if (stats.errors.length < 10) stats.errors.push(err.message);
      }
      ctx.progress(i + 1, repos.length);
    }
    stats.manifests = byDigest.size;
    const sca = await needsSca(deps.store, registry);
    for (const [digest, refs] of byDigest) {
      const stored = await storedImage(deps.store, digest, sca);
      if (stored !== null) {
        await recordRefs(deps.store, stored.pk, registry.registry, digest, refs);
        stats.known++;
        continue;
      }
      await deps.queue.enqueue('scan-manifest', {
        key: `scan-manifest:${digest}`,
        keyMode: 'dedupe',
        reason: `registry sync of ${registry.url}`,
        subject: `${registry.registry}/${refs[0]!.repo}@${digest}`,
        payload: { registry: registry.id, digest, refs: refs.slice(0, STRING_CAPS.refsPerImage) },
      });
      stats.queued++;
    }
    await recordSync(deps.store, registry.id, { state: 'ok', stats });
    return stats;
  } catch (err) {
    await recordSync(deps.store, registry.id, { state: 'failed', error: err instanceof Error ? err.message : String(err), stats }).catch(() => undefined);
    throw err;
  } finally {
    client.close();
  }
}

function payloadRefs(ctx: JobContext): TagRef[] {
  const raw = ctx.payload['refs'];
  if (!Array.isArray(raw) || raw.length === 0) throw new Error('job payload: refs must be a non-empty list');
  return raw.map((r: unknown) => {
    const o = r as { repo?: unknown; tag?: unknown };
    if (typeof o.repo !== 'string' || (o.tag !== null && typeof o.tag !== 'string')) throw new Error('job payload: bad ref');
    return { repo: o.repo, tag: o.tag };
  });
}

export async function scanManifest(deps: RegistryJobDeps, ctx: JobContext): Promise<unknown> {
  const registry = await getRegistry(deps.store, payloadNumber(ctx, 'registry'));
  if (registry === null) return { skipped: 'the registry was removed' };
  const digest = ctx.payload['digest'];
  if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error('job payload: digest must be a sha256 digest');
  const refs = payloadRefs(ctx);
  const sca = await needsSca(deps.store, registry);
  const known = await storedImage(deps.store, digest, sca);
  if (known !== null) {
    await recordRefs(deps.store, known.pk, registry.registry, digest, refs);
    return { skipped: 'already stored', imageId: known.imageId };
  }
  const first = refs[0]!;
  const target = `registry:${registry.registry}/${first.repo}${first.tag !== null ? `:${first.tag}` : ''}@${digest}`;
  const source = await sourceForTarget(target, { platform: DEFAULT_PLATFORM, platformExplicit: false, registry: await registryOptions(registry) });
  const cache = deps.layerCache?.(ctx.signal) ?? null;
  let report;
  try {
    report = await scanSource(source, { performScaScan: sca, sensor: 'registry', signal: ctx.signal, tempRoot: deps.tmpDir, ...(cache !== null ? { cache } : {}) });
  } finally {
    await cache?.release();
  }
  const body = await receiveBody(Readable.from([Buffer.from(JSON.stringify(report))]), undefined, deps.tmpDir);
  const sensor: SensorInfo = { explicitId: null, version: TOOL_VERSION, protocol: SENSOR_PROTOCOL, host: deps.host ?? hostname(), tokenId: null };
  let stored;
  try {
    stored = await ingestReport(deps.store, deps.vulndb, { body, sensor, idempotencyKey: null });
  } finally {
    body.dispose();
  }
  const image = await deps.store.db.selectFrom('images').select('pk').where('image_id', '=', stored.imageId).executeTakeFirstOrThrow();
  await recordRefs(deps.store, image.pk, registry.registry, digest, refs);
  return { imageId: stored.imageId, target, packages: stored.packages.stored, vulnerabilities: stored.vulnerabilities.total, layers: report.image.layers.length };
}
