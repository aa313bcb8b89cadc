/**
 * One pass of the Registry sensor. Per repository: list the tags, find each tag's image manifests from manifests
 * alone (registry-targets.ts), ask the backend which manifest digests it has, then scan only the others. A known
 * manifest under a tag the backend has not seen is recorded as a re-tag. Each repository gets its own client
 * (tokens are per repository anyway), so a repository whose auth misbehaves cannot stall the ones after it.
 */
import {
  formatPlatform,
  RegistryClient,
  registrySource,
  resolvePlatforms,
  scanSource,
  type ImageReference,
  type ImageSource,
  type LayerCache,
  type PlatformSpec,
  type RegistryOptions,
} from '@tally/core';
import type { SensorBackend } from './backend.js';
import { KnownImages, missingScanTypes } from './known.js';
import { emptyStats, plural, type PassStats, type SensorLog } from './log.js';
import { planTag, repositories, tagsOf, type NameFilter, type PlatformManifest, type TagPlan } from './registry-targets.js';
import { imageFailed, knownImage, scanAndUpload, type PassContext } from './step.js';

export interface RegistrySensor {
  /** Canonical registry name (`reg.example:5000`, `docker.io`). */
  readonly registry: string;
  readonly clientOptions: RegistryOptions;
  readonly repos: NameFilter | null;
  readonly tags: NameFilter | null;
  readonly platform: PlatformSpec | 'all';
  readonly backend: SensorBackend;
  readonly log: SensorLog;
  readonly cache: LayerCache | null;
  readonly performScaScan: boolean;
}

interface RepoPass extends PassContext {
  readonly sensor: RegistrySensor;
  readonly client: RegistryClient;
  readonly repository: string;
  readonly needSca: boolean;
}

export async function registryPass(sensor: RegistrySensor, signal: AbortSignal): Promise<PassStats> {
  const { backend, log } = sensor;
  const { scaEnabled, warnings } = await backend.heartbeat(signal);
  for (const w of warnings) log.warnOnce(w);
  const stats = emptyStats();
  const known = new KnownImages();
  const catalog = new RegistryClient(sensor.registry, sensor.clientOptions);
  let repos: string[];
  try {
    repos = await repositories(catalog, sensor.repos, signal);
  } finally {
    catalog.close();
    stats.blobs += catalog.stats.blobFetches;
  }
  for (const repository of repos) {
    if (signal.aborted) break;
    const client = new RegistryClient(sensor.registry, sensor.clientOptions);
    try {
      await repositoryPass({ sensor, client, repository, needSca: sensor.performScaScan && scaEnabled, backend, log, stats, known, signal });
    } finally {
      client.close();
      stats.blobs += client.stats.blobFetches;
    }
  }
  return stats;
}

function nameOf(p: { sensor: RegistrySensor; repository: string }): string {
  return `${p.sensor.registry}/${p.repository}`;
}

/** `registry:reg/repo:tag`, with the platform when a tag stands for several images. */
function refOf(p: RepoPass, plan: TagPlan, m: PlatformManifest): string {
  return `registry:${nameOf(p)}:${plan.tag}${plan.isIndex && p.sensor.platform === 'all' && m.platform ? ` [${formatPlatform(m.platform)}]` : ''}`;
}

async function repositoryPass(p: RepoPass): Promise<void> {
  const started = performance.now();
  let tags: string[];
  try {
    tags = await tagsOf(p.client, p.repository, p.sensor.tags, p.signal);
  } catch (err) {
    imageFailed(p, `registry:${nameOf(p)}`, started, err);
    return;
  }
  const plans: TagPlan[] = [];
  for (const tag of tags) {
    if (p.signal.aborted) return;
    const planned = performance.now();
    try {
      const plan = await planTag(p.client, p.repository, tag, p.sensor.platform, p.signal);
      if (plan === null) continue;
      plans.push(plan);
      p.stats.seen += plan.manifests.length;
    } catch (err) {
      p.stats.seen++;
      imageFailed(p, `registry:${nameOf(p)}:${tag}`, planned, err);
    }
  }
  p.known.add(await p.backend.known({ manifestDigests: plans.flatMap((plan) => plan.manifests.map((m) => m.digest)) }, p.signal));
  for (const plan of plans) {
    if (p.signal.aborted) return;
    await tagPass(p, plan);
  }
}

async function tagPass(p: RepoPass, plan: TagPlan): Promise<void> {
  const toScan: PlatformManifest[] = [];
  for (const m of plan.manifests) {
    const entry = p.known.byManifestDigest(m.digest);
    if (entry && missingScanTypes(entry, p.needSca).length === 0) {
      await knownImage(p, refOf(p, plan, m), entry.imageId, [`${nameOf(p)}:${plan.tag}`], [`${nameOf(p)}@${plan.digest}`]);
    } else {
      toScan.push(m);
    }
  }
  if (toScan.length === 0) return;
  // pinned to the digest planned: what was asked about is what gets scanned, even if the tag moves meanwhile
  const reference: ImageReference = { registry: p.sensor.registry, repository: p.repository, tag: plan.tag, digest: plan.digest };
  const target = `registry:${nameOf(p)}:${plan.tag}`;
  let sources: Map<string, ImageSource>;
  const started = performance.now();
  try {
    sources = await sourcesFor(p, plan, reference, target, toScan);
  } catch (err) {
    for (const m of toScan) imageFailed(p, refOf(p, plan, m), started, err);
    return;
  }
  for (const m of toScan) {
    if (p.signal.aborted) return;
    const source = sources.get(m.digest)!;
    const blobsBefore = p.client.stats.blobFetches;
    await scanAndUpload(
      p,
      refOf(p, plan, m),
      (onProgress) => scanSource(source, { performScaScan: p.sensor.performScaScan, sensor: 'registry', cache: p.sensor.cache, signal: p.signal, onProgress }),
      () => `; ${plural(p.client.stats.blobFetches - blobsBefore, 'blob')} pulled`,
    );
  }
}

/**
 * Sources for the manifests to scan. One platform: the ordinary registry source, which picks it from the index as
 * the plan did. Several: resolvePlatforms, whose sources share the client and the documents already fetched.
 */
async function sourcesFor(p: RepoPass, plan: TagPlan, reference: ImageReference, target: string, toScan: readonly PlatformManifest[]): Promise<Map<string, ImageSource>> {
  if (p.sensor.platform !== 'all' || !plan.isIndex) {
    const platform = p.sensor.platform === 'all' ? {} : { platform: p.sensor.platform };
    return new Map(toScan.map((m) => [m.digest, registrySource(target, reference, { client: p.client, ...platform })]));
  }
  const all = await resolvePlatforms(reference, { client: p.client, signal: p.signal, target });
  const byDigest = new Map(all.images.map((i) => [i.manifestDigest, i.source]));
  const missing = toScan.find((m) => !byDigest.has(m.digest));
  if (missing) throw new Error(`${target}: the index no longer lists ${missing.digest}`);
  return byDigest;
}
