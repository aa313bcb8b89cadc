import { TallyError } from '../model/errors.js';
import type { HistoryEntry, ImageConfig, Platform } from '../model/image.js';
import { arr, bool, isObject, obj, str, strings } from '../util/json.js';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(v: string): boolean {
  return DIGEST.test(v);
}

/** Parse an image config (OCI image config or Docker image JSON). `what` names it in errors. */
export function parseImageConfig(json: unknown, what: string): ImageConfig {
  if (!isObject(json)) throw new TallyError('INVALID_IMAGE', `${what}: image config is not a JSON object`);
  const rootfs = obj(json, 'rootfs');
  const diffIds = rootfs ? strings(rootfs, 'diff_ids') : [];
  const bad = diffIds.find((d) => !isDigest(d));
  if (bad !== undefined) throw new TallyError('INVALID_IMAGE', `${what}: diff_id ${JSON.stringify(bad.slice(0, 80))} is not a sha256 digest`);
  const history: HistoryEntry[] = (arr(json, 'history') ?? []).filter(isObject).map((h) => ({
    createdBy: str(h, 'created_by'),
    created: str(h, 'created'),
    comment: str(h, 'comment'),
    emptyLayer: bool(h, 'empty_layer') ?? false,
  }));
  const platform: Platform = {
    os: str(json, 'os') ?? 'unknown',
    architecture: str(json, 'architecture') ?? 'unknown',
    variant: str(json, 'variant'),
  };
  return { created: str(json, 'created'), platform, diffIds, history };
}

/**
 * History entries that belong to layers, in layer order: `empty_layer` entries (ENV, CMD, ...) have no layer.
 * When the history does not describe every layer (some builders drop it), the surplus layers get none.
 */
export function historyForLayers(config: ImageConfig | null, layerCount: number): (HistoryEntry | null)[] {
  const withLayer = (config?.history ?? []).filter((h) => !h.emptyLayer);
  return Array.from({ length: layerCount }, (_, i) => withLayer[i] ?? null);
}
