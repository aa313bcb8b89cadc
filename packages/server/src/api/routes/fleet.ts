/**
 * Software and vulnerabilities across all images (grouped), and the vulnerability knowledge base. The grouped lists
 * are read from the fleet aggregates (api/fleet-lists.ts, store/fleet-aggregates.ts).
 */
import { Type } from 'typebox';
import { notFound, num, page, parseJsonArray, parseSort, READ, resolveQ, type ApiContext, type App } from '../context.js';
import { softwarePage, vulnerabilityPage, vulnIs } from '../fleet-lists.js';
import { detectionData } from '../rows.js';
import { errorResponses, FleetSoftwareItem, FleetVulnerabilityItem, listOf, ListQuery, VulnerabilityDetail } from '../schemas.js';

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
      return { ...(await softwarePage(ctx.store, resolved, sort, { limit, offset })), limit, offset };
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
      return { ...(await vulnerabilityPage(db, ctx.store.dialect, resolved, sort, { limit, offset })), limit, offset };
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
          .where(vulnIs(id, ctx.store.dialect))
          .orderBy('images.pk')
          .limit(5000)
          .execute();
        const imagesRow = await db.selectFrom('detections').select((eb) => eb.fn.count<number>('image_pk').distinct().as('n')).where(vulnIs(id, ctx.store.dialect)).executeTakeFirst();
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
