/** The Sensors list, and the endpoints a long-running sensor uses besides uploads (issue 8). */
import { Type } from 'typebox';
import { buildCondition } from '../../query/index.js';
import { SENSOR_PROTOCOL } from '../../protocol.js';
import { upsertSensor } from '../../ingest/ingest.js';
import { getSca } from '../../store/settings.js';
import { num, page, parseSort, READ, resolveQ, SENSOR, type ApiContext, type App } from '../context.js';
import { sensorFromRequest } from '../sensor-headers.js';
import { errorResponses, listOf, ListQuery, SensorItem } from '../schemas.js';

const SENSOR_SORT = { lastSeen: 'sensors.last_seen', firstSeen: 'sensors.first_seen', type: 'sensors.type', host: 'sensors.host', version: 'sensors.version' } as const;
const SENSOR_TYPES = ['general', 'registry', 'cicd'] as const;
const Digest = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' });

export function sensorRoutes(app: App, ctx: ApiContext): void {
  const db = ctx.store.read;

  app.get(
    '/api/v1/sensors',
    {
      config: { roles: READ },
      schema: {
        tags: ['sensors'],
        summary: 'Sensors: type, version, host, performScaScan, last seen',
        description: `Sortable by ${Object.keys(SENSOR_SORT).join(', ')} (default -lastSeen).`,
        querystring: ListQuery,
        response: { 200: listOf(SensorItem, 'a page of sensors'), ...errorResponses },
      },
    },
    async (req) => {
      const resolved = resolveQ(req.query.q, ctx.fields.sensors);
      const sort = parseSort(req.query.sort, Object.keys(SENSOR_SORT) as (keyof typeof SENSOR_SORT)[], { field: 'lastSeen', desc: true });
      const { limit, offset } = page(req.query);
      const base = db.selectFrom('sensors').where((eb) => buildCondition(resolved, eb));
      const total = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
      const dir = sort.desc ? 'desc' : 'asc';
      const rows = await base
        .selectAll()
        .select((eb) => eb.selectFrom('image_sensors').select((e2) => e2.fn.countAll<number>().as('c')).whereRef('image_sensors.sensor_pk', '=', 'sensors.pk').as('images'))
        .orderBy(SENSOR_SORT[sort.field], dir)
        .orderBy('sensors.pk', dir)
        .limit(limit)
        .offset(offset)
        .execute();
      return {
        items: rows.map((r) => ({
          id: num(r.pk),
          type: r.type,
          version: r.version,
          protocol: num(r.protocol),
          host: r.host,
          performScaScan: num(r.perform_sca) === 1,
          firstSeen: r.first_seen,
          lastSeen: r.last_seen,
          images: num(r.images),
        })),
        total: num(total?.n),
        limit,
        offset,
      };
    },
  );

  app.post(
    '/api/v1/sensors/heartbeat',
    {
      config: { roles: SENSOR },
      schema: {
        tags: ['sensors'],
        summary: 'A sensor reports itself (shown in the Sensors list) and learns whether SCA is enabled',
        body: Type.Object({ type: Type.Union(SENSOR_TYPES.map((t) => Type.Literal(t))), performScaScan: Type.Boolean() }, { additionalProperties: false }),
        response: {
          200: Type.Object({ sensorId: Type.Integer(), protocol: Type.Integer(), sca: Type.Object({ enabled: Type.Boolean() }), warnings: Type.Array(Type.String()) }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const sensor = sensorFromRequest(req);
      const now = new Date().toISOString();
      const sensorPk = await ctx.store.db.transaction().execute((trx) => upsertSensor(trx, sensor, req.body.type, req.body.performScaScan, now));
      const sca = await getSca(ctx.store.db);
      const warnings =
        req.body.performScaScan && !sca.enabled ? ['SCA is disabled on this backend: SCA results will not be stored; ask an admin to run "tally admin sca enable"'] : [];
      return { sensorId: sensorPk, protocol: SENSOR_PROTOCOL, sca: { enabled: sca.enabled }, warnings };
    },
  );

  app.post(
    '/api/v1/sensors/known',
    {
      config: { roles: SENSOR },
      schema: {
        tags: ['sensors'],
        summary: 'Which image ids, manifest digests and layer diffIds the backend already has (incremental sensors skip them)',
        body: Type.Object(
          {
            imageIds: Type.Optional(Type.Array(Digest, { maxItems: 10_000 })),
            manifestDigests: Type.Optional(Type.Array(Digest, { maxItems: 10_000 })),
            diffIds: Type.Optional(Type.Array(Digest, { maxItems: 10_000 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            images: Type.Array(
              Type.Object({
                imageId: Type.String(),
                manifestDigest: Type.Union([Type.String(), Type.Null()]),
                scanTypes: Type.Array(Type.String()),
                repoTags: Type.Array(Type.String(), { description: 'tags recorded for the image: a sensor that sees another one records it with /images/{id}/refs' }),
              }),
            ),
            manifestDigests: Type.Array(Type.String()),
            diffIds: Type.Array(Type.String()),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      sensorFromRequest(req);
      const chunked = async <T>(values: readonly string[], run: (chunk: string[]) => Promise<T[]>): Promise<T[]> => {
        const out: T[] = [];
        for (let i = 0; i < values.length; i += 1000) out.push(...(await run(values.slice(i, i + 1000))));
        return out;
      };
      const imageIds = [...new Set(req.body.imageIds ?? [])];
      const manifestDigests = [...new Set(req.body.manifestDigests ?? [])];
      const diffIds = [...new Set(req.body.diffIds ?? [])];
      const images = await chunked(imageIds, (c) => db.selectFrom('images').select(['pk', 'image_id', 'manifest_digest']).where('image_id', 'in', c).execute());
      const byManifest = await chunked(manifestDigests, (c) => db.selectFrom('images').select(['pk', 'image_id', 'manifest_digest']).where('manifest_digest', 'in', c).execute());
      const all = new Map([...images, ...byManifest].map((i) => [i.pk, i]));
      const scans = all.size === 0 ? [] : await db.selectFrom('scans').select(['image_pk', 'scan_type']).where('image_pk', 'in', [...all.keys()]).where('active', '=', 1).execute();
      const tags = all.size === 0 ? [] : await db.selectFrom('image_refs').select(['image_pk', 'value']).where('image_pk', 'in', [...all.keys()]).where('kind', '=', 'tag').execute();
      const layers = await chunked(diffIds, (c) => db.selectFrom('layers').select('diff_id').distinct().where('diff_id', 'in', c).execute());
      return {
        images: [...all.values()].map((i) => ({
          imageId: i.image_id,
          manifestDigest: i.manifest_digest,
          scanTypes: scans.filter((s) => num(s.image_pk) === i.pk).map((s) => s.scan_type).sort(),
          repoTags: tags.filter((t) => num(t.image_pk) === i.pk).map((t) => t.value).sort(),
        })),
        manifestDigests: [...new Set(byManifest.map((i) => i.manifest_digest).filter((d): d is string => d !== null))],
        diffIds: layers.map((l) => l.diff_id).filter((d): d is string => d !== null),
      };
    },
  );
}
