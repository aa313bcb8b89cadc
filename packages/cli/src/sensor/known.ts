/**
 * What the backend already has, as a pass sees it: the answer of /sensors/known, plus what this pass uploaded
 * since (a second tag of an image scanned a moment ago is a re-tag, not another scan).
 */
import type { ScanReport } from '@tally/core';
import type { UploadResponse } from '@tally/server/protocol';
import type { KnownImage } from './backend.js';

interface Entry {
  imageId: string;
  manifestDigest: string | null;
  scanTypes: Set<string>;
  repoTags: Set<string>;
}

export class KnownImages {
  private readonly byId = new Map<string, Entry>();
  private readonly byManifest = new Map<string, Entry>();

  add(images: readonly KnownImage[]): void {
    // a backend older than the repoTags field: every tag looks new, and is recorded again (harmless)
    for (const k of images) this.put(k.imageId, k.manifestDigest, k.scanTypes, k.repoTags ?? []);
  }

  private put(imageId: string, manifestDigest: string | null, scanTypes: Iterable<string>, repoTags: Iterable<string>): void {
    const entry = this.byId.get(imageId) ?? { imageId, manifestDigest, scanTypes: new Set<string>(), repoTags: new Set<string>() };
    for (const t of scanTypes) entry.scanTypes.add(t);
    for (const t of repoTags) entry.repoTags.add(t);
    entry.manifestDigest ??= manifestDigest;
    this.byId.set(imageId, entry);
    if (manifestDigest !== null) this.byManifest.set(manifestDigest, entry);
  }

  recordUpload(report: ScanReport, response: UploadResponse): void {
    this.put(response.imageId, report.image.manifestDigest, response.scanTypes, report.image.repoTags);
  }

  recordTags(imageId: string, tags: readonly string[]): void {
    const entry = this.byId.get(imageId);
    if (entry) for (const t of tags) entry.repoTags.add(t);
  }

  byImageId(imageId: string): Entry | undefined {
    return this.byId.get(imageId);
  }

  byManifestDigest(digest: string): Entry | undefined {
    return this.byManifest.get(digest);
  }
}

/**
 * The scan types an image still lacks for this sensor: an OS scan (Static or Dynamic, either will do), and SCA when
 * the sensor runs it and the backend stores it (with SCA switched off there, asking again every pass would rescan
 * forever for nothing). Empty: nothing to do.
 */
export function missingScanTypes(entry: { scanTypes: ReadonlySet<string> } | undefined, needSca: boolean): string[] {
  const have = entry?.scanTypes ?? new Set<string>();
  const missing: string[] = [];
  if (!have.has('Static') && !have.has('Dynamic')) missing.push('Static');
  if (needSca && !have.has('SCA')) missing.push('SCA');
  return missing;
}

/** Tags the image carries here that the backend does not have yet. */
export function newTags(entry: { repoTags: ReadonlySet<string> }, tags: readonly string[]): string[] {
  return tags.filter((t) => !entry.repoTags.has(t));
}
