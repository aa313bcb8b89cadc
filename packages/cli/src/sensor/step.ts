/**
 * One image of a pass, whatever the sensor: scan and upload it, or record a new tag of a known one, or skip it;
 * one log line and one counter each. An image that fails is logged and counted and the pass goes on, unless the
 * error means the pass cannot go on (stopped, or the backend unreachable or refusing the token).
 */
import type { ProgressEvent, ScanReport } from '@tally/core';
import { backendUnusable, type SensorBackend } from './backend.js';
import { newTags, type KnownImages } from './known.js';
import { describe, plural, type PassStats, type SensorLog } from './log.js';

export interface PassContext {
  readonly backend: SensorBackend;
  readonly log: SensorLog;
  readonly stats: PassStats;
  readonly known: KnownImages;
  readonly signal: AbortSignal;
}

/** Log and count a failed image; rethrow what ends the pass instead. */
export function imageFailed(ctx: PassContext, ref: string, started: number, err: unknown): void {
  if (ctx.signal.aborted || backendUnusable(err)) throw err;
  ctx.stats.failed++;
  ctx.log.image('failed', ref, null, performance.now() - started, describe(err));
}

/**
 * Scan (the caller's `scan`, given the progress callback to pass on), upload, log. `extra` adds to the line what
 * only the caller knows (blobs pulled), computed after the scan.
 */
export async function scanAndUpload(
  ctx: PassContext,
  ref: string,
  scan: (onProgress: (e: ProgressEvent) => void) => Promise<ScanReport>,
  extra: () => string = () => '',
): Promise<void> {
  const started = performance.now();
  let layers = 0;
  let cached = 0;
  const onProgress = (e: ProgressEvent): void => {
    if (e.kind === 'bytes') ctx.stats.bytes += e.bytes;
    else if (e.kind === 'layer-done') {
      layers++;
      if (e.cached) cached++;
    }
  };
  try {
    const report = await scan(onProgress);
    const response = await ctx.backend.upload(report, ctx.signal);
    for (const w of response.warnings) ctx.log.warnOnce(w);
    ctx.known.recordUpload(report, response);
    ctx.stats.scanned++;
    const stored = response.duplicate ? 'already stored' : `${response.vulnerabilities.total} vulnerabilities`;
    ctx.log.image(
      'scanned',
      ref,
      response.imageId,
      performance.now() - started,
      `${report.scanTypes.join(', ')}; ${report.packages.length} packages, ${stored}; ${plural(layers, 'layer')}, ${cached} from the layer cache${extra()}`,
    );
  } catch (err) {
    imageFailed(ctx, ref, started, err);
  }
}

/** A stored image with every scan type this sensor runs: record tags the backend lacks (a re-tag), else skip it. */
export async function knownImage(ctx: PassContext, ref: string, imageId: string, tags: readonly string[], digests: readonly string[]): Promise<void> {
  const started = performance.now();
  const entry = ctx.known.byImageId(imageId);
  const missing = entry ? newTags(entry, tags) : [];
  try {
    if (missing.length > 0) {
      await ctx.backend.addRefs(imageId, { repoTags: missing, repoDigests: digests }, ctx.signal);
      ctx.known.recordTags(imageId, missing);
      ctx.stats.retagged++;
      ctx.log.image('re-tagged', ref, imageId, performance.now() - started, `known image, recorded ${missing.join(', ')} without a rescan`);
      return;
    }
    ctx.stats.skipped++;
    ctx.log.image('skipped', ref, imageId, performance.now() - started, `known with ${[...(entry?.scanTypes ?? [])].sort().join(', ')}`);
  } catch (err) {
    imageFailed(ctx, ref, started, err);
  }
}
