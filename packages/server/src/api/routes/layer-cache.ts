/**
 * The fleet's shared layer-result cache (issue 9): sensors and workers fetch a layer's analysis by its cache key
 * (core's layerCacheKey: diffId + extractor versions) before streaming the layer, and store what they analysed.
 *
 * Entries are untrusted input from any sensor token: each PUT is size-capped before it is read, then inflated
 * (capped) and checked with the same code that reads it on the client (core cache/entry.ts), so what is stored
 * always parses. The store keeps the total under `maxBytes` by evicting least-recently-used entries.
 */
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { decodeLayerEntry, LayerCacheEntryError, MAX_ENTRY_BYTES, MAX_ENTRY_INFLATED_BYTES } from '@tally/core';
import { DEFAULT_LAYER_CACHE_MAX_BYTES, layerCacheUsage, presentLayerCacheKeys, readLayerCacheEntry, storeLayerCacheEntry } from '../../store/layer-cache.js';
import { ApiError, READ, SENSOR, type ApiContext, type App } from '../context.js';
import { ErrorSchema, errorResponses } from '../schemas.js';

const Key = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'layer cache key: sha256 hex of diffId + extractor versions (core layerCacheKey)' });
const KeyParams = Type.Object({ key: Key });
const ENTRY_TYPE = 'application/gzip';

export function layerCacheRoutes(app: App, ctx: ApiContext, maxBytes: number = DEFAULT_LAYER_CACHE_MAX_BYTES): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`the layer cache bound must be a positive number of bytes (got ${maxBytes})`);
  const entryLimit = Math.min(MAX_ENTRY_BYTES, maxBytes);

  app.get(
    '/api/v1/layer-cache',
    {
      config: { roles: READ },
      schema: {
        tags: ['sensors'],
        summary: 'The shared layer cache: entries, bytes stored, and the bound',
        response: { 200: Type.Object({ entries: Type.Integer(), bytes: Type.Integer(), maxBytes: Type.Integer() }), ...errorResponses },
      },
    },
    async () => ({ ...(await layerCacheUsage(ctx.store)), maxBytes }),
  );

  app.get(
    '/api/v1/layer-cache/:key',
    {
      config: { roles: SENSOR },
      schema: {
        tags: ['sensors'],
        summary: "A layer's cached analysis (404: not cached)",
        description: `200: the entry as stored, ${ENTRY_TYPE} (gzip of the LayerResult JSON). Refreshes the entry's place in the LRU order (at most once a minute).`,
        params: KeyParams,
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const entry = await readLayerCacheEntry(ctx.store, req.params.key);
      if (entry === null) throw new ApiError(404, `layer ${req.params.key} is not cached`, 'NOT_FOUND');
      return reply.type(ENTRY_TYPE).send(entry);
    },
  );

  app.post(
    '/api/v1/layer-cache/lookup',
    {
      config: { roles: SENSOR },
      schema: {
        tags: ['sensors'],
        summary: 'Which of these layer cache keys are cached',
        body: Type.Object({ keys: Type.Array(Key, { maxItems: 1000 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ found: Type.Array(Type.String()) }), ...errorResponses },
      },
    },
    async (req) => ({ found: await presentLayerCacheKeys(ctx.store, [...new Set(req.body.keys)]) }),
  );

  // The entry arrives as the raw body, capped before a byte past the limit is read.
  app.register(async (plain) => {
    const scoped = plain.withTypeProvider<TypeBoxTypeProvider>();
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: entryLimit }, (_req, body, done) => done(null, body));
    scoped.put(
      '/api/v1/layer-cache/:key',
      {
        config: { roles: SENSOR },
        schema: {
          tags: ['sensors'],
          summary: "Store a layer's analysis for the fleet (201 stored, 200 already cached)",
          description: `Body: ${ENTRY_TYPE}, the gzip of the LayerResult JSON (core encodeLayerEntry), at most ${entryLimit} bytes (413 beyond) and ${MAX_ENTRY_INFLATED_BYTES} inflated; an entry that does not check out is a 400. The oldest-used entries are evicted to keep the cache within ${maxBytes} bytes.`,
          params: KeyParams,
          response: {
            200: Type.Object({ stored: Type.Boolean(), evicted: Type.Integer(), size: Type.Integer() }),
            201: Type.Object({ stored: Type.Boolean(), evicted: Type.Integer(), size: Type.Integer() }),
            413: ErrorSchema,
            415: ErrorSchema,
            ...errorResponses,
          },
        },
      },
      async (req, reply) => {
        const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
        if (encoding !== 'identity') throw new ApiError(415, `send the entry as ${ENTRY_TYPE} without Content-Encoding (got ${JSON.stringify(encoding)})`, 'UNSUPPORTED_ENCODING');
        const entry = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        try {
          await decodeLayerEntry(entry);
        } catch (err) {
          if (err instanceof LayerCacheEntryError) throw new ApiError(400, `invalid layer cache entry: ${err.message}`, 'BAD_ENTRY');
          throw err;
        }
        const outcome = await storeLayerCacheEntry(ctx.store, req.params.key, entry, maxBytes);
        if (outcome.evicted > 0) req.log.info({ evicted: outcome.evicted, maxBytes }, 'layer cache: evicted least recently used entries');
        reply.code(outcome.stored ? 201 : 200);
        return { ...outcome, size: entry.length };
      },
    );
  });
}
