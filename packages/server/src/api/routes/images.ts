/** Images: list, Summary, Installed Software, Vulnerabilities, Layers; and the sensor's re-tag endpoint. */
import { Type } from 'typebox';
import type { Kysely } from 'kysely';
import { buildCondition } from '../../query/index.js';
import type { Tables } from '../../store/schema.js';
import { parseImageRef } from '../../ingest/ingest.js';
import { emptyCounts, type Severity } from '../../ingest/records.js';
import { ApiError, notFound, num, page, parseSort, READ, resolveQ, SENSOR, type ApiContext, type App } from '../context.js';
import { countsOf, detectionData, imageSummaries, layerRefs, parseJsonArray, severityCountsFrom } from '../rows.js';
import {
  errorResponses,
  ImageDetail,
  ImageSummary,
  LayerItem,
  listOf,
  ListQuery,
  SoftwareItem,
  VulnerabilityItem,
} from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 512, description: 'imageId (sha256:…)' }) });

const IMAGE_SORT = {
  lastSeen: 'images.last_seen',
  firstSeen: 'images.first_seen',
  created: 'images.created_ts',
  repo: 'images.repo',
  imageId: 'images.image_id',
  os: 'images.os_pretty',
  vulnerabilities: 'images.vulns_total',
  critical: 'images.vulns_critical',
  high: 'images.vulns_high',
  packages: 'images.packages_total',
  layers: 'images.layer_count',
} as const;
type ImageSortKey = keyof typeof IMAGE_SORT;

const SOFTWARE_SORT = {
  name: 'packages.name',
  version: 'packages.version',
  type: 'packages.type',
  purl: 'packages.purl',
  class: 'packages.class',
  scanType: 'image_packages.scan_type',
  layer: 'image_packages.layer_index',
} as const;

const VULN_SORT = {
  severity: 'detections.severity_rank',
  id: 'detections.vuln_id',
  package: 'packages.name',
  scanType: 'detections.scan_type',
  cvss: 'detections.cvss_score',
  epss: 'detections.epss',
  layer: 'detections.layer_index',
  status: 'detections.status',
} as const;

export async function imagePkOf(db: Kysely<Tables>, imageId: string): Promise<number> {
  const r = await db.selectFrom('images').select('pk').where('image_id', '=', imageId).executeTakeFirst();
  if (r === undefined) throw notFound(`image ${JSON.stringify(imageId)}`);
  return r.pk;
}

export function imageRoutes(app: App, ctx: ApiContext): void {
  const db = ctx.store.read;

  app.get(
    '/api/v1/images',
    {
      config: { roles: READ },
      schema: {
        tags: ['images'],
        summary: 'Images, with scan types and vulnerability counts',
        description: `Sortable by ${Object.keys(IMAGE_SORT).join(', ')} (default -lastSeen).`,
        querystring: ListQuery,
        response: { 200: listOf(ImageSummary, 'a page of images'), ...errorResponses },
      },
    },
    async (req) => {
      const resolved = resolveQ(req.query.q, ctx.fields.images);
      const sort = parseSort<ImageSortKey>(req.query.sort, Object.keys(IMAGE_SORT) as ImageSortKey[], { field: 'lastSeen', desc: true });
      const { limit, offset } = page(req.query);
      const total = await db
        .selectFrom('images')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where((eb) => buildCondition(resolved, eb))
        .executeTakeFirst();
      const dir = sort.desc ? 'desc' : 'asc';
      const rows = await db
        .selectFrom('images')
        .selectAll()
        .where((eb) => buildCondition(resolved, eb))
        .orderBy(IMAGE_SORT[sort.field], (ob) => (sort.desc ? ob.desc() : ob.asc()).nullsLast())
        .orderBy('images.pk', dir)
        .limit(limit)
        .offset(offset)
        .execute();
      return { items: await imageSummaries(db, rows), total: num(total?.n), limit, offset };
    },
  );

  app.get(
    '/api/v1/images/:id',
    {
      config: { roles: READ },
      schema: { tags: ['images'], summary: 'Image Summary', params: IdParams, response: { 200: ImageDetail, ...errorResponses } },
    },
    async (req) => {
      const row = await db.selectFrom('images').selectAll().where('image_id', '=', req.params.id).executeTakeFirst();
      if (row === undefined) throw notFound(`image ${JSON.stringify(req.params.id)}`);
      const [summary] = await imageSummaries(db, [row]);
      const sensors = await db
        .selectFrom('image_sensors')
        .innerJoin('sensors', 'sensors.pk', 'image_sensors.sensor_pk')
        .select(['sensors.pk', 'sensors.type', 'sensors.version', 'sensors.protocol', 'sensors.host', 'sensors.perform_sca', 'sensors.first_seen', 'image_sensors.last_seen'])
        .where('image_sensors.image_pk', '=', row.pk)
        .orderBy('image_sensors.last_seen', 'desc')
        .execute();
      const byType = await db
        .selectFrom('detections')
        .select(['scan_type', 'severity', (eb) => eb.fn.countAll<number>().as('n')])
        .where('image_pk', '=', row.pk)
        .groupBy(['scan_type', 'severity'])
        .execute();
      const vulnerabilitiesByScanType: Record<string, { total: number; bySeverity: Record<Severity, number> }> = {};
      for (const s of summary?.scanTypes ?? []) vulnerabilitiesByScanType[s.scanType] = { total: 0, bySeverity: emptyCounts() };
      for (const r of byType) {
        const e = (vulnerabilitiesByScanType[r.scan_type] ??= { total: 0, bySeverity: emptyCounts() });
        e.total += num(r.n);
        if (r.severity in e.bySeverity) e.bySeverity[r.severity as Severity] += num(r.n);
      }
      const containers = await db
        .selectFrom('containers')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('image_id', '=', row.image_id)
        .where('removed_at', 'is', null)
        .executeTakeFirst();
      let history: { createdBy: string | null; created: string | null; comment: string | null; emptyLayer: boolean }[] = [];
      try {
        history = JSON.parse(row.history) as typeof history;
      } catch {
        history = [];
      }
      if (summary === undefined) throw notFound('image');
      return {
        ...summary,
        sensors: sensors.map((s) => ({
          id: num(s.pk),
          type: s.type,
          version: s.version,
          protocol: num(s.protocol),
          host: s.host,
          performScaScan: num(s.perform_sca) === 1,
          firstSeen: s.first_seen,
          lastSeen: s.last_seen,
        })),
        vulnerabilitiesByScanType,
        history,
        containers: num(containers?.n),
      };
    },
  );

  app.get(
    '/api/v1/images/:id/software',
    {
      config: { roles: READ },
      schema: {
        tags: ['images'],
        summary: 'Installed software of an image',
        description: `packages=all|os|non-os (Non-OS: language packages). Sortable by ${Object.keys(SOFTWARE_SORT).join(', ')} (default name).`,
        params: IdParams,
        querystring: Type.Intersect([ListQuery, Type.Object({ packages: Type.Optional(Type.Union([Type.Literal('all'), Type.Literal('os'), Type.Literal('non-os')], { default: 'all' })) })]),
        response: { 200: listOf(SoftwareItem, 'a page of installed packages'), ...errorResponses },
      },
    },
    async (req) => {
      const imagePk = await imagePkOf(db, req.params.id);
      const resolved = resolveQ(req.query.q, ctx.fields.software);
      const sort = parseSort(req.query.sort, Object.keys(SOFTWARE_SORT) as (keyof typeof SOFTWARE_SORT)[], { field: 'name', desc: false });
      const { limit, offset } = page(req.query);
      const cls = req.query.packages === 'os' ? 'os' : req.query.packages === 'non-os' ? 'lang' : null;
      const base = db
        .selectFrom('image_packages')
        .innerJoin('packages', 'packages.pk', 'image_packages.package_pk')
        .where('image_packages.image_pk', '=', imagePk)
        .$if(cls !== null, (qb) => qb.where('packages.class', '=', cls ?? ''))
        .where((eb) => buildCondition(resolved, eb));
      const total = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
      const dir = sort.desc ? 'desc' : 'asc';
      const rows = await base
        .select([
          'image_packages.pk',
          'packages.name',
          'packages.version',
          'packages.type',
          'packages.purl',
          'packages.class',
          'packages.source_name',
          'packages.source_version',
          'packages.licenses',
          'image_packages.scan_type',
          'image_packages.layer_index',
          'image_packages.locations',
          'image_packages.evidence',
        ])
        .orderBy(SOFTWARE_SORT[sort.field], dir)
        .orderBy('packages.version', dir)
        .orderBy('image_packages.pk', dir)
        .limit(limit)
        .offset(offset)
        .execute();
      const ids = rows.map((r) => r.pk);
      const counts =
        ids.length === 0
          ? []
          : await db
              .selectFrom('detections')
              .select(['image_package_pk', (eb) => eb.fn.countAll<number>().as('n')])
              .where('image_pk', '=', imagePk)
              .where('image_package_pk', 'in', ids)
              .groupBy('image_package_pk')
              .execute();
      const vulnsOf = new Map(counts.map((c) => [num(c.image_package_pk), num(c.n)]));
      const layer = await layerRefs(db, imagePk);
      return {
        items: rows.map((r) => ({
          id: r.pk,
          name: r.name,
          version: r.version,
          type: r.type,
          purl: r.purl,
          class: r.class,
          scanType: r.scan_type,
          layer: layer(num(r.layer_index)),
          locations: parseJsonArray(r.locations),
          evidence: r.evidence,
          source: r.source_name !== null && r.source_version !== null ? { name: r.source_name, version: r.source_version } : null,
          licenses: parseJsonArray(r.licenses),
          vulnerabilities: vulnsOf.get(r.pk) ?? 0,
        })),
        total: num(total?.n),
        limit,
        offset,
      };
    },
  );

  app.get(
    '/api/v1/images/:id/vulnerabilities',
    {
      config: { roles: READ },
      schema: {
        tags: ['images'],
        summary: 'Every detection of an image, with its scan type',
        description: `Sortable by ${Object.keys(VULN_SORT).join(', ')} (default severity: most severe first).`,
        params: IdParams,
        querystring: ListQuery,
        response: { 200: listOf(VulnerabilityItem, 'a page of detections'), ...errorResponses },
      },
    },
    async (req) => {
      const imagePk = await imagePkOf(db, req.params.id);
      return detectionPage(db, ctx, imagePk, req.query, 'all');
    },
  );

  app.get(
    '/api/v1/images/:id/layers',
    {
      config: { roles: READ },
      schema: {
        tags: ['images'],
        summary: 'Layers of an image with the packages and vulnerabilities each introduced',
        params: IdParams,
        querystring: Type.Object({ limit: ListQuery.properties.limit, offset: ListQuery.properties.offset }),
        response: { 200: listOf(LayerItem, 'layers, bottom first'), ...errorResponses },
      },
    },
    async (req) => {
      const imagePk = await imagePkOf(db, req.params.id);
      const { limit, offset } = page(req.query);
      const layers = await db.selectFrom('layers').selectAll().where('image_pk', '=', imagePk).orderBy('idx').limit(limit).offset(offset).execute();
      const total = await db.selectFrom('layers').select((eb) => eb.fn.countAll<number>().as('n')).where('image_pk', '=', imagePk).executeTakeFirst();
      const pkgs = await db
        .selectFrom('image_packages')
        .innerJoin('packages', 'packages.pk', 'image_packages.package_pk')
        .select(['image_packages.layer_index', 'packages.class', (eb) => eb.fn.countAll<number>().as('n')])
        .where('image_packages.image_pk', '=', imagePk)
        .groupBy(['image_packages.layer_index', 'packages.class'])
        .execute();
      const vulns = await db
        .selectFrom('detections')
        .select(['layer_index', 'severity', (eb) => eb.fn.countAll<number>().as('n')])
        .where('image_pk', '=', imagePk)
        .groupBy(['layer_index', 'severity'])
        .execute();
      return {
        items: layers.map((l) => {
          const idx = num(l.idx);
          const os = num(pkgs.find((p) => num(p.layer_index) === idx && p.class === 'os')?.n);
          const lang = num(pkgs.find((p) => num(p.layer_index) === idx && p.class === 'lang')?.n);
          return {
            index: idx,
            digest: l.digest,
            diffId: l.diff_id,
            mediaType: l.media_type,
            size: l.size === null ? null : num(l.size),
            createdBy: l.created_by,
            created: l.created,
            comment: l.comment,
            packages: { total: os + lang, os, lang },
            vulnerabilities: severityCountsFrom(vulns.filter((v) => num(v.layer_index) === idx)),
          };
        }),
        total: num(total?.n),
        limit,
        offset,
      };
    },
  );

  app.post(
    '/api/v1/images/:id/refs',
    {
      config: { roles: SENSOR },
      schema: {
        tags: ['sensors'],
        summary: 'Record tags/digests of a known image without uploading a report (a re-tag)',
        params: IdParams,
        body: Type.Object(
          {
            repoTags: Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { maxItems: 1000 }),
            repoDigests: Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { maxItems: 1000 }),
            manifestDigest: Type.Optional(Type.Union([Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 200: ImageSummary, ...errorResponses },
      },
    },
    async (req) => {
      const now = new Date().toISOString();
      const body = req.body;
      if ([...body.repoTags, ...body.repoDigests].some((s) => s.includes('\u0000'))) throw new ApiError(400, 'references must not contain U+0000', 'NUL_CHARACTER');
      const pk = await ctx.store.db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('images').select(['pk', 'repo']).where('image_id', '=', req.params.id).executeTakeFirst();
        if (row === undefined) throw notFound(`image ${JSON.stringify(req.params.id)}`);
        const refs = [
          ...body.repoTags.map((value) => ({ kind: 'tag' as const, value, ...parseImageRef(value, 'tag') })),
          ...body.repoDigests.map((value) => ({ kind: 'digest' as const, value, ...parseImageRef(value, 'digest') })),
        ];
        for (const r of refs) {
          await trx
            .insertInto('image_refs')
            .values({ image_pk: row.pk, kind: r.kind, value: r.value, repo: r.repo, tag: r.tag, digest: r.digest, first_seen: now, last_seen: now })
            .onConflict((oc) => oc.columns(['image_pk', 'value']).doUpdateSet({ last_seen: now }))
            .execute();
        }
        await trx
          .updateTable('images')
          .set({
            last_seen: now,
            ...(row.repo === null && refs[0] !== undefined ? { repo: refs[0].repo } : {}),
            ...(body.manifestDigest !== undefined && body.manifestDigest !== null ? { manifest_digest: body.manifestDigest } : {}),
          })
          .where('pk', '=', row.pk)
          .execute();
        return row.pk;
      });
      const row = await ctx.store.db.selectFrom('images').selectAll().where('pk', '=', pk).executeTakeFirstOrThrow();
      const [summary] = await imageSummaries(ctx.store.db, [row]);
      if (summary === undefined) throw notFound('image');
      return summary;
    },
  );
}

/** A page of detections of one image: all of them, or only OS-class ones (a container's view). */
export async function detectionPage(
  db: Kysely<Tables>,
  ctx: ApiContext,
  imagePk: number,
  query: { q?: string | undefined; sort?: string | undefined; limit?: number | undefined; offset?: number | undefined },
  scope: 'all' | 'os',
) {
  const resolved = resolveQ(query.q, ctx.fields.vulnerabilities);
  const sort = parseSort(query.sort, Object.keys(VULN_SORT) as (keyof typeof VULN_SORT)[], { field: 'severity', desc: false });
  const { limit, offset } = page(query);
  const base = db
    .selectFrom('detections')
    .innerJoin('packages', 'packages.pk', 'detections.package_pk')
    .innerJoin('finding_data', 'finding_data.hash', 'detections.finding')
    .where('detections.image_pk', '=', imagePk)
    .$if(scope === 'os', (qb) => qb.where('detections.class', '=', 'os'))
    .where((eb) => buildCondition(resolved, eb));
  const total = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
  const dir = sort.desc ? 'desc' : 'asc';
  const rows = await base
    .select([
      'detections.pk',
      'detections.vuln_id',
      'detections.severity',
      'detections.scan_type',
      'detections.class',
      'detections.status',
      'finding_data.fixed_versions',
      'detections.layer_index',
      'detections.kev',
      'detections.epss',
      'detections.cvss_score',
      'finding_data.data',
      'detections.image_package_pk',
      'packages.name',
      'packages.version',
      'packages.type',
      'packages.purl',
    ])
    .orderBy(VULN_SORT[sort.field], (ob) => (sort.desc ? ob.desc() : ob.asc()).nullsLast())
    .orderBy('detections.vuln_id', dir)
    .orderBy('detections.pk', dir)
    .limit(limit)
    .offset(offset)
    .execute();
  const layer = await layerRefs(db, imagePk);
  return {
    items: rows.map((r) => {
      const d = detectionData(r.data);
      return {
        id: r.vuln_id,
        aliases: d.aliases,
        severity: r.severity,
        severitySource: d.severitySource,
        scanType: r.scan_type,
        class: r.class,
        status: r.status,
        fixedVersions: parseJsonArray(r.fixed_versions),
        layer: layer(num(r.layer_index)),
        package: { id: num(r.image_package_pk), name: r.name, version: r.version, type: r.type, purl: r.purl },
        cvss: d.cvss,
        cvssScore: r.cvss_score === null ? null : num(r.cvss_score),
        kev: num(r.kev) === 1,
        epss: r.epss === null ? null : num(r.epss),
        summary: d.summary,
        dataSource: d.dataSource,
        match: d.match,
      };
    }),
    total: num(total?.n),
    limit,
    offset,
  };
}

export { countsOf };
