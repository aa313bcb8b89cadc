/**
 * The fastify application: security headers, errors as JSON, OpenAPI at /api/docs, bearer auth, every route, and
 * the optional UI (static files at `/`, issue 7). Built without listening, so tests use `app.inject()`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyError, type FastifyServerOptions } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TOOL_VERSION } from '@tally/core';
import { QuerySyntaxError } from '../query/index.js';
import { IngestError } from '../ingest/ingest.js';
import { DEFAULT_SPOOL_LIMITS, SpoolError, type SpoolLimits } from '../ingest/spool.js';
import { InspectPool } from '../ingest/inspect-pool.js';
import type { ServerVulnDb } from '../evaluate/vulndb.js';
import type { JobInfo, JobQueue } from '../jobs/queue.js';
import type { Store } from '../store/database.js';
import { registerAuth } from './auth.js';
import { ApiError, type ApiContext, type App } from './context.js';
import { fieldTables } from './fields.js';
import { adminRoutes } from './routes/admin.js';
import { containerRoutes } from './routes/containers.js';
import { fleetRoutes } from './routes/fleet.js';
import { imageRoutes } from './routes/images.js';
import { layerCacheRoutes } from './routes/layer-cache.js';
import { scanRoutes } from './routes/scans.js';
import { sensorRoutes } from './routes/sensors.js';

export interface AppOptions {
  readonly store: Store;
  readonly vulndb: ServerVulnDb;
  readonly jobs: JobQueue;
  readonly dataDir: string;
  readonly reevaluate: (reason: string) => Promise<JobInfo>;
  /** fastify's logger option: false (tests), true, or pino options. Authorization is always redacted. */
  readonly logger?: FastifyServerOptions['logger'];
  readonly limits?: SpoolLimits;
  /** Worker threads for pass 1 of uploads (default: a pool of its own, closed with the app). */
  readonly pool?: InspectPool;
  /** The built UI (index.html + assets), served at `/` without a token. */
  readonly staticDir?: string | undefined;
  /** Overrides the default Content-Security-Policy. */
  readonly contentSecurityPolicy?: string;
  /** Bound of the shared layer cache in bytes (default 2 GiB). */
  readonly layerCacheMaxBytes?: number | undefined;
}

/** No inline scripts, nothing from elsewhere: untrusted strings (package names, createdBy) can only ever be text. */
export const DEFAULT_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

function loggerOption(logger: FastifyServerOptions['logger'] | undefined): NonNullable<FastifyServerOptions['logger']> {
  if (logger === undefined || logger === false) return false;
  const base = logger === true ? {} : logger;
  // Tokens never reach a log line: the default request serialiser has no headers, and redaction covers any
  // object that carries them (a logged request, an error with the request attached).
  return { ...base, redact: { paths: ['req.headers.authorization', 'headers.authorization', 'request.headers.authorization', '*.authorization'], censor: '[redacted]' } };
}

export async function buildApp(options: AppOptions): Promise<App> {
  const app: App = Fastify({
    logger: loggerOption(options.logger),
    // JSON bodies of the small endpoints; the upload and the advisory import read their own streams with their own caps.
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>();

  const ctx: ApiContext = {
    store: options.store,
    vulndb: options.vulndb,
    jobs: options.jobs,
    fields: fieldTables(options.store.dialect),
    dataDir: options.dataDir,
    limits: options.limits ?? DEFAULT_SPOOL_LIMITS,
    reevaluate: options.reevaluate,
    pool: options.pool ?? new InspectPool(undefined, options.vulndb.path),
  };
  if (options.pool === undefined) app.addHook('onClose', () => ctx.pool.close());
  const csp = options.contentSecurityPolicy ?? DEFAULT_CSP;

  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('content-security-policy', csp);
    reply.header('cache-control', reply.getHeader('cache-control') ?? 'no-store');
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const send = (statusCode: number, message: string, extra: { code?: string | undefined; details?: readonly string[] | undefined; column?: number } = {}) => {
      // A refused request whose body was not read to the end: close the connection instead of draining it.
      if (!req.raw.complete || statusCode === 413) reply.header('connection', 'close');
      const body: Record<string, unknown> = { statusCode, error: statusText(statusCode), message };
      if (extra.code !== undefined) body['code'] = extra.code;
      if (extra.details !== undefined && extra.details.length > 0) body['details'] = extra.details;
      if (extra.column !== undefined) body['column'] = extra.column;
      return reply.code(statusCode).type('application/json; charset=utf-8').send(body);
    };
    if (err instanceof QuerySyntaxError) return send(400, `invalid search: ${err.message}`, { code: 'QUERY_SYNTAX', column: err.column });
    if (err instanceof ApiError) return send(err.statusCode, err.message, { code: err.code, details: err.details });
    if (err instanceof IngestError) return send(err.statusCode, err.message, { code: err.code, details: err.details });
    if (err instanceof SpoolError) return send(err.statusCode, err.message, { code: err.code });
    const fe = err as FastifyError;
    if (fe.validation !== undefined) return send(400, err.message, { code: 'VALIDATION' });
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return send(fe.statusCode, err.message, { code: fe.code });
    req.log.error({ err }, 'request failed');
    return send(500, 'internal server error', { code: 'INTERNAL' });
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Tally backend API', version: TOOL_VERSION, description: 'Container-image SCA: sensors upload inventories, the backend evaluates and answers searches. See docs/server.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'images' },
        { name: 'software' },
        { name: 'vulnerabilities' },
        { name: 'containers' },
        { name: 'sensors' },
        { name: 'admin' },
      ],
    },
  });

  registerAuth(app, options.store);

  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        hide: true,
        response: {
          200: Type.Object({ status: Type.String(), version: Type.String(), store: Type.String(), vulndb: Type.Boolean() }),
          503: Type.Object({ status: Type.String(), version: Type.String(), store: Type.String(), vulndb: Type.Boolean() }),
        },
      },
    },
    async (_req, reply) => {
      let ok = true;
      try {
        await options.store.read.selectFrom('settings').select('key').limit(1).execute();
      } catch {
        ok = false;
      }
      reply.code(ok ? 200 : 503);
      return { status: ok ? 'ok' : 'store unavailable', version: TOOL_VERSION, store: options.store.dialect, vulndb: options.vulndb.state().identity !== null };
    },
  );

  app.get('/api/docs', { schema: { hide: true } }, async () => app.swagger());

  scanRoutes(app, ctx);
  imageRoutes(app, ctx);
  fleetRoutes(app, ctx);
  containerRoutes(app, ctx);
  sensorRoutes(app, ctx);
  layerCacheRoutes(app, ctx, options.layerCacheMaxBytes);
  adminRoutes(app, ctx);

  const staticDir = options.staticDir;
  const hasUi = staticDir !== undefined && existsSync(join(staticDir, 'index.html'));
  if (hasUi) {
    await app.register(fastifyStatic, { root: staticDir, prefix: '/', wildcard: true, index: ['index.html'] });
  }
  app.setNotFoundHandler((req, reply) => {
    // Client-side routes of the UI (/images/…) get the app shell; the API answers 404 in JSON.
    if (hasUi && req.method === 'GET' && !req.url.startsWith('/api/')) return reply.type('text/html; charset=utf-8').sendFile('index.html');
    return reply.code(404).type('application/json; charset=utf-8').send({ statusCode: 404, error: 'Not Found', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}`, code: 'NOT_FOUND' });
  });

  return app;
}

function statusText(code: number): string {
  const texts: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    409: 'Conflict',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    503: 'Service Unavailable',
  };
  return texts[code] ?? 'Error';
}
