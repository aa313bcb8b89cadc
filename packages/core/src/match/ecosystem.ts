/**
 * Which (ecosystem, package name, version) the matcher looks up for an inventory package, in the spelling the
 * advisory data uses (OSV ecosystem names, names normalised like `normalizePackageName` does at import).
 *
 *   deb    Debian:<major>                 SOURCE package name and SOURCE version (epoch kept). Debian's tracker,
 *                                         DSA/DLA lists and OSV Debian records are all keyed by source package; a binary's own version can differ (binNMU `+b1`, or an epoch
 *                                         the source does not have: bsdutils 1:2.38.1-5 from util-linux 2.38.1-5).
 *           Ubuntu:<ver>:LTS, Ubuntu:<ver> the same, for Ubuntu (OSV writes LTS releases `Ubuntu:22.04:LTS`,
 *                                         others `Ubuntu:23.10`; both are looked up, only one exists). The Ubuntu
 *                                         Pro streams (`Ubuntu:Pro:16.04:LTS`) are not: their fixes are only
 *                                         installable with a Pro subscription, which an image cannot show.
 *   apk    Alpine:v<major>.<minor>        origin (source) name, version as installed; `Alpine:edge` for a
 *                                         pre-release VERSION_ID (3.21.0_alpha…), which is what edge reports.
 *   rpm    AlmaLinux:<major>              BINARY package name, full EVR with epoch: AlmaLinux, Rocky and Red Hat
 *           Rocky Linux:<major>           OSV records list binary rpms (openssl-libs, python3.12-libs).
 *           Red Hat:enterprise_linux:<major>::{baseos,appstream,crb} (RHEL 8+; `::server` etc. for RHEL 7), the
 *                                         CPE-derived names Red Hat's OSV export uses for the standard streams an
 *                                         image installs from (EUS/AUS/E4S/TUS streams are not looked up).
 *   npm    npm       name as is (`@scope/name`)
 *   pypi   PyPI      PEP 503 (lower case, runs of -_. → -)
 *   maven  Maven     `group:artifact`
 *   golang Go        module path; the pseudo-module `stdlib` (the binary's Go version) is looked up as both
 *                    `stdlib` (by: go-stdlib) and `toolchain` (by: go-toolchain), the two names the Go vulnerability
 *                    database uses for the Go distribution itself
 *   nuget  NuGet     lower case (NuGet ids are case-insensitive)
 *   generic          the node binary → `Node.js` / `node` (by: runtime), compared as SemVer: the importer writes
 *                    the Node.js Security WG's core advisories (NSWG-COR) there. Other runtimes (python, openjdk)
 *                    have no advisory data at hand: no lookup, no complaint.
 */
import type { Distro } from '../distro/detect.js';
import type { Package, PackageType } from '../model/package.js';
import { schemeFor } from '../version/registry.js';
import type { VersionScheme } from '../version/scheme.js';
import { normalizePackageName } from '../vulndb/model.js';

/** How a package met its advisories (report `match.by`). `unknown-version` is set by the matcher, not here. */
export type MatchBy = 'source-package' | 'package' | 'go-stdlib' | 'go-toolchain' | 'runtime' | 'unknown-version';

export interface LookupTarget {
  readonly ecosystem: string;
  /** Normalised as the advisory data is. */
  readonly name: string;
  /** The version to compare: the source version for deb, as installed otherwise. */
  readonly version: string;
  readonly scheme: VersionScheme;
  readonly by: MatchBy;
}

export type Targets = { readonly targets: readonly LookupTarget[] } | { readonly unsupported: string };

/** OS package ecosystems for a distro, or why there are none. Computed once per scan. */
export function distroEcosystems(distro: Distro | null, type: 'deb' | 'apk' | 'rpm'): readonly string[] | { readonly unsupported: string } {
  if (distro === null) return { unsupported: `no distro detected: ${type} packages cannot be matched to a release` };
  const v = distro.version.trim();
  const what = `${distro.family} ${v === '' ? '(no version)' : v}`;
  const major = /^(\d+)/.exec(v)?.[1];
  switch (type) {
    case 'deb':
      if (distro.family === 'debian') return major !== undefined ? [`Debian:${major}`] : { unsupported: `Debian release not numbered (${what}): deb packages not matched` };
      if (distro.family === 'ubuntu') {
        const m = /^(\d+\.\d+)/.exec(v);
        return m ? [`Ubuntu:${m[1]!}:LTS`, `Ubuntu:${m[1]!}`] : { unsupported: `Ubuntu release not recognised (${what}): deb packages not matched` };
      }
      break;
    case 'apk':
      if (distro.family === 'alpine') {
        const m = /^(\d+)\.(\d+)(.*)$/.exec(v);
        if (!m) return { unsupported: `Alpine release not recognised (${what}): apk packages not matched` };
        return /_(alpha|beta|rc|pre)/.test(m[3] ?? '') ? ['Alpine:edge'] : [`Alpine:v${m[1]!}.${m[2]!}`];
      }
      break;
    case 'rpm':
      if (major === undefined) break;
      if (distro.family === 'almalinux') return [`AlmaLinux:${major}`];
      if (distro.family === 'rocky') return [`Rocky Linux:${major}`];
      if (distro.family === 'redhat') {
        const streams = Number(major) >= 8 ? ['baseos', 'appstream', 'crb'] : ['server', 'client', 'workstation', 'computenode'];
        return streams.map((s) => `Red Hat:enterprise_linux:${major}::${s}`);
      }
      break;
  }
  return { unsupported: `no vulnerability data ecosystem for ${type} packages on ${what}` };
}

const LANG_ECOSYSTEM: Partial<Record<PackageType, string>> = {
  npm: 'npm',
  pypi: 'PyPI',
  maven: 'Maven',
  golang: 'Go',
  nuget: 'NuGet',
};

/**
 * The lookups for one package. `osEcosystems` is `distroEcosystems(distro, pkg.type)` (passed in so a scan
 * computes it once). Packages of types with no data (generic) give no targets and no complaint.
 */
export function lookupTargets(pkg: Package, osEcosystems: (type: 'deb' | 'apk' | 'rpm') => readonly string[] | { readonly unsupported: string }): Targets {
  const scheme = schemeFor(pkg.type);
  switch (pkg.type) {
    case 'deb':
    case 'apk':
    case 'rpm': {
      if (scheme === null) return { unsupported: `no version scheme for ${pkg.type}` };
      const ecos = osEcosystems(pkg.type);
      if ('unsupported' in ecos) return ecos;
      const bySource = pkg.type !== 'rpm' && pkg.source !== undefined;
      const name = bySource ? pkg.source!.name : pkg.name;
      const version = pkg.type === 'deb' && pkg.source !== undefined ? pkg.source.version : pkg.version;
      return {
        targets: ecos.map((ecosystem) => ({
          ecosystem,
          name: normalizePackageName(ecosystem, name),
          version,
          scheme,
          by: bySource ? ('source-package' as const) : ('package' as const),
        })),
      };
    }
    case 'generic': {
      const npm = schemeFor('npm');
      if (pkg.name !== 'node' || npm === null) return { targets: [] };
      return { targets: [{ ecosystem: 'Node.js', name: 'node', version: pkg.version, scheme: npm, by: 'runtime' }] };
    }
    default: {
      const ecosystem = LANG_ECOSYSTEM[pkg.type];
      if (ecosystem === undefined || scheme === null) return { targets: [] };
      if (pkg.type === 'golang' && pkg.name === 'stdlib') {
        return {
          targets: [
            { ecosystem, name: 'stdlib', version: pkg.version, scheme, by: 'go-stdlib' },
            { ecosystem, name: 'toolchain', version: pkg.version, scheme, by: 'go-toolchain' },
          ],
        };
      }
      return { targets: [{ ecosystem, name: normalizePackageName(ecosystem, pkg.name), version: pkg.version, scheme, by: 'package' }] };
    }
  }
}
