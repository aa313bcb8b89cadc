/** The operating system of an image, from os-release and friends (report `image.os`). */
export interface Distro {
  /** Normalised distro id: debian, ubuntu, alpine, redhat, centos, fedora, rocky, almalinux, oracle, amazon, ... */
  readonly family: string;
  readonly name: string;
  /** VERSION_ID where present ("12", "3.19.1"), else the best the release files tell. */
  readonly version: string;
  readonly prettyName: string | null;
  readonly codename: string | null;
  /** How the answer was found: "os-release", "debian_version", "alpine-release", "redhat-release", "dpkg-status.d". */
  readonly detectedBy: string;
}

/** Reads a file of the merged image filesystem (symlinks resolved), or null when absent. */
export type FileLookup = (path: string) => string | null;

/** os-release is a shell-compatible KEY=value list; values may be quoted with " or ' and use \ escapes. */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    out.set(key, value);
  }
  return out;
}

const FAMILY_BY_ID: Readonly<Record<string, string>> = {
  debian: 'debian',
  ubuntu: 'ubuntu',
  alpine: 'alpine',
  rhel: 'redhat',
  centos: 'centos',
  fedora: 'fedora',
  rocky: 'rocky',
  almalinux: 'almalinux',
  ol: 'oracle',
  amzn: 'amazon',
  opensuse: 'opensuse',
  'opensuse-leap': 'opensuse',
  'opensuse-tumbleweed': 'opensuse',
  sles: 'sles',
  photon: 'photon',
  wolfi: 'wolfi',
  chainguard: 'chainguard',
  mariner: 'mariner',
  azurelinux: 'azurelinux',
};

function familyOf(id: string, idLike: string | undefined): string {
  const direct = FAMILY_BY_ID[id];
  if (direct) return direct;
  for (const like of (idLike ?? '').split(/\s+/)) {
    const f = FAMILY_BY_ID[like];
    if (f) return f;
  }
  return id;
}

const RELEASE_FILES: ReadonlyArray<readonly [string, string]> = [
  ['/etc/centos-release', 'centos'],
  ['/etc/rocky-release', 'rocky'],
  ['/etc/almalinux-release', 'almalinux'],
  ['/etc/oracle-release', 'oracle'],
  ['/etc/fedora-release', 'fedora'],
  ['/etc/redhat-release', 'redhat'],
  ['/etc/system-release', 'amazon'],
  ['/etc/photon-release', 'photon'],
  ['/etc/SuSE-release', 'sles'],
];

/**
 * Decide the distro. Order: /etc/os-release, /usr/lib/os-release, then the distro-specific release files.
 * `hasDpkgStatusD` marks distroless Debian images, which may carry no release file at all.
 */
export function detectDistro(read: FileLookup, hints: { hasDpkgStatusD: boolean }): Distro | null {
  for (const path of ['/etc/os-release', '/usr/lib/os-release']) {
    const text = read(path);
    if (text === null) continue;
    const f = parseOsRelease(text);
    const id = (f.get('ID') ?? '').toLowerCase();
    if (id === '') continue;
    const family = familyOf(id, f.get('ID_LIKE')?.toLowerCase());
    let version = f.get('VERSION_ID') ?? '';
    if (version === '' && family === 'debian') version = (read('/etc/debian_version') ?? '').trim();
    return {
      family,
      name: f.get('NAME') ?? id,
      version,
      prettyName: f.get('PRETTY_NAME') ?? null,
      codename: f.get('VERSION_CODENAME') ?? null,
      detectedBy: 'os-release',
    };
  }
  const alpine = read('/etc/alpine-release');
  if (alpine !== null) {
    const version = alpine.trim();
    return { family: 'alpine', name: 'Alpine Linux', version, prettyName: `Alpine Linux v${version}`, codename: null, detectedBy: 'alpine-release' };
  }
  const debian = read('/etc/debian_version');
  if (debian !== null) {
    const full = debian.trim();
    const major = /^\d+/.exec(full)?.[0] ?? full;
    return { family: 'debian', name: 'Debian GNU/Linux', version: major, prettyName: `Debian GNU/Linux ${full}`, codename: null, detectedBy: 'debian_version' };
  }
  for (const [path, family] of RELEASE_FILES) {
    const text = read(path);
    if (text === null) continue;
    const line = text.split('\n')[0]!.trim();
    const version = /release\s+([\d.]+)/i.exec(line)?.[1] ?? /\b(\d+(?:\.\d+)*)\b/.exec(line)?.[1] ?? '';
    return { family, name: line.replace(/\s*release.*$/i, '') || family, version, prettyName: line, codename: null, detectedBy: path.slice(5) };
  }
  if (hints.hasDpkgStatusD) {
    return { family: 'debian', name: 'Debian GNU/Linux (distroless)', version: '', prettyName: null, codename: null, detectedBy: 'dpkg-status.d' };
  }
  return null;
}
