import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { layerCacheKey, type LayerCache } from '../../../cache/layer-cache.js';
import type { LayerResult } from '../../../extract/layer-result.js';
import { extractorsFor } from '../../../extract/registry.js';
import { TallyError } from '../../../model/errors.js';
import type { Image, ImageSource, LayerInfo } from '../../../model/image.js';
import type { ScanReport } from '../../../model/report.js';
import { DEFAULT_SCAN_LIMITS, scanImage, type ScanLimits, type ScanOptions } from '../../../scan.js';
import type { Compression } from '../../decompress.js';
import { normalizePath } from '../../path.js';
import { dockerArchiveSource } from '../docker-archive.js';
import { DockerEngineClient, type DockerClientOptions, type EngineImageInspect } from './client.js';
import { analyseExport, resolveExport } from './export-stream.js';

/**
 * `docker:IMAGE`: an image in a Docker Engine (or podman's Docker-compatible service).
 *
 * Two ways to read its export (`GET /images/{id}/get`, always a stream, never held in memory):
 * - 'stream' (default, `scanDockerImage` / `scanSource`): one pass over the export, each layer analysed as it
 *   passes; no disk. Layer order is known only at the end (manifest.json comes last), so the per-layer results are
 *   handed to `scanImage` afterwards through an in-memory layer cache; merge and report are the usual ones.
 * - 'file' (`open()`, what the generic ImageSource contract allows): the export is written to a temp file and read
 *   with the docker-archive source; disk = image size, freed when the image is closed.
 */

export type ExportMode = 'stream' | 'file';

export interface DockerEngineSource extends ImageSource {
  readonly kind: 'docker-engine';
  /** The reference as the engine resolves it: name[:tag], name@digest, an id or a short id. */
  readonly image: string;
  readonly client: DockerEngineClient;
  readonly exportMode: ExportMode;
}

export interface DockerSourceOptions extends DockerClientOptions {
  readonly exportMode?: ExportMode;
  /** Parent of the export temp dir in 'file' mode (default: the OS temp dir). */
  readonly tempRoot?: string;
  /** An existing client (shares its negotiated API version). */
  readonly client?: DockerEngineClient;
}

export function isDockerEngineSource(source: ImageSource): source is DockerEngineSource {
  return (source as Partial<DockerEngineSource>).kind === 'docker-engine';
}

const DOCKER_LAYER_MEDIA: Record<Compression, string> = {
  none: 'application/vnd.docker.image.rootfs.diff.tar',
  gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  zstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
};

/** `docker:app:1.2` → "app:1.2". `docker://` is the registry transport in skopeo's syntax: pointed at registry:. */
export function parseDockerTarget(target: string): string {
  const rest = target.slice('docker:'.length);
  if (rest.startsWith('//')) throw new TallyError('USAGE', `${target}: docker:// names a registry image; use registry:${rest.slice(2)} (or docker:NAME for the local engine)`);
  if (rest === '' || /\s/.test(rest)) throw new TallyError('USAGE', `${target}: write docker:NAME[:TAG], docker:NAME@DIGEST or docker:IMAGE-ID`);
  return rest;
}

export function dockerEngineSource(ref: string, image: string, options: DockerSourceOptions = {}): DockerEngineSource {
  const client = options.client ?? DockerEngineClient.fromOptions(options);
  const exportMode = options.exportMode ?? 'stream';
  return {
    kind: 'docker-engine',
    ref,
    image,
    client,
    exportMode,
    open: (signal) => openViaFile(ref, image, client, options.tempRoot ?? tmpdir(), signal),
  };
}

async function openViaFile(ref: string, image: string, client: DockerEngineClient, tempRoot: string, signal: AbortSignal): Promise<Image> {
  const inspect = await client.inspectImage(image, signal);
  const dir = await mkdtemp(join(tempRoot, 'tally-docker-export-'));
  try {
    const file = join(dir, 'image.tar');
    await pipeline(await client.exportImage(inspect.id, { signal }), createWriteStream(file, { mode: 0o600 }), { signal });
    const opened = await dockerArchiveSource(ref, file, { kind: 'any' }).open(signal);
    if (opened.imageId !== inspect.id) throw new TallyError('DIGEST_MISMATCH', `${ref}: the export's config is ${opened.imageId}, the engine says ${inspect.id}`);
    return {
      ...opened,
      source: 'docker-engine',
      repoTags: inspect.repoTags,
      repoDigests: inspect.repoDigests,
      close: async () => {
        await opened.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A layer cache in front of another: results analysed during the export pass, then whatever `next` holds. */
class OverlayCache implements LayerCache {
  readonly entries = new Map<string, LayerResult>();
  constructor(private readonly next: LayerCache | null) {}
  async get(key: string): Promise<LayerResult | null> {
    return this.entries.get(key) ?? (await this.next?.get(key)) ?? null;
  }
  async put(key: string, result: LayerResult): Promise<void> {
    this.entries.set(key, result);
    await this.next?.put(key, result);
  }
}

/**
 * Fallback reader for one member of the export, should `scanImage` ever ask for a layer's bytes (the overlay
 * cache is keyed exactly as scanImage keys it, so it should not): a fresh export, skipped up to that member.
 */
async function openExportMember(client: DockerEngineClient, imageId: string, member: string, signal: AbortSignal): Promise<Readable> {
  const res = await client.exportImage(imageId, { signal });
  const extract = tar.extract();
  pipeline(res, extract as unknown as NodeJS.WritableStream).catch(() => undefined);
  for await (const entry of extract) {
    if (normalizePath(entry.header.name) === member && entry.header.type === 'file') {
      const out = Readable.from(entry, { objectMode: false });
      out.once('close', () => {
        res.destroy();
        extract.destroy();
      });
      return out;
    }
    entry.resume();
  }
  throw new TallyError('MISSING_BLOB', `image ${imageId}: export member ${member} is gone (image changed?)`);
}

export interface DockerScanOptions extends ScanOptions, DockerSourceOptions {
  /** The report's image ref (default `docker:IMAGE`). */
  readonly ref?: string;
}

/** Scan an engine image with the streaming export (or 'file' mode when asked). */
export async function scanDockerImage(image: string, options: DockerScanOptions = {}): Promise<ScanReport> {
  const source = dockerEngineSource(options.ref ?? `docker:${image}`, image, options);
  return scanDockerSource(source, options);
}

/** `scanImage` for every source, except that a docker-engine source in 'stream' mode streams its export. */
export async function scanSource(source: ImageSource, options: ScanOptions = {}): Promise<ScanReport> {
  return isDockerEngineSource(source) ? scanDockerSource(source, options) : scanImage(source, options);
}

async function scanDockerSource(source: DockerEngineSource, options: ScanOptions): Promise<ScanReport> {
  if (source.exportMode === 'file') return scanImage(source, options);
  const signal = options.signal ?? new AbortController().signal;
  const { client } = source;
  const inspect = await client.inspectImage(source.image, signal);
  const extractors = options.extractors ?? extractorsFor({ performScaScan: options.performScaScan ?? false });
  const limits: ScanLimits = { ...DEFAULT_SCAN_LIMITS, ...options.limits };
  const overlay = new OverlayCache(options.cache ?? null);
  const keyOf = (diffId: string): string => layerCacheKey(diffId, extractors, {});
  const tempDir = await mkdtemp(join(options.tempRoot ?? tmpdir(), 'tally-docker-'));
  let image: Image;
  try {
    options.onProgress?.({ kind: 'image', ref: source.ref, layers: inspect.diffIds.length, totalBytes: inspect.size });
    const lastIndex = Math.max(0, inspect.diffIds.length - 1);
    const exp = await analyseExport(await client.exportImage(inspect.id, { signal }), {
      plan: { extractors, inMemoryLimit: limits.inMemoryFileBytes },
      tempDir,
      signal,
      limits,
      label: source.ref,
      knownDiffIds: new Set(inspect.diffIds),
      ...(options.cache ? { lookup: async (diffId: string) => options.cache!.get(keyOf(diffId)) } : {}),
      // The layer index is known only at the end; progress counts layers in stream order.
      onLayerStart: (i, _member, size) => options.onProgress?.({ kind: 'layer-start', index: Math.min(i, lastIndex), size }),
      onBytes: (i, bytes) => options.onProgress?.({ kind: 'bytes', index: Math.min(i, lastIndex), bytes }),
      onLayerDone: (i, cached) => options.onProgress?.({ kind: 'layer-done', index: Math.min(i, lastIndex), cached }),
    });
    const resolved = resolveExport(exp, source.ref, inspect.id);
    for (const [i, layer] of resolved.layers.entries()) {
      const key = keyOf(resolved.config.diffIds[i]!);
      overlay.entries.set(key, layer.result);
      // Complete, freshly analysed layers go to the persistent cache; partial ones never do (scan.ts's rule).
      if (!layer.cached && layer.result.complete && options.cache) await options.cache.put(key, layer.result);
    }
    image = imageOf(source, inspect, resolved, client, signal);
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
  // Every layer is in the overlay: scanImage reads no bytes, it merges and builds the report as for any source.
  const { onProgress: _progressShownAbove, ...rest } = options;
  return scanImage({ ref: source.ref, open: async () => image }, { ...rest, extractors, cache: overlay });
}

function imageOf(
  source: DockerEngineSource,
  inspect: EngineImageInspect,
  resolved: ReturnType<typeof resolveExport>,
  client: DockerEngineClient,
  signal: AbortSignal,
): Image {
  const layers: LayerInfo[] = resolved.layers.map((l, i) => {
    const diffId = resolved.config.diffIds[i]!;
    // An uncompressed member's digest is its diffId (what the docker-archive source reports for the same layer).
    const digest = l.digest ?? (l.compression === 'none' ? diffId : null);
    return {
      index: i,
      digest,
      digestKnown: digest !== null,
      diffId,
      mediaType: DOCKER_LAYER_MEDIA[l.compression],
      size: l.size,
      content: { kind: 'blob', open: async (s: AbortSignal) => openExportMember(client, inspect.id, l.member, s ?? signal) },
    };
  });
  return {
    ref: source.ref,
    source: 'docker-engine',
    imageId: resolved.imageId,
    manifestDigest: resolved.manifestDigest,
    repoTags: inspect.repoTags.length > 0 ? inspect.repoTags : resolved.repoTags,
    repoDigests: inspect.repoDigests,
    config: resolved.config,
    layers,
    close: async () => undefined,
  };
}
