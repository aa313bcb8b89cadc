/**
 * `POST /api/v1/scans`: the upload. The body is not parsed by fastify: it is received (ingest/spool.ts: kept as sent
 * while small, else inflated, capped and spooled) and then read twice by the ingestion (ingest/ingest.ts), so a
 * million-package report never becomes one object.
 * Headers are checked before a byte of the body is read: a bad protocol version or a declared size over the cap is
 * refused at once (and the connection closed, so a 1 GB upload is not read to its end).
 */
import { join } from 'node:path';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SENSOR_HEADERS } from '../../protocol.js';
import { ingestReport } from '../../ingest/ingest.js';
import { receiveBody } from '../../ingest/spool.js';
import { ApiError, SENSOR, type ApiContext, type App } from '../context.js';
import { sensorFromRequest } from '../sensor-headers.js';
import { ErrorSchema, errorResponses, UploadResponseSchema } from '../schemas.js';

const ENCODINGS = new Set(['', 'identity', 'gzip', 'x-gzip', 'deflate']);

export function scanRoutes(app: App, ctx: ApiContext): void {
  const checkHeaders = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    sensorFromRequest(req);
    const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
    if (!ENCODINGS.has(encoding)) throw new ApiError(415, `unsupported Content-Encoding ${JSON.stringify(encoding)}: send gzip, deflate or identity`, 'UNSUPPORTED_ENCODING');
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > ctx.limits.maxCompressedBytes) {
      reply.header('connection', 'close');
      throw new ApiError(413, `the upload is ${declared} bytes; this backend accepts at most ${ctx.limits.maxCompressedBytes}`, 'TOO_LARGE');
    }
    const key = req.headers[SENSOR_HEADERS.idempotencyKey];
    if (typeof key === 'string' && (key.length === 0 || key.length > 200 || key.includes('\u0000'))) {
      throw new ApiError(400, 'Idempotency-Key must be 1 to 200 characters', 'BAD_HEADER');
    }
  };

  app.register(async (plain) => {
    const scoped = plain.withTypeProvider<TypeBoxTypeProvider>();
    scoped.removeAllContentTypeParsers();
    // The raw stream stays unread here; the handler receives it.
    scoped.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    scoped.post(
      '/api/v1/scans',
      {
        config: { roles: SENSOR },
        onRequest: checkHeaders,
        // The body schema documents the upload; validation is the streaming validator against docs/report.schema.json.
        validatorCompiler: () => () => true,
        schema: {
          tags: ['sensors'],
          summary: 'Upload a scan report; the backend stores the inventory and evaluates it',
          description: [
            'Body: a Tally report (docs/report.schema.json), optionally with `containers` (General sensors). Content-Encoding gzip or deflate allowed.',
            `Headers: ${SENSOR_HEADERS.protocol} (required), ${SENSOR_HEADERS.version}, ${SENSOR_HEADERS.type}, ${SENSOR_HEADERS.host}, ${SENSOR_HEADERS.id}, Idempotency-Key.`,
            `Caps: ${ctx.limits.maxCompressedBytes} bytes on the wire, ${ctx.limits.maxInflatedBytes} inflated (413 beyond).`,
            '201: stored; 200: the same report (or Idempotency-Key) was already stored, nothing changed.',
          ].join(' '),
          body: Type.Unsafe<unknown>({ type: 'object', description: 'A Tally scan report (schemaVersion 1)' }),
          response: { 200: UploadResponseSchema, 201: UploadResponseSchema, 409: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema, ...errorResponses },
        },
      },
      async (req, reply) => {
        const sensor = sensorFromRequest(req);
        const started = performance.now();
        const body = await receiveBody(req.raw, req.headers['content-encoding'], join(ctx.dataDir, 'tmp'), ctx.limits);
        try {
          const key = req.headers[SENSOR_HEADERS.idempotencyKey];
          const result = await ingestReport(ctx.store, ctx.vulndb, {
            body,
            sensor,
            idempotencyKey: typeof key === 'string' ? key : null,
            pool: ctx.pool,
            onStage: (stage) => req.log.debug({ stage, wireBytes: body.wireBytes }, 'ingestion'),
          });
          req.log.info(
            { imageId: result.imageId, uploadId: result.uploadId, duplicate: result.duplicate, packages: result.packages, wireBytes: body.wireBytes, ms: Math.round(performance.now() - started) },
            'scan ingested',
          );
          reply.code(result.duplicate ? 200 : 201);
          return { ...result, scanTypes: [...result.scanTypes], droppedScanTypes: [...result.droppedScanTypes], warnings: [...result.warnings] };
        } finally {
          body.dispose();
        }
      },
    );
  });
}
