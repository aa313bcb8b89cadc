/**
 * API tokens: `tly_<id>_<secret>`. The id (12 hex chars) is public and finds the row; the secret is 32 random bytes
 * (base64url). Only sha256(secret) is stored: the secret has 256 bits of entropy, so a slow KDF would add nothing
 * against guessing while costing every request; the comparison is constant-time (timingSafeEqual on equal-length
 * digests). A revoked token stays listed (who had access, when) but never authenticates.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables, TokenRow } from './schema.js';

import { ROLES, type Role } from '../protocol.js';

export type { Role };

export function isRole(v: string): v is Role {
  return (ROLES as readonly string[]).includes(v);
}

const TOKEN = /^tly_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface TokenInfo {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function toInfo(r: TokenRow): TokenInfo {
  return { id: r.token_id, name: r.name, role: isRole(r.role) ? r.role : 'viewer', createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at };
}

export async function createToken(db: Kysely<Tables>, role: Role, name = ''): Promise<{ token: string; info: TokenInfo }> {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const now = new Date().toISOString();
  await db.insertInto('tokens').values({ token_id: id, name, role, secret_hash: hashSecret(secret), created_at: now, last_used_at: null, revoked_at: null }).execute();
  return { token: `tly_${id}_${secret}`, info: { id, name, role, createdAt: now, lastUsedAt: null, revokedAt: null } };
}

export async function listTokens(db: Kysely<Tables>): Promise<TokenInfo[]> {
  const rows = await db.selectFrom('tokens').selectAll().orderBy('pk').execute();
  return rows.map(toInfo);
}

/** True when a live token was revoked now; false when unknown or already revoked. */
export async function revokeToken(db: Kysely<Tables>, id: string): Promise<boolean> {
  const r = await db.updateTable('tokens').set({ revoked_at: new Date().toISOString() }).where('token_id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Last-use writes are throttled: one per token per minute, not one per request. */
const LAST_USE_INTERVAL_MS = 60_000;
const lastUseWritten = new Map<string, number>();

/**
 * The token's identity when `presented` is a live token, else null. Every failure looks the same to the caller (no
 * oracle telling "unknown id" from "wrong secret").
 */
export async function verifyToken(read: Kysely<Tables>, write: Kysely<Tables>, presented: string): Promise<TokenInfo | null> {
  const m = TOKEN.exec(presented);
  if (m === null) return null;
  const [, id, secret] = m;
  if (id === undefined || secret === undefined) return null;
  const row = await read.selectFrom('tokens').selectAll().where('token_id', '=', id).executeTakeFirst();
  const expected = Buffer.from(row?.secret_hash ?? '0'.repeat(64), 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  // Compare even when the row is missing, so an unknown id costs the same as a wrong secret.
  const same = expected.length === actual.length && timingSafeEqual(expected, actual);
  if (row === undefined || !same || row.revoked_at !== null) return null;
  const now = Date.now();
  if ((lastUseWritten.get(id) ?? 0) + LAST_USE_INTERVAL_MS < now) {
    lastUseWritten.set(id, now);
    // Not awaited: on SQLite the writer may be busy with a long ingestion, and a request must not wait for a
    // bookkeeping write. A lost update only makes last_used_at older.
    write
      .updateTable('tokens')
      .set({ last_used_at: new Date(now).toISOString() })
      .where('token_id', '=', id)
      .execute()
      .catch(() => lastUseWritten.delete(id));
  }
  return toInfo(row);
}
