import type { Issue } from './issue.js';
import type { HistoryEntry, Platform, SourceKind } from './image.js';
import type { LayerRef, Package, PackageClass, PackageType, ScanType } from './package.js';

/** The JSON report, version 1 (docs/report-schema.md; JSON Schema in docs/report.schema.json). */
export const REPORT_SCHEMA_VERSION = 1;

export type SensorType = 'general' | 'registry' | 'cicd';

export interface ReportLayer {
  readonly index: number;
  readonly digest: string | null;
  readonly diffId: string | null;
  readonly mediaType: string;
  readonly size: number | null;
  readonly createdBy: string | null;
  readonly created: string | null;
  readonly comment: string | null;
  readonly packages: { readonly os: number; readonly lang: number };
}

export interface ReportOs {
  readonly family: string;
  readonly name: string;
  readonly version: string;
  readonly prettyName: string | null;
}

export interface ReportImage {
  readonly ref: string;
  readonly source: SourceKind;
  readonly imageId: string | null;
  readonly manifestDigest: string | null;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly platform: Platform | null;
  readonly created: string | null;
  readonly os: ReportOs | null;
  readonly layers: readonly ReportLayer[];
  readonly history: readonly HistoryEntry[];
}

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'NEGLIGIBLE', 'UNKNOWN'] as const;
export type Severity = (typeof SEVERITIES)[number];

export type FindingStatus = 'fixed' | 'affected' | 'will_not_fix' | 'fix_deferred' | 'end_of_life' | 'under_investigation';

export interface CvssScore {
  readonly version: '2.0' | '3.0' | '3.1' | '4.0';
  readonly vector: string;
  readonly score: number;
  readonly source: string;
}

export interface Finding {
  readonly id: string;
  readonly aliases: readonly string[];
  readonly packageId: string;
  readonly package: { readonly name: string; readonly version: string; readonly type: PackageType; readonly purl: string };
  readonly scanType: ScanType;
  readonly class: PackageClass;
  readonly severity: Severity;
  readonly severitySource: string;
  readonly cvss: readonly CvssScore[];
  readonly status: FindingStatus;
  readonly fixedVersions: readonly string[];
  readonly layer: LayerRef;
  readonly summary: string;
  readonly dataSource: { readonly id: string; readonly source: string };
  readonly match: { readonly by: string; readonly ecosystem: string; readonly range: string };
  readonly kev: boolean;
  readonly epss: number | null;
}

export interface ScanReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: { readonly name: 'tally'; readonly version: string };
  readonly scannedAt: string;
  readonly scanTypes: readonly ScanType[];
  readonly sensor: { readonly type: SensorType; readonly performScaScan: boolean };
  readonly image: ReportImage;
  readonly packages: readonly Package[];
  readonly vulnerabilities?: readonly Finding[];
  readonly issues: readonly Issue[];
  readonly summary: {
    readonly packages: { readonly total: number; readonly os: number; readonly lang: number };
    readonly vulnerabilities?: Readonly<Record<Severity, number>>;
  };
}
