import type { Readable } from 'node:stream';
import { TallyError } from '../../../model/errors.js';
import { arr, isObject, num, obj, str } from '../../../util/json.js';
import { isDigest } from '../../config.js';
import type { BlobStore } from '../blob-store.js';
import type { ManifestDocument, RegistryClient } from './client.js';
import { isRegistryError } from './errors.js';

/**
 * One repository of a registry as a BlobStore, so oci-manifest.ts resolves indexes and builds images exactly as for
 * a layout on disk. The BlobStore contract has one read for every small document, but a registry serves manifests
 * and blobs at different endpoints: the store learns which digest is which from the documents it has served (an
 * index lists manifests, a manifest names its config and layers), and remembers them so nothing is fetched twice.
 */
export class RegistryBlobStore implements BlobStore {
  private readonly documents = new Map<string, Buffer>();
  private readonly manifests = new Set<string>();
  /** Declared sizes, so a blob stream can be cut at the size its manifest promised. */
  private readonly sizes = new Map<string, number>();

  constructor(
    private readonly client: RegistryClient,
    private readonly repository: string,
    /** Names the image in errors: `reg.example/team/app:1`. */
    readonly where: string,
  ) {}

  async readIndexJson(): Promise<Buffer | null> {
    return null; // a registry has no layout index; the tag's manifest plays that part (see source.ts)
  }

  /** Record a manifest or index fetched by the caller (the tag's top document). */
  remember(doc: ManifestDocument): void {
    this.manifests.add(doc.digest);
    this.documents.set(doc.digest, doc.bytes);
    this.learn(doc.bytes);
  }

  private learn(bytes: Buffer): void {
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      return; // oci-manifest.ts reports malformed documents; here they just teach nothing
    }
    if (!isObject(json)) return;
    const note = (d: unknown, isManifest: boolean): void => {
      if (!isObject(d)) return;
      const digest = str(d, 'digest');
      if (!digest || !isDigest(digest)) return;
      if (isManifest) this.manifests.add(digest);
      const size = num(d, 'size');
      if (size !== null && Number.isSafeInteger(size) && size >= 0) this.sizes.set(digest, size);
    };
    for (const d of arr(json, 'manifests') ?? []) note(d, true);
    note(obj(json, 'config'), false);
    for (const d of arr(json, 'layers') ?? []) note(d, false);
  }

  async readVerified(digest: string, maxBytes: number): Promise<Buffer> {
    if (!isDigest(digest)) throw new TallyError('INVALID_IMAGE', `${this.where}: ${JSON.stringify(digest.slice(0, 100))} is not a sha256 digest`);
    const cached = this.documents.get(digest);
    if (cached) {
      if (cached.length > maxBytes) throw new TallyError('INVALID_IMAGE', `${this.where}: ${digest} is ${cached.length} bytes, over the ${maxBytes}-byte limit`);
      return cached;
    }
    if (this.manifests.has(digest)) return this.fetchManifest(digest);
    try {
      const bytes = await this.client.readBlob(this.repository, digest, maxBytes);
      this.documents.set(digest, bytes);
      return bytes;
    } catch (err) {
      // a digest nothing told us about: it may be a manifest (a descriptor without mediaType)
      if (isRegistryError(err) && err.code === 'MISSING_BLOB') return this.fetchManifest(digest);
      throw err;
    }
  }

  private async fetchManifest(digest: string): Promise<Buffer> {
    const doc = await this.client.getManifest(this.repository, digest); // verified against the digest there
    this.remember(doc);
    return doc.bytes;
  }

  async open(digest: string, signal: AbortSignal): Promise<Readable> {
    if (!isDigest(digest)) throw new TallyError('INVALID_IMAGE', `${this.where}: ${JSON.stringify(digest.slice(0, 100))} is not a sha256 digest`);
    return this.client.openBlob(this.repository, digest, { signal, size: this.sizes.get(digest) ?? null });
  }
}
