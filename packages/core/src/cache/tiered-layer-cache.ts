import type { LayerResult } from '../extract/layer-result.js';
import type { LayerCache } from './layer-cache.js';

/**
 * Caches tried in order, nearest first (the local directory, then the backend): a hit further down is copied into
 * the tiers above it, so the next scan on this machine finds it locally; a put goes to every tier.
 */
export class TieredLayerCache implements LayerCache {
  constructor(private readonly tiers: readonly LayerCache[]) {}

  async get(key: string): Promise<LayerResult | null> {
    for (const [i, tier] of this.tiers.entries()) {
      const hit = await tier.get(key);
      if (hit) {
        await Promise.all(this.tiers.slice(0, i).map((t) => t.put(key, hit)));
        return hit;
      }
    }
    return null;
  }

  async put(key: string, result: LayerResult): Promise<void> {
    await Promise.all(this.tiers.map((t) => t.put(key, result)));
  }
}
