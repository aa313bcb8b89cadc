/**
 * Software and vulnerabilities across all images (grouped), and the vulnerability knowledge base.
 *
 * Grouped lists page over groups first (one grouped query with the search applied to the member rows), then
 * fetch the per-group details (affected image counts, sample image ids) for that page only.
 */
import { sql, type ExpressionBuilder } from 'kysely';
import type { Tables } from '../../store/schema.js';
import { Type } from 'typebox';
import { buildCondition } from '../../query/index.js';
import { SEVERITY_RANK } from '../../evaluate/posture.js';
import { notFound, num, page, parseJsonArray, parseSort, READ, resolveQ, usesField, type ApiContext, type App } from '../context.js';
import { detectionData } from '../rows.js';
import { errorResponses, FleetSoftwareItem, FleetVulnerabilityItem, listOf, ListQuery, VulnerabilityDetail } from '../schemas.js';

/** `detections.vuln_id = id`, written so that the lower(vuln_id) index (the only one on the column) serves it. */
function vulnIs(id: string) {
  return (eb: ExpressionBuilder<Tables, 'detections'>) => eb.and([eb(sql<string>`lower(${sql.ref('detections.vuln_id')})`, '=', sql<string>`lower(${id})`), eb('detections.vuln_id', '=', id)]);
}

const SEVERITY_BY_RANK = Object.fromEntries(Object.entries(SEVERITY_RANK).map(([k, v]) => [v, k])) as Record<number, string>;
const SAMPLE = 20;

export function fleetRoutes(app: App, ctx: ApiContext): void {
  const db = ctx.store.read;

  app.get(
    '/api/v1/software',
    {
      config: { roles: READ },
      schema: {
        tags: ['software'],
        summary: 'Software across all images, one row per (type, name, version), with the images that have it',
        description: 'Sortable by name (default), version, type, images.',
        querystring: ListQuery,
        response: { 200: listOf(FleetSoftwareItem, 'a page of packages'), ...errorResponses },
      },
    },
    async (req) => {
      const resolved = resolveQ(req.query.q, ctx.fields.fleetSoftware);
      const sort = parseSort(req.query.sort, ['name', 'version', 'type', 'images'] as const, { field: 'name', desc: false });
      const { limit, offset } = page(req.query);
      const dir = sort.desc ? 'desc' : 'asc';
      // Only dictionary rows some image still has (a replaced inventory leaves its dictionary rows behind).
      const members = db
        .selectFrom('packages')
        .where((eb) => eb.exists(eb.selectFrom('image_packages').select(sql<number>`1`.as('one')).whereRef('image_packages.package_pk', '=', 'packages.pk')))
        .where((eb) => buildCondition(resolved, eb));
      const totalRow = await db
        .selectFrom(members.select(['packages.name', 'packages.version', 'packages.type']).groupBy(['packages.name', 'packages.version', 'packages.type']).as('g'))
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirst();
      let groupsQ = members
        .select(['packages.name', 'packages.version', 'packages.type', (eb) => eb.fn.min('packages.purl').as('purl'), (eb) => eb.fn.min('packages.class').as('class')])
        .groupBy(['packages.name', 'packages.version', 'packages.type']);
      if (sort.field === 'images') {
        groupsQ = groupsQ.orderBy(
          (eb) =>
            eb
              .selectFrom('image_packages')
              .innerJoin('packages as p2', 'p2.pk', 'image_packages.package_pk')
              .select((e2) => e2.fn.count<number>('image_packages.image_pk').distinct().as('c'))
              .whereRef('p2.name', '=', 'packages.name')
              .whereRef('p2.version', '=', 'packages.version')
              .whereRef('p2.type', '=', 'packages.type'),
          dir,
        );
      } else groupsQ = groupsQ.orderBy(`packages.${sort.field}`, dir);
      const groups = await groupsQ.orderBy('packages.name').orderBy('packages.version').orderBy('packages.type').limit(limit).offset(offset).execute();
      const items = [];
      for (const g of groups) {
        const pks = (await db.selectFrom('packages').select('pk').where('name', '=', g.name).where('version', '=', g.version).where('type', '=', g.type).execute()).map((r) => r.pk);
        const stats = await db
          .selectFrom('image_packages')
          .select([(eb) => eb.fn.count<number>('image_pk').distinct().as('images')])
          .where('package_pk', 'in', pks)
          .executeTakeFirst();
        const scanTypes = await db.selectFrom('image_packages').select('scan_type').distinct().where('package_pk', 'in', pks).execute();
        const sample = await db
          .selectFrom('images')
          .select('image_id')
          .where('pk', 'in', (eb) => eb.selectFrom('image_packages').select('image_pk').where('package_pk', 'in', pks))
          .orderBy('pk')
          .limit(SAMPLE)
          .execute();
        items.push({
          name: g.name,
          version: g.version,
          type: g.type,
          purl: g.purl ?? '',
          class: g.class ?? '',
          images: num(stats?.images),
          imageIds: sample.map((s) => s.image_id),
          scanTypes: scanTypes.map((s) => s.scan_type).sort(),
        });
      }
      return { items, total: num(totalRow?.n), limit, offset };
    },
  );

  app.get(
    '/api/v1/vulnerabilities',
    {
      config: { roles: READ },
      schema: {
        tags: ['vulnerabilities'],
        summary: 'Vulnerabilities across all images, one row per id, with the images affected',
        description: 'Sortable by severity (default: most severe first, then most images), id, images, cvss, epss.',
        querystring: ListQuery,
        response: { 200: listOf(FleetVulnerabilityItem, 'a page of vulnerabilities'), ...errorResponses },
      },
    },
    async (req) => {
      const resolved = resolveQ(req.query.q, ctx.fields.fleetVulnerabilities);
      const sort = parseSort(req.query.sort, ['severity', 'id', 'images', 'cvss', 'epss'] as const, { field: 'severity', desc: false });
      const { limit, offset } = page(req.query);
      const dir = sort.desc ? 'desc' : 'asc';
      const needsPackages = usesField(resolved, (f) => f.startsWith('software.'));
      const base = db
        .selectFrom('detections')
        .$if(needsPackages, (qb) => qb.innerJoin('packages', 'packages.pk', 'detections.package_pk'))
        // The join is only added when a search needs it; the field table's type includes packages either way.
        .where((eb) => buildCondition(resolved, eb as Parameters<typeof buildCondition<import('../../store/schema.js').Tables, 'detections' | 'packages'>>[1]));
      const totalRow = await base.select((eb) => eb.fn.count<number>('detections.vuln_id').distinct().as('n')).executeTakeFirst();
      let groupsQ = base
        .select([
          'detections.vuln_id',
          (eb) => eb.fn.min('detections.severity_rank').as('rank'),
          (eb) => eb.fn.count<number>('detections.image_pk').distinct().as('images'),
          (eb) => eb.fn.max('detections.cvss_score').as('cvss'),
          (eb) => eb.fn.max('detections.epss').as('epss'),
          (eb) => eb.fn.max('detections.kev').as('kev'),
          (eb) => eb.fn.max('detections.has_fix').as('fixable'),
        ])
        .groupBy('detections.vuln_id');
      switch (sort.field) {
        case 'severity':
          groupsQ = groupsQ.orderBy('rank', dir).orderBy('images', sort.desc ? 'asc' : 'desc');
          break;
        case 'images':
          groupsQ = groupsQ.orderBy('images', dir);
          break;
        case 'cvss':
          groupsQ = groupsQ.orderBy('cvss', (ob) => (sort.desc ? ob.desc() : ob.asc()).nullsLast());
          break;
        case 'epss':
          groupsQ = groupsQ.orderBy('epss', (ob) => (sort.desc ? ob.desc() : ob.asc()).nullsLast());
          break;
        case 'id':
          break;
      }
      const groups = await groupsQ.orderBy('detections.vuln_id', sort.field === 'id' ? dir : 'asc').limit(limit).offset(offset).execute();
      const items = [];
      for (const g of groups) {
        const sample = await db
          .selectFrom('images')
          .select('image_id')
          .where('pk', 'in', (eb) => eb.selectFrom('detections').select('image_pk').where(vulnIs(g.vuln_id)))
          .orderBy('pk')
          .limit(SAMPLE)
          .execute();
        const pkgs = await db
          .selectFrom('packages')
          .select('name')
          .distinct()
          .where('pk', 'in', (eb) => eb.selectFrom('detections').select('package_pk').where(vulnIs(g.vuln_id)))
          .orderBy('name')
          .limit(SAMPLE)
          .execute();
        const scanTypes = await db.selectFrom('detections').select('scan_type').distinct().where(vulnIs(g.vuln_id)).execute();
        items.push({
          id: g.vuln_id,
          severity: SEVERITY_BY_RANK[num(g.rank)] ?? 'UNKNOWN',
          images: num(g.images),
          imageIds: sample.map((s) => s.image_id),
          packages: pkgs.map((p) => p.name),
          scanTypes: scanTypes.map((s) => s.scan_type).sort(),
          cvssScore: g.cvss === null ? null : num(g.cvss),
          kev: num(g.kev) === 1,
          epss: g.epss === null ? null : num(g.epss),
          fixAvailable: num(g.fixable) === 1,
        });
      }
      return { items, total: num(totalRow?.n), limit, offset };
    },
  );

  app.get(
    '/api/v1/vulnerabilities/:id',
    {
      config: { roles: READ },
      schema: {
        tags: ['vulnerabilities'],
        summary: 'Knowledge-base entry: aliases, CVSS, references, KEV, EPSS, affected images',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) }),
        response: { 200: VulnerabilityDetail, ...errorResponses },
      },
    },
    async (req) => {
      const id = req.params.id;
      const lease = ctx.vulndb.acquire();
      try {
        const kb = lease.db;
        const advisories = kb === null ? [] : [...kb.advisoriesById(id), ...kb.byAlias(id)];
        const rows = await db
          .selectFrom('detections')
          .innerJoin('packages', 'packages.pk', 'detections.package_pk')
          .innerJoin('images', 'images.pk', 'detections.image_pk')
          .innerJoin('finding_data', 'finding_data.hash', 'detections.finding')
          .select([
            'images.pk as image_pk',
            'images.image_id',
            'images.repo',
            'detections.severity',
            'detections.severity_rank',
            'detections.scan_type',
            'finding_data.fixed_versions',
            'finding_data.data',
            'packages.name',
            'packages.version',
            'packages.type',
          ])
          .where(vulnIs(id))
          .orderBy('images.pk')
          .limit(5000)
          .execute();
        const imagesRow = await db.selectFrom('detections').select((eb) => eb.fn.count<number>('image_pk').distinct().as('n')).where(vulnIs(id)).executeTakeFirst();
        if (advisories.length === 0 && rows.length === 0) throw notFound(`vulnerability ${JSON.stringify(id)}`);
        const first = rows[0] === undefined ? null : detectionData(rows[0].data);
        const aliases = new Set<string>(first?.aliases ?? []);
        for (const a of advisories) for (const x of [a.id, ...a.aliases]) if (x !== id) aliases.add(x);
        const references = [...new Set(advisories.flatMap((a) => a.references))];
        const scored = first?.cvss ?? [];
        const cvss =
          scored.length > 0
            ? scored.map((c) => ({ version: c.version, vector: c.vector, score: c.score as number | null, source: c.source }))
            : advisories.flatMap((a) => a.cvss.map((c) => ({ version: c.type.replace('CVSS_V', ''), vector: c.vector, score: null, source: c.source })));
        const best = [...rows].sort((a, b) => num(a.severity_rank) - num(b.severity_rank))[0];
        const byImage = new Map<number, { imageId: string; repo: string | null; severity: string; rank: number; scanTypes: Set<string>; packages: { name: string; version: string; type: string; fixedVersions: string[] }[] }>();
        for (const r of rows) {
          let e = byImage.get(r.image_pk);
          if (e === undefined) byImage.set(r.image_pk, (e = { imageId: r.image_id, repo: r.repo, severity: r.severity, rank: num(r.severity_rank), scanTypes: new Set(), packages: [] }));
          if (num(r.severity_rank) < e.rank) {
            e.rank = num(r.severity_rank);
            e.severity = r.severity;
          }
          e.scanTypes.add(r.scan_type);
          e.packages.push({ name: r.name, version: r.version, type: r.type, fixedVersions: parseJsonArray(r.fixed_versions) });
        }
        const kev = kb?.kev(id) ?? null;
        const epss = kb?.epss(id) ?? null;
        const main = advisories.find((a) => a.id === id) ?? advisories[0];
        return {
          id,
          aliases: [...aliases].sort(),
          summary: main?.summary || first?.summary || '',
          details: main?.details ?? '',
          published: main?.published ?? null,
          modified: main?.modified ?? null,
          severity: best?.severity ?? main?.severity?.level ?? null,
          cvss,
          references,
          advisories: advisories.map((a) => ({ id: a.id, source: a.source })),
          kev: kev === null ? null : { dateAdded: kev.dateAdded, dueDate: kev.dueDate, knownRansomwareCampaignUse: kev.knownRansomwareCampaignUse },
          epss: epss === null ? null : { score: epss.score, percentile: epss.percentile, date: epss.date },
          affected: {
            images: num(imagesRow?.n),
            items: [...byImage.values()].slice(0, 100).map((e) => ({ imageId: e.imageId, repo: e.repo, severity: e.severity, scanTypes: [...e.scanTypes].sort(), packages: e.packages })),
          },
        };
      } finally {
        lease.release();
      }
    },
  );
}
