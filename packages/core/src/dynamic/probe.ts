import { licensesOf, parseApkInstalled, type ApkPackage } from '../extract/os/apk/parse.js';
import { parseSourceField } from '../extract/os/dpkg/parse.js';
import { parseSourceRpm, PUBKEY_PACKAGE } from '../extract/os/rpm/parse.js';
import type { PackageType, SourcePackage } from '../model/package.js';

/**
 * What runs inside the container: a POSIX sh script (dash, bash and busybox ash all run it) that asks every package
 * manager it finds, each answer framed by marker lines with the tool's exit status, so one failing tool does not
 * hide the others and a cut-off output is recognisable (no `done` line).
 */
const MARK = '@@tally';

export const PROBE_SCRIPT = [
  'export LC_ALL=C',
  'found=0',
  'if command -v dpkg-query >/dev/null 2>&1; then',
  '  found=1',
  `  echo '${MARK} begin dpkg'`,
  "  dpkg-query -W -f '${Package}\\t${Version}\\t${Architecture}\\t${Source}\\t${Status}\\n'",
  '  rc=$?',
  `  printf '\\n${MARK} end dpkg %s\\n' "$rc"`,
  'fi',
  'if command -v rpm >/dev/null 2>&1; then',
  '  found=1',
  `  echo '${MARK} begin rpm'`,
  "  rpm -qa --queryformat '%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\t%{VENDOR}\\n'",
  '  rc=$?',
  `  printf '\\n${MARK} end rpm %s\\n' "$rc"`,
  'fi',
  'if command -v apk >/dev/null 2>&1; then',
  '  found=1',
  `  echo '${MARK} begin apk'`,
  '  apk info -vv',
  '  rc=$?',
  `  printf '\\n${MARK} end apk %s\\n' "$rc"`,
  // apk info names packages as name-version only: the database read at run time adds arch, origin and license
  '  for db in /lib/apk/db/installed /usr/lib/apk/db/installed; do',
  '    if [ -r "$db" ]; then',
  `      echo '${MARK} begin apk-db'`,
  '      cat "$db"',
  '      rc=$?',
  `      printf '\\n${MARK} end apk-db %s\\n' "$rc"`,
  '      break',
  '    fi',
  '  done',
  'fi',
  `echo "${MARK} done $found"`,
].join('\n');

export type ProbeTool = 'dpkg' | 'rpm' | 'apk' | 'apk-db';
const TOOLS: ReadonlySet<string> = new Set<ProbeTool>(['dpkg', 'rpm', 'apk', 'apk-db']);

export interface ProbeSection {
  readonly tool: ProbeTool;
  /** Null when the section has no end line (output cut off). */
  readonly exitCode: number | null;
  readonly lines: readonly string[];
}

export interface ProbeOutput {
  readonly sections: readonly ProbeSection[];
  /** The script reached its end. */
  readonly done: boolean;
  /** It found at least one package manager. */
  readonly foundManager: boolean;
}

export function parseProbeOutput(stdout: string): ProbeOutput {
  const sections: ProbeSection[] = [];
  let current: { tool: ProbeTool; lines: string[] } | null = null;
  let done = false;
  let foundManager = false;
  for (const raw of stdout.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith(`${MARK} `)) {
      const [, verb, arg, code] = line.split(' ');
      if (verb === 'begin' && arg && TOOLS.has(arg)) {
        if (current) sections.push({ tool: current.tool, exitCode: null, lines: current.lines });
        current = { tool: arg as ProbeTool, lines: [] };
        continue;
      }
      if (verb === 'end' && current && arg === current.tool) {
        const n = Number(code);
        sections.push({ tool: current.tool, exitCode: Number.isInteger(n) ? n : null, lines: current.lines });
        current = null;
        continue;
      }
      if (verb === 'done') {
        done = true;
        foundManager = arg === '1';
        continue;
      }
    }
    if (current && line !== '') current.lines.push(line);
  }
  if (current) sections.push({ tool: current.tool, exitCode: null, lines: current.lines });
  return { sections, done, foundManager };
}

/** A package as the image's own package manager lists it. */
export interface DynamicPackage {
  readonly type: Extract<PackageType, 'deb' | 'rpm' | 'apk'>;
  readonly name: string;
  readonly version: string;
  readonly arch: string | null;
  readonly source: SourcePackage | null;
  readonly licenses?: readonly string[];
  readonly vendor?: string;
  /** rpm: the EPOCH tag (purl qualifier), when the header has one. */
  readonly epoch?: string;
}

export interface ToolAnswer {
  readonly packages: DynamicPackage[];
  readonly problems: string[];
}

/** dpkg's want/flag/status states whose files are on disk: the same rule as the dpkg status extractor. */
const DPKG_PRESENT = new Set(['installed', 'triggers-awaited', 'triggers-pending', 'half-configured', 'unpacked', 'half-installed']);

/** Lines of `dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\t${Source}\t${Status}\n'`. */
export function parseDpkgQuery(lines: readonly string[]): ToolAnswer {
  const packages: DynamicPackage[] = [];
  const problems: string[] = [];
  for (const line of lines) {
    const f = line.split('\t');
    if (f.length < 5) {
      problems.push(`dpkg-query: unexpected line ${JSON.stringify(line.slice(0, 200))}`);
      continue;
    }
    const [name, version, arch, source, status] = f as [string, string, string, string, string];
    const state = status.trim().split(/\s+/)[2] ?? '';
    if (!DPKG_PRESENT.has(state)) continue; // config-files, not-installed: nothing but configuration remains
    if (!name || !version) {
      problems.push(`dpkg-query: package ${name || '?'} without a version`);
      continue;
    }
    packages.push({ type: 'deb', name, version, arch: arch || null, source: parseSourceField(source || undefined, name, version) });
  }
  return { packages, problems };
}

const RPM_NONE = '(none)';
const rpmField = (v: string | undefined): string | null => (v === undefined || v === '' || v === RPM_NONE ? null : v);

/** Lines of `rpm -qa --queryformat '%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{LICENSE}\t%{VENDOR}\n'`. */
export function parseRpmQuery(lines: readonly string[]): ToolAnswer {
  const packages: DynamicPackage[] = [];
  const problems: string[] = [];
  for (const line of lines) {
    const f = line.split('\t');
    if (f.length < 8) {
      problems.push(`rpm: unexpected line ${JSON.stringify(line.slice(0, 200))}`);
      continue;
    }
    const name = rpmField(f[0]);
    if (name === PUBKEY_PACKAGE) continue; // imported signing keys, not software
    const epoch = rpmField(f[1]);
    const version = rpmField(f[2]);
    const release = rpmField(f[3]);
    if (!name || !version || !release) {
      problems.push(`rpm: package ${name ?? '?'} without a version or release`);
      continue;
    }
    const sourceRpm = rpmField(f[5]);
    const license = rpmField(f[6]);
    const vendor = rpmField(f.slice(7).join('\t'));
    packages.push({
      type: 'rpm',
      name,
      // EPOCH:VERSION-RELEASE when the header has an EPOCH tag (even 0): what the rpm database extractor reports
      version: epoch !== null ? `${epoch}:${version}-${release}` : `${version}-${release}`,
      arch: rpmField(f[4]),
      source: sourceRpm ? parseSourceRpm(sourceRpm) : null,
      ...(license ? { licenses: [license] } : {}),
      ...(vendor ? { vendor } : {}),
      ...(epoch !== null ? { epoch } : {}),
    });
  }
  return { packages, problems };
}

/**
 * `apk info -vv` lines ("musl-1.2.4-r2 - the musl c library"), completed from the installed database read in the
 * container: a line whose name-version is a database entry takes that entry's arch, origin and license; one that
 * is not is split at the version ("-<ver>-r<N>").
 */
export function parseApkInfo(lines: readonly string[], dbText: string | null): ToolAnswer {
  const packages: DynamicPackage[] = [];
  const problems: string[] = [];
  const db = new Map<string, ApkPackage>(dbText ? parseApkInstalled(dbText, null).packages.map((p) => [`${p.name}-${p.version}`, p] as const) : []);
  for (const line of lines) {
    if (line.startsWith('WARNING') || line.startsWith('ERROR')) continue;
    const nv = line.split(' - ')[0]!.trim();
    if (nv === '') continue;
    const known = db.get(nv);
    if (known) {
      const licenses = known.license ? licensesOf(known.license) : [];
      packages.push({
        type: 'apk',
        name: known.name,
        version: known.version,
        arch: known.arch,
        source: { name: known.origin ?? known.name, version: known.version },
        ...(licenses.length > 0 ? { licenses } : {}),
      });
      continue;
    }
    const m = /^(.+)-([^-]+-r\d+)$/.exec(nv);
    if (!m) {
      problems.push(`apk info: cannot split ${JSON.stringify(nv.slice(0, 200))} into name and version`);
      continue;
    }
    packages.push({ type: 'apk', name: m[1]!, version: m[2]!, arch: null, source: { name: m[1]!, version: m[2]! } });
  }
  return { packages, problems };
}
