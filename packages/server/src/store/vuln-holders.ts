/**
 * Which images have a vulnerability: the lookup from a vulnerability id to images (`vulnerabilities.id:` searches,
 * the vulnerability lists' image samples and detail page, and the re-evaluation of a few revised advisories).
 *
 * PostgreSQL answers it from the b-tree index detections(lower(vuln_id), image_pk). On SQLite that index took each
 * new detection on a random leaf: 66 of the 326 WAL pages a 500-package upload wrote, and 2.3 of the 3.6 ms its
 * 416 detections cost to insert and commit (measured on a copy of a 2,000-image store). So on SQLite the lookup goes
 * through the term index `image_vuln_terms` (store/image-terms.ts), whose tokens are the image's vulnerability ids,
 * and the image's rows of one vulnerability through detections(image_pk, lower(vuln_id)), which a new image appends
 * to. Ids are matched as the searches match them, folding ASCII case (SQLite's lower()); the token is the id's bytes
 * in hex, so that any id, whatever its characters, is one token of letters and digits.
 */
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Dialect } from './database.js';
import type { Tables } from './schema.js';
import { anyToken, createTerms, syncTerms, termsMatch, type ImageTerms } from './image-terms.js';
import type { Range, Source } from './package-holders.js';

const VULN_TERMS: ImageTerms = {
  table: 'image_vuln_terms',
  column: 'vuln_ids',
  tokens: (where) => sql`select distinct image_pk, hex(lower(vuln_id)) as tok from detections ${where}`,
};

/** The token of an id: hex(lower(id)) as SQLite computes it (lower() folds ASCII only; FTS5 folds the hex's case). */
export function vulnToken(id: string): string {
  return Buffer.from(id.replace(/[A-Z]+/g, (s) => s.toLowerCase()), 'utf8').toString('hex');
}

/** SQLite: the images having any of these vulnerabilities (ids in any case), optionally within an image pk range. */
export function imagesWithAnyVuln(db: Source, ids: readonly string[], range?: Range): SelectQueryBuilder<Tables, 'image_vuln_terms', { image_pk: number }> {
  const q = db.selectFrom('image_vuln_terms').select('image_vuln_terms.rowid as image_pk').where(termsMatch(VULN_TERMS, anyToken(ids.map(vulnToken))));
  return range === undefined ? q : q.where('image_vuln_terms.rowid', '>=', range.from).where('image_vuln_terms.rowid', '<=', range.to);
}

/**
 * SQLite: the first `limit` images (by pk) having this vulnerability, read in the term index's order (which stops
 * after `limit`), each confirmed by one of its detections satisfying `confirm` (the exact id).
 */
export function firstImagesWithVuln(
  db: Source,
  id: string,
  limit: number,
  confirm: (eb: ExpressionBuilder<Tables, 'detections'>) => Expression<SqlBool>,
): SelectQueryBuilder<Tables, 'image_vuln_terms', { image_pk: number }> {
  return db
    .selectFrom('image_vuln_terms')
    .select('image_vuln_terms.rowid as image_pk')
    .where(termsMatch(VULN_TERMS, vulnToken(id)))
    .where((eb) => eb.exists(eb.selectFrom('detections').select('detections.image_pk').whereRef('detections.image_pk', '=', 'image_vuln_terms.rowid').where(confirm)))
    .orderBy('image_vuln_terms.rowid')
    .limit(limit);
}

/**
 * The images having a vulnerability whose id satisfies `where` (given the id column): a subquery of `image_pk`.
 * SQLite: the ids are those of the fleet (fleet_vulns: one row per id some image has), each looked up in the term
 * index; PostgreSQL: the detections, through their index on lower(vuln_id).
 */
export function imagesWithVulnWhere(
  db: Source,
  dialect: Dialect,
  where: (vulnId: Expression<string>) => Expression<SqlBool>,
): SelectQueryBuilder<Tables, 'fleet_vulns' | 'image_vuln_terms', { image_pk: number }> | SelectQueryBuilder<Tables, 'detections', { image_pk: number }> {
  if (dialect === 'sqlite') {
    return db
      .selectFrom('fleet_vulns')
      .innerJoin('image_vuln_terms', (j) => j.on(termsMatch(VULN_TERMS, sql<string>`hex(lower(${sql.ref('fleet_vulns.vuln_id')}))`)))
      .select('image_vuln_terms.rowid as image_pk')
      .where(where(sql.ref<string>('fleet_vulns.vuln_id')));
  }
  return db.selectFrom('detections').select('detections.image_pk').where(where(sql.ref<string>('detections.vuln_id')));
}

/** Rewrite the images' rows of the SQLite index after changing their detections, in the same transaction. */
export async function syncVulnHolders(db: Kysely<Tables>, dialect: Dialect, imagePks: readonly number[], fresh: boolean): Promise<void> {
  if (dialect === 'sqlite' && imagePks.length > 0) await syncTerms(db, VULN_TERMS, imagePks, fresh);
}

/** Migration 0011 (SQLite): build the index from the stored detections, and swap the b-tree it replaces. */
export async function createVulnHoldersIndex(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  if (dialect !== 'sqlite') return;
  await createTerms(db, VULN_TERMS);
  await db.schema.dropIndex('detections_vuln').ifExists().execute();
  await db.schema.createIndex('detections_image_vuln').ifNotExists().on('detections').expression(sql`image_pk, lower(vuln_id)`).execute();
}
