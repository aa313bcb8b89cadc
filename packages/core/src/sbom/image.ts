/** How an SBOM names the scanned image: display name, version (digest), `pkg:oci` purl and `tally:image:*` facts. */
import { PackageURL } from 'packageurl-js';
import type { ReportImage } from '../model/report.js';
import { IMAGE_PROP, type Property } from './properties.js';

/** The name users know the image by: its first tag, else what they typed. */
export function imageName(image: ReportImage): string {
  return image.repoTags[0] ?? image.ref;
}

/** The image's digest: the config digest (image id), else the manifest digest. */
export function imageVersion(image: ReportImage): string | null {
  return image.imageId ?? image.manifestDigest;
}

interface Reference {
  /** Registry host, when the reference names one. */
  readonly registry: string | null;
  /** Repository path below the registry ("library/debian", "team/app"). */
  readonly path: string;
  readonly tag: string | null;
}

/** `registry.example:5000/team/app:1.2` → registry, path, tag (docker reference grammar, loosely). */
function parseReference(ref: string): Reference {
  const at = ref.indexOf('@');
  const noDigest = at >= 0 ? ref.slice(0, at) : ref;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const tag = colon > slash ? noDigest.slice(colon + 1) : null;
  const repo = colon > slash ? noDigest.slice(0, colon) : noDigest;
  const first = repo.split('/')[0] ?? '';
  // Docker's rule: the first component is a registry host when it has a dot or a port, or is localhost
  const hasHost = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return { registry: hasHost ? first : null, path: hasHost ? repo.slice(first.length + 1) : repo, tag: tag === '' ? null : tag };
}

/**
 * `pkg:oci/<name>@<digest>?arch=…&repository_url=…&tag=…` per the purl spec's oci type: the name is the last
 * path segment of the repository, the version the digest, `repository_url` where it can be pulled from. Null
 * without a digest (the type requires one). A local tag (`app:1.2` from a docker archive) gets no repository_url:
 * claiming Docker Hub for an image that was never pushed would mislead; a registry scan of a short name does mean
 * Docker Hub, as Docker resolves it.
 */
export function imagePurl(image: ReportImage): string | null {
  const digest = image.manifestDigest ?? image.imageId;
  if (!digest) return null;
  const qualifiers: Record<string, string> = {};
  if (image.platform) qualifiers['arch'] = image.platform.architecture;
  let name: string;
  const named = image.repoTags[0] ?? (image.source === 'registry' ? image.ref : undefined);
  if (named !== undefined) {
    const ref = parseReference(named);
    name = ref.path.split('/').pop() ?? '';
    if (ref.registry !== null) qualifiers['repository_url'] = `${ref.registry}/${ref.path}`.toLowerCase();
    else if (image.source === 'registry') qualifiers['repository_url'] = `docker.io/${ref.path.includes('/') ? ref.path : `library/${ref.path}`}`.toLowerCase();
    if (ref.tag !== null) qualifiers['tag'] = ref.tag;
  } else {
    // a file target (app.tar, oci:DIR:TAG, docker-archive:FILE@N, dir:PATH) has no repository: name it after
    // the file, without the transport prefix, the image selector and the extension
    const path = image.ref.replace(/^(docker-archive|oci-archive|oci|dir):/, '').replace(/[:@][^/]*$/, '');
    name = (path.split('/').filter((s) => s !== '').pop() ?? '').replace(/\.(tar|tgz|tar\.gz)$/i, '');
  }
  try {
    return new PackageURL('oci', undefined, name.toLowerCase() || 'image', digest, qualifiers, undefined).toString();
  } catch {
    return null;
  }
}

export function imageProperties(image: ReportImage): Property[] {
  const out: Property[] = [
    [IMAGE_PROP.ref, image.ref],
    [IMAGE_PROP.source, image.source],
  ];
  if (image.imageId) out.push([IMAGE_PROP.imageId, image.imageId]);
  if (image.manifestDigest) out.push([IMAGE_PROP.manifestDigest, image.manifestDigest]);
  for (const t of image.repoTags) out.push([IMAGE_PROP.repoTag, t]);
  for (const d of image.repoDigests) out.push([IMAGE_PROP.repoDigest, d]);
  if (image.platform) out.push([IMAGE_PROP.platform, [image.platform.os, image.platform.architecture, image.platform.variant].filter((s) => s).join('/')]);
  if (image.created) out.push([IMAGE_PROP.created, image.created]);
  return out;
}

export function osProperties(os: NonNullable<ReportImage['os']>): Property[] {
  return [
    [IMAGE_PROP.osFamily, os.family],
    [IMAGE_PROP.osName, os.name],
    [IMAGE_PROP.osVersion, os.version],
    ...(os.prettyName !== null ? [[IMAGE_PROP.osPrettyName, os.prettyName] as const] : []),
  ];
}
