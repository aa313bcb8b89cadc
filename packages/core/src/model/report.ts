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
  /**
   * The VEX statement that speaks about this finding when it was kept (status `affected` or `under_investigation`):
   * the vendor's word travels with the finding. Suppressed findings carry theirs in `ScanReport.suppressed`.
   */
  readonly vex?: VexStatementRef;
}

/** OpenVEX v0.2.0 status labels. */
export const VEX_STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const;
export type VexStatus = (typeof VEX_STATUSES)[number];

/** OpenVEX v0.2.0 justification labels (the VEX working group's catalogue) for `not_affected`. */
export const VEX_JUSTIFICATIONS = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
] as const;
export type VexJustification = (typeof VEX_JUSTIFICATIONS)[number];

/** A VEX statement as the report cites it: where it is and what it says. */
export interface VexStatementRef {
  /** The VEX document, as given to `--vex`. */
  readonly source: string;
  /** The statement's place in the document: `statements[3]`. */
  readonly rule: string;
  readonly documentId: string | null;
  readonly statementId: string | null;
  readonly status: VexStatus;
  readonly justification: VexJustification | null;
  readonly impactStatement: string | null;
  readonly actionStatement: string | null;
  readonly statusNotes: string | null;
  /** The statement's timestamp, else the document's (OpenVEX inheritance). */
  readonly timestamp: string | null;
}

/** A finding left out of `vulnerabilities` and the rule that left it out. */
export interface Suppression {
  readonly finding: Finding;
  readonly by: 'ignore' | 'vex';
  /** The ignore file or VEX document, as given (or `.tallyignore.yaml`). */
  readonly source: string;
  /** The rule in it: `vulnerabilities[0]`, `packages[2]` (ignore files) or `statements[3]` (VEX). */
  readonly rule: string;
  /** 1-based line of the ignore entry; null for VEX documents (JSON). */
  readonly line: number | null;
  /** The ignore entry's `reason`; a VEX statement's impact_statement, else its justification. */
  readonly reason: string | null;
  /** Ignore entries with an expiry: the date or date-time as written. */
  readonly expires?: string;
  /** VEX: the statement that applied. */
  readonly vex?: VexStatementRef;
}

/** What an ignore entry names, as written (only the fields the entry has). */
export interface IgnoreSelector {
  readonly id?: string;
  readonly purl?: string;
  readonly purls?: readonly string[];
  readonly name?: string;
  readonly type?: PackageType;
  readonly version?: string;
  readonly paths?: readonly string[];
}

/** An ignore entry past its `expires`: it no longer applies, and the report says so. */
export interface ExpiredIgnore {
  readonly source: string;
  readonly rule: string;
  readonly line: number | null;
  readonly expires: string;
  readonly reason: string | null;
  readonly entry: IgnoreSelector;
  /** Findings of this scan the entry would still suppress: 0 means it can simply be deleted. */
  readonly matches: number;
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
  /**
   * Findings removed from `vulnerabilities` (and from the summary counts) by an ignore file or a VEX document.
   * Present when an ignore file or VEX document was applied; absent otherwise.
   */
  readonly suppressed?: readonly Suppression[];
  /** Ignore entries that have expired and no longer apply. Present with `suppressed`. */
  readonly expiredIgnores?: readonly ExpiredIgnore[];
  readonly summary: {
    readonly packages: { readonly total: number; readonly os: number; readonly lang: number };
    readonly vulnerabilities?: Readonly<Record<Severity, number>>;
  };
}
