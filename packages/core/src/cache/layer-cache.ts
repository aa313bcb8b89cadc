import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Extractor } from '../extract/extractor.js';
import type { LayerResult } from '../extract/layer-result.js';
import { decodeLayerEntry, encodeLayerEntry } from './entry.js';

/** Per-layer results shared across scans (and, in the backend, across a fleet). */
export interface LayerCache {
  get(key: string): Promise<LayerResult | null>;
  put(key: string, result: LayerResult): Promise<void>;
}

/** Bump when LayerResult's meaning changes in a way extractor versions do not capture. */
const CACHE_FORMAT = 1;

/** sha256(layer diffId, sorted extractor name@version, options): architecture rule 10. */
export function layerCacheKey(diffId: string, extractors: readonly Extractor[], options: Readonly<Record<string, string | number | boolean>>): string {
  const names = extractors.map((e) => `${e.name}@${e.version}`).sort();
  const opts = Object.keys(options)
    .sort()
    .map((k) => `${k}=${String(options[k])}`);
  return createHash('sha256').update(JSON.stringify([CACHE_FORMAT, diffId, names, opts])).digest('hex');
}

/** Gzipped JSON files under `<dir>/layers/`, written to a temp name then renamed, so readers never see half a file. */
export class DirectoryLayerCache implements LayerCache {
  private readonly dir: string;
  constructor(cacheDir: string) {
    this.dir = join(cacheDir, 'layers');
  }

  private path(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json.gz`);
  }

  async get(key: string): Promise<LayerResult | null> {
    let raw: Buffer;
    try {
      raw = await readFile(this.path(key));
    } catch {
      return null;
    }
    try {
      return await decodeLayerEntry(raw);
    } catch {
      return null; // a damaged entry is a miss; it is rewritten after the layer is analysed again
    }
  }

  async put(key: string, result: LayerResult): Promise<void> {
    const path = this.path(key);
    await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
    const tmp = `${path}.${randomUUID()}.tmp`; // unique: an image may hold the same layer twice, analysed at once
    await writeFile(tmp, await encodeLayerEntry(result));
    await rename(tmp, path);
  }
}
