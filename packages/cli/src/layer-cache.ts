/**
 * The layer cache a command scans with: the cache directory on this machine, and, when the command talks to a
 * backend (`tally scan --upload`, `tally sensor`), the backend's shared cache behind it. A layer found on the
 * backend is copied into the directory; a layer analysed here goes to both.
 */
import { BackendLayerCache, DirectoryLayerCache, TieredLayerCache, type LayerCache } from '@tally/core';
import { uploadUrl } from './upload.js';

export interface LayerCacheSettings {
  readonly cacheDir: string;
  /** False (--no-cache): no cache at all, local or shared. */
  readonly useCache: boolean;
  /** The backend: its URL as --upload takes it (base, or the full …/api/v1/scans) and a sensor token. */
  readonly server?: { readonly url: string; readonly token: string } | undefined;
  /** Where the one warning about an unavailable backend goes (default: stderr). */
  readonly onWarning?: (message: string) => void;
}

export function layerCacheFor(settings: LayerCacheSettings): LayerCache | null {
  if (!settings.useCache) return null;
  const local = new DirectoryLayerCache(settings.cacheDir);
  if (settings.server === undefined) return local;
  const shared = new BackendLayerCache({
    url: uploadUrl(settings.server.url).replace(/\/api\/v1\/scans$/, ''),
    token: settings.server.token,
    onWarning: settings.onWarning ?? ((message) => process.stderr.write(`tally: warning: ${message}\n`)),
  });
  return new TieredLayerCache([local, shared]);
}
