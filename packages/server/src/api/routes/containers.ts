/**
 * Containers reported by General sensors. Their vulnerability lists and counts hold only the OS-class detections
 * of their image: SCA runs on images, not on running containers, so a container shows what its OS packages
 * expose (docs/report-schema.md: "a container's vulnerabilities are its image's vulnerabilities with class os").
 */
import { Type } from 'typebox';
import type { Kysely, Selectable } from 'kysely';
import { buildCondition } from '../../query/index.js';
import type { ContainersTable, Tables } from '../../store/schema.js';
import { upsertContainers } from '../../ingest/records.js';
import { upsertSensor } from '../../ingest/ingest.js';
import { ContainerSchema, reportValidators, describeErrors } from '../../ingest/validate.js';
import { ApiError, notFound, num, page, parseSort, READ, resolveQ, SENSOR, type ApiContext, type App } from '../context.js';
import { sensorFromRequest } from '../sensor-headers.js';
import { severityCountsFrom } from '../rows.js';
import { detectionPage } from './images.js';
import { ContainerItem, errorResponses, listOf, ListQuery, VulnerabilityItem } from '../schemas.js';

const CONTAINER_SORT = {
  lastSeen: 'containers.last_seen',
  name: 'containers.name',
  state: 'containers.state',
  host: 'containers.host',
  image: 'containers.image_ref',
  created: 'containers.created',
} as const;

const SENSOR_TYPES = ['general', 'registry', 'cicd'] as const;

async function containerItems(db: Kysely<Tables>, rows: readonly Selectable<ContainersTable>[]) {
  const imageIds = [...new Set(rows.map((r) => r.image_id))];
  const images = imageIds.length === 0 ? [] : await db.selectFrom('images').select(['pk', 'image_id']).where('image_id', 'in', imageIds).execute();
  const pkOf = new Map(images.map((i) => [i.image_id, i.pk]));
  const pks = images.map((i) => i.pk);
  const counts =
    pks.length === 0
      ? []
      : await db
          .selectFrom('detections')
          .select(['image_pk', 'severity', (eb) => eb.fn.countAll<number>().as('n')])
          .where('image_pk', 'in', pks)
          .where('class', '=', 'os')
          .groupBy(['image_pk', 'severity'])
          .execute();
  const sensorPks = [...new Set(rows.map((r) => r.sensor_pk).filter((p): p is number => p !== null))];
  const sensors = sensorPks.length === 0 ? [] : await db.selectFrom('sensors').select(['pk', 'type', 'host']).where('pk', 'in', sensorPks).execute();
  return rows.map((r) => {
    const imagePk = pkOf.get(r.image_id);
    const sensor = sensors.find((s) => num(s.pk) === num(r.sensor_pk));
    let ports: { ip?: string; privatePort: number; publicPort?: number; type: string }[] = [];
    try {
      ports = JSON.parse(r.ports) as typeof ports;
    } catch {
      ports = [];
    }
    return {
      id: num(r.pk),
      containerId: r.container_id,
      name: r.name,
      image: r.image_ref,
      imageId: r.image_id,
      imageKnown: imagePk !== undefined,
      state: r.state,
      host: r.host,
      created: r.created,
      ports,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      removedAt: r.removed_at,
      sensor: sensor === undefined ? null : { id: num(sensor.pk), type: sensor.type, host: sensor.host },
      vulnerabilities: { ...severityCountsFrom(imagePk === undefined ? [] : counts.filter((c) => num(c.image_pk) === imagePk)), scope: 'os' as const },
    };
  });
}

export function containerRoutes(app: App, ctx: ApiContext): void {
  const db = ctx.store.read;
  const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, description: 'container id as this API lists it' }) });

  app.get(
    '/api/v1/containers',
    {
      config: { roles: READ },
      schema: {
        tags: ['containers'],
        summary: 'Containers from General sensors, with OS-only vulnerability counts of their image',
        description: `state=live (default: not removed), removed or all. Sortable by ${Object.keys(CONTAINER_SORT).join(', ')} (default -lastSeen).`,
        querystring: Type.Intersect([
          ListQuery,
          Type.Object({ state: Type.Optional(Type.Union([Type.Literal('live'), Type.Literal('removed'), Type.Literal('all')], { default: 'live' })) }),
        ]),
        response: { 200: listOf(ContainerItem, 'a page of containers'), ...errorResponses },
      },
    },
    async (req) => {
      const resolved = resolveQ(req.query.q, ctx.fields.containers);
      const sort = parseSort(req.query.sort, Object.keys(CONTAINER_SORT) as (keyof typeof CONTAINER_SORT)[], { field: 'lastSeen', desc: true });
      const { limit, offset } = page(req.query);
      const state = req.query.state ?? 'live';
      const base = db
        .selectFrom('containers')
        .$if(state === 'live', (qb) => qb.where('removed_at', 'is', null))
        .$if(state === 'removed', (qb) => qb.where('removed_at', 'is not', null))
        .where((eb) => buildCondition(resolved, eb));
      const total = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
      const dir = sort.desc ? 'desc' : 'asc';
      const rows = await base
        .selectAll()
        .orderBy(CONTAINER_SORT[sort.field], (ob) => (sort.desc ? ob.desc() : ob.asc()).nullsLast())
        .orderBy('containers.pk', dir)
        .limit(limit)
        .offset(offset)
        .execute();
      return { items: await containerItems(db, rows), total: num(total?.n), limit, offset };
    },
  );

  app.get(
    '/api/v1/containers/:id',
    {
      config: { roles: READ },
      schema: { tags: ['containers'], summary: 'One container', params: IdParams, response: { 200: ContainerItem, ...errorResponses } },
    },
    async (req) => {
      const row = await db.selectFrom('containers').selectAll().where('pk', '=', req.params.id).executeTakeFirst();
      if (row === undefined) throw notFound(`container ${req.params.id}`);
      const [item] = await containerItems(db, [row]);
      if (item === undefined) throw notFound(`container ${req.params.id}`);
      return item;
    },
  );

  app.get(
    '/api/v1/containers/:id/vulnerabilities',
    {
      config: { roles: READ },
      schema: {
        tags: ['containers'],
        summary: "A container's vulnerabilities: the OS-class detections of its image",
        params: IdParams,
        querystring: ListQuery,
        response: { 200: listOf(VulnerabilityItem, 'a page of OS detections'), ...errorResponses },
      },
    },
    async (req) => {
      const row = await db.selectFrom('containers').select('image_id').where('pk', '=', req.params.id).executeTakeFirst();
      if (row === undefined) throw notFound(`container ${req.params.id}`);
      const image = await db.selectFrom('images').select('pk').where('image_id', '=', row.image_id).executeTakeFirst();
      if (image === undefined) {
        resolveQ(req.query.q, ctx.fields.vulnerabilities); // still report a bad query as such
        const { limit, offset } = page(req.query);
        return { items: [], total: 0, limit, offset };
      }
      return detectionPage(db, ctx, image.pk, req.query, 'os');
    },
  );

  app.put(
    '/api/v1/containers',
    {
      config: { roles: SENSOR },
      bodyLimit: 32 * 1024 * 1024,
      schema: {
        tags: ['sensors'],
        summary: "A General sensor's complete container list for its host (X-Tally-Sensor-Host): containers missing from it are marked removed",
        body: Type.Object({ type: Type.Optional(Type.Union(SENSOR_TYPES.map((t) => Type.Literal(t)))), performScaScan: Type.Optional(Type.Boolean()), containers: Type.Array(ContainerSchema, { maxItems: 10_000 }) }),
        response: { 200: Type.Object({ upserted: Type.Integer(), removed: Type.Integer() }), ...errorResponses },
      },
    },
    async (req) => {
      const sensor = sensorFromRequest(req);
      const bad = req.body.containers.findIndex((c) => !reportValidators().container(c) || JSON.stringify(c).includes('\\u0000'));
      if (bad >= 0) throw new ApiError(400, `container ${bad} is invalid`, 'SCHEMA', describeErrors(`/containers/${bad}`, reportValidators().container.errors));
      const now = new Date().toISOString();
      return ctx.store.db.transaction().execute(async (trx) => {
        const sensorPk = await upsertSensor(trx, sensor, req.body.type ?? 'general', req.body.performScaScan ?? sensor.performSca, now);
        return upsertContainers(trx, { sensorPk, host: sensor.host, now, containers: req.body.containers, scope: 'host' });
      });
    },
  );
}
