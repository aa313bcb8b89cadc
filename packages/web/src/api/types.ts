/**
 * Shapes of the backend's JSON responses (packages/server/src/api/schemas.ts, published at /api/docs). Written out
 * here rather than imported so that the browser bundle does not depend on the server package; every string in
 * them is untrusted (it comes from images that strangers built) and is only ever rendered as text.
 */

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'NEGLIGIBLE', 'UNKNOWN'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const SCAN_TYPES = ['Static', 'Dynamic', 'SCA'] as const;
export type ScanType = (typeof SCAN_TYPES)[number];

export type SeverityCounts = Record<Severity, number>;

export interface VulnCounts {
  total: number;
  bySeverity: SeverityCounts;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface ScanTypeInfo {
  scanType: string;
  active: boolean;
  scannedAt: string;
  receivedAt: string;
  toolVersion: string;
  packages: number;
  vulnerabilities: number;
}

export interface OsInfo {
  family: string;
  name: string | null;
  version: string | null;
  prettyName: string | null;
}

export interface PlatformInfo {
  os: string | null;
  architecture: string | null;
  variant: string | null;
}

export interface ImageSummary {
  imageId: string;
  repo: string | null;
  repoTags: string[];
  repoDigests: string[];
  manifestDigest: string | null;
  ref: string;
  source: string;
  os: OsInfo | null;
  platform: PlatformInfo | null;
  created: string | null;
  firstSeen: string;
  lastSeen: string;
  layers: number;
  packages: number;
  scanTypes: ScanTypeInfo[];
  vulnerabilities: VulnCounts;
}

export interface SensorInfo {
  id: number;
  type: string;
  version: string;
  protocol: number;
  host: string;
  performScaScan: boolean;
  firstSeen: string;
  lastSeen: string;
}

export interface HistoryEntry {
  createdBy: string | null;
  created: string | null;
  comment: string | null;
  emptyLayer: boolean;
}

export interface ImageDetail extends ImageSummary {
  sensors: SensorInfo[];
  vulnerabilitiesByScanType: Record<string, VulnCounts>;
  history: HistoryEntry[];
  containers: number;
}

export interface LayerRef {
  index: number;
  diffId: string | null;
  createdBy: string | null;
}

export interface SoftwareItem {
  id: number;
  name: string;
  version: string;
  type: string;
  purl: string;
  class: string;
  scanType: string;
  layer: LayerRef;
  locations: string[];
  evidence: string;
  source: { name: string; version: string } | null;
  licenses: string[];
  vulnerabilities: number;
}

export interface CvssEntry {
  version: string;
  vector: string;
  score: number | null;
  source: string;
}

export interface VulnerabilityItem {
  id: string;
  aliases: string[];
  severity: string;
  severitySource: string;
  scanType: string;
  class: string;
  status: string;
  fixedVersions: string[];
  layer: LayerRef;
  package: { id: number; name: string; version: string; type: string; purl: string };
  cvss: CvssEntry[];
  cvssScore: number | null;
  kev: boolean;
  epss: number | null;
  summary: string;
  dataSource: { id: string; source: string };
  match: { by: string; ecosystem: string; range: string };
}

export interface LayerItem {
  index: number;
  digest: string | null;
  diffId: string | null;
  mediaType: string;
  size: number | null;
  createdBy: string | null;
  created: string | null;
  comment: string | null;
  packages: { total: number; os: number; lang: number };
  vulnerabilities: VulnCounts;
}

export interface FleetSoftwareItem {
  name: string;
  version: string;
  type: string;
  purl: string;
  class: string;
  images: number;
  imageIds: string[];
  scanTypes: string[];
}

export interface FleetVulnerabilityItem {
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

export interface VulnerabilityDetail {
  id: string;
  aliases: string[];
  summary: string;
  details: string;
  published: string | null;
  modified: string | null;
  severity: string | null;
  cvss: CvssEntry[];
  references: string[];
  advisories: { id: string; source: string }[];
  kev: { dateAdded: string; dueDate: string | null; knownRansomwareCampaignUse: string | null } | null;
  epss: { score: number; percentile: number; date: string | null } | null;
  affected: {
    images: number;
    items: {
      imageId: string;
      repo: string | null;
      severity: string;
      scanTypes: string[];
      packages: { name: string; version: string; type: string; fixedVersions: string[] }[];
    }[];
  };
}

export interface ContainerItem {
  id: number;
  containerId: string;
  name: string;
  image: string;
  imageId: string;
  imageKnown: boolean;
  state: string;
  host: string;
  created: string | null;
  ports: { ip?: string; privatePort: number; publicPort?: number; type: string }[];
  firstSeen: string;
  lastSeen: string;
  removedAt: string | null;
  sensor: { id: number; type: string; host: string } | null;
  vulnerabilities: VulnCounts & { scope: 'os' };
}

export interface SensorItem extends SensorInfo {
  images: number;
}

/** GET /api/v1/jobs: background jobs (registry syncs, registry scans, re-evaluations), most recent first. */
export interface JobItem {
  id: string;
  name: string;
  key: string | null;
  state: 'queued' | 'running' | 'retrying' | 'done' | 'failed' | 'cancelled';
  reason: string;
  subject: string | null;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  progress: { done: number; total: number } | null;
  attempts: number;
  maxAttempts: number;
  worker: string | null;
  result: unknown;
  error: string | null;
}

export interface JobList {
  items: JobItem[];
  counts: Record<JobItem['state'], number>;
}

/** Every 4xx/5xx body; `column` is set on search syntax errors (1-based, in code points). */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code?: string;
  details?: string[];
  column?: number;
}
