/** What every route module receives, the typed app, and the small helpers shared by the list endpoints. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServerVulnDb } from '../evaluate/vulndb.js';
import type { SpoolLimits } from '../ingest/spool.js';
import type { InspectPool } from '../ingest/inspect-pool.js';
import type { JobInfo, JobQueue } from '../jobs/queue.js';
import { parseQuery, resolveQuery, type FieldTable, type ResolvedQuery } from '../query/index.js';
import type { Store } from '../store/database.js';
import type { Role, TokenInfo } from '../store/tokens.js';
import type { FieldTables } from './fields.js';

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Roles allowed on the route; absent = any valid token. */
    roles?: readonly Role[];
    /** No token needed (/healthz, the UI's static files). */
    public?: boolean;
  }
  interface FastifyRequest {
    token: TokenInfo | null;
  }
}

export interface ApiContext {
  readonly store: Store;
  readonly vulndb: ServerVulnDb;
  readonly jobs: JobQueue;
  readonly fields: FieldTables;
  readonly dataDir: string;
  readonly limits: SpoolLimits;
  /** Worker threads for pass 1 of uploads. */
  readonly pool: InspectPool;
  /** Queue a re-evaluation of every image (after a database change). */
  readonly reevaluate: (reason: string) => Promise<JobInfo>;
}

export const READ: readonly Role[] = ['viewer', 'admin'];
export const SENSOR: readonly Role[] = ['sensor', 'admin'];
export const ADMIN: readonly Role[] = ['admin'];

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code?: string,
    readonly details?: readonly string[],
  ) {
    super(message);
  }
}

export function notFound(what: string): ApiError {
  return new ApiError(404, `${what} not found`, 'NOT_FOUND');
}

/** `q` parsed and checked against the list's fields; a QuerySyntaxError (→ 400 with column) otherwise. */
export function resolveQ<TB extends keyof import('../store/schema.js').Tables>(
  q: string | undefined,
  table: FieldTable<import('../store/schema.js').Tables, TB>,
): ResolvedQuery<import('../store/schema.js').Tables, TB> {
  return resolveQuery(parseQuery(q ?? ''), table);
}

/** True when any leaf of the query tests one of these fields (to add a join only when a search needs it). */
export function usesField<DB, TB extends keyof DB>(r: ResolvedQuery<DB, TB>, test: (field: string) => boolean): boolean {
  switch (r.type) {
    case 'const':
      return false;
    case 'leaf':
      return test(r.field);
    case 'not':
      return usesField(r.operand, test);
    case 'and':
    case 'or':
      return r.operands.some((o) => usesField(o, test));
  }
}

export interface Sort<K extends string> {
  readonly field: K;
  readonly desc: boolean;
}

/** `sort=-lastSeen` → { field: 'lastSeen', desc: true }; unknown fields are a 400 naming the allowed ones. */
export function parseSort<K extends string>(sort: string | undefined, allowed: readonly K[], fallback: Sort<K>): Sort<K> {
  if (sort === undefined || sort === '') return fallback;
  const desc = sort.startsWith('-');
  const name = desc ? sort.slice(1) : sort;
  const field = allowed.find((a) => a.toLowerCase() === name.toLowerCase());
  if (field === undefined) throw new ApiError(400, `cannot sort by ${JSON.stringify(name)}; sortable fields: ${allowed.join(', ')}`, 'BAD_SORT');
  return { field, desc };
}

export function page(query: { limit?: number | undefined; offset?: number | undefined }): { limit: number; offset: number } {
  return { limit: query.limit ?? 50, offset: query.offset ?? 0 };
}

export function parseJsonArray(text: string | null): string[] {
  if (text === null) return [];
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** count(*) results arrive as number (SQLite) or as a number via the pool's int8 parser (PostgreSQL). */
export function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}
