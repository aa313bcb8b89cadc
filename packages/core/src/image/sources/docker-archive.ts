import { createHash } from 'node:crypto';
import { TallyError } from '../../model/errors.js';
import type { Image, ImageSource, LayerInfo } from '../../model/image.js';
import { arr, isObject, parseJson, str, strings, type JsonObject } from '../../util/json.js';
import { isDigest, parseImageConfig } from '../config.js';
import { MAX_JSON_BLOB, TarBlobStore } from './blob-store.js';
import { parseIndex, parseManifest } from './oci-manifest.js';
import { TarIndex } from './tar-index.js';

/** Which image of a multi-image archive: by `name:tag`, by position (`@N`), or the only one. */
export type ArchiveSelector = { readonly kind: 'tag'; readonly tag: string } | { readonly kind: 'index'; readonly index: number } | { readonly kind: 'any' };

interface ArchiveEntry {
  readonly config: string;
  readonly repoTags: string[];
  readonly layers: string[];
}

function parseArchiveManifest(json: unknown, where: string): ArchiveEntry[] {
  if (!Array.isArray(json)) throw new TallyError('INVALID_IMAGE', `${where}: manifest.json is not a list`);
  return json.filter(isObject).map((e: JsonObject, i) => {
    const config = str(e, 'Config');
    const layers = arr(e, 'Layers');
    if (!config || !layers) throw new TallyError('INVALID_IMAGE', `${where}: manifest.json entry ${i} needs Config and Layers`);
    return { config, repoTags: strings(e, 'RepoTags'), layers: strings(e, 'Layers') };
  });
}

function choose(entries: ArchiveEntry[], selector: ArchiveSelector, where: string): ArchiveEntry {
  if (selector.kind === 'index') {
    const e = entries[selector.index];
    if (!e) throw new TallyError('IMAGE_NOT_FOUND', `${where}: no image @${selector.index} (the archive holds ${entries.length})`);
    return e;
  }
  if (selector.kind === 'tag') {
    const wanted = selector.tag.includes(':') ? selector.tag : `${selector.tag}:latest`;
    const e = entries.find((x) => x.repoTags.some((t) => t === wanted || t.endsWith('/' + wanted)));
    if (!e) throw new TallyError('IMAGE_NOT_FOUND', `${where}: no image tagged ${wanted} (tags: ${entries.flatMap((x) => x.repoTags).join(', ') || 'none'})`);
    return e;
  }
  if (entries.length !== 1) {
    throw new TallyError('IMAGE_NOT_FOUND', `${where}: the archive holds ${entries.length} images; choose one with FILE:name:tag or FILE@N`);
  }
  return entries[0]!;
}

/** `blobs/sha256/<hex>` members name their digest; legacy `<id>/layer.tar` members do not. */
function digestOfMemberName(name: string): string | null {
  const m = /^\/?blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
  return m ? `sha256:${m[1]}` : null;
}

/**
 * `docker save` output in all three layouts: legacy (`<id>/layer.tar`, Engine ≤ 24), skopeo-style (`<sha>.tar`)
 * and Docker 25+ (an OCI layout inside the tar, plus the same manifest.json). manifest.json drives all three;
 * where an OCI index.json is present too, it supplies the manifest digest.
 */
export function dockerArchiveSource(ref: string, file: string, selector: ArchiveSelector): ImageSource {
  return {
    ref,
    async open(): Promise<Image> {
      const index = await TarIndex.open(file);
      const manifestMember = index.get('/manifest.json');
      if (!manifestMember) throw new TallyError('UNKNOWN_FORMAT', `${file}: not a docker-archive (no manifest.json)`);
      const entries = parseArchiveManifest(parseJson(await index.readMember(manifestMember, MAX_JSON_BLOB), `${file}: manifest.json`), file);
      const entry = choose(entries, selector, file);

      const configMember = index.get(entry.config);
      if (!configMember) throw new TallyError('MISSING_BLOB', `${file}: config ${entry.config} is missing`);
      const configBytes = await index.readMember(configMember, MAX_JSON_BLOB);
      const imageId = 'sha256:' + createHash('sha256').update(configBytes).digest('hex');
      const config = parseImageConfig(parseJson(configBytes, `${file}: ${entry.config}`), `${file}: ${entry.config}`);
      if (config.diffIds.length !== entry.layers.length) {
        throw new TallyError('INVALID_IMAGE', `${file}: manifest.json lists ${entry.layers.length} layers but the config has ${config.diffIds.length} diff_ids`);
      }
      const layers: LayerInfo[] = entry.layers.map((name, i) => {
        const member = index.get(name);
        if (!member) throw new TallyError('MISSING_BLOB', `${file}: layer ${i} (${name}) is missing`);
        const digest = digestOfMemberName(name);
        return {
          index: i,
          digest,
          digestKnown: digest !== null,
          diffId: config.diffIds[i] ?? null,
          mediaType: '',
          size: member.size,
          content: { kind: 'blob', open: async (signal: AbortSignal) => index.openMember(member, signal) },
        };
      });
      return {
        ref,
        source: 'docker-archive',
        imageId,
        manifestDigest: await ociManifestDigest(index, imageId),
        repoTags: entry.repoTags,
        repoDigests: [],
        config,
        layers,
        close: async () => undefined,
      };
    },
  };
}

/** Docker 25+ archives carry an OCI index: find the manifest whose config is this image's. */
async function ociManifestDigest(index: TarIndex, imageId: string): Promise<string | null> {
  const store = new TarBlobStore(index);
  const indexJson = await store.readIndexJson();
  if (!indexJson) return null;
  try {
    for (const d of parseIndex(parseJson(indexJson, 'index.json'), 'index.json')) {
      if (!isDigest(d.digest)) continue;
      const manifest = parseManifest(parseJson(await store.readVerified(d.digest, MAX_JSON_BLOB), 'manifest'), 'manifest');
      if (manifest.config.digest === imageId) return d.digest;
    }
  } catch {
    return null; // the OCI part is optional here; manifest.json already described the image
  }
  return null;
}
