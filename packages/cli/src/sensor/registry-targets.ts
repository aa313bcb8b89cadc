/**
 * What the Registry sensor looks at: repositories (`--repo`, globs matched against `_catalog`, literal names used
 * as they are, so registries that hide their catalog still work), their tags (`--tags`, likewise), and for each tag
 * the image manifests it stands for, found from manifests alone: a HEAD for the tag's digest, and the index
 * documents of a multi-platform tag. No blob is read here, so a pass over images the backend has pulls none.
 */
import {
  formatPlatform,
  globToRegExp,
  isAttestation,
  isIndexMediaType,
  isRegistryError,
  MANIFEST_MEDIA_TYPES,
  parseIndex,
  platformMatches,
  TallyError,
  type Descriptor,
  type ManifestHead,
  type Platform,
  type PlatformSpec,
  type RegistryClient,
} from '@tally/core';

/** `--repo`/`--tags` values: literal names, and globs (`*` stays within one path component, `**` crosses them). */
export interface NameFilter {
  readonly literals: readonly string[];
  readonly globs: readonly RegExp[];
}

const GLOB_CHARS = /[*?[]/;

/** Values may repeat the flag or separate with commas (names never contain one); none means "all". */
export function nameFilter(values: readonly string[]): NameFilter | null {
  const all = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  if (all.length === 0) return null;
  return {
    literals: all.filter((v) => !GLOB_CHARS.test(v)),
    // matched with a leading `/` because globToRegExp anchors patterns at a root
    globs: all.filter((v) => GLOB_CHARS.test(v)).map((v) => globToRegExp(v)),
  };
}

/** The names to visit: the literals, and the listed names that match a glob (all of them without a filter). */
async function select(filter: NameFilter | null, list: () => AsyncIterable<string>): Promise<string[]> {
  const out = new Set(filter?.literals ?? []);
  if (filter === null || filter.globs.length > 0) {
    for await (const name of list()) if (filter === null || filter.globs.some((g) => g.test(`/${name}`))) out.add(name);
  }
  return [...out].sort();
}

export function repositories(client: RegistryClient, filter: NameFilter | null, signal: AbortSignal): Promise<string[]> {
  return select(filter, () => client.catalog({ signal }));
}

export function tagsOf(client: RegistryClient, repository: string, filter: NameFilter | null, signal: AbortSignal): Promise<string[]> {
  return select(filter, () => client.tags(repository, { signal }));
}

export interface PlatformManifest {
  readonly digest: string;
  /** From the index; null for a single-platform tag (its config says, and is not read here). */
  readonly platform: Platform | null;
}

export interface TagPlan {
  readonly tag: string;
  /** What the tag points at now: an image manifest, or an index. */
  readonly digest: string;
  readonly isIndex: boolean;
  /** The image manifests to have in the backend: one, or one per platform with `--platform all`. */
  readonly manifests: readonly PlatformManifest[];
}

const MAX_INDEX_DEPTH = 8;

/** An index's image manifests, nested indexes followed (manifest fetches only). */
async function indexManifests(client: RegistryClient, repository: string, digest: string, signal: AbortSignal, depth = 0): Promise<PlatformManifest[]> {
  const where = `${client.registry}/${repository}@${digest}`;
  if (depth > MAX_INDEX_DEPTH) throw new TallyError('INVALID_IMAGE', `${where}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
  const doc = await client.getManifest(repository, digest, signal);
  let json: unknown;
  try {
    json = JSON.parse(doc.bytes.toString('utf8'));
  } catch {
    throw new TallyError('INVALID_IMAGE', `${where}: the index is not JSON`);
  }
  const out: PlatformManifest[] = [];
  for (const d of parseIndex(json, `${where} index`)) {
    if (isAttestation(d)) continue;
    if (isImageManifest(d)) out.push({ digest: d.digest, platform: d.platform });
    // an index, or an untyped descriptor (umoci writes them): its document tells
    else if (isIndexMediaType(d.mediaType) || d.mediaType === '') out.push(...(await descriptorManifests(client, repository, d, signal, depth + 1)));
    // anything else (signatures, artifacts) is not an image
  }
  return [...new Map(out.map((m) => [m.digest, m])).values()];
}

function isImageManifest(d: Descriptor): boolean {
  return MANIFEST_MEDIA_TYPES.includes(d.mediaType) && !isIndexMediaType(d.mediaType);
}

async function descriptorManifests(client: RegistryClient, repository: string, d: Descriptor, signal: AbortSignal, depth: number): Promise<PlatformManifest[]> {
  if (d.mediaType !== '') return indexManifests(client, repository, d.digest, signal, depth);
  const head = await client.headManifest(repository, d.digest, signal);
  return isIndexMediaType(head.mediaType) ? indexManifests(client, repository, d.digest, signal, depth) : [{ digest: d.digest, platform: d.platform }];
}

/**
 * The manifests `platform` picks (as a pull would: a lone image whatever its platform), or all of them. A tag
 * with no image for the platform is an error for that tag.
 */
function pick(manifests: readonly PlatformManifest[], platform: PlatformSpec | 'all', where: string): PlatformManifest[] {
  if (platform === 'all' || manifests.length <= 1) return [...manifests];
  const matching = manifests.filter((m) => m.platform !== null && platformMatches(platform, m.platform));
  if (matching.length === 0) {
    const have = manifests.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')).join(', ');
    throw new TallyError('IMAGE_NOT_FOUND', `${where}: no image for platform ${formatPlatform(platform)} (available: ${have})`);
  }
  return matching.slice(0, 1);
}

/**
 * The tag's plan; null when the repository has no such tag (a literal `--tags` name it lacks, or a tag deleted since
 * the listing): not an image, so neither counted nor an error.
 */
export async function planTag(client: RegistryClient, repository: string, tag: string, platform: PlatformSpec | 'all', signal: AbortSignal): Promise<TagPlan | null> {
  let head: ManifestHead;
  try {
    head = await client.headManifest(repository, tag, signal);
  } catch (err) {
    if (isRegistryError(err) && err.kind === 'not-found') return null;
    throw err;
  }
  if (!isIndexMediaType(head.mediaType)) return { tag, digest: head.digest, isIndex: false, manifests: [{ digest: head.digest, platform: null }] };
  const manifests = await indexManifests(client, repository, head.digest, signal);
  return { tag, digest: head.digest, isIndex: true, manifests: pick(manifests, platform, `${client.registry}/${repository}:${tag}`) };
}
