/** Pure: one rpm header blob in, the package facts Tally reports out. */
import { getInt32, getInt32Array, getString, getStringArray, parseHeader, RPMTAG, type RpmHeader } from './header.js';

export interface RpmPackage {
  readonly name: string;
  /** Null when the header has no EPOCH tag, which is not the same as epoch 0. */
  readonly epoch: number | null;
  readonly version: string;
  readonly release: string;
  readonly arch: string | null;
  readonly license: string | null;
  readonly vendor: string | null;
  readonly sourceRpm: string | null;
  /** Owned files that passed the `keep` filter (none when no filter was given). */
  readonly files: string[];
  /** Non-fatal trouble with this header (an unreadable file list); the package itself is fine. */
  readonly problems: string[];
}

/** rpm's imported signing keys are stored as packages named gpg-pubkey; they are not software. */
export const PUBKEY_PACKAGE = 'gpg-pubkey';

/**
 * Read one header blob. Returns null for gpg-pubkey entries; throws (RpmHeaderError or Error) when the blob is
 * malformed or lacks NAME, VERSION or RELEASE.
 */
export function parseRpmPackage(blob: Buffer, keep: ((path: string) => boolean) | null): RpmPackage | null {
  const h = parseHeader(blob);
  const name = getString(h, RPMTAG.NAME);
  if (!name) throw new Error('rpm header: no NAME');
  if (name === PUBKEY_PACKAGE) return null;
  const version = getString(h, RPMTAG.VERSION);
  const release = getString(h, RPMTAG.RELEASE);
  if (!version || !release) throw new Error(`rpm header of ${name}: no ${version ? 'RELEASE' : 'VERSION'}`);
  const problems: string[] = [];
  let files: string[] = [];
  if (keep) {
    try {
      files = ownedFiles(h, keep);
    } catch (err: unknown) {
      problems.push(`${name}: file list unreadable: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return {
    name,
    epoch: getInt32(h, RPMTAG.EPOCH),
    version,
    release,
    arch: getString(h, RPMTAG.ARCH),
    license: getString(h, RPMTAG.LICENSE),
    vendor: getString(h, RPMTAG.VENDOR),
    sourceRpm: getString(h, RPMTAG.SOURCERPM),
    files,
    problems,
  };
}

/**
 * Full paths of the files a header lists that pass `keep`: DIRNAMES[DIRINDEXES[i]] + BASENAMES[i], or the
 * legacy OLDFILENAMES. Paths are filtered as they are built, so a package with 100k files keeps only a few.
 */
export function ownedFiles(h: RpmHeader, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  const take = (path: string): void => {
    if (path.startsWith('/') && keep(path)) out.push(path);
  };
  const basenames = getStringArray(h, RPMTAG.BASENAMES);
  if (!basenames) {
    for (const path of getStringArray(h, RPMTAG.OLDFILENAMES) ?? []) take(path);
    return out;
  }
  const dirnames = getStringArray(h, RPMTAG.DIRNAMES) ?? [];
  const dirIndexes = getInt32Array(h, RPMTAG.DIRINDEXES) ?? [];
  if (dirIndexes.length !== basenames.length) throw new Error(`${basenames.length} BASENAMES but ${dirIndexes.length} DIRINDEXES`);
  basenames.forEach((base, i) => {
    const dir = dirnames[dirIndexes[i]!];
    if (dir === undefined) throw new Error(`DIRINDEXES[${i}] = ${dirIndexes[i]} is past the ${dirnames.length} DIRNAMES`);
    take(dir + base);
  });
  return out;
}

/** `EPOCH:VERSION-RELEASE` when the header has an EPOCH tag (even 0), else `VERSION-RELEASE`. */
export function rpmVersionString(p: Pick<RpmPackage, 'epoch' | 'version' | 'release'>): string {
  const vr = `${p.version}-${p.release}`;
  return p.epoch === null ? vr : `${p.epoch}:${vr}`;
}

/**
 * `openssl-3.0.7-27.el9.src.rpm` → { name: "openssl", version: "3.0.7-27.el9" }. Version and release never
 * contain '-', so the last two dashes split the three parts. The file name carries no epoch. Null when the
 * string is not of that shape.
 */
export function parseSourceRpm(sourceRpm: string): { name: string; version: string } | null {
  const suffix = sourceRpm.endsWith('.src.rpm') ? '.src.rpm' : sourceRpm.endsWith('.nosrc.rpm') ? '.nosrc.rpm' : null;
  if (!suffix) return null;
  const nvr = sourceRpm.slice(0, -suffix.length);
  const releaseDash = nvr.lastIndexOf('-');
  const versionDash = releaseDash > 0 ? nvr.lastIndexOf('-', releaseDash - 1) : -1;
  if (versionDash <= 0 || releaseDash === nvr.length - 1 || versionDash + 1 === releaseDash) return null;
  return { name: nvr.slice(0, versionDash), version: nvr.slice(versionDash + 1) };
}
