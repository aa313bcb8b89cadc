import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { TallyError } from '../../model/errors.js';
import { isDigest } from '../config.js';
import type { TarIndex } from './tar-index.js';

/** Manifests, indexes and configs are small; anything bigger is refused rather than read into memory. */
export const MAX_JSON_BLOB = 16 * 1024 * 1024;

/**
 * Content-addressed blobs of an image, wherever they live (OCI layout directory, a tar of one, a registry).
 * `readVerified` checks the digest of what it returns; streamed blobs are checked by layer-stream.ts.
 */
export interface BlobStore {
  readonly where: string;
  /** The layout's top-level `index.json`, or null where the store has none (a registry). */
  readIndexJson(): Promise<Buffer | null>;
  readVerified(digest: string, maxBytes: number): Promise<Buffer>;
  open(digest: string, signal: AbortSignal): Promise<Readable>;
}

function checkDigestSyntax(digest: string, where: string): string {
  // Digests come from untrusted JSON and become file names: only sha256:<64 hex> is accepted.
  if (!isDigest(digest)) throw new TallyError('INVALID_IMAGE', `${where}: ${JSON.stringify(digest.slice(0, 100))} is not a sha256 digest`);
  return digest.slice('sha256:'.length);
}

export function verifyBytes(data: Buffer, digest: string, where: string): Buffer {
  const actual = 'sha256:' + createHash('sha256').update(data).digest('hex');
  if (actual !== digest) throw new TallyError('DIGEST_MISMATCH', `${where}: blob ${digest} hashes to ${actual}`);
  return data;
}

export class DirectoryBlobStore implements BlobStore {
  constructor(readonly root: string) {}
  get where(): string {
    return this.root;
  }

  private path(digest: string): string {
    return join(this.root, 'blobs', 'sha256', checkDigestSyntax(digest, this.root));
  }

  async readIndexJson(): Promise<Buffer | null> {
    try {
      return await readFile(join(this.root, 'index.json'));
    } catch {
      return null;
    }
  }

  async readVerified(digest: string, maxBytes: number): Promise<Buffer> {
    const path = this.path(digest);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw new TallyError('MISSING_BLOB', `${this.root}: blob ${digest} is missing`);
    }
    if (size > maxBytes) throw new TallyError('INVALID_IMAGE', `${this.root}: blob ${digest} is ${size} bytes, over the ${maxBytes}-byte limit`);
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(size);
      await fh.read(buf, 0, size, 0);
      return verifyBytes(buf, digest, this.root);
    } finally {
      await fh.close();
    }
  }

  async open(digest: string, signal: AbortSignal): Promise<Readable> {
    const path = this.path(digest);
    try {
      await stat(path);
    } catch {
      throw new TallyError('MISSING_BLOB', `${this.root}: blob ${digest} is missing`);
    }
    return createReadStream(path, { highWaterMark: 1024 * 1024, signal });
  }
}

/** An OCI layout inside a tar (oci-archive, or the OCI part of a Docker 25+ `docker save`). */
export class TarBlobStore implements BlobStore {
  constructor(private readonly index: TarIndex) {}
  get where(): string {
    return this.index.file;
  }

  private member(digest: string) {
    const member = this.index.get(`/blobs/sha256/${checkDigestSyntax(digest, this.where)}`);
    if (!member) throw new TallyError('MISSING_BLOB', `${this.where}: blob ${digest} is missing`);
    return member;
  }

  async readIndexJson(): Promise<Buffer | null> {
    const member = this.index.get('/index.json');
    return member ? this.index.readMember(member, MAX_JSON_BLOB) : null;
  }

  async readVerified(digest: string, maxBytes: number): Promise<Buffer> {
    return verifyBytes(await this.index.readMember(this.member(digest), maxBytes), digest, this.where);
  }

  async open(digest: string, signal: AbortSignal): Promise<Readable> {
    return this.index.openMember(this.member(digest), signal);
  }
}
