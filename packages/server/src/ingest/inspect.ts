/**
 * Pass 1 of an upload, without the database: read the body piece by piece (@tally/core/json-stream), parse and validate
 * every piece against the report schema, check what the schema cannot (layer indexes, scan types, string sizes an index
 * can hold, NUL), and keep the small members (image, sensor, summary…) and the containers list. When asked, also turn
 * each package into the rows pass 2 writes (dictionary row with its key, per-image facts), so pass 2 on the main thread
 * only talks to the database.
 *
 * Pure and self-contained: it runs in a worker thread (inspect-pool.ts) as well as in the main thread, and
 * everything it returns survives structured cloning.
 */
import type { Package, ScanReport, ScanType } from '@tally/core';
import { dictionaryRow, type DictionaryRow } from '../store/packages.js';
import type { MatchSeeds } from '../evaluate/posture.js';
import { forEachJsonPiece, JsonScanError, type JsonScanOptions } from '@tally/core/json-stream';
import { describeErrors, reportValidators, type ContainerInput } from './validate.js';
import { inflateInMemory, type WireBody } from './spool.js';

export class IngestError extends Error {
  override readonly name = 'IngestError';
  constructor(
    message: string,
    readonly statusCode: 400 | 409 | 413,
    readonly code: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

/** How a report body is read: its members, and the elements of the arrays that can be huge, one by one. */
export const REPORT_SCAN = {
  document: 'the report',
  root: 'object',
  streamed: new Set(['packages', 'vulnerabilities', 'issues', 'containers']),
  uniqueKeys: true,
  maxMemberBytes: 64 * 1024 * 1024,
  maxElementBytes: 4 * 1024 * 1024,
  oversized: 'throw',
} as const satisfies JsonScanOptions;

/**
 * Byte caps (UTF-8) on strings that go into indexes: PostgreSQL refuses a btree entry over ~2.7 kB, and no real
 * package name, version, purl or image reference comes near these.
 */
export const STRING_CAPS = { name: 1024, version: 512, purl: 2048, ref: 2048, refsPerImage: 1000, containers: 10_000 } as const;

export type ReportHead = Omit<ScanReport, 'packages' | 'vulnerabilities' | 'issues'>;

/** One package as pass 2 writes it. */
export interface PackageRow {
  readonly dict: DictionaryRow;
  readonly scanType: ScanType;
  readonly layerIndex: number;
  /** JSON text of the locations. */
  readonly locations: string;
  readonly evidence: string;
  readonly evidenceSources: string | null;
  readonly identifiedBy: string | null;
}

export function packageRow(p: Package): PackageRow {
  return {
    dict: dictionaryRow(p),
    scanType: p.scanType,
    layerIndex: p.layer.index,
    locations: JSON.stringify(p.locations),
    evidence: p.evidence,
    evidenceSources: p.evidenceSources !== undefined ? JSON.stringify(p.evidenceSources) : null,
    identifiedBy: p.identifiedBy ?? null,
  };
}

export interface Inspection {
  readonly head: ReportHead;
  /** The package rows when they were kept (small bodies); else pass 2 reads the body again. */
  readonly rows: PackageRow[] | null;
  readonly packages: number;
  readonly vulnerabilities: number;
  readonly issues: number;
  readonly containers: ContainerInput[] | null;
}

function bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function hasNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(hasNul);
  if (v !== null && typeof v === 'object') return Object.entries(v).some(([k, x]) => k.includes('\u0000') || hasNul(x));
  return false;
}

export function parsePart(part: { readonly raw: Buffer }, where: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(part.raw.toString('utf8'));
  } catch (err) {
    throw new IngestError(`malformed JSON in ${where}: ${err instanceof Error ? err.message : String(err)}`, 400, 'MALFORMED_JSON');
  }
  // PostgreSQL text cannot hold U+0000; refuse it on both stores so they accept the same reports. A NUL can only
  // come from a \u0000 escape (JSON forbids raw control characters), so the full walk runs only when one is there.
  if (part.raw.includes('\\u0000') && hasNul(value)) throw new IngestError(`${where} contains a U+0000 character, which the backend does not store`, 400, 'NUL_CHARACTER');
  return value;
}

export function wrapParts(e: unknown): never {
  if (e instanceof JsonScanError) throw new IngestError(e.tooLarge ? e.message : `malformed JSON: ${e.message}`, e.tooLarge ? 413 : 400, e.tooLarge ? 'TOO_LARGE' : 'MALFORMED_JSON');
  throw e;
}

export async function inspectReport(source: AsyncIterable<Buffer>, keepRows: true): Promise<Inspection & { readonly rows: PackageRow[] }>;
export async function inspectReport(source: AsyncIterable<Buffer>, keepRows: boolean): Promise<Inspection>;
export async function inspectReport(source: AsyncIterable<Buffer>, keepRows: boolean): Promise<Inspection> {
  const v = reportValidators();
  const head: Record<string, unknown> = {};
  const errors: string[] = [];
  const usedScanTypes = new Set<string>();
  let maxLayer = -1;
  const counts = { packages: 0, vulnerabilities: 0, issues: 0 };
  const containers: ContainerInput[] = [];
  let sawContainers = false;
  const rows: PackageRow[] | null = keepRows ? [] : null;
  const fail = (lines: string[]): void => {
    errors.push(...lines);
    if (errors.length >= 10) throw new IngestError('the report does not match the report schema', 400, 'SCHEMA', errors.slice(0, 10));
  };
  try {
    await forEachJsonPiece(source, REPORT_SCAN, (part) => {
      if (part.kind === 'end-array') {
        if (part.key === 'containers') sawContainers = true;
        else head[part.key] = [];
        return;
      }
      if (part.kind === 'member') {
        head[part.key] = parsePart(part, `member ${JSON.stringify(part.key)}`);
        return;
      }
      const where = `/${part.key}/${part.index}`;
      const value = parsePart(part, where);
      switch (part.key) {
        case 'packages': {
          counts.packages++;
          if (!v.package(value)) {
            fail(describeErrors(where, v.package.errors));
            break;
          }
          const p = value as Package;
          usedScanTypes.add(p.scanType);
          if (p.layer.index > maxLayer) maxLayer = p.layer.index;
          if (bytes(p.name) > STRING_CAPS.name || bytes(p.version) > STRING_CAPS.version || bytes(p.purl) > STRING_CAPS.purl) {
            fail([`${where} has a name, version or purl longer than the backend stores (${STRING_CAPS.name}, ${STRING_CAPS.version}, ${STRING_CAPS.purl} bytes)`]);
          }
          rows?.push(packageRow(p));
          break;
        }
        case 'vulnerabilities':
          counts.vulnerabilities++;
          if (!v.finding(value)) fail(describeErrors(where, v.finding.errors));
          break;
        case 'issues':
          counts.issues++;
          if (!v.issue(value)) fail(describeErrors(where, v.issue.errors));
          break;
        case 'containers':
          if (containers.length >= STRING_CAPS.containers) throw new IngestError(`more than ${STRING_CAPS.containers} containers in one upload`, 413, 'TOO_LARGE');
          if (!v.container(value)) fail(describeErrors(where, v.container.errors));
          else containers.push(value as ContainerInput);
          break;
      }
    });
  } catch (e) {
    wrapParts(e);
  }
  if (errors.length > 0) throw new IngestError('the report does not match the report schema', 400, 'SCHEMA', errors);
  if ('containers' in head) throw new IngestError('"containers" must be an array', 400, 'SCHEMA');
  if (!v.skeleton(head)) throw new IngestError('the report does not match the report schema', 400, 'SCHEMA', describeErrors('', v.skeleton.errors));
  const report = head as unknown as ReportHead;
  const layers = report.image.layers;
  layers.forEach((l, i) => {
    if (l.index !== i) errors.push(`/image/layers/${i} has index ${l.index}: layers must be listed bottom-up with indexes 0, 1, 2…`);
  });
  if (maxLayer >= layers.length) errors.push(`a package refers to layer ${maxLayer}, but the image has ${layers.length} layers`);
  for (const t of usedScanTypes) {
    if (!report.scanTypes.includes(t as ScanType)) errors.push(`packages have scanType ${t}, which is not among the report's scanTypes ${JSON.stringify(report.scanTypes)}`);
  }
  const refs = [...report.image.repoTags, ...report.image.repoDigests];
  if (refs.length > STRING_CAPS.refsPerImage) errors.push(`more than ${STRING_CAPS.refsPerImage} repo tags and digests`);
  if (refs.some((r) => bytes(r) > STRING_CAPS.ref) || bytes(report.image.ref) > STRING_CAPS.ref * 2) errors.push(`an image reference is longer than ${STRING_CAPS.ref} bytes`);
  if (errors.length > 0) throw new IngestError('the report is inconsistent', 400, 'INCONSISTENT', errors.slice(0, 10));
  return { head: report, rows, ...counts, containers: sawContainers ? containers : null };
}

/** Pass 1 of a body held in memory as it came over the wire. */
export interface WireInspection {
  /** Without its rows (`rows: null`): they come apart. */
  readonly inspection: Inspection;
  /** sha256 (hex) of the inflated body. */
  readonly sha256: string;
  /** The package rows (the inspection pool hands them over packed, and unpacks them only when pass 2 writes them). */
  readonly rows: () => readonly PackageRow[];
  /** The pairs an inspection worker matched for the first time (null when inspected on the main thread). */
  readonly seeds: MatchSeeds | null;
}

/** Inflate, hash and inspect a small upload; null when it inflates past the memory size (it is spooled instead). */
export async function inspectWire(wire: WireBody): Promise<WireInspection | null> {
  const inflated = inflateInMemory(wire);
  if (inflated === null) return null;
  const { rows, ...inspection } = await inspectReport(once(inflated.body), true);
  return { inspection: { ...inspection, rows: null }, sha256: inflated.sha256, rows: () => rows, seeds: null };
}

async function* once(buf: Buffer): AsyncIterable<Buffer> {
  yield buf;
}

/** Pass 2's view of a large body: the packages again, as rows, streamed. */
export async function forEachPackageRow(source: AsyncIterable<Buffer>, fn: (row: PackageRow) => Promise<void> | undefined): Promise<void> {
  try {
    await forEachJsonPiece(source, REPORT_SCAN, (part) => {
      if (part.kind !== 'element' || part.key !== 'packages') return undefined;
      // Validated in pass 1 from the same bytes.
      return fn(packageRow(JSON.parse(part.raw.toString('utf8')) as Package));
    });
  } catch (e) {
    wrapParts(e);
  }
}
