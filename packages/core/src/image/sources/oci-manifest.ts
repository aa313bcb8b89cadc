import { TallyError } from '../../model/errors.js';
import type { Image, LayerInfo, Platform, SourceKind } from '../../model/image.js';
import { arr, isObject, num, obj, parseJson, str, type JsonObject } from '../../util/json.js';
import { parseImageConfig } from '../config.js';
import { MAX_JSON_BLOB, type BlobStore } from './blob-store.js';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number | null;
  readonly platform: Platform | null;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface PlatformSpec {
  readonly os: string;
  readonly architecture: string;
  readonly variant: string | null;
}

export const DEFAULT_PLATFORM: PlatformSpec = { os: 'linux', architecture: 'amd64', variant: null };

/** "linux/arm64/v8" → spec. */
export function parsePlatform(text: string): PlatformSpec {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new TallyError('USAGE', `--platform ${JSON.stringify(text)}: expected os/arch[/variant], e.g. linux/arm64`);
  }
  return { os: parts[0]!, architecture: parts[1]!, variant: parts[2] ?? null };
}

export function formatPlatform(p: PlatformSpec | Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** Default variants as the OCI image spec and containerd treat them: arm64 ≡ arm64/v8, arm ≡ arm/v7. */
function normalVariant(p: PlatformSpec | Platform): string | null {
  if (p.variant) return p.variant;
  if (p.architecture === 'arm64') return 'v8';
  if (p.architecture === 'arm') return 'v7';
  return null;
}

export function platformMatches(want: PlatformSpec, have: Platform): boolean {
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  return want.variant === null || normalVariant(want) === normalVariant(have);
}

function parseDescriptor(o: unknown, where: string): Descriptor {
  if (!isObject(o)) throw new TallyError('INVALID_IMAGE', `${where}: descriptor is not an object`);
  const digest = str(o, 'digest');
  if (!digest) throw new TallyError('INVALID_IMAGE', `${where}: descriptor without digest`);
  const p = obj(o, 'platform');
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(o, 'annotations') ?? {})) if (typeof v === 'string') annotations[k] = v;
  return {
    mediaType: str(o, 'mediaType') ?? '',
    digest,
    size: num(o, 'size'),
    platform: p ? { os: str(p, 'os') ?? '', architecture: str(p, 'architecture') ?? '', variant: str(p, 'variant') } : null,
    annotations,
  };
}

function isIndexMedia(mediaType: string): boolean {
  return mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList;
}

/** The descriptors listed by an index document. */
export function parseIndex(json: unknown, where: string): Descriptor[] {
  if (!isObject(json)) throw new TallyError('INVALID_IMAGE', `${where}: index is not a JSON object`);
  const list = arr(json, 'manifests');
  if (!list) throw new TallyError('INVALID_IMAGE', `${where}: index has no manifests list`);
  return list.map((d, i) => parseDescriptor(d, `${where} manifests[${i}]`));
}

export interface ImageManifest {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

export function parseManifest(json: unknown, where: string): ImageManifest {
  if (!isObject(json)) throw new TallyError('INVALID_IMAGE', `${where}: manifest is not a JSON object`);
  const mediaType = str(json, 'mediaType') ?? '';
  if (mediaType === MEDIA.dockerSchema1 || mediaType === MEDIA.dockerSchema1Signed || num(json, 'schemaVersion') === 1) {
    throw new TallyError('UNSUPPORTED_MEDIA_TYPE', `${where}: Docker schema 1 manifests are not supported (deprecated since 2017)`);
  }
  const config = obj(json, 'config');
  const layers = arr(json, 'layers');
  if (!config || !layers) throw new TallyError('INVALID_IMAGE', `${where}: manifest needs config and layers`);
  return {
    config: parseDescriptor(config, `${where} config`),
    layers: layers.map((l, i) => parseDescriptor(l, `${where} layers[${i}]`)),
  };
}

export type Selector = { readonly kind: 'tag'; readonly tag: string } | { readonly kind: 'digest'; readonly digest: string } | { readonly kind: 'any' };

interface Leaf {
  readonly descriptor: Descriptor;
  readonly refName: string | null;
}

/** BuildKit attaches provenance/SBOM manifests to indexes as unknown/unknown "platforms": not images. */
export function isAttestation(d: Descriptor): boolean {
  return d.annotations['vnd.docker.reference.type'] === 'attestation-manifest' || (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown');
}

function refNameMatches(refName: string | undefined, tag: string): boolean {
  if (refName === undefined) return false;
  return refName === tag || refName.endsWith(':' + tag);
}

async function readJsonBlob(store: BlobStore, digest: string, what: string): Promise<JsonObject> {
  const json = parseJson(await store.readVerified(digest, MAX_JSON_BLOB), `${store.where}: ${what} ${digest}`);
  if (!isObject(json)) throw new TallyError('INVALID_IMAGE', `${store.where}: ${what} ${digest} is not a JSON object`);
  return json;
}

/** Walk indexes (nested to a bounded depth) down to image manifests. */
async function leavesOf(store: BlobStore, descriptors: readonly Descriptor[], refName: string | null, depth: number, out: Leaf[]): Promise<void> {
  if (depth > 8) throw new TallyError('INVALID_IMAGE', `${store.where}: indexes nested more than 8 deep`);
  for (const d of descriptors) {
    const name = d.annotations[REF_NAME] ?? refName;
    // some tools (umoci) omit mediaType on descriptors: then the document itself tells (an index lists manifests)
    const untyped = d.mediaType === '' ? await readJsonBlob(store, d.digest, 'manifest or index') : null;
    if (isIndexMedia(d.mediaType) || (untyped !== null && arr(untyped, 'manifests') !== null)) {
      const json = untyped ?? (await readJsonBlob(store, d.digest, 'index'));
      await leavesOf(store, parseIndex(json, `${store.where} index ${d.digest}`), name, depth + 1, out);
    } else if (d.mediaType === MEDIA.ociManifest || d.mediaType === MEDIA.dockerManifest || untyped !== null) {
      out.push({ descriptor: d, refName: name });
    }
    // other media types (artifacts, signatures) are not images: skipped
  }
}

export interface ResolvedManifest {
  readonly digest: string;
  readonly manifest: ImageManifest;
  readonly refName: string | null;
}

/**
 * Choose one image manifest from a layout's top-level descriptors: by ref-name tag or digest, then by platform.
 * A lone image is taken whatever its platform unless the user asked for one explicitly.
 */
export async function resolveManifest(
  store: BlobStore,
  top: readonly Descriptor[],
  selector: Selector,
  platform: PlatformSpec,
  platformExplicit: boolean,
): Promise<ResolvedManifest> {
  let roots: Descriptor[] = [...top];
  if (selector.kind === 'tag') {
    roots = top.filter((d) => refNameMatches(d.annotations[REF_NAME], selector.tag));
    if (roots.length === 0) {
      const tags = top.map((d) => d.annotations[REF_NAME]).filter((t): t is string => t !== undefined);
      throw new TallyError('IMAGE_NOT_FOUND', `${store.where}: no image tagged ${JSON.stringify(selector.tag)}${tags.length ? ` (tags: ${tags.join(', ')})` : ''}`);
    }
  }
  const leaves: Leaf[] = [];
  if (selector.kind === 'digest') {
    const all: Leaf[] = [];
    const direct = top.find((d) => d.digest === selector.digest);
    if (direct) await leavesOf(store, [direct], null, 0, leaves);
    else {
      await leavesOf(store, top, null, 0, all);
      leaves.push(...all.filter((l) => l.descriptor.digest === selector.digest));
    }
    if (leaves.length === 0) throw new TallyError('IMAGE_NOT_FOUND', `${store.where}: no manifest or index with digest ${selector.digest}`);
  } else {
    await leavesOf(store, roots, null, 0, leaves);
  }

  const images = leaves.filter((l) => !isAttestation(l.descriptor));
  if (images.length === 0) throw new TallyError('IMAGE_NOT_FOUND', `${store.where}: no image manifest found`);
  let chosen: Leaf[] = images;
  if (images.length > 1 || platformExplicit) {
    chosen = [];
    for (const leaf of images) {
      const p = leaf.descriptor.platform ?? (await platformFromConfig(store, leaf.descriptor));
      if (platformMatches(platform, p)) chosen.push(leaf);
    }
  }
  if (chosen.length === 0) {
    const have = await Promise.all(images.map(async (l) => formatPlatform(l.descriptor.platform ?? (await platformFromConfig(store, l.descriptor)))));
    throw new TallyError('IMAGE_NOT_FOUND', `${store.where}: no image for platform ${formatPlatform(platform)} (available: ${have.join(', ')})`);
  }
  const distinct = new Map(chosen.map((l) => [l.descriptor.digest, l]));
  if (distinct.size > 1) {
    const names = [...distinct.values()].map((l) => l.refName ?? l.descriptor.digest);
    throw new TallyError('IMAGE_NOT_FOUND', `${store.where}: ${distinct.size} images match; choose one by tag or digest: ${names.join(', ')}`);
  }
  const leaf = [...distinct.values()][0]!;
  const json = await readJsonBlob(store, leaf.descriptor.digest, 'manifest');
  return { digest: leaf.descriptor.digest, manifest: parseManifest(json, `${store.where} manifest ${leaf.descriptor.digest}`), refName: leaf.refName };
}

async function platformFromConfig(store: BlobStore, d: Descriptor): Promise<Platform> {
  const manifest = parseManifest(await readJsonBlob(store, d.digest, 'manifest'), `${store.where} manifest ${d.digest}`);
  return parseImageConfig(await readJsonBlob(store, manifest.config.digest, 'config'), `${store.where} config`).platform;
}

/** Build the Image for a resolved manifest: config read and verified, layers paired with diff_ids. */
export async function imageFromManifest(
  store: BlobStore,
  resolved: ResolvedManifest,
  meta: { ref: string; source: SourceKind; repoTags: readonly string[]; repoDigests: readonly string[] },
  close: () => Promise<void>,
): Promise<Image> {
  const configJson = await readJsonBlob(store, resolved.manifest.config.digest, 'config');
  const config = parseImageConfig(configJson, `${store.where} config ${resolved.manifest.config.digest}`);
  const layerDescs = resolved.manifest.layers;
  if (config.diffIds.length !== layerDescs.length) {
    throw new TallyError('INVALID_IMAGE', `${store.where}: manifest lists ${layerDescs.length} layers but the config has ${config.diffIds.length} diff_ids`);
  }
  const layers: LayerInfo[] = layerDescs.map((d, index) => ({
    index,
    digest: d.digest,
    digestKnown: true,
    diffId: config.diffIds[index] ?? null,
    mediaType: d.mediaType,
    size: d.size,
    content: { kind: 'blob', open: (signal: AbortSignal) => store.open(d.digest, signal) },
  }));
  return {
    ref: meta.ref,
    source: meta.source,
    imageId: resolved.manifest.config.digest,
    manifestDigest: resolved.digest,
    repoTags: meta.repoTags,
    repoDigests: meta.repoDigests,
    config,
    layers,
    close,
  };
}
