/**
 * Request and response schemas (typebox → JSON Schema: fastify validates requests, serialises responses through
 * them, and @fastify/swagger publishes them at /api/docs). Responses are serialised by schema, so a field that is
 * not declared here never leaves the server, whatever a row holds.
 */
import { Type, type Static, type TSchema } from 'typebox';

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
    code: Type.Optional(Type.String()),
    details: Type.Optional(Type.Array(Type.String())),
    column: Type.Optional(Type.Integer({ description: 'search syntax errors: 1-based column of the offending character' })),
  },
  { description: 'Every 4xx/5xx response' },
);

/** Error responses documented on every authenticated route. */
export const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  404: ErrorSchema,
} as const;

export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
  sort: Type.Optional(Type.String({ maxLength: 64, description: 'a sortable field, `-field` for descending' })),
  q: Type.Optional(Type.String({ maxLength: 4096, description: 'search (field:value, AND/OR/NOT, parentheses, * wildcards, comparisons)' })),
});
export type ListQueryT = Static<typeof ListQuery>;

export function listOf<T extends TSchema>(item: T, description: string) {
  return Type.Object(
    {
      items: Type.Array(item),
      total: Type.Integer({ description: 'rows matching q, across all pages' }),
      limit: Type.Integer(),
      offset: Type.Integer(),
    },
    { description },
  );
}

export const SeverityCounts = Type.Object({
  CRITICAL: Type.Integer(),
  HIGH: Type.Integer(),
  MEDIUM: Type.Integer(),
  LOW: Type.Integer(),
  NEGLIGIBLE: Type.Integer(),
  UNKNOWN: Type.Integer(),
});

export const VulnCounts = Type.Object({ total: Type.Integer(), bySeverity: SeverityCounts });

export const ScanTypeInfo = Type.Object({
  scanType: Type.String(),
  /** False once superseded (a Dynamic scan replaced the Static OS inventory, or the reverse). */
  active: Type.Boolean(),
  scannedAt: Type.String(),
  receivedAt: Type.String(),
  toolVersion: Type.String(),
  packages: Type.Integer(),
  vulnerabilities: Type.Integer(),
});

export const OsInfo = Type.Object({ family: Type.String(), name: Nullable(Type.String()), version: Nullable(Type.String()), prettyName: Nullable(Type.String()) });
export const PlatformInfo = Type.Object({ os: Nullable(Type.String()), architecture: Nullable(Type.String()), variant: Nullable(Type.String()) });

export const ImageSummary = Type.Object({
  imageId: Type.String(),
  repo: Nullable(Type.String()),
  repoTags: Type.Array(Type.String()),
  repoDigests: Type.Array(Type.String()),
  manifestDigest: Nullable(Type.String()),
  ref: Type.String(),
  source: Type.String(),
  os: Nullable(OsInfo),
  platform: Nullable(PlatformInfo),
  created: Nullable(Type.String()),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
  layers: Type.Integer({ description: 'number of layers' }),
  packages: Type.Integer(),
  scanTypes: Type.Array(ScanTypeInfo, { description: 'every scan type run on the image, with its last run' }),
  vulnerabilities: VulnCounts,
});

export const SensorInfo = Type.Object({
  id: Type.Integer(),
  type: Type.String(),
  version: Type.String(),
  protocol: Type.Integer(),
  host: Type.String(),
  performScaScan: Type.Boolean(),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
});

export const ImageDetail = Type.Intersect([
  ImageSummary,
  Type.Object({
    sensors: Type.Array(SensorInfo, { description: 'sensors that uploaded the image' }),
    vulnerabilitiesByScanType: Type.Record(Type.String(), VulnCounts),
    history: Type.Array(
      Type.Object({ createdBy: Nullable(Type.String()), created: Nullable(Type.String()), comment: Nullable(Type.String()), emptyLayer: Type.Boolean() }),
    ),
    containers: Type.Integer({ description: 'live containers running this image' }),
  }),
]);

export const LayerRef = Type.Object({ index: Type.Integer(), diffId: Nullable(Type.String()), createdBy: Nullable(Type.String()) });

export const SoftwareItem = Type.Object({
  id: Type.Integer({ description: 'row id within the image' }),
  name: Type.String(),
  version: Type.String(),
  type: Type.String(),
  purl: Type.String(),
  class: Type.String(),
  scanType: Type.String(),
  layer: LayerRef,
  locations: Type.Array(Type.String()),
  evidence: Type.String(),
  source: Nullable(Type.Object({ name: Type.String(), version: Type.String() })),
  licenses: Type.Array(Type.String()),
  vulnerabilities: Type.Integer(),
});

export const CvssEntry = Type.Object({ version: Type.String(), vector: Type.String(), score: Type.Number(), source: Type.String() });

export const VulnerabilityItem = Type.Object({
  id: Type.String(),
  aliases: Type.Array(Type.String()),
  severity: Type.String(),
  severitySource: Type.String(),
  scanType: Type.String(),
  class: Type.String(),
  status: Type.String(),
  fixedVersions: Type.Array(Type.String()),
  layer: LayerRef,
  package: Type.Object({ id: Type.Integer(), name: Type.String(), version: Type.String(), type: Type.String(), purl: Type.String() }),
  cvss: Type.Array(CvssEntry),
  cvssScore: Nullable(Type.Number()),
  kev: Type.Boolean(),
  epss: Nullable(Type.Number()),
  summary: Type.String(),
  dataSource: Type.Object({ id: Type.String(), source: Type.String() }),
  match: Type.Object({ by: Type.String(), ecosystem: Type.String(), range: Type.String() }),
});

export const LayerItem = Type.Object({
  index: Type.Integer(),
  digest: Nullable(Type.String()),
  diffId: Nullable(Type.String()),
  mediaType: Type.String(),
  size: Nullable(Type.Integer()),
  createdBy: Nullable(Type.String()),
  created: Nullable(Type.String()),
  comment: Nullable(Type.String()),
  packages: Type.Object({ total: Type.Integer(), os: Type.Integer(), lang: Type.Integer() }, { description: 'packages this layer introduced' }),
  vulnerabilities: VulnCounts,
});

export const FleetSoftwareItem = Type.Object({
  name: Type.String(),
  version: Type.String(),
  type: Type.String(),
  purl: Type.String(),
  class: Type.String(),
  images: Type.Integer({ description: 'images that have it' }),
  imageIds: Type.Array(Type.String(), { description: 'up to 20 of them' }),
  scanTypes: Type.Array(Type.String()),
});

export const FleetVulnerabilityItem = Type.Object({
  id: Type.String(),
  severity: Type.String({ description: 'the highest severity among its detections' }),
  images: Type.Integer({ description: 'affected images' }),
  imageIds: Type.Array(Type.String(), { description: 'up to 20 of them' }),
  packages: Type.Array(Type.String(), { description: 'affected package names (up to 20)' }),
  scanTypes: Type.Array(Type.String()),
  cvssScore: Nullable(Type.Number()),
  kev: Type.Boolean(),
  epss: Nullable(Type.Number()),
  fixAvailable: Type.Boolean(),
});

export const VulnerabilityDetail = Type.Object({
  id: Type.String(),
  aliases: Type.Array(Type.String()),
  summary: Type.String(),
  details: Type.String(),
  published: Nullable(Type.String()),
  modified: Nullable(Type.String()),
  severity: Nullable(Type.String()),
  cvss: Type.Array(Type.Object({ version: Type.String(), vector: Type.String(), score: Nullable(Type.Number()), source: Type.String() })),
  references: Type.Array(Type.String()),
  advisories: Type.Array(Type.Object({ id: Type.String(), source: Type.String() })),
  kev: Nullable(Type.Object({ dateAdded: Type.String(), dueDate: Nullable(Type.String()), knownRansomwareCampaignUse: Nullable(Type.String()) })),
  epss: Nullable(Type.Object({ score: Type.Number(), percentile: Type.Number(), date: Nullable(Type.String()) })),
  affected: Type.Object({
    images: Type.Integer(),
    items: Type.Array(
      Type.Object({
        imageId: Type.String(),
        repo: Nullable(Type.String()),
        severity: Type.String(),
        scanTypes: Type.Array(Type.String()),
        packages: Type.Array(Type.Object({ name: Type.String(), version: Type.String(), type: Type.String(), fixedVersions: Type.Array(Type.String()) })),
      }),
      { description: 'up to 100 affected images' },
    ),
  }),
});

export const ContainerItem = Type.Object({
  id: Type.Integer(),
  containerId: Type.String(),
  name: Type.String(),
  image: Type.String(),
  imageId: Type.String(),
  imageKnown: Type.Boolean({ description: 'the image has been uploaded' }),
  state: Type.String(),
  host: Type.String(),
  created: Nullable(Type.String()),
  ports: Type.Array(Type.Object({ ip: Type.Optional(Type.String()), privatePort: Type.Integer(), publicPort: Type.Optional(Type.Integer()), type: Type.String() })),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
  removedAt: Nullable(Type.String()),
  sensor: Nullable(Type.Object({ id: Type.Integer(), type: Type.String(), host: Type.String() })),
  vulnerabilities: Type.Intersect([VulnCounts, Type.Object({ scope: Type.Literal('os', { description: 'OS-class detections of the image only' }) })]),
});

export const SensorItem = Type.Intersect([SensorInfo, Type.Object({ images: Type.Integer({ description: 'images it uploaded' }) })]);

export const TokenItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Nullable(Type.String()),
  revokedAt: Nullable(Type.String()),
});

export const ScaSettingSchema = Type.Object({ enabled: Type.Boolean(), updatedAt: Nullable(Type.String()) });

export const JobItem = Type.Object({
  id: Type.String(),
  name: Type.String({ description: 'reevaluate, registry-sync, scan-manifest or registry-schedule' }),
  key: Nullable(Type.String()),
  state: Type.String({ description: 'queued, running, retrying (an attempt failed; the next one waits for its backoff), done, failed, cancelled' }),
  reason: Type.String(),
  subject: Nullable(Type.String({ description: 'What the job works on: an image reference, a registry URL' })),
  queuedAt: Type.String(),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
  progress: Nullable(Type.Object({ done: Type.Integer(), total: Type.Integer() })),
  attempts: Type.Integer(),
  maxAttempts: Type.Integer(),
  worker: Nullable(Type.String({ description: 'host:pid of the process that ran the last attempt' })),
  result: Type.Unknown(),
  error: Nullable(Type.String()),
});

export const JobCounts = Type.Object({
  queued: Type.Integer(),
  running: Type.Integer(),
  retrying: Type.Integer(),
  done: Type.Integer(),
  failed: Type.Integer(),
  cancelled: Type.Integer(),
});

export const UploadResponseSchema = Type.Object({
  uploadId: Type.Integer(),
  imageId: Type.String(),
  duplicate: Type.Boolean(),
  scanTypes: Type.Array(Type.String()),
  droppedScanTypes: Type.Array(Type.String()),
  packages: Type.Object({ received: Type.Integer(), stored: Type.Integer(), dropped: Type.Integer() }),
  vulnerabilities: Type.Object({ total: Type.Integer(), bySeverity: Type.Record(Type.String(), Type.Integer()) }),
  evaluated: Type.Boolean(),
  warnings: Type.Array(Type.String()),
});
