import { TallyError } from '../../../model/errors.js';
import type { Image, ImageSource, Platform } from '../../../model/image.js';
import { arr, isObject, parseJson } from '../../../util/json.js';
import { parseImageConfig } from '../../config.js';
import { MAX_JSON_BLOB } from '../blob-store.js';
import {
  DEFAULT_PLATFORM,
  imageFromManifest,
  MEDIA,
  parseIndex,
  parseManifest,
  resolveManifest,
  type Descriptor,
  type PlatformSpec,
  type ResolvedManifest,
} from '../oci-manifest.js';
import { isIndexMediaType, RegistryClient, type ManifestDocument, type RegistryOptions } from './client.js';
import { formatReference, parseImageReference, repositoryName, type ImageReference } from './reference.js';
import { RegistryBlobStore } from './store.js';

export interface RegistrySourceOptions extends RegistryOptions {
  readonly platform?: PlatformSpec;
  readonly platformExplicit?: boolean;
  /**
   * A client to share (connection pool, token cache) across images of one registry; it must be for the same
   * registry. Without one, each open() makes its own and the image's close() ends it.
   */
  readonly client?: RegistryClient;
}

function clientFor(reference: ImageReference, opts: RegistrySourceOptions): { client: RegistryClient; owned: boolean } {
  if (opts.client) {
    if (opts.client.registry !== reference.registry) {
      throw new TallyError('USAGE', `a client for ${opts.client.registry} cannot fetch ${formatReference(reference)}`);
    }
    return { client: opts.client, owned: false };
  }
  return { client: new RegistryClient(reference.registry, opts), owned: true };
}

/** What the tag (or digest) points at: an image manifest, or an index of per-platform manifests. */
async function fetchTop(client: RegistryClient, reference: ImageReference, signal: AbortSignal | undefined): Promise<ManifestDocument> {
  // by digest when both are given: the digest is what the user pinned, the tag only a label
  return client.getManifest(reference.repository, reference.digest ?? reference.tag ?? 'latest', signal);
}

function topDescriptor(doc: ManifestDocument): Descriptor {
  return { mediaType: doc.mediaType, digest: doc.digest, size: doc.bytes.length, platform: null, annotations: {} };
}

function imageMeta(target: string, reference: ImageReference, topDigest: string) {
  const name = repositoryName(reference);
  return {
    ref: target,
    source: 'registry' as const,
    repoTags: reference.tag !== null ? [`${name}:${reference.tag}`] : [],
    // what a pull by digest would name: the index for a multi-platform tag (as Docker records it), else the manifest
    repoDigests: [`${name}@${topDigest}`],
  };
}

/** `registry:HOST[:PORT]/REPO[:TAG|@DIGEST]`: layers stream from the registry as scanImage reads them. */
export function registrySource(target: string, reference: ImageReference | string, opts: RegistrySourceOptions = {}): ImageSource {
  const ref = typeof reference === 'string' ? parseImageReference(reference) : reference;
  return {
    ref: target,
    async open(signal: AbortSignal): Promise<Image> {
      const { client, owned } = clientFor(ref, opts);
      try {
        const top = await fetchTop(client, ref, signal);
        const store = new RegistryBlobStore(client, ref.repository, formatReference(ref));
        store.remember(top);
        const roots = isIndexMediaType(top.mediaType) ? parseIndex(parseJson(top.bytes, `${store.where}: index`), `${store.where} index`) : [topDescriptor(top)];
        const resolved = await resolveManifest(store, roots, { kind: 'any' }, opts.platform ?? DEFAULT_PLATFORM, opts.platformExplicit ?? false);
        return await imageFromManifest(store, resolved, imageMeta(target, ref, top.digest), async () => {
          if (owned) client.close();
        });
      } catch (err) {
        if (owned) client.close();
        throw err;
      }
    },
  };
}

export interface PlatformImage {
  readonly platform: Platform;
  readonly manifestDigest: string;
  /** Scan it with scanImage; its documents are already fetched, so open() goes straight to the layers. */
  readonly source: ImageSource;
}

export interface RegistryPlatforms {
  readonly reference: ImageReference;
  /** The digest the reference resolved to (an index's, for a multi-platform tag). */
  readonly digest: string;
  readonly mediaType: string;
  readonly images: readonly PlatformImage[];
}

function isAttestation(d: Descriptor): boolean {
  // BuildKit attaches provenance/SBOM manifests to indexes as unknown/unknown "platforms": not images
  return d.annotations['vnd.docker.reference.type'] === 'attestation-manifest' || (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown');
}

/**
 * Every platform image a reference names (`--platform all`): one for a plain manifest, one per image manifest of an
 * index (nested indexes followed; attestations skipped). The returned sources share one client and one store, so
 * each platform's scan fetches only its own layers; pass a cache to scanImage to share layer work by diffId.
 */
export async function resolvePlatforms(reference: ImageReference | string, opts: RegistrySourceOptions & { signal?: AbortSignal; target?: string } = {}): Promise<RegistryPlatforms> {
  const ref = typeof reference === 'string' ? parseImageReference(reference) : reference;
  const target = opts.target ?? `registry:${formatReference(ref)}`;
  const { client } = clientFor(ref, opts); // shared by the returned sources: not closed here (keep-alive sockets are unref'd)
  const top = await fetchTop(client, ref, opts.signal);
  const store = new RegistryBlobStore(client, ref.repository, formatReference(ref));
  store.remember(top);

  const leaves: Descriptor[] = [];
  const walk = async (descriptors: readonly Descriptor[], depth: number): Promise<void> => {
    if (depth > 8) throw new TallyError('INVALID_IMAGE', `${store.where}: indexes nested more than 8 deep`);
    for (const d of descriptors) {
      if (isAttestation(d)) continue;
      // some tools (umoci) omit mediaType on descriptors: then the document itself tells
      const untyped = d.mediaType === '' ? parseJson(await store.readVerified(d.digest, MAX_JSON_BLOB), `${store.where}: ${d.digest}`) : null;
      if (isIndexMediaType(d.mediaType) || (isObject(untyped) && arr(untyped, 'manifests') !== null)) {
        const json = untyped ?? parseJson(await store.readVerified(d.digest, MAX_JSON_BLOB), `${store.where}: index ${d.digest}`);
        await walk(parseIndex(json, `${store.where} index ${d.digest}`), depth + 1);
      } else if ((d.mediaType === MEDIA.ociManifest || d.mediaType === MEDIA.dockerManifest || untyped !== null) && !leaves.some((l) => l.digest === d.digest)) {
        leaves.push(d);
      }
      // other media types (signatures, artifacts) are not images: skipped, as in oci-manifest.ts
    }
  };
  await walk(isIndexMediaType(top.mediaType) ? parseIndex(parseJson(top.bytes, `${store.where}: index`), `${store.where} index`) : [topDescriptor(top)], 0);

  const images: PlatformImage[] = [];
  for (const leaf of leaves) {
    const bytes = await store.readVerified(leaf.digest, MAX_JSON_BLOB);
    const manifest = parseManifest(parseJson(bytes, `${store.where}: manifest ${leaf.digest}`), `${store.where} manifest ${leaf.digest}`);
    // the config is authoritative (an index's platform field is only a hint, and is absent for a plain manifest)
    const configBytes = await store.readVerified(manifest.config.digest, MAX_JSON_BLOB);
    const platform = parseImageConfig(parseJson(configBytes, `${store.where}: config`), `${store.where} config ${manifest.config.digest}`).platform;
    const resolved: ResolvedManifest = { digest: leaf.digest, manifest, refName: null };
    images.push({
      platform,
      manifestDigest: leaf.digest,
      source: { ref: target, open: async () => imageFromManifest(store, resolved, imageMeta(target, ref, top.digest), async () => undefined) },
    });
  }
  if (images.length === 0) throw new TallyError('IMAGE_NOT_FOUND', `${store.where}: no image manifest found`);
  return { reference: ref, digest: top.digest, mediaType: top.mediaType, images };
}
