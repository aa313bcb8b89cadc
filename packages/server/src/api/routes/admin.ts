/** Admin: tokens, the SCA switch, the vulnerability database (status, import, re-evaluation) and jobs. */
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { importIntoVulnDb, vulndbStatus } from '@tally/core';
import { buildCondition } from '../../query/index.js';
import { getSca, setSca } from '../../store/settings.js';
import { createToken, revokeToken } from '../../store/tokens.js';
import { ROLES } from '../../protocol.js';
import { spoolBody } from '../../ingest/spool.js';
import { evaluatedIdentity } from '../../evaluate/reevaluate.js';
import { ADMIN, ApiError, notFound, num, page, parseSort, READ, resolveQ, type ApiContext, type App } from '../context.js';
import { errorResponses, JobCounts, JobItem, listOf, ListQuery, Nullable, ScaSettingSchema, TokenItem } from '../schemas.js';

const TOKEN_SORT = { createdAt: 'tokens.created_at', name: 'tokens.name', role: 'tokens.role', lastUsedAt: 'tokens.last_used_at' } as const;

export function adminRoutes(app: App, ctx: ApiContext): void {
  const db = ctx.store.db;

  app.get(
    '/api/v1/tokens',
    {
      config: { roles: ADMIN },
      schema: {
        tags: ['admin'],
        summary: 'API tokens (never their secrets)',
        querystring: ListQuery,
        response: { 200: listOf(TokenItem, 'a page of tokens'), ...errorResponses },
      },
    },
    async (req) => {
      const resolved = resolveQ(req.query.q, ctx.fields.tokens);
      const sort = parseSort(req.query.sort, Object.keys(TOKEN_SORT) as (keyof typeof TOKEN_SORT)[], { field: 'createdAt', desc: false });
      const { limit, offset } = page(req.query);
      const base = ctx.store.read.selectFrom('tokens').where((eb) => buildCondition(resolved, eb));
      const total = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
      const dir = sort.desc ? 'desc' : 'asc';
      const rows = await base.selectAll().orderBy(TOKEN_SORT[sort.field], dir).orderBy('tokens.pk', dir).limit(limit).offset(offset).execute();
      return {
        items: rows.map((r) => ({ id: r.token_id, name: r.name, role: r.role, createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at })),
        total: num(total?.n),
        limit,
        offset,
      };
    },
  );

  app.post(
    '/api/v1/tokens',
    {
      config: { roles: ADMIN },
      schema: {
        tags: ['admin'],
        summary: 'Create a token; the secret is in this response only',
        body: Type.Object({ role: Type.Union(ROLES.map((r) => Type.Literal(r))), name: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
        response: { 201: Type.Intersect([TokenItem, Type.Object({ token: Type.String() })]), ...errorResponses },
      },
    },
    async (req, reply) => {
      if ((req.body.name ?? '').includes('\u0000')) throw new ApiError(400, 'name must not contain U+0000', 'NUL_CHARACTER');
      const { token, info } = await createToken(db, req.body.role, req.body.name ?? '');
      reply.code(201);
      return { ...info, token };
    },
  );

  app.delete(
    '/api/v1/tokens/:id',
    {
      config: { roles: ADMIN },
      schema: {
        tags: ['admin'],
        summary: 'Revoke a token',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      if (!(await revokeToken(db, req.params.id))) throw notFound(`live token ${JSON.stringify(req.params.id)}`);
      reply.code(204);
      return null;
    },
  );

  app.get(
    '/api/v1/settings/sca',
    { config: { roles: READ }, schema: { tags: ['admin'], summary: 'The SCA switch', response: { 200: ScaSettingSchema, ...errorResponses } } },
    async () => getSca(ctx.store.read),
  );

  app.put(
    '/api/v1/settings/sca',
    {
      config: { roles: ADMIN },
      schema: {
        tags: ['admin'],
        summary: 'Turn SCA on or off: off, uploads keep only their Static/Dynamic results and tell the sensor so',
        body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: ScaSettingSchema, ...errorResponses },
      },
    },
    async (req) => setSca(db, req.body.enabled),
  );

  const VulnDbStatusSchema = Type.Object({
    path: Type.String(),
    present: Type.Boolean(),
    error: Nullable(Type.String()),
    identity: Nullable(Type.String()),
    /** True when the stored detections were computed against this very file. */
    evaluated: Type.Boolean(),
    updatedAt: Nullable(Type.String()),
    totals: Nullable(Type.Object({ advisories: Type.Integer(), affected: Type.Integer(), aliases: Type.Integer(), kev: Type.Integer(), epss: Type.Integer() })),
    sources: Type.Array(Type.Object({ name: Type.String(), kind: Type.String(), importedAt: Type.String(), advisories: Type.Integer() })),
  });

  app.get(
    '/api/v1/vulndb',
    { config: { roles: READ }, schema: { tags: ['admin'], summary: "The server's vulnerability database", response: { 200: VulnDbStatusSchema, ...errorResponses } } },
    async () => {
      const state = ctx.vulndb.state();
      const evaluated = await evaluatedIdentity(ctx.store);
      let status: ReturnType<typeof vulndbStatus> | null = null;
      try {
        status = state.identity === null ? null : vulndbStatus(state.path);
      } catch {
        status = null;
      }
      return {
        path: state.path,
        present: state.identity !== null,
        error: state.error,
        identity: state.identity,
        evaluated: state.identity !== null && evaluated === state.identity,
        updatedAt: status?.updatedAt ?? null,
        totals: status?.totals ?? null,
        sources: (status?.sources ?? []).map((s) => ({ name: s.name, kind: s.kind, importedAt: s.importedAt, advisories: s.advisories })),
      };
    },
  );

  // The advisory file arrives as the raw body; any format `tally db import` reads (detected by content).
  app.register(async (plain) => {
    const scoped = plain.withTypeProvider<TypeBoxTypeProvider>();
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    scoped.post(
      '/api/v1/vulndb/import',
      {
        config: { roles: ADMIN },
        schema: {
          tags: ['admin'],
          summary: "Import one advisory file into the server's database (atomic swap), then re-evaluate every image",
          description: 'Body: the file (Content-Type application/octet-stream). `name` identifies the source: importing the same name again replaces it.',
          querystring: Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' }) }),
          response: {
            202: Type.Object({
              files: Type.Array(Type.Object({ status: Type.String(), format: Nullable(Type.String()), imported: Type.Integer(), reason: Nullable(Type.String()) })),
              job: JobItem,
            }),
            ...errorResponses,
          },
        },
      },
      async (req, reply) => {
        const dir = join(dirname(ctx.vulndb.path), 'uploads');
        const spool = await spoolBody(req.raw, req.headers['content-encoding'], join(ctx.dataDir, 'tmp'), ctx.limits);
        const target = join(dir, req.query.name);
        try {
          mkdirSync(dir, { recursive: true });
          const tmp = `${target}.part`;
          await pipeline(Readable.from(spool.chunks()), createWriteStream(tmp));
          renameSync(tmp, target);
        } finally {
          spool.dispose();
        }
        try {
          const summaries = await importIntoVulnDb(ctx.vulndb.path, [target]);
          ctx.vulndb.refresh();
          const job = await ctx.reevaluate(`advisory import ${req.query.name}`);
          reply.code(202);
          return {
            files: summaries.flatMap((s) => s.files.map((f) => ({ status: f.status, format: f.format, imported: f.imported, reason: f.reason ?? null }))),
            job,
          };
        } finally {
          rmSync(target, { force: true });
        }
      },
    );
  });

  app.post(
    '/api/v1/vulndb/reevaluate',
    {
      config: { roles: ADMIN },
      schema: { tags: ['admin'], summary: 'Re-evaluate every stored image against the current database', response: { 202: JobItem, ...errorResponses } },
    },
    async (_req, reply) => {
      const job = await ctx.reevaluate('requested by an admin');
      reply.code(202);
      return job;
    },
  );

  app.get(
    '/api/v1/jobs',
    {
      config: { roles: READ },
      schema: {
        tags: ['admin'],
        summary: 'Background jobs, most recent first, with the number of jobs in each state',
        description: 'Jobs: re-evaluations, registry syncs, one scan per registry manifest. On PostgreSQL they run in `tally worker` processes (and `tally serve`); failed attempts are retried with backoff.',
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }),
        response: { 200: Type.Object({ items: Type.Array(JobItem), counts: JobCounts }), ...errorResponses },
      },
    },
    async (req) => ({ items: await ctx.jobs.list(req.query.limit ?? 100), counts: await ctx.jobs.counts() }),
  );

  app.get(
    '/api/v1/jobs/:id',
    {
      config: { roles: READ },
      schema: { tags: ['admin'], summary: 'One job', params: Type.Object({ id: Type.String({ maxLength: 128 }) }), response: { 200: JobItem, ...errorResponses } },
    },
    async (req) => {
      const job = await ctx.jobs.get(req.params.id);
      if (job === null) throw notFound(`job ${JSON.stringify(req.params.id)}`);
      return job;
    },
  );
}
