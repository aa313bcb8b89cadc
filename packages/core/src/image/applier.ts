import type { ExtractedPackage } from '../extract/extractor.js';
import type { FileRecord, LayerResult } from '../extract/layer-result.js';
import type { Issue } from '../model/issue.js';
import { isWithin, resolveLinkTarget } from './path.js';

/** A package visible in the merged image, with the layer from which it stays present to the top. */
export interface MergedPackage {
  readonly pkg: ExtractedPackage;
  /** The file it was read from. */
  readonly path: string;
  readonly extractor: string;
  readonly layer: number;
}

export interface OwnedFile {
  readonly extractor: string;
  readonly packageName: string;
}

export interface MergedImage {
  readonly packages: readonly MergedPackage[];
  /** Language artifacts owned by OS packages: path → owner (from the top-most file lists). */
  readonly owners: ReadonlyMap<string, OwnedFile>;
  /** Reads a captured distro file of the merged filesystem, following symlinks. */
  readonly readOsFile: (path: string) => string | null;
  /** Paths of every captured file in the merged view (for hints such as "has dpkg status.d"). */
  readonly paths: () => IterableIterator<string>;
  readonly issues: readonly Issue[];
}

interface LiveFile {
  readonly records: readonly FileRecord[];
  /** package key → the layer it has been continuously present since */
  readonly introduced: ReadonlyMap<string, number>;
}

export function packageKey(p: ExtractedPackage): string {
  return `${p.type}\0${p.name}\0${p.version}\0${p.arch ?? ''}\0${p.nested?.join('!') ?? ''}`;
}

const MAX_SYMLINK_HOPS = 40;

function removeWithin<V>(map: Map<string, V>, dir: string, includeSelf: boolean): void {
  for (const path of map.keys()) {
    if (isWithin(path, dir) && (includeSelf || path !== dir)) map.delete(path);
  }
}

/**
 * Merge per-layer results bottom-up, as the container runtime's overlay does: whiteouts and opaque directories of
 * a layer remove what lower layers put there, then the layer's own files replace lower ones at the same path.
 * A package's layer is the first layer from which it stays present up to the top: when a layer rewrites a file
 * (a dpkg status), packages still listed keep their earlier layer, new ones get this layer, dropped ones vanish.
 */
export function mergeLayers(results: readonly LayerResult[]): MergedImage {
  const files = new Map<string, LiveFile>();
  const osFiles = new Map<string, string>();
  const symlinks = new Map<string, string>();
  const issues: Issue[] = [];

  results.forEach((layer, index) => {
    for (const dir of layer.opaqueDirs) {
      removeWithin(files, dir, false);
      removeWithin(osFiles, dir, false);
      removeWithin(symlinks, dir, false);
    }
    for (const path of layer.whiteouts) {
      removeWithin(files, path, true);
      removeWithin(osFiles, path, true);
      removeWithin(symlinks, path, true);
    }
    for (const [path, records] of layer.files) {
      const before = files.get(path);
      const introduced = new Map<string, number>();
      for (const record of records) {
        for (const pkg of record.packages) {
          const key = packageKey(pkg);
          introduced.set(key, before?.introduced.get(key) ?? index);
        }
      }
      files.set(path, { records, introduced });
      symlinks.delete(path);
    }
    for (const [path, text] of layer.osFiles) {
      osFiles.set(path, text);
      symlinks.delete(path);
    }
    for (const [path, target] of layer.symlinks) {
      symlinks.set(path, target);
      osFiles.delete(path);
      files.delete(path);
    }
    for (const issue of layer.issues) issues.push({ layer: index, ...issue });
  });

  const packages: MergedPackage[] = [];
  const owners = new Map<string, OwnedFile>();
  for (const [path, live] of files) {
    for (const record of live.records) {
      for (const pkg of record.packages) {
        packages.push({ pkg, path, extractor: record.extractor, layer: live.introduced.get(packageKey(pkg)) ?? 0 });
      }
      for (const own of record.ownership ?? []) {
        for (const owned of own.files) owners.set(owned, { extractor: record.extractor, packageName: own.packageName });
      }
    }
  }

  const readOsFile = (start: string): string | null => {
    let path = start;
    for (let hop = 0; hop <= MAX_SYMLINK_HOPS; hop++) {
      const text = osFiles.get(path);
      if (text !== undefined) return text;
      const target = symlinks.get(path);
      if (target === undefined) return null;
      path = resolveLinkTarget(path, target);
    }
    issues.push({ layer: null, path: start, extractor: null, message: `symlink chain longer than ${MAX_SYMLINK_HOPS} links (a loop?)` });
    return null;
  };

  return { packages, owners, readOsFile, paths: () => files.keys(), issues };
}
