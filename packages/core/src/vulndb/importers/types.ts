import type { Advisory } from '../model.js';

/**
 * What a pure parser yields for one unit of input: an advisory to store under a key that is unique within its
 * source, or a skipped record with the reason. Parsers never throw on bad records; only a container that cannot be
 * read at all (truncated gzip, broken JSON structure) ends an import.
 */
export type SkipCategory =
  /** OSV `withdrawn`: the publisher retracted it; never imported. */
  | 'withdrawn'
  /** Malformed: not an object, missing id, unparsable line, wrong field types. */
  | 'invalid'
  /** Well-formed but nothing Tally can use (only `sid` data, an announcement DSA without packages, ...). */
  | 'ignored';

export interface Skip {
  readonly skip: SkipCategory;
  readonly reason: string;
  readonly id: string | null;
}

export interface KeyedAdvisory {
  /** Unique within the source: the OSV id, `package/CVE` for per-package distro records, ... */
  readonly key: string;
  readonly advisory: Advisory;
}

export type Parsed = KeyedAdvisory | Skip;

export function isSkipped(x: object): x is Skip {
  return 'skip' in x;
}

export function skip(category: SkipCategory, reason: string, id: string | null = null): Skip {
  return { skip: category, reason, id };
}

/** Plausible advisory identifiers (CVE-2021-44228, GHSA-xxxx-xxxx-xxxx, XSA-214, TEMP-0000000-A1B2C3): a sanity bound. */
export const ID_PATTERN = /^[A-Za-z][A-Za-z0-9._:-]{1,127}$/;
export const CVE_PATTERN = /^CVE-\d{4}-\d{4,}$/;
