/**
 * Which images hold a package: the one lookup from a package to images (searches by software name or version, the
 * software list's image samples, and the re-evaluation finding the images a changed advisory touches).
 *
 * PostgreSQL answers it from the b-tree index image_packages(package_pk, image_pk). SQLite used the same index
 * until it measured as the most expensive part of an upload: a new image adds one entry per package to a random
 * leaf of it (420 of the ~1,430 WAL pages an upload of 500 packages wrote). Without it, 2,000 uploads over HTTP went
 * at 34.5/s instead of 27.4/s, the server using 36.8 instead of 45.5 ms of CPU per upload. So on SQLite the lookup
 * goes through the term index `image_package_terms` instead (store/image-terms.ts), whose tokens are package pks.
 */
import { sql, type Expression, type ExpressionBuilder, type Kysely, type QueryCreator, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Dialect } from './database.js';
import type { Tables } from './schema.js';
import { anyToken, createTerms, syncTerms, termsMatch, type ImageTerms } from './image-terms.js';

const PACKAGE_TERMS: ImageTerms = {
  table: 'image_package_terms',
  column: 'package_pks',
  tokens: (where) => sql`select image_pk, package_pk as tok from image_packages ${where}`,
};

/** The FTS5 query for "any of these packages": their pks joined by OR. */
function anyOf(pks: readonly number[]): string {
  return anyToken(pks.map((pk) => String(Math.trunc(pk))));
}

type HolderQuery = SelectQueryBuilder<Tables, 'image_packages', { image_pk: number }> | SelectQueryBuilder<Tables, 'image_package_terms', { image_pk: number }>;

/** A database or transaction, or an expression builder (subqueries). */
export type Source = Pick<QueryCreator<Tables>, 'selectFrom'>;

export type Range = { readonly from: number; readonly to: number };

function sqliteHolders(db: Source, pks: readonly number[], range?: Range): SelectQueryBuilder<Tables, 'image_package_terms', { image_pk: number }> {
  const q = db.selectFrom('image_package_terms').select('image_package_terms.rowid as image_pk').where(termsMatch(PACKAGE_TERMS, anyOf(pks)));
  return range === undefined ? q : q.where('image_package_terms.rowid', '>=', range.from).where('image_package_terms.rowid', '<=', range.to);
}

/** The images holding any of `pks` (each once on SQLite, possibly repeated on PostgreSQL), optionally within an image pk range. */
export function imagesHoldingAny(db: Source, dialect: Dialect, pks: readonly number[], range?: Range): HolderQuery {
  if (dialect === 'sqlite') return sqliteHolders(db, pks, range);
  const q = db.selectFrom('image_packages').select('image_packages.image_pk').where('image_packages.package_pk', 'in', pks);
  return range === undefined ? q : q.where('image_packages.image_pk', '>=', range.from).where('image_packages.image_pk', '<=', range.to);
}

/** For each package, the first `limit` images (by pk) holding it: one UNION ALL of a limited read per package. */
export async function firstHoldersOfEach(db: Kysely<Tables>, dialect: Dialect, pks: readonly number[], limit: number): Promise<{ k: number; image_pk: number }[]> {
  const first = (pk: number) =>
    dialect === 'sqlite'
      ? sqliteHolders(db, [pk]).orderBy('image_package_terms.rowid').limit(limit)
      : db.selectFrom('image_packages').select('image_packages.image_pk').distinct().where('image_packages.package_pk', '=', pk).orderBy('image_packages.image_pk').limit(limit);
  const arm = (pk: number) => db.selectFrom(first(pk).as('a')).select([sql<number>`cast(${pk} as bigint)`.as('k'), 'a.image_pk']);
  const [head, ...rest] = pks;
  if (head === undefined) return [];
  let u = arm(head);
  for (const pk of rest) u = u.unionAll(arm(pk));
  return (await u.execute()).map((r) => ({ k: Number(r.k), image_pk: Number(r.image_pk) }));
}

/**
 * The images holding a package the `packages` rows filtered by `where` describe: a subquery of `image_pk`, joined
 * from the matching dictionary rows (one index lookup per package).
 */
export function imagesHoldingWhere(
  db: Source,
  dialect: Dialect,
  where: (eb: ExpressionBuilder<Tables, 'packages'>) => Expression<SqlBool>,
): SelectQueryBuilder<Tables, 'packages' | 'image_package_terms', { image_pk: number }> | SelectQueryBuilder<Tables, 'packages' | 'image_packages', { image_pk: number }> {
  if (dialect === 'sqlite') {
    return db
      .selectFrom('packages')
      .innerJoin('image_package_terms', (j) => j.on(termsMatch(PACKAGE_TERMS, sql<string>`cast(${sql.ref('packages.pk')} as text)`)))
      .select('image_package_terms.rowid as image_pk')
      .where(where);
  }
  return db.selectFrom('packages').innerJoin('image_packages', 'image_packages.package_pk', 'packages.pk').select('image_packages.image_pk').where(where);
}

/** Rewrite the image's row of the SQLite index after changing its image_packages rows (image-terms.ts, syncTerms). */
export async function syncHolders(db: Kysely<Tables>, dialect: Dialect, imagePk: number, fresh: boolean): Promise<void> {
  if (dialect === 'sqlite') await syncTerms(db, PACKAGE_TERMS, [imagePk], fresh);
}

/** Migration 0009 (SQLite): build the index from the stored rows, then drop the b-tree it replaces. Safe to run again. */
export async function createHoldersIndex(db: Kysely<Tables>, dialect: Dialect): Promise<void> {
  if (dialect !== 'sqlite') return;
  await createTerms(db, PACKAGE_TERMS);
  await db.schema.dropIndex('image_packages_package').ifExists().execute();
  // The per-image index now carries the package too: the re-evaluation's scan of every (image, package) pair and
  // the fleet aggregates' read of an image's packages are then index-only, as they were with the dropped index.
  await db.schema.dropIndex('image_packages_image').ifExists().execute();
  await db.schema.createIndex('image_packages_image').on('image_packages').columns(['image_pk', 'scan_type', 'package_pk']).execute();
}
