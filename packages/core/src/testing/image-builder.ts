/**
 * Test support: builds small but real images (tar layers, gzip/zstd blobs, configs with history, OCI layouts,
 * docker-archives) from entry lists, with correct digests unless a test asks for a broken one.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import * as tar from 'tar-stream';

export interface EntrySpec {
  readonly name: string;
  readonly type?: 'file' | 'symlink' | 'link' | 'directory';
  readonly content?: string | Buffer;
  readonly linkname?: string;
  readonly mode?: number;
}

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export async function makeTar(entries: readonly EntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: new Date(0), ...(e.linkname !== undefined ? { linkname: e.linkname } : {}) };
    if (type === 'file') pack.entry(header, typeof e.content === 'string' ? Buffer.from(e.content) : e.content ?? Buffer.alloc(0));
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export type Compression = 'none' | 'gzip' | 'zstd';

export function compress(data: Buffer, how: Compression): Buffer {
  if (how === 'none') return data;
  if (how === 'gzip') return gzipSync(data);
  return execFileSync('zstd', ['-q', '-c', '-3'], { input: data, maxBuffer: 1 << 30 });
}

const LAYER_MEDIA: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

export interface LayerSpec {
  readonly entries?: readonly EntrySpec[];
  /** Raw tar bytes instead of entries (hostile tests). */
  readonly tar?: Buffer;
  readonly compression?: Compression;
  readonly createdBy?: string;
  /** Replace the blob after digests are computed (truncation, corruption). */
  readonly tamper?: (blob: Buffer) => Buffer;
  /** Blob bytes to use instead of compressing the tar (gzip bombs); digests are computed from them. */
  readonly blob?: Buffer;
  /** diffId to claim when `blob` is given and the tar is not materialised. */
  readonly diffId?: string;
}

export interface BuiltLayer {
  readonly blob: Buffer;
  readonly digest: string;
  readonly diffId: string;
  readonly mediaType: string;
  readonly createdBy: string;
}

export async function buildLayer(spec: LayerSpec, i: number): Promise<BuiltLayer> {
  const compression = spec.compression ?? 'gzip';
  let blob: Buffer;
  let diffId: string;
  if (spec.blob) {
    blob = spec.blob;
    diffId = spec.diffId ?? sha256('unknown');
  } else {
    const tarBytes = spec.tar ?? (await makeTar(spec.entries ?? []));
    diffId = sha256(tarBytes);
    blob = compress(tarBytes, compression);
  }
  const digest = sha256(blob);
  return { blob: spec.tamper ? spec.tamper(blob) : blob, digest, diffId, mediaType: LAYER_MEDIA[compression], createdBy: spec.createdBy ?? `layer ${i}` };
}

export interface ImageSpec {
  readonly layers: readonly LayerSpec[];
  readonly architecture?: string;
  readonly os?: string;
  /** Insert an empty_layer history entry before each layer. */
  readonly emptyHistoryBetween?: boolean;
}

export function configFor(spec: ImageSpec, layers: readonly BuiltLayer[]): Buffer {
  const history: object[] = [];
  for (const l of layers) {
    if (spec.emptyHistoryBetween) history.push({ created: '2026-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ENV A=1', empty_layer: true });
    history.push({ created: '2026-01-01T00:00:00Z', created_by: l.createdBy });
  }
  return Buffer.from(
    JSON.stringify({
      architecture: spec.architecture ?? 'amd64',
      os: spec.os ?? 'linux',
      created: '2026-01-01T00:00:00Z',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history,
    }),
  );
}

export interface BuiltImage {
  readonly configDigest: string;
  readonly manifestDigest: string;
  readonly layers: readonly BuiltLayer[];
}

/** Store a blob under its digest, or under `claimed` (a tampered blob keeps the name of the original). */
async function putBlob(dir: string, data: Buffer, claimed?: string): Promise<string> {
  const digest = claimed ?? sha256(data);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
  return digest;
}

/** An OCI image layout directory with one image tagged `tag`. */
export async function writeOciLayout(dir: string, spec: ImageSpec, tag = 'latest'): Promise<BuiltImage> {
  const layers = await Promise.all(spec.layers.map(buildLayer));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  for (const l of layers) await putBlob(dir, l.blob, l.digest);
  const config = configFor(spec, layers);
  const configDigest = await putBlob(dir, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
    }),
  );
  const manifestDigest = await putBlob(dir, manifest);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifestDigest,
        size: manifest.length,
        annotations: { 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  return { configDigest, manifestDigest, layers };
}

/** A classic (Engine ≤ 24) `docker save` archive: `<n>/layer.tar` members, uncompressed unless a layer says otherwise. */
export async function writeDockerArchive(file: string, spec: ImageSpec, repoTag = 'test/image:latest'): Promise<BuiltImage> {
  const layers = await Promise.all(spec.layers.map((l, i) => buildLayer({ compression: 'none', ...l }, i)));
  const config = configFor(spec, layers);
  const configDigest = sha256(config);
  const entries: EntrySpec[] = [];
  layers.forEach((l, i) => entries.push({ name: `layer${i}/layer.tar`, content: l.blob }));
  entries.push({ name: `${configDigest.slice(7)}.json`, content: config });
  entries.push({
    name: 'manifest.json',
    content: JSON.stringify([{ Config: `${configDigest.slice(7)}.json`, RepoTags: [repoTag], Layers: layers.map((_, i) => `layer${i}/layer.tar`) }]),
  });
  await writeFile(file, await makeTar(entries));
  return { configDigest, manifestDigest: '', layers };
}
