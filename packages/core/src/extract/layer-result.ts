import type { LayerIssue } from '../model/issue.js';
import type { ExtractedPackage, FileOwnership } from './extractor.js';

/** What one extractor produced from one file. */
export interface FileRecord {
  readonly extractor: string;
  readonly packages: readonly ExtractedPackage[];
  readonly ownership?: readonly FileOwnership[];
}

/**
 * Everything the merge needs from one layer. It depends only on the layer's bytes and the extractors that ran,
 * never on other layers, so it is cached by diffId + extractor versions and shared by every image using the layer.
 */
export interface LayerResult {
  /** Extractor output by file path. */
  readonly files: Map<string, FileRecord[]>;
  /** Small files the distro detector reads (os-release and kin), by path. */
  readonly osFiles: Map<string, string>;
  /** Symlinks at paths an extractor or the distro detector asked for: path → target as written. */
  readonly symlinks: Map<string, string>;
  /** Paths this layer deletes from the layers below (`.wh.<name>`). */
  readonly whiteouts: readonly string[];
  /** Directories whose lower-layer contents this layer hides (`.wh..wh..opq`). */
  readonly opaqueDirs: readonly string[];
  readonly issues: readonly LayerIssue[];
  /** False when the layer could not be read to its end: the result is partial and is not cached. */
  readonly complete: boolean;
  readonly entries: number;
  readonly digest: string | null;
  readonly diffId: string | null;
  readonly uncompressedBytes: number;
}

/** JSON form for the cache. */
export interface SerializedLayerResult {
  readonly v: 1;
  readonly files: [string, FileRecord[]][];
  readonly osFiles: [string, string][];
  readonly symlinks: [string, string][];
  readonly whiteouts: readonly string[];
  readonly opaqueDirs: readonly string[];
  readonly issues: readonly LayerIssue[];
  readonly entries: number;
  readonly digest: string | null;
  readonly diffId: string | null;
  readonly uncompressedBytes: number;
}

export function serializeLayerResult(r: LayerResult): SerializedLayerResult {
  return {
    v: 1,
    files: [...r.files],
    osFiles: [...r.osFiles],
    symlinks: [...r.symlinks],
    whiteouts: r.whiteouts,
    opaqueDirs: r.opaqueDirs,
    issues: r.issues,
    entries: r.entries,
    digest: r.digest,
    diffId: r.diffId,
    uncompressedBytes: r.uncompressedBytes,
  };
}
