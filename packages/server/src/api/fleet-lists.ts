/**
 * Pages of the fleet lists (software and vulnerabilities across all images), read from the aggregates kept by
 * store/fleet-aggregates.ts, with the same rows, order and totals as grouping the image rows per request would give.
 *
 * A page costs one or two queries for its groups and the total, and a fixed number for the details of the whole
 * page (never one per row): the groups' dictionary rows or facets (purl, class, scan types, package names) and up to
 * 20 sample images per group, taken from the front of the package → images and vulnerability → images lookups
 * (store/package-holders.ts, store/vuln-holders.ts), one arm per dictionary row or vulnerability in a UNION ALL.
 *
 * Searches: `q` is resolved against the list's field table (api/fields.ts: same fields, errors and docs as every
 * other list) and its leaves are then re-targeted here. Software: the search keeps its meaning per dictionary row
 * (a group is listed when one of its rows some image holds matches), only `scanType:` reads fleet_package_scans
 * instead of scanning image_packages. Vulnerabilities: a search over facet columns (id, severity, scanType, class,
 * status, fixed, kev, epss, cvss, software.name, software.type) is answered from the sets and facets; one using a
 * per-detection field (layer, software.version, imageId, repo) groups the matching detections as before.
 */
import { expressionBuilder, sql, type AliasedExpression, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { buildCondition, matchCondition, type Condition, type Dialect, type ResolvedQuery } from '../query/index.js';
import { paddedIn } from '../store/chunks.js';
import type { Store } from '../store/database.js';
import { foldPackageLog } from '../store/fleet-aggregates.js';
import type { Tables } from '../store/schema.js';
import { firstHoldersOfEach } from '../store/package-holders.js';
import { firstImagesWithVuln, imagesWithAnyVuln } from '../store/vuln-holders.js';
import { writeQueueOf } from '../store/write-queue.js';
import { SEVERITY_RANK } from '../evaluate/posture.js';
import { num, usesField, type Sort } from './context.js';

const SAMPLE = 20;
/** UNION ALL arms per statement (SQLite allows 500 terms in a compound select). */
const ARMS = 200;

const SEVERITY_BY_RANK = Object.fromEntries(Object.entries(SEVERITY_RANK).map(([k, v]) => [v, k])) as Record<number, string>;

type Leaf<TB extends keyof Tables> = Extract<ResolvedQuery<Tables, TB>, { type: 'leaf' }>;

/** The query with each leaf rebuilt by `bind`; null when `bind` cannot serve one of them. */
function rebind<From extends keyof Tables, To extends keyof Tables>(
  r: ResolvedQuery<Tables, From>,
  bind: (leaf: Leaf<From>) => ((eb: ExpressionBuilder<Tables, To>) => Expression<SqlBool>) | null,
): ResolvedQuery<Tables, To> | null {
  switch (r.type) {
    case 'const':
      return r;
    case 'leaf': {
      const build = bind(r);
      return build === null ? null : { ...r, build };
    }
    case 'not': {
      const operand = rebind(r.operand, bind);
      return operand === null ? null : { type: 'not', operand };
    }
    case 'and':
    case 'or': {
      const operands = r.operands.map((o) => rebind(o, bind));
      return operands.every((o): o is ResolvedQuery<Tables, To> => o !== null) ? { type: r.type, operands } : null;
    }
  }
}

function isEverything<TB extends keyof Tables>(r: ResolvedQuery<Tables, TB>): boolean {
  return r.type === 'const' && r.value;
}

/** The compiler's builder for a true/false field over a 0/1 column (api/fields.ts boolField). */
function flag(target: Expression<unknown>, c: Condition): Expression<SqlBool> {
  if (c.kind !== 'enum' || c.values.length === 2) return sql<SqlBool>`(1 = 1)`;
  const set = sql<SqlBool>`(${target} = 1)`;
  return c.values[0] === 'true' ? set : sql<SqlBool>`not ${set}`;
}

/** The samples of each key: `arm(keys)` selects (k, image_pk) rows, at most SAMPLE per key, in image_pk order. */
async function sampleImages<K extends string | number>(
  db: Kysely<Tables>,
  keys: readonly K[],
  arms: (keys: readonly K[]) => Promise<{ k: K; image_pk: number }[]>,
): Promise<{ byKey: Map<K, number[]>; imageIds: Map<number, string> }> {
  const byKey = new Map<K, number[]>();
  for (let i = 0; i < keys.length; i += ARMS) {
    for (const r of await arms(keys.slice(i, i + ARMS))) {
      const list = byKey.get(r.k);
      if (list === undefined) byKey.set(r.k, [num(r.image_pk)]);
      else list.push(num(r.image_pk));
    }
  }
  const pks = [...new Set([...byKey.values()].flat())];
  const imageIds = new Map<number, string>();
  for (let i = 0; i < pks.length; i += 500) {
    for (const r of await db.selectFrom('images').select(['pk', 'image_id']).where('pk', 'in', paddedIn(pks.slice(i, i + 500))).execute()) imageIds.set(num(r.pk), r.image_id);
  }
  return { byKey, imageIds };
}

/**
 * A page's reads: on PostgreSQL in one read-only transaction with JIT off. The planner costs a UNION of per-group
 * index reads that each stop after 20 rows as if each read its whole range, crosses jit_above_cost, and then spends
 * seconds compiling a query that runs in a millisecond. (The transaction also gives the page one snapshot.)
 */
function reading<T>(db: Kysely<Tables>, dialect: Dialect, f: (db: Kysely<Tables>) => Promise<T>): Promise<T> {
  if (dialect !== 'postgres') return f(db);
  return db.transaction().execute(async (trx) => {
    await sql`set transaction read only`.execute(trx);
    await sql`set local jit = off`.execute(trx);
    return f(trx);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Software

export type SoftwareSortField = 'name' | 'version' | 'type' | 'images';

export interface FleetSoftwareOut {
  name: string;
  version: string;
  type: string;
  purl: string;
  class: string;
  images: number;
  imageIds: string[];
  scanTypes: string[];
}

type PackagesEb = ExpressionBuilder<Tables, 'packages'>;

/** `q` per dictionary row, with `scanType:` read from fleet_package_scans (every other leaf as the field table builds it). */
function softwareCondition(resolved: ResolvedQuery<Tables, 'packages'>): (eb: PackagesEb) => Expression<SqlBool> {
  const bound = rebind<'packages', 'packages'>(resolved, (leaf) => {
    if (leaf.field !== 'scanType' || leaf.condition.kind !== 'enum') return leaf.build;
    const values = [...leaf.condition.values];
    return (eb) => eb.exists(eb.selectFrom('fleet_package_scans as s').select('s.package_pk').whereRef('s.package_pk', '=', 'packages.pk').where('s.scan_type', 'in', values));
  });
  // Never null: every leaf has a builder above.
  return (eb) => buildCondition(bound as ResolvedQuery<Tables, 'packages'>, eb);
}

/** A dictionary row some image still holds (a replaced inventory leaves its dictionary rows behind). */
const held = (eb: PackagesEb) => eb.exists(eb.selectFrom('fleet_package_scans as h').select('h.package_pk').whereRef('h.package_pk', '=', 'packages.pk'));

export async function softwarePage(
  store: Store,
  resolved: ResolvedQuery<Tables, 'packages'>,
  sort: Sort<SoftwareSortField>,
  page: { limit: number; offset: number },
): Promise<{ items: FleetSoftwareOut[]; total: number }> {
  await settlePackageCounts(store);
  return reading(store.read, store.dialect, (r) => softwareIn(r, store.dialect, resolved, sort, page));
}

/**
 * How long a software list waits for the writer to fold the counter log in. Past it, the list is read from the
 * counters as of the last fold (a few seconds behind): on SQLite a huge upload holds the single writer for minutes,
 * and the list must not wait that long.
 */
const SETTLE_WAIT_MS = 1000;

/** The package counters with the changes still waiting in their log applied (store/fleet-aggregates.ts). */
export async function settlePackageCounts(store: Store): Promise<void> {
  if ((await store.read.selectFrom('fleet_package_log').select('pk').limit(1).executeTakeFirst()) === undefined) return;
  const folded = writeQueueOf(store).run((trx) => foldPackageLog(trx, store.dialect), false);
  // A fold that fails after the wait has nothing to report to: the next one folds the same rows.
  folded.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([folded, new Promise<void>((resolve) => (timer = setTimeout(resolve, SETTLE_WAIT_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function softwareIn(
  db: Kysely<Tables>,
  dialect: Dialect,
  resolved: ResolvedQuery<Tables, 'packages'>,
  sort: Sort<SoftwareSortField>,
  page: { limit: number; offset: number },
): Promise<{ items: FleetSoftwareOut[]; total: number }> {
  const all = isEverything(resolved);
  const cond = softwareCondition(resolved);
  const dir = sort.desc ? 'desc' : 'asc';
  const groupsRow = await db.selectFrom('fleet_totals').select('n').where('name', '=', 'packages').executeTakeFirst();
  const members = db.selectFrom('packages').select(['packages.name', 'packages.version', 'packages.type']).where(held).where(cond);
  // The groups with a held dictionary row matching q, as an IN list: a selective q reads its few rows, a broad one
  // is hashed once. That also gives the total.
  const listed = db
    .selectFrom('fleet_packages')
    .select(['fleet_packages.name', 'fleet_packages.version', 'fleet_packages.type', 'fleet_packages.images'])
    .$if(!all, (qb) => qb.where((eb) => eb(eb.refTuple('fleet_packages.name', 'fleet_packages.version', 'fleet_packages.type'), 'in', members.$asTuple('name', 'version', 'type'))));
  const total = all ? num(groupsRow?.n) : num((await db.selectFrom(listed.as('m')).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n);
  // When most groups match, a page in name, version or type order is found sooner by walking that order's index and
  // testing each group (a tenth matching: about ten groups read per row shown) than by sorting every match.
  const walk = !all && sort.field !== 'images' && total * 10 >= num(groupsRow?.n);
  let q = walk
    ? db
        .selectFrom('fleet_packages')
        .select(['fleet_packages.name', 'fleet_packages.version', 'fleet_packages.type', 'fleet_packages.images'])
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('packages')
              .select('packages.pk')
              .whereRef('packages.name', '=', 'fleet_packages.name')
              .whereRef('packages.version', '=', 'fleet_packages.version')
              .whereRef('packages.type', '=', 'fleet_packages.type')
              .where(held)
              .where(cond),
          ),
        )
    : listed;
  // Ties in the sort's direction too, so a descending page is its ascending order reversed and one index per sort
  // field serves both ways (read backwards). `bucket` grows with `images`, so leading with it keeps the order and
  // lets its index (rather than a sort of every group) find the first rows.
  switch (sort.field) {
    case 'name':
      q = q.orderBy('fleet_packages.name', dir).orderBy('fleet_packages.version', dir).orderBy('fleet_packages.type', dir);
      break;
    case 'version':
      q = q.orderBy('fleet_packages.version', dir).orderBy('fleet_packages.name', dir).orderBy('fleet_packages.type', dir);
      break;
    case 'type':
      q = q.orderBy('fleet_packages.type', dir).orderBy('fleet_packages.name', dir).orderBy('fleet_packages.version', dir);
      break;
    case 'images':
      q = q.orderBy('fleet_packages.bucket', dir).orderBy('fleet_packages.images', dir).orderBy('fleet_packages.name').orderBy('fleet_packages.version').orderBy('fleet_packages.type');
      break;
  }
  const groups = await q.limit(page.limit).offset(page.offset).execute();
  if (groups.length === 0) return { items: [], total };

  const inPage = (eb: PackagesEb) =>
    eb(
      eb.refTuple('packages.name', 'packages.version', 'packages.type'),
      'in',
      groups.map((g) => eb.tuple(g.name, g.version, g.type)),
    );
  const key = (r: { name: string; version: string; type: string }) => JSON.stringify([r.name, r.version, r.type]);
  // purl and class: the least among the group's held rows that match q (the engine's collation decides "least").
  const facts = await db
    .selectFrom('packages')
    .select(['packages.name', 'packages.version', 'packages.type', (eb) => eb.fn.min('packages.purl').as('purl'), (eb) => eb.fn.min('packages.class').as('class')])
    .where(inPage)
    .where(held)
    .where(cond)
    .groupBy(['packages.name', 'packages.version', 'packages.type'])
    .execute();
  const factsOf = new Map(facts.map((f) => [key(f), f]));
  const scans = await db
    .selectFrom('packages')
    .innerJoin('fleet_package_scans', 'fleet_package_scans.package_pk', 'packages.pk')
    .select(['packages.pk', 'packages.name', 'packages.version', 'packages.type', 'fleet_package_scans.scan_type'])
    .where(inPage)
    .execute();
  const rowsOf = new Map<string, { pks: Set<number>; scanTypes: Set<string> }>();
  for (const r of scans) {
    let e = rowsOf.get(key(r));
    if (e === undefined) rowsOf.set(key(r), (e = { pks: new Set(), scanTypes: new Set() }));
    e.pks.add(num(r.pk));
    e.scanTypes.add(r.scan_type);
  }
  const memberPks = [...new Set(scans.map((r) => num(r.pk)))];
  const { byKey, imageIds } = await sampleImages(db, memberPks, (pks) => firstHoldersOfEach(db, dialect, pks, SAMPLE));
  const items = groups.map((g) => {
    const e = rowsOf.get(key(g));
    // The first SAMPLE images of the group: the merge of its rows' first SAMPLE each.
    const sample = [...new Set([...(e?.pks ?? [])].flatMap((pk) => byKey.get(pk) ?? []))].sort((a, b) => a - b).slice(0, SAMPLE);
    const f = factsOf.get(key(g));
    return {
      name: g.name,
      version: g.version,
      type: g.type,
      purl: f?.purl ?? '',
      class: f?.class ?? '',
      images: num(g.images),
      imageIds: sample.map((pk) => imageIds.get(pk) as string),
      scanTypes: [...(e?.scanTypes ?? [])].sort(),
    };
  });
  return { items, total };
}

// ---------------------------------------------------------------------------------------------------------------
// Vulnerabilities

export type VulnerabilitySortField = 'severity' | 'id' | 'images' | 'cvss' | 'epss';
type VulnTB = 'detections' | 'packages';
type FacetTB = 'fleet_vuln_sets' | 'fleet_vuln_set_facets' | 'fleet_vuln_facets';

export interface FleetVulnerabilityOut {
  id: string;
  severity: string;
  images: number;
  imageIds: string[];
  packages: string[];
  scanTypes: string[];
  cvssScore: number | null;
  kev: boolean;
  epss: number | null;
  fixAvailable: boolean;
}

/** Fields whose value is the same for every detection of a facet, and the facet column holding it. */
const FACET_COLUMNS: Readonly<Record<string, keyof Tables['fleet_vuln_facets']>> = {
  id: 'vuln_id',
  severity: 'severity',
  scanType: 'scan_type',
  class: 'class',
  status: 'status',
  epss: 'epss',
  cvss: 'cvss_score',
  'software.name': 'name',
  'software.type': 'type',
};
const FACET_FLAGS: Readonly<Record<string, 'has_fix' | 'kev'>> = { fixed: 'has_fix', kev: 'kev' };

function facetCondition(resolved: ResolvedQuery<Tables, VulnTB>, dialect: Dialect): ResolvedQuery<Tables, FacetTB> | null {
  return rebind<VulnTB, FacetTB>(resolved, (leaf) => {
    const ctx = { dialect, field: leaf.field };
    const column = FACET_COLUMNS[leaf.field];
    if (column !== undefined) return (eb) => matchCondition(eb.ref(`fleet_vuln_facets.${column}`), leaf.condition, ctx);
    const flagColumn = FACET_FLAGS[leaf.field];
    if (flagColumn !== undefined) return (eb) => flag(eb.ref(`fleet_vuln_facets.${flagColumn}`), leaf.condition);
    return null;
  });
}

/**
 * `detections.vuln_id = id`, written so that an index on lower(vuln_id) serves it: PostgreSQL's led by it; on SQLite
 * the images having it (store/vuln-holders.ts), then their rows of it, through detections(image_pk, lower(vuln_id)).
 */
export function vulnIs(id: string, dialect: Dialect) {
  return (eb: ExpressionBuilder<Tables, 'detections'>) =>
    eb.and([...(dialect === 'sqlite' ? [eb('detections.image_pk', 'in', imagesWithAnyVuln(expressionBuilder<Tables, never>(), [id]))] : []), idIs(id)(eb)]);
}

/** The exact id, through lower(vuln_id) (the column every vulnerability index is on). */
function idIs(id: string) {
  return (eb: ExpressionBuilder<Tables, 'detections'>) => eb.and([eb(sql<string>`lower(${sql.ref('detections.vuln_id')})`, '=', sql<string>`lower(${id})`), eb('detections.vuln_id', '=', id)]);
}

interface VulnGroup {
  vuln_id: string;
  rank: number;
  images: number;
  cvss: number | null;
  epss: number | null;
  kev: number;
  fixable: number;
}

/** The page's groups and the total: from fleet_vulns (no q), the sets and facets (facet q), or the detections. */
async function vulnerabilityGroups(
  db: Kysely<Tables>,
  dialect: Dialect,
  resolved: ResolvedQuery<Tables, VulnTB>,
  sort: Sort<VulnerabilitySortField>,
  page: { limit: number; offset: number },
): Promise<{ groups: VulnGroup[]; total: number }> {
  let source: AliasedExpression<VulnGroup, 'g'>;
  let total: () => Promise<{ n: number } | undefined>;
  const onFacets = isEverything(resolved) ? null : facetCondition(resolved, dialect);
  if (isEverything(resolved)) {
    source = db.selectFrom('fleet_vulns').select(['vuln_id', 'severity_rank as rank', 'images', 'cvss_score as cvss', 'epss', 'kev', 'has_fix as fixable']).as('g');
    total = () => db.selectFrom('fleet_vulns').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
  } else if (onFacets !== null) {
    // Per live set with a matching facet: its images, and the columns over its matching facets.
    const hits = db
      .selectFrom('fleet_vuln_sets')
      .innerJoin('fleet_vuln_set_facets', 'fleet_vuln_set_facets.set_pk', 'fleet_vuln_sets.pk')
      .innerJoin('fleet_vuln_facets', 'fleet_vuln_facets.pk', 'fleet_vuln_set_facets.facet_pk')
      .where('fleet_vuln_sets.images', '>', 0)
      .where((eb) => buildCondition(onFacets, eb))
      .groupBy(['fleet_vuln_sets.pk', 'fleet_vuln_sets.vuln_id', 'fleet_vuln_sets.images'])
      .select([
        'fleet_vuln_sets.vuln_id',
        'fleet_vuln_sets.images',
        (eb) => eb.fn.min('fleet_vuln_facets.severity_rank').as('rank'),
        (eb) => eb.fn.max('fleet_vuln_facets.cvss_score').as('cvss'),
        (eb) => eb.fn.max('fleet_vuln_facets.epss').as('epss'),
        (eb) => eb.fn.max('fleet_vuln_facets.kev').as('kev'),
        (eb) => eb.fn.max('fleet_vuln_facets.has_fix').as('fixable'),
      ])
      .as('h');
    source = db
      .selectFrom(hits)
      .groupBy('h.vuln_id')
      .select([
        'h.vuln_id',
        (eb) => eb.fn.min('h.rank').as('rank'),
        (eb) => eb.fn.sum<number>('h.images').as('images'),
        (eb) => eb.fn.max('h.cvss').as('cvss'),
        (eb) => eb.fn.max('h.epss').as('epss'),
        (eb) => eb.fn.max('h.kev').as('kev'),
        (eb) => eb.fn.max('h.fixable').as('fixable'),
      ])
      .$castTo<VulnGroup>()
      .as('g');
    total = () => db.selectFrom(hits).select((eb) => eb.fn.count<number>('h.vuln_id').distinct().as('n')).executeTakeFirst();
  } else {
    // A per-detection field: group the matching detections (the join only when a search needs it).
    const base = db
      .selectFrom('detections')
      .$if(usesField(resolved, (f) => f.startsWith('software.')), (qb) => qb.innerJoin('packages', 'packages.pk', 'detections.package_pk'))
      .where((eb) => buildCondition(resolved, eb as ExpressionBuilder<Tables, VulnTB>));
    source = base
      .select([
        'detections.vuln_id',
        (eb) => eb.fn.min('detections.severity_rank').as('rank'),
        (eb) => eb.fn.count<number>('detections.image_pk').distinct().as('images'),
        (eb) => eb.fn.max('detections.cvss_score').as('cvss'),
        (eb) => eb.fn.max('detections.epss').as('epss'),
        (eb) => eb.fn.max('detections.kev').as('kev'),
        (eb) => eb.fn.max('detections.has_fix').as('fixable'),
      ])
      .groupBy('detections.vuln_id')
      .$castTo<VulnGroup>()
      .as('g');
    total = () => base.select((eb) => eb.fn.count<number>('detections.vuln_id').distinct().as('n')).executeTakeFirst();
  }
  const dir = sort.desc ? 'desc' : 'asc';
  let q = db.selectFrom(source).selectAll('g');
  switch (sort.field) {
    case 'severity':
      q = q.orderBy('g.rank', dir).orderBy('g.images', sort.desc ? 'asc' : 'desc');
      break;
    case 'images':
      q = q.orderBy('g.images', dir);
      break;
    case 'cvss':
    case 'epss':
      q = q.orderBy(`g.${sort.field}`, (ob) => (sort.desc ? ob.desc() : ob.asc()).nullsLast());
      break;
    case 'id':
      break;
  }
  const groups = await q.orderBy('g.vuln_id', sort.field === 'id' ? dir : 'asc').limit(page.limit).offset(page.offset).execute();
  return { groups, total: num((await total())?.n) };
}

export async function vulnerabilityPage(
  db: Kysely<Tables>,
  dialect: Dialect,
  resolved: ResolvedQuery<Tables, VulnTB>,
  sort: Sort<VulnerabilitySortField>,
  page: { limit: number; offset: number },
): Promise<{ items: FleetVulnerabilityOut[]; total: number }> {
  return reading(db, dialect, (r) => vulnerabilitiesIn(r, dialect, resolved, sort, page));
}

async function vulnerabilitiesIn(
  db: Kysely<Tables>,
  dialect: Dialect,
  resolved: ResolvedQuery<Tables, VulnTB>,
  sort: Sort<VulnerabilitySortField>,
  page: { limit: number; offset: number },
): Promise<{ items: FleetVulnerabilityOut[]; total: number }> {
  const { groups, total } = await vulnerabilityGroups(db, dialect, resolved, sort, page);
  if (groups.length === 0) return { items: [], total };
  const ids = groups.map((g) => g.vuln_id);
  // Package names and scan types of the live facets (unfiltered by q, as the list always showed them).
  const facets = await db
    .selectFrom('fleet_vuln_facets')
    .select(['fleet_vuln_facets.vuln_id', 'fleet_vuln_facets.name', 'fleet_vuln_facets.scan_type'])
    .distinct()
    .where('fleet_vuln_facets.vuln_id', 'in', ids)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('fleet_vuln_set_facets')
          .innerJoin('fleet_vuln_sets', 'fleet_vuln_sets.pk', 'fleet_vuln_set_facets.set_pk')
          .select('fleet_vuln_sets.pk')
          .whereRef('fleet_vuln_set_facets.facet_pk', '=', 'fleet_vuln_facets.pk')
          .where('fleet_vuln_sets.images', '>', 0),
      ),
    )
    .orderBy('fleet_vuln_facets.vuln_id')
    .orderBy('fleet_vuln_facets.name')
    .execute();
  const detailOf = new Map<string, { names: string[]; scanTypes: Set<string> }>();
  for (const f of facets) {
    let e = detailOf.get(f.vuln_id);
    if (e === undefined) detailOf.set(f.vuln_id, (e = { names: [], scanTypes: new Set() }));
    if (e.names[e.names.length - 1] !== f.name) e.names.push(f.name);
    e.scanTypes.add(f.scan_type);
  }
  const { byKey, imageIds } = await sampleImages(db, ids, async (part) => {
    // SQLite: the term index in pk order, stopping after the sample (all of a widespread id's images were read first).
    const arm = (id: string) =>
      dialect === 'sqlite'
        ? db.selectFrom(firstImagesWithVuln(db, id, SAMPLE, idIs(id)).as('a')).select([sql<string>`${id}`.as('k'), 'a.image_pk'])
        : db
            .selectFrom(
              db
                .selectFrom('detections')
                .select(['detections.vuln_id', 'detections.image_pk'])
                .distinct()
                .where(vulnIs(id, dialect))
                .orderBy('detections.image_pk')
                .limit(SAMPLE)
                .as('a'),
            )
            .select(['a.vuln_id as k', 'a.image_pk']);
    let u = arm(part[0] as string);
    for (const id of part.slice(1)) u = u.unionAll(arm(id));
    return (await u.execute()).map((r) => ({ k: r.k, image_pk: num(r.image_pk) }));
  });
  const items = groups.map((g) => {
    const e = detailOf.get(g.vuln_id);
    return {
      id: g.vuln_id,
      severity: SEVERITY_BY_RANK[num(g.rank)] ?? 'UNKNOWN',
      images: num(g.images),
      imageIds: (byKey.get(g.vuln_id) ?? []).map((pk) => imageIds.get(pk) as string),
      packages: (e?.names ?? []).slice(0, SAMPLE),
      scanTypes: [...(e?.scanTypes ?? [])].sort(),
      cvssScore: g.cvss === null ? null : num(g.cvss),
      kev: num(g.kev) === 1,
      epss: g.epss === null ? null : num(g.epss),
      fixAvailable: num(g.fixable) === 1,
    };
  });
  return { items, total };
}
