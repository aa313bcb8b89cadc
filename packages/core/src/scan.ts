import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layerCacheKey, type LayerCache } from './cache/layer-cache.js';
import { detectDistro } from './distro/detect.js';
import { MiB, type Extractor } from './extract/extractor.js';
import type { LayerResult } from './extract/layer-result.js';
import { extractorsFor } from './extract/registry.js';
import { runLayer, type ExtractionPlan } from './extract/run-layer.js';
import { mergeLayers } from './image/applier.js';
import { historyForLayers } from './image/config.js';
import { sniffCompression, type Compression } from './image/decompress.js';
import { DEFAULT_LAYER_LIMITS, TarLayerReader, type LayerLimits } from './image/layer-stream.js';
import { walkRootfs } from './image/rootfs-walk.js';
import { buildPackages } from './inventory.js';
import { isTallyError, TallyError } from './model/errors.js';
import type { Readable } from 'node:stream';
import type { BlobContent, Image, ImageSource, LayerInfo } from './model/image.js';
import { describeError, type Issue } from './model/issue.js';
import type { LayerRef, ScanType } from './model/package.js';
import { REPORT_SCHEMA_VERSION, type ReportLayer, type ScanReport, type SensorType } from './model/report.js';
import { TOOL_VERSION } from './tool.js';

export type ProgressEvent =
  | { readonly kind: 'image'; readonly ref: string; readonly layers: number; readonly totalBytes: number | null }
  | { readonly kind: 'layer-start'; readonly index: number; readonly size: number | null }
  | { readonly kind: 'bytes'; readonly index: number; readonly bytes: number }
  | { readonly kind: 'layer-done'; readonly index: number; readonly cached: boolean };

export interface ScanLimits extends LayerLimits {
  /** Wanted files up to this size are held in memory; bigger ones go to the scan's temp dir. */
  readonly inMemoryFileBytes: number;
}

export const DEFAULT_SCAN_LIMITS: ScanLimits = { ...DEFAULT_LAYER_LIMITS, inMemoryFileBytes: 16 * MiB };

export interface ScanOptions {
  /** Run the language extractors too (the SCA scan). */
  readonly performScaScan?: boolean;
  readonly sensor?: SensorType;
  readonly cache?: LayerCache | null;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Parent of the scan's temp dir (default: the OS temp dir). */
  readonly tempRoot?: string;
  readonly limits?: Partial<ScanLimits>;
  /** Layers analysed at once: decompression runs on libuv's thread pool, parsing on the main thread. */
  readonly layerConcurrency?: number;
  /** Override the registry (tests). */
  readonly extractors?: readonly Extractor[];
}

interface AnalysedLayer {
  readonly result: LayerResult;
  readonly digest: string | null;
  readonly diffId: string | null;
  readonly mediaType: string;
  readonly cached: boolean;
}

const DOCKER_LAYER_MEDIA: Record<Compression, string> = {
  none: 'application/vnd.docker.image.rootfs.diff.tar',
  gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  zstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
};

function layerLabel(layer: LayerInfo): string {
  const id = layer.digest ?? layer.diffId;
  return id ? `layer ${layer.index} (${id})` : `layer ${layer.index}`;
}

async function peekCompression(blob: BlobContent, signal: AbortSignal): Promise<Compression> {
  const stream = await blob.open(signal);
  try {
    for await (const chunk of stream) return sniffCompression(chunk as Buffer);
    return 'none';
  } finally {
    stream.destroy();
  }
}

async function verifyBlobDigest(layer: LayerInfo, blob: BlobContent, expected: string, signal: AbortSignal): Promise<void> {
  const hash = createHash('sha256');
  for await (const chunk of await blob.open(signal)) hash.update(chunk as Buffer);
  const actual = 'sha256:' + hash.digest('hex');
  if (actual !== expected) {
    throw new TallyError('DIGEST_MISMATCH', `${layerLabel(layer)}: blob digest is ${actual}, the manifest says ${expected}`);
  }
}

/** Open a layer blob; errors name the layer as well as the blob. */
async function openNamed(layer: LayerInfo, blob: BlobContent, signal: AbortSignal): Promise<Readable> {
  try {
    return await blob.open(signal);
  } catch (err) {
    if (isTallyError(err)) throw new TallyError(err.code, `${layerLabel(layer)}: ${err.message}`, { cause: err });
    throw err;
  }
}

class LayerAnalyser {
  constructor(
    private readonly plan: ExtractionPlan,
    private readonly cache: LayerCache | null,
    private readonly limits: ScanLimits,
    private readonly tempDir: string,
    private readonly onProgress: ((e: ProgressEvent) => void) | undefined,
  ) {}

  async analyse(layer: LayerInfo, signal: AbortSignal): Promise<AnalysedLayer> {
    const { plan, cache } = this;
    this.onProgress?.({ kind: 'layer-start', index: layer.index, size: layer.size });
    const ctx = { tempDir: this.tempDir, signal };

    if (layer.content.kind === 'directory') {
      const issues: Issue[] = [];
      const root = layer.content.root;
      const entries = walkRootfs(root, (path, err) => issues.push({ layer: 0, path, extractor: null, message: describeError(err) }));
      const result = await runLayer(entries, plan, ctx);
      this.onProgress?.({ kind: 'layer-done', index: layer.index, cached: false });
      return { result: { ...result, issues: [...result.issues, ...issues] }, digest: null, diffId: null, mediaType: 'directory', cached: false };
    }

    const key = cache && layer.diffId ? layerCacheKey(layer.diffId, plan.extractors, {}) : null;
    const hit = key ? await cache!.get(key) : null;
    if (hit) {
      if (layer.digestKnown) {
        this.onProgress?.({ kind: 'layer-done', index: layer.index, cached: true });
        return { result: hit, digest: layer.digest, diffId: layer.diffId, mediaType: layer.mediaType, cached: true };
      }
      // A legacy docker-archive member: its digest is its diffId when stored uncompressed, the usual case.
      const compression = await peekCompression(layer.content, signal);
      if (compression === 'none') {
        this.onProgress?.({ kind: 'layer-done', index: layer.index, cached: true });
        return { result: hit, digest: layer.diffId, diffId: layer.diffId, mediaType: DOCKER_LAYER_MEDIA.none, cached: true };
      }
    }

    const reader = new TarLayerReader(await openNamed(layer, layer.content, signal), {
      label: layerLabel(layer),
      mediaType: layer.mediaType,
      expectedDigest: layer.digestKnown ? layer.digest : null,
      expectedDiffId: layer.diffId,
      limits: this.limits,
      onBytes: (bytes) => this.onProgress?.({ kind: 'bytes', index: layer.index, bytes }),
    });
    const partial = await runLayer(reader, plan, ctx);
    const mediaType = layer.mediaType || DOCKER_LAYER_MEDIA[reader.compression ?? 'none'];
    if (!partial.complete) {
      // The stream broke (corrupt compression, cut tar). If the blob is not the one the manifest names, that is
      // tampering or a bad download: fatal. If it is, the image itself is damaged: report it and go on.
      if (layer.digestKnown && layer.digest) await verifyBlobDigest(layer, layer.content, layer.digest, signal);
      this.onProgress?.({ kind: 'layer-done', index: layer.index, cached: false });
      return { result: partial, digest: layer.digest, diffId: layer.diffId, mediaType, cached: false };
    }
    const facts = reader.facts(); // throws DIGEST_MISMATCH
    const result: LayerResult = { ...partial, digest: facts.digest, diffId: facts.diffId, uncompressedBytes: facts.uncompressedBytes };
    if (key) await cache!.put(key, result);
    this.onProgress?.({ kind: 'layer-done', index: layer.index, cached: false });
    return { result, digest: facts.digest, diffId: facts.diffId, mediaType, cached: false };
  }
}

/** Run `task` over `items` with at most `limit` in flight; the first failure aborts the rest. */
async function mapLimited<T, R>(items: readonly T[], limit: number, signal: AbortSignal, task: (item: T, signal: AbortSignal) => Promise<R>): Promise<R[]> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = await task(items[i]!, controller.signal);
      } catch (err) {
        controller.abort(err);
        throw err;
      }
    }
  };
  try {
    const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw signal.aborted ? signal.reason : controller.signal.reason ?? failed.reason;
    return out;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The one public pipeline entry: open the image, analyse each layer once, merge, build the report. */
export async function scanImage(source: ImageSource, options: ScanOptions = {}): Promise<ScanReport> {
  const signal = options.signal ?? new AbortController().signal;
  const performScaScan = options.performScaScan ?? false;
  const extractors = options.extractors ?? extractorsFor({ performScaScan });
  const limits: ScanLimits = { ...DEFAULT_SCAN_LIMITS, ...options.limits };
  const tempDir = await mkdtemp(join(options.tempRoot ?? tmpdir(), 'tally-scan-'));
  const image: Image = await source.open(signal).catch(async (err: unknown) => {
    await rm(tempDir, { recursive: true, force: true });
    throw err;
  });
  try {
    const sizes = image.layers.map((l) => l.size);
    options.onProgress?.({
      kind: 'image',
      ref: image.ref,
      layers: image.layers.length,
      totalBytes: sizes.every((s): s is number => s !== null) ? sizes.reduce((a, b) => a + b, 0) : null,
    });
    const analyser = new LayerAnalyser({ extractors, inMemoryLimit: limits.inMemoryFileBytes }, options.cache ?? null, limits, tempDir, options.onProgress);
    const analysed = await mapLimited(image.layers, options.layerConcurrency ?? 2, signal, (layer, s) => analyser.analyse(layer, s));
    return buildReport(image, analysed, extractors, { performScaScan, sensor: options.sensor ?? 'cicd' });
  } finally {
    await image.close();
    await rm(tempDir, { recursive: true, force: true });
  }
}

function buildReport(
  image: Image,
  analysed: readonly AnalysedLayer[],
  extractors: readonly Extractor[],
  opts: { performScaScan: boolean; sensor: SensorType },
): ScanReport {
  const merged = mergeLayers(analysed.map((a) => a.result));
  let hasStatusD = false;
  for (const path of merged.paths()) if (path.startsWith('/var/lib/dpkg/status.d/')) hasStatusD = true;
  const distro = detectDistro(merged.readOsFile, { hasDpkgStatusD: hasStatusD });

  const history = historyForLayers(image.config, image.layers.length);
  const layerRefs: LayerRef[] = analysed.map((a, index) => ({ index, diffId: a.diffId, createdBy: history[index]?.createdBy ?? null }));
  const issues: Issue[] = [...merged.issues];
  const packages = buildPackages(merged, distro, layerRefs, extractors, issues);

  const described = (image.config?.history ?? []).filter((h) => !h.emptyLayer).length;
  if (image.config && image.config.history.length > 0 && described !== image.layers.length) {
    issues.push({ layer: null, path: null, extractor: null, message: `config history describes ${described} layers, the image has ${image.layers.length}: createdBy may be missing` });
  }

  const counts = analysed.map(() => ({ os: 0, lang: 0 }));
  for (const p of packages) counts[p.layer.index]![p.class]++;
  const layers: ReportLayer[] = image.layers.map((layer, i) => ({
    index: i,
    digest: analysed[i]!.digest,
    diffId: analysed[i]!.diffId,
    mediaType: analysed[i]!.mediaType,
    size: layer.size,
    createdBy: history[i]?.createdBy ?? null,
    created: history[i]?.created ?? null,
    comment: history[i]?.comment ?? null,
    packages: counts[i]!,
  }));
  const scanTypes: ScanType[] = opts.performScaScan ? ['Static', 'SCA'] : ['Static'];
  const os = packages.filter((p) => p.class === 'os').length;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'tally', version: TOOL_VERSION },
    scannedAt: new Date().toISOString(),
    scanTypes,
    sensor: { type: opts.sensor, performScaScan: opts.performScaScan },
    image: {
      ref: image.ref,
      source: image.source,
      imageId: image.imageId,
      manifestDigest: image.manifestDigest,
      repoTags: image.repoTags,
      repoDigests: image.repoDigests,
      platform: image.config?.platform ?? null,
      created: image.config?.created ?? null,
      os: distro ? { family: distro.family, name: distro.name, version: distro.version, prettyName: distro.prettyName } : null,
      layers,
      history: image.config?.history ?? [],
    },
    packages,
    issues,
    summary: { packages: { total: packages.length, os, lang: packages.length - os } },
  };
}
