/**
 * NuGet package versions, ordered like NuGet.Versioning `VersionComparer.Default`:
 * `major[.minor[.patch[.revision]]][-label[.label]...][+metadata]`.
 *
 * - Up to four numeric parts; missing ones are 0 (`1.0 = 1.0.0.0`), leading zeros are ignored (`1.0.01 = 1.0.1`).
 *   Numbers compare without size limit (NuGet itself caps them at Int32; being wider costs nothing and the vectors
 *   use 30-digit parts).
 * - A version with a release label sorts before the same version without one (`1.0.0-beta < 1.0.0`).
 * - Labels compare part by part (split on `.`): two numeric parts as numbers, a numeric part before an
 *   alphanumeric one, alphanumeric parts case-insensitively by code unit (`1.0.0-BETA = 1.0.0-beta`,
 *   `beta.2 < beta.10`); when one label list is a prefix of the other, the shorter sorts first.
 * - Build metadata after `+` is ignored (`1.0.0+a = 1.0.0+b`).
 *
 * Invalid: anything else, e.g. a leading `v`, five numeric parts, empty parts (`1..0`, `1.0-`, `1.0-a..b`),
 * characters outside `[0-9A-Za-z-]` in labels or metadata, whitespace.
 */
import { InvalidVersionError, compareDigitStrings, compareStrings, isAsciiDigit, type VersionScheme } from './scheme.js';

export interface NuGetVersion {
  /** Exactly four digit strings (missing parts are '0'). */
  readonly numbers: readonly [string, string, string, string];
  /** Release label parts; empty for a stable version. */
  readonly labels: readonly string[];
}

const PATTERN = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export function parseNuGetVersion(v: string): NuGetVersion | null {
  const m = PATTERN.exec(v);
  if (m === null) return null;
  return {
    numbers: [m[1] ?? '0', m[2] ?? '0', m[3] ?? '0', m[4] ?? '0'],
    labels: m[5] === undefined ? [] : m[5].split('.'),
  };
}

function isNumeric(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isAsciiDigit(s.charCodeAt(i))) return false;
  return s.length > 0;
}

function compareLabel(x: string, y: string): -1 | 0 | 1 {
  const nx = isNumeric(x);
  const ny = isNumeric(y);
  if (nx && ny) return compareDigitStrings(x, y);
  if (nx !== ny) return nx ? -1 : 1;
  return compareStrings(x.toUpperCase(), y.toUpperCase()); // OrdinalIgnoreCase
}

export function compareNuGetVersions(a: NuGetVersion, b: NuGetVersion): -1 | 0 | 1 {
  for (let i = 0; i < 4; i++) {
    const r = compareDigitStrings(a.numbers[i] ?? '0', b.numbers[i] ?? '0');
    if (r !== 0) return r;
  }
  const la = a.labels;
  const lb = b.labels;
  if (la.length === 0 || lb.length === 0) {
    if (la.length === lb.length) return 0;
    return la.length === 0 ? 1 : -1; // stable > pre-release
  }
  const n = Math.min(la.length, lb.length);
  for (let i = 0; i < n; i++) {
    const r = compareLabel(la[i] ?? '', lb[i] ?? '');
    if (r !== 0) return r;
  }
  return la.length === lb.length ? 0 : la.length < lb.length ? -1 : 1;
}

function parseOrThrow(v: string): NuGetVersion {
  const parsed = parseNuGetVersion(v);
  if (parsed === null) throw new InvalidVersionError('nuget', v, 'not a NuGet version');
  return parsed;
}

export const nugetScheme: VersionScheme = {
  name: 'nuget',
  compare(a: string, b: string): -1 | 0 | 1 {
    return compareNuGetVersions(parseOrThrow(a), parseOrThrow(b));
  },
  valid(v: string): boolean {
    return parseNuGetVersion(v) !== null;
  },
};
