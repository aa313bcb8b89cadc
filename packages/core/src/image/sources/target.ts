import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TallyError } from '../../model/errors.js';
import type { ImageSource } from '../../model/image.js';
import { isDigest } from '../config.js';
import { dockerArchiveSource, type ArchiveSelector } from './docker-archive.js';
import { dockerEngineSource, parseDockerTarget, type DockerSourceOptions } from './docker-engine/source.js';
import { ociArchiveSource, ociLayoutDirSource } from './oci-layout.js';
import type { PlatformSpec, Selector } from './oci-manifest.js';
import type { RegistryOptions } from './registry/client.js';
import { parseImageReference } from './registry/reference.js';
import { registrySource } from './registry/source.js';
import { rootfsSource } from './rootfs.js';
import { TarIndex } from './tar-index.js';

export interface TargetOptions {
  readonly platform: PlatformSpec;
  readonly platformExplicit: boolean;
  /** Engine endpoint (default DOCKER_HOST) and export mode for `docker:` targets. */
  readonly docker?: DockerSourceOptions;
  /** Credentials, TLS and timeouts for `registry:` targets. */
  readonly registry?: RegistryOptions;
}

const REGISTRY_PREFIX = 'registry:';

const TRANSPORTS = ['docker-archive', 'oci-archive', 'oci', 'dir'] as const;
type Transport = (typeof TRANSPORTS)[number];

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Split "PATH[:REF]" where PATH may itself contain ':' — the longest prefix that exists on disk is the path.
 * The reference is whatever follows (":tag", ":name:tag", "@sha256:…", "@N").
 */
async function splitPathAndRef(spec: string): Promise<{ path: string; ref: string | null }> {
  if (await exists(spec)) return { path: spec, ref: null };
  for (let i = spec.length - 1; i > 0; i--) {
    const c = spec[i];
    if (c !== ':' && c !== '@') continue;
    const path = spec.slice(0, i);
    if (await exists(path)) return { path, ref: spec.slice(i) };
  }
  throw new TallyError('TARGET_NOT_FOUND', `${spec}: no such file or directory`);
}

function ociSelector(ref: string | null, what: string): Selector {
  if (ref === null || ref === ':') return { kind: 'any' };
  if (ref.startsWith('@')) {
    const digest = ref.slice(1);
    if (!isDigest(digest)) throw new TallyError('USAGE', `${what}: ${digest} is not a sha256 digest`);
    return { kind: 'digest', digest };
  }
  return { kind: 'tag', tag: ref.slice(1) };
}

function archiveSelector(ref: string | null, what: string): ArchiveSelector {
  if (ref === null) return { kind: 'any' };
  if (ref.startsWith('@')) {
    const n = Number(ref.slice(1));
    if (!Number.isInteger(n) || n < 0) throw new TallyError('USAGE', `${what}: @${ref.slice(1)} is not an image position`);
    return { kind: 'index', index: n };
  }
  return { kind: 'tag', tag: ref.slice(1) };
}

/** What a bare path is: an OCI layout dir, a rootfs dir, a docker-archive or an OCI archive. */
async function detectTransport(path: string): Promise<Transport> {
  const st = await stat(path).catch((err: unknown) => {
    throw new TallyError('TARGET_NOT_FOUND', `${path}: ${(err as Error).message}`);
  });
  if (st.isDirectory()) {
    return (await exists(join(path, 'oci-layout'))) || (await exists(join(path, 'index.json'))) ? 'oci' : 'dir';
  }
  if (!st.isFile()) throw new TallyError('TARGET_UNREADABLE', `${path}: not a file or directory`);
  const head = Buffer.alloc(512);
  const fh = await open(path, 'r').catch((err: unknown) => {
    throw new TallyError('TARGET_UNREADABLE', `${path}: ${(err as Error).message}`);
  });
  try {
    await fh.read(head, 0, 512, 0);
  } finally {
    await fh.close();
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    throw new TallyError('UNKNOWN_FORMAT', `${path}: a gzip-compressed archive; decompress it first (gunzip -k ${path})`);
  }
  const index = await TarIndex.open(path);
  if (index.get('/manifest.json')) return 'docker-archive';
  if (index.get('/index.json') || index.get('/oci-layout')) return 'oci-archive';
  throw new TallyError('UNKNOWN_FORMAT', `${path}: a tar archive, but neither a docker-archive (manifest.json) nor an OCI layout (index.json)`);
}

/**
 * Parse a scan target: `docker-archive:FILE[:name:tag|@N]`, `oci:DIR[:TAG|@DIGEST]`, `oci-archive:FILE[:TAG|@DIGEST]`,
 * `dir:PATH`, `docker:IMAGE` (Docker engine), `registry:HOST[:PORT]/REPO[:TAG|@DIGEST]`, or a bare path whose format is detected.
 */
export async function sourceForTarget(target: string, opts: TargetOptions): Promise<ImageSource> {
  // `docker:NAME` is an image in the local Docker engine, never a path
  if (target.startsWith('docker:')) return dockerEngineSource(target, parseDockerTarget(target), opts.docker);
  if (target.startsWith(REGISTRY_PREFIX)) {
    // never a path: a registry reference is parsed (and checked) before anything goes over the network
    const reference = parseImageReference(target.slice(REGISTRY_PREFIX.length));
    return registrySource(target, reference, { ...opts.registry, platform: opts.platform, platformExplicit: opts.platformExplicit });
  }
  let transport: Transport | null = null;
  let rest = target;
  for (const t of TRANSPORTS) {
    if (target.startsWith(t + ':')) {
      transport = t;
      rest = target.slice(t.length + 1);
      break;
    }
  }
  const { path, ref } = await splitPathAndRef(rest);
  transport ??= await detectTransport(path);
  const oci = { platform: opts.platform, platformExplicit: opts.platformExplicit };
  switch (transport) {
    case 'docker-archive':
      return dockerArchiveSource(target, path, archiveSelector(ref, target));
    case 'oci':
      return ociLayoutDirSource(target, path, { ...oci, selector: ociSelector(ref, target) });
    case 'oci-archive':
      return ociArchiveSource(target, path, { ...oci, selector: ociSelector(ref, target) });
    case 'dir':
      if (ref !== null) throw new TallyError('USAGE', `${target}: a directory takes no tag or digest`);
      return rootfsSource(target, path);
  }
}
