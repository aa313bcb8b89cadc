/**
 * .NET runtime identifiers (RIDs) and the runtime-pack package ids GHSA files .NET runtime advisories under.
 *
 * GitHub's advisories for the runtime itself name the runtime packs, one affected entry per RID:
 * `Microsoft.NETCore.App.Runtime.linux-x64`, `Microsoft.AspNetCore.App.Runtime.linux-musl-arm64`, ... (e.g.
 * GHSA-rh58-r7jh-xhx3). They list only the portable RIDs (plus `rhel.6-x64` for 3.1), so a runtime built by a
 * distro with a distro RID (`ubuntu.22.04-x64`, `alpine.3.19-x64`, source-build's default) must be reported
 * under the portable RID it is equivalent to, or it would never match.
 */

const PORTABLE_PREFIXES = [
  'linux-',
  'win-',
  'osx-',
  'freebsd-',
  'illumos-',
  'solaris-',
  'android-',
  'ios-',
  'iossimulator-',
  'tvos-',
  'tvossimulator-',
  'maccatalyst-',
  'browser-',
  'wasi-',
  'haiku-',
  'any',
];

/** Distro RID families that use musl; the rest of the Linux families use glibc. */
const MUSL_FAMILIES = new Set(['alpine']);
const GLIBC_FAMILIES = new Set([
  'ubuntu',
  'debian',
  'linuxmint',
  'rhel',
  'centos',
  'fedora',
  'ol',
  'opensuse',
  'sles',
  'rocky',
  'almalinux',
  'amzn',
  'azurelinux',
  'mariner',
  'cbl-mariner',
  'gentoo',
  'arch',
  'tizen',
  'exherbo',
  'manjaro',
]);

const ARCHES = new Set(['x64', 'x86', 'arm', 'arm64', 'armel', 'armv6', 's390x', 'ppc64le', 'loongarch64', 'riscv64', 'mips64']);

/**
 * The portable RID a runtime built for `rid` is equivalent to: `ubuntu.22.04-x64` → `linux-x64`,
 * `alpine.3.19-arm64` → `linux-musl-arm64`, `win10-x64` → `win-x64`, `osx.13-arm64` → `osx-arm64`. Portable RIDs,
 * `rhel.6-x64` (which has runtime packs of its own) and anything unrecognised come back unchanged.
 */
export function portableRid(rid: string): string {
  const lower = rid.toLowerCase();
  if (lower === 'rhel.6-x64') return rid;
  for (const p of PORTABLE_PREFIXES) if (lower.startsWith(p)) return rid;
  const dash = lower.lastIndexOf('-');
  if (dash <= 0) return rid;
  const arch = lower.slice(dash + 1);
  if (!ARCHES.has(arch)) return rid;
  const os = lower.slice(0, dash);
  const dot = os.indexOf('.');
  const family = dot < 0 ? os : os.slice(0, dot);
  if (MUSL_FAMILIES.has(family)) return `linux-musl-${arch}`;
  if (GLIBC_FAMILIES.has(family)) return `linux-${arch}`;
  if (family === 'osx') return `osx-${arch}`;
  if (family.startsWith('win')) return `win-${arch}`; // win7, win8, win81, win10
  if (family === 'freebsd') return `freebsd-${arch}`;
  return rid;
}

/** The RID after the `/` of a deps.json target name: `.NETCoreApp,Version=v8.0/linux-x64` → `linux-x64`. */
export function ridOfTarget(targetName: string | null): string | null {
  if (targetName === null) return null;
  const slash = targetName.indexOf('/');
  const rid = slash < 0 ? '' : targetName.slice(slash + 1);
  return rid.length > 0 ? rid : null;
}

export interface RuntimePackId {
  /** The shared framework it is the runtime pack of: `Microsoft.NETCore.App`. */
  readonly framework: string;
  /** RID as the pack was built. */
  readonly rid: string;
  /** The advisory id: `<framework>.Runtime.<portable rid>`. */
  readonly name: string;
}

/**
 * Reads `Microsoft.NETCore.App.Runtime.<rid>` (the runtime pack naming since .NET Core 3.0, also used by
 * self-contained apps after their `runtimepack.` prefix is removed) into its parts, with the RID made portable.
 * Null for any other package name.
 */
export function runtimePackId(packageName: string): RuntimePackId | null {
  const marker = '.App.Runtime.';
  const at = packageName.indexOf(marker);
  if (at <= 0) return null;
  const framework = packageName.slice(0, at + '.App'.length);
  const rid = packageName.slice(at + marker.length);
  if (rid.length === 0) return null;
  // `...Runtime.Mono.linux-x64` (a separate pack with an advisory id of its own) passes through portableRid unchanged
  return { framework, rid, name: `${framework}.Runtime.${portableRid(rid)}` };
}
