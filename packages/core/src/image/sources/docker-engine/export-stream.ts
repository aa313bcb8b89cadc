import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { LayerResult } from '../../../extract/layer-result.js';
import { runLayer, type ExtractionPlan } from '../../../extract/run-layer.js';
import { TallyError } from '../../../model/errors.js';
import type { ImageConfig } from '../../../model/image.js';
import { arr, isObject, parseJson, str, strings } from '../../../util/json.js';
import { isDigest, parseImageConfig } from '../../config.js';
import { type Compression } from '../../decompress.js';
import { peek, TarLayerReader, type LayerLimits } from '../../layer-stream.js';
import { normalizePath, resolveLinkTarget } from '../../path.js';
import { MAX_JSON_BLOB } from '../blob-store.js';
import { parseIndex, parseManifest } from '../oci-manifest.js';

/**
 * One pass over a `docker save` stream (the Engine API's image export), in any of the three layouts: legacy
 * Engine ≤ 24 (`<v1id>/layer.tar`), skopeo/podman (`<sha256>.tar`) and Docker 25+ (an OCI layout inside the tar).
 *
 * Nothing is written to disk and no layer is held in memory: each layer member is analysed as it passes
 * (runLayer over a TarLayerReader, exactly as a blob from a file is), small JSON members are kept, everything
 * else is drained. manifest.json comes at the end of Engine exports, so which member is which layer is known only
 * then; a layer's result depends only on its bytes, so results are simply looked up by member name afterwards.
 */

export interface StreamedLayer {
  /** Normalised member name ("/abc…/layer.tar"). */
  readonly member: string;
  readonly size: number;
  readonly result: LayerResult;
  /** sha256 of the member and of its uncompressed tar, computed while streaming; null when not read (cache hit, broken). */
  readonly digest: string | null;
  readonly diffId: string | null;
  readonly compression: Compression;
  readonly cached: boolean;
}

export interface StreamedExport {
  /** Small (JSON and metadata) members by normalised name. */
  readonly small: ReadonlyMap<string, Buffer>;
  readonly layers: ReadonlyMap<string, StreamedLayer>;
  /** Symlinks and hardlinks between members (skopeo/podman link `<v1id>/layer.tar` to `<sha>.tar`). */
  readonly links: ReadonlyMap<string, string>;
  readonly bytes: number;
}

export interface ExportAnalysisOptions {
  readonly plan: ExtractionPlan;
  readonly tempDir: string;
  readonly signal: AbortSignal;
  readonly limits: LayerLimits;
  /** Names the stream in messages ("docker:app:1"). */
  readonly label: string;
  /**
   * A layer member named by its digest (`blobs/sha256/<hex>`, `<hex>.tar`) whose digest is one of these diffIds is
   * an uncompressed layer of known identity: a cached result is used and the member is drained unread.
   */
  readonly knownDiffIds?: ReadonlySet<string>;
  readonly lookup?: (diffId: string) => Promise<LayerResult | null>;
  readonly onLayerStart?: (ordinal: number, member: string, size: number) => void;
  readonly onBytes?: (ordinal: number, bytes: number) => void;
  readonly onLayerDone?: (ordinal: number, cached: boolean) => void;
}

/** Member names that are metadata in every layout. */
const METADATA_NAMES = new Set(['/manifest.json', '/index.json', '/repositories', '/oci-layout']);
/** All small members together: a hostile or broken export cannot make the scan hold more than this. */
const MAX_SMALL_TOTAL = 64 * 1024 * 1024;
const HEAD_BYTES = 512;

/**
 * A node Readable over one tar entry. tar-stream destroys the whole extract when an entry is destroyed, so when the
 * consumer stops early (a broken layer, an abort) the rest of the entry is drained instead; `finished` settles when
 * the entry has been read to its end.
 */
function entryReadable(entry: tar.Extract extends AsyncIterable<infer S> ? S : never): { stream: Readable; finished: Promise<void> } {
  let draining = false;
  const finished = new Promise<void>((resolve, reject) => {
    entry.once('end', () => resolve());
    entry.once('error', (err: Error) => reject(err));
    // destroyed with the whole extract (a broken export): the iteration reports why
    entry.once('close', () => resolve());
  });
  finished.catch(() => undefined); // observed by the caller; never an unhandled rejection
  const stream = new Readable({
    highWaterMark: 1024 * 1024,
    read() {
      entry.resume();
    },
    destroy(err, cb) {
      draining = true;
      entry.resume();
      cb(err);
    },
  });
  entry.on('data', (chunk: unknown) => {
    if (draining) return;
    if (!stream.push(chunk as Buffer)) entry.pause();
  });
  entry.once('end', () => {
    if (!draining) stream.push(null);
  });
  entry.once('error', (err: Error) => {
    if (!draining) stream.destroy(err);
  });
  return { stream, finished };
}

/** The first `bytes` bytes (fewer at the end), put back so the stream still starts at byte 0. */
async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function looksLikeJson(head: Buffer): boolean {
  for (const b of head) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x7b || b === 0x5b; // { or [
  }
  return false;
}

/** gzip, zstd, a ustar header, or the zero blocks of an empty tar. */
function looksLikeLayer(head: Buffer, size: number): boolean {
  if (head[0] === 0x1f && head[1] === 0x8b) return true;
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return true;
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') return true;
  return size >= 1024 && size <= 10240 && head.every((b) => b === 0);
}

/** `/blobs/sha256/<hex>` and skopeo's `/<hex>.tar` name their digest. */
export function digestInMemberName(member: string): string | null {
  const m = /^\/(?:blobs\/sha256\/([0-9a-f]{64})|([0-9a-f]{64})\.tar)$/.exec(member);
  const hex = m?.[1] ?? m?.[2];
  return hex ? `sha256:${hex}` : null;
}

function isLayerName(member: string): boolean {
  return member.endsWith('/layer.tar') || digestInMemberName(member) !== null;
}

export async function analyseExport(input: Readable, opts: ExportAnalysisOptions): Promise<StreamedExport> {
  const small = new Map<string, Buffer>();
  const layers = new Map<string, StreamedLayer>();
  const links = new Map<string, string>();
  let smallTotal = 0;
  let ordinal = 0;
  let bytes = 0;

  const extract = tar.extract();
  const flow = pipeline(input, extract as unknown as NodeJS.WritableStream);
  flow.catch(() => undefined); // its error surfaces through the iteration below
  const abort = (): void => {
    input.destroy();
  };
  opts.signal.addEventListener('abort', abort, { once: true });

  const keepSmall = async (member: string, stream: Readable, size: number): Promise<void> => {
    if (size > MAX_JSON_BLOB) throw new TallyError('INVALID_IMAGE', `${opts.label}: export member ${member} is ${size} bytes, over the ${MAX_JSON_BLOB}-byte limit`);
    smallTotal += size;
    if (smallTotal > MAX_SMALL_TOTAL) throw new TallyError('INVALID_IMAGE', `${opts.label}: the export's metadata members pass ${MAX_SMALL_TOTAL} bytes`);
    small.set(member, await readAll(stream));
  };

  const analyseLayer = async (member: string, stream: Readable, size: number): Promise<void> => {
    const index = ordinal++;
    opts.onLayerStart?.(index, member, size);
    const named = digestInMemberName(member);
    if (named && opts.lookup && opts.knownDiffIds?.has(named)) {
      const hit = await opts.lookup(named);
      if (hit) {
        stream.resume();
        await new Promise<void>((resolve, reject) => {
          stream.once('end', resolve);
          stream.once('error', reject);
        });
        layers.set(member, { member, size, result: hit, digest: named, diffId: named, compression: 'none', cached: true });
        opts.onLayerDone?.(index, true);
        return;
      }
    }
    const reader = new TarLayerReader(stream, {
      label: `${opts.label}: export member ${member}`,
      mediaType: '', // sniffed from the first bytes
      // a blob named by its digest is checked against it; `<hex>.tar` names are a convention, not a claim
      expectedDigest: member.startsWith('/blobs/sha256/') ? named : null,
      expectedDiffId: null, // known only from the config, which may come later: checked after the stream
      limits: opts.limits,
      onBytes: (n) => opts.onBytes?.(index, n),
    });
    const partial = await runLayer(reader, opts.plan, { tempDir: opts.tempDir, signal: opts.signal });
    if (!partial.complete) {
      layers.set(member, { member, size, result: partial, digest: null, diffId: null, compression: reader.compression ?? 'none', cached: false });
    } else {
      const facts = reader.facts(); // DIGEST_MISMATCH for a blob that is not what its name says
      const result: LayerResult = { ...partial, digest: facts.digest, diffId: facts.diffId, uncompressedBytes: facts.uncompressedBytes };
      layers.set(member, { member, size, result, digest: facts.digest, diffId: facts.diffId, compression: reader.compression ?? 'none', cached: false });
    }
    opts.onLayerDone?.(index, false);
  };

  try {
    for await (const entry of extract) {
      opts.signal.throwIfAborted();
      const h = entry.header;
      const member = normalizePath(h.name);
      if (h.type === 'symlink' || h.type === 'link') {
        links.set(member, h.type === 'link' ? normalizePath(h.linkname) : resolveLinkTarget(member, h.linkname));
        entry.resume();
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      bytes += h.size;
      const { stream, finished } = entryReadable(entry);
      try {
        if (METADATA_NAMES.has(member)) await keepSmall(member, stream, h.size);
        else {
          const head = await peek(stream, Math.min(h.size, HEAD_BYTES));
          if (h.size <= MAX_JSON_BLOB && looksLikeJson(head)) await keepSmall(member, stream, h.size);
          else if (isLayerName(member) || looksLikeLayer(head, h.size)) await analyseLayer(member, stream, h.size);
          else stream.destroy(); // legacy VERSION files and the like: drained
        }
      } finally {
        stream.destroy();
      }
      await finished;
    }
    await flow;
  } catch (err) {
    input.destroy();
    extract.destroy();
    if (opts.signal.aborted) throw opts.signal.reason;
    if (err instanceof TallyError) throw err;
    throw new TallyError('LAYER_UNREADABLE', `${opts.label}: the image export broke off: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    opts.signal.removeEventListener('abort', abort);
  }
  return { small, layers, links, bytes };
}

export interface ResolvedExport {
  readonly imageId: string;
  readonly configBytes: Buffer;
  readonly config: ImageConfig;
  readonly repoTags: readonly string[];
  /** The OCI manifest digest (Docker 25+ exports carry an OCI index), else null. */
  readonly manifestDigest: string | null;
  /** Base first, as manifest.json lists them. */
  readonly layers: readonly StreamedLayer[];
}

function follow(links: ReadonlyMap<string, string>, name: string): string {
  let resolved = name;
  for (let hop = 0; hop < 8 && links.has(resolved); hop++) resolved = links.get(resolved)!;
  return resolved;
}

function sha256(data: Buffer): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/**
 * After the stream: pick the image (the one whose config digest is `imageId` when given), map manifest.json's layer
 * names to the analysed members, and check every computed diffId against the config.
 */
export function resolveExport(exp: StreamedExport, label: string, imageId: string | null): ResolvedExport {
  const manifestBytes = exp.small.get('/manifest.json');
  if (!manifestBytes) throw new TallyError('UNKNOWN_FORMAT', `${label}: the image export has no manifest.json`);
  const json = parseJson(manifestBytes, `${label}: manifest.json`);
  if (!Array.isArray(json)) throw new TallyError('INVALID_IMAGE', `${label}: manifest.json is not a list`);
  const entries = json.filter(isObject).map((e) => ({ config: str(e, 'Config'), layers: arr(e, 'Layers') ? strings(e, 'Layers') : null, repoTags: strings(e, 'RepoTags') }));
  const candidates = entries.flatMap((e) => {
    if (!e.config || !e.layers) return [];
    const configBytes = exp.small.get(follow(exp.links, normalizePath(e.config)));
    return configBytes ? [{ ...e, config: e.config, layers: e.layers, configBytes, id: sha256(configBytes) }] : [];
  });
  const chosen = imageId ? candidates.find((c) => c.id === imageId) : candidates.length === 1 ? candidates[0] : undefined;
  if (!chosen) {
    const what = imageId ? `no image with config ${imageId}` : `${candidates.length} images, expected one`;
    throw new TallyError('INVALID_IMAGE', `${label}: the image export has ${what} (manifest.json lists ${entries.length})`);
  }
  const config = parseImageConfig(parseJson(chosen.configBytes, `${label}: ${chosen.config}`), `${label}: ${chosen.config}`);
  if (config.diffIds.length !== chosen.layers.length) {
    throw new TallyError('INVALID_IMAGE', `${label}: manifest.json lists ${chosen.layers.length} layers but the config has ${config.diffIds.length} diff_ids`);
  }
  const layers = chosen.layers.map((name, i) => {
    const member = follow(exp.links, normalizePath(name));
    const layer = exp.layers.get(member);
    if (!layer) throw new TallyError('MISSING_BLOB', `${label}: layer ${i} (${name}) is not in the image export`);
    const want = config.diffIds[i]!;
    if (layer.diffId !== null && layer.diffId !== want) {
      throw new TallyError('DIGEST_MISMATCH', `${label}: layer ${i} (${name}): uncompressed digest is ${layer.diffId}, the config's diff_id is ${want}`);
    }
    return layer;
  });
  return { imageId: chosen.id, configBytes: chosen.configBytes, config, repoTags: chosen.repoTags, manifestDigest: ociManifestDigest(exp, chosen.id), layers };
}

/** Docker 25+ exports carry an OCI index: the manifest whose config is this image's gives the manifest digest. */
function ociManifestDigest(exp: StreamedExport, imageId: string): string | null {
  const indexBytes = exp.small.get('/index.json');
  if (!indexBytes) return null;
  try {
    for (const d of parseIndex(parseJson(indexBytes, 'index.json'), 'index.json')) {
      if (!isDigest(d.digest)) continue;
      const bytes = exp.small.get(`/blobs/sha256/${d.digest.slice(7)}`);
      if (!bytes || sha256(bytes) !== d.digest) continue;
      const manifest = parseManifest(parseJson(bytes, 'manifest'), 'manifest');
      if (manifest.config.digest === imageId) return d.digest;
    }
  } catch {
    return null; // the OCI part is optional; manifest.json already described the image
  }
  return null;
}
