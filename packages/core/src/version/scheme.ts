/**
 * The version-ordering contract. Every ecosystem has one `VersionScheme`; versions are compared only through it
 * (house rule 8). A scheme never guesses: `compare` throws `InvalidVersionError` for a string it cannot order the
 * way the ecosystem's own tool would, and the matcher turns that into an "unknown" result (house rule 7).
 */
export interface VersionScheme {
  /** Stable id used in issues and logs: 'deb', 'rpm', 'apk', 'npm', 'pypi', 'maven', 'nuget', 'golang'. */
  readonly name: string;
  /** -1 if a sorts before b, 0 if they have equal precedence, 1 if a sorts after b. Throws InvalidVersionError. */
  compare(a: string, b: string): -1 | 0 | 1;
  /** True exactly when `compare` accepts the string (on either side). Never throws. */
  valid(v: string): boolean;
}

/** `compare` was given a string that is not a version of the scheme. Branch on `code`, never on the message. */
export class InvalidVersionError extends Error {
  readonly code = 'INVALID_VERSION' as const;
  /** The offending string, exactly as given. */
  readonly version: string;
  /** `VersionScheme.name` of the scheme that rejected it. */
  readonly scheme: string;
  /** Short machine-friendly explanation, e.g. 'empty', 'epoch is not a number'. */
  readonly reason: string;
  constructor(scheme: string, version: string, reason: string) {
    super(`invalid ${scheme} version ${JSON.stringify(version)}: ${reason}`);
    this.name = 'InvalidVersionError';
    this.scheme = scheme;
    this.version = version;
    this.reason = reason;
  }
}

export function isInvalidVersionError(err: unknown): err is InvalidVersionError {
  return err instanceof InvalidVersionError;
}

/** `compareVersions` / `schemeFor` was asked about a purl type that has no version scheme. */
export class UnsupportedVersionSchemeError extends Error {
  readonly code = 'UNSUPPORTED_VERSION_SCHEME' as const;
  readonly purlType: string;
  constructor(purlType: string) {
    super(`no version scheme for package type ${JSON.stringify(purlType)}`);
    this.name = 'UnsupportedVersionSchemeError';
    this.purlType = purlType;
  }
}

/** Clamp any number to the -1 | 0 | 1 the contract promises. */
export function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Plain code-unit string ordering (C `strcmp` / Java `String.compareTo` on ASCII). */
export function compareStrings(a: string, b: string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compare two runs of ASCII digits as unbounded non-negative integers (leading zeros ignored). No Number or
 * BigInt conversion, so there is no precision limit and no allocation beyond the slices.
 */
export function compareDigitStrings(a: string, b: string): -1 | 0 | 1 {
  let i = 0;
  while (i < a.length && a.charCodeAt(i) === 48) i++;
  let j = 0;
  while (j < b.length && b.charCodeAt(j) === 48) j++;
  const la = a.length - i;
  const lb = b.length - j;
  if (la !== lb) return la < lb ? -1 : 1; // an empty run (or all zeros) is zero
  for (let k = 0; k < la; k++) {
    const d = a.charCodeAt(i + k) - b.charCodeAt(j + k);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** True for a string that contains whitespace or an ASCII control character (no version scheme allows those). */
export function hasSpaceOrControl(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 32 || c === 127) return true;
    if (c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029) return true;
    if (c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff) return true;
  }
  return false;
}

export function isAsciiDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
