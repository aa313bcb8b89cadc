/**
 * Per-image term indexes (SQLite only): from something an image holds to the images holding it, without a b-tree
 * keyed by that thing.
 *
 * A b-tree index led by the package pk or the vulnerability id takes a new image's entries on random leaves, one per
 * package or vulnerability, and every such page is written to the WAL at COMMIT and copied again by the checkpoint:
 * those two indexes were the most expensive part of an upload (docs/server.md, Throughput). An FTS5 table instead
 * holds one row per image (rowid = image pk) whose tokens are the keys of what it holds. FTS5 keeps each
 * transaction's postings as one new sorted segment and merges segments in the background (a log-structured index):
 * an upload writes a few sequential pages instead of hundreds of random ones. Contentless (the keys are in the
 * source table already), detail=none (only presence is asked), contentless_delete (a new scan replaces the row).
 *
 * A row follows its image's source rows: `syncTerms` rewrites it in the transaction that changed them, and an image
 * holding nothing has no row. PostgreSQL keeps b-tree indexes (its writes do not pay per page the same way), so none
 * of this runs there.
 */
import { sql, type Expression, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { Tables } from './schema.js';

export interface ImageTerms {
  readonly table: 'image_package_terms' | 'image_vuln_terms';
  /** The FTS5 column holding the tokens. */
  readonly column: string;
  /** `select image_pk, tok from … ${where}`: the tokens of the images the condition on `image_pk` selects. */
  readonly tokens: (where: RawBuilder<unknown>) => RawBuilder<unknown>;
}

/** The FTS5 table matching a query (its own name on the left of MATCH: column filters need detail=full). */
export function termsMatch(terms: ImageTerms, query: Expression<string> | string): Expression<SqlBool> {
  return sql<SqlBool>`${sql.table(terms.table)} match ${query}`;
}

/** The FTS5 query for "any of these tokens" (tokens are digits and letters only: nothing to quote). */
export function anyToken(tokens: readonly string[]): string {
  return tokens.join(' OR ');
}

/** Insert the row of one image (of every image without one) from its source rows. */
async function fillTerms(db: Kysely<Tables>, terms: ImageTerms, imagePk?: number): Promise<void> {
  const where = imagePk === undefined ? sql`` : sql`where image_pk = ${imagePk}`;
  await sql`insert into ${sql.table(terms.table)} (rowid, ${sql.ref(terms.column)})
    select image_pk, group_concat(tok, ' ') from (${terms.tokens(where)}) group by image_pk`.execute(db);
}

/**
 * Rewrite the rows of these images from their source rows; call after changing them, in the same transaction.
 * `fresh`: the images held nothing before (so they have no row to delete). One image per statement: the statements'
 * text stays the same, so they are prepared once (database.ts).
 */
export async function syncTerms(db: Kysely<Tables>, terms: ImageTerms, imagePks: readonly number[], fresh: boolean): Promise<void> {
  for (const pk of imagePks) {
    if (!fresh) await sql`delete from ${sql.table(terms.table)} where rowid = ${pk}`.execute(db);
    await fillTerms(db, terms, pk);
  }
}

/** Migration: create the table and build it from the stored rows. Safe to run again. */
export async function createTerms(db: Kysely<Tables>, terms: ImageTerms): Promise<void> {
  await sql`create virtual table if not exists ${sql.table(terms.table)} using fts5(${sql.ref(terms.column)}, content='', contentless_delete=1, detail=none, tokenize='ascii')`.execute(db);
  await sql`insert into ${sql.table(terms.table)} (${sql.table(terms.table)}) values ('delete-all')`.execute(db);
  await fillTerms(db, terms);
}
