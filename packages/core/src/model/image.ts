import type { Readable } from 'node:stream';

export type SourceKind = 'docker-archive' | 'oci-layout' | 'registry' | 'docker-engine' | 'rootfs' | 'sbom';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant: string | null;
}

export interface HistoryEntry {
  readonly createdBy: string | null;
  readonly created: string | null;
  readonly comment: string | null;
  readonly emptyLayer: boolean;
}

/** The parts of an image config (OCI `config.json` / Docker image JSON) Tally uses. */
export interface ImageConfig {
  readonly created: string | null;
  readonly platform: Platform;
  readonly diffIds: readonly string[];
  readonly history: readonly HistoryEntry[];
}

/**
 * Where a layer's bytes come from: a blob (compressed or not; decompressed and verified by layer-stream.ts)
 * or a directory already unpacked on disk (rootfs scans).
 */
export type LayerContent = BlobContent | { readonly kind: 'directory'; readonly root: string };
export interface BlobContent {
  readonly kind: 'blob';
  open(signal: AbortSignal): Promise<Readable>;
}

export interface LayerInfo {
  readonly index: number;
  /** Blob digest as stored (compressed); checked while streaming when known in advance. Null for rootfs. */
  readonly digest: string | null;
  /** Whether `digest` is a claim to verify (manifests) or unknown until the blob has been read (legacy archives). */
  readonly digestKnown: boolean;
  /** The uncompressed tar's digest from the config; checked while streaming. */
  readonly diffId: string | null;
  readonly mediaType: string;
  readonly size: number | null;
  readonly content: LayerContent;
}

/** An opened image: metadata plus a way to stream each layer. */
export interface Image {
  readonly ref: string;
  readonly source: SourceKind;
  /** Digest of the config blob; for rootfs, a digest of the directory path and scan time is not stable, so null. */
  readonly imageId: string | null;
  readonly manifestDigest: string | null;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly config: ImageConfig | null;
  readonly layers: readonly LayerInfo[];
  close(): Promise<void>;
}

export interface ImageSource {
  /** Human-readable reference (what the user typed). */
  readonly ref: string;
  open(signal: AbortSignal): Promise<Image>;
}
