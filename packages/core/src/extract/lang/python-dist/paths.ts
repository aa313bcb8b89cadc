/**
 * Which files this extractor reads, decided from the path alone. `classify()` runs inside `required()` for every
 * tar entry of every layer, so it uses only character and suffix compares: no regex, no allocation on the common
 * (no) path.
 */

export type PythonFileKind =
  /** `<name>-<version>.dist-info/METADATA` (wheel installs: pip, Alpine, newer Debian packages) */
  | 'dist-info'
  /** `<name>-<version>.egg-info/PKG-INFO` (setuptools installs, most Debian python3-* packages) */
  | 'egg-info-dir'
  /** `<name>-<version>.egg-info` as a plain file: distutils' older form, where the file IS the PKG-INFO */
  | 'egg-info-file'
  /** `<egg dir>/EGG-INFO/PKG-INFO` (unzipped eggs) */
  | 'egg-dir'
  /** `<name>-<version>-pyX.Y.egg`, a zip whose `EGG-INFO/PKG-INFO` is the metadata */
  | 'egg-zip'
  /** `…/bin/pythonX.Y`: the interpreter (statically linked on Debian/Ubuntu, a thin launcher elsewhere) */
  | 'interpreter'
  /** `libpythonX.Y.so.1.0` (+ `m`/`d`/`u` ABI flags): the interpreter as a shared library */
  | 'libpython';

const DIST_INFO_METADATA = '.dist-info/METADATA';
const EGG_INFO_PKG_INFO = '.egg-info/PKG-INFO';
const EGG_DIR_PKG_INFO = '/EGG-INFO/PKG-INFO';
const EGG_INFO = '.egg-info';
const EGG = '.egg';
const SO_1_0 = '.so.1.0';
const LIBPYTHON = 'libpython';
const BIN_PYTHON = '/bin/python';

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** `X.Y` with one-digit major and 1..3-digit minor, from `from` to `end` exactly. */
function isMajorMinor(s: string, from: number, end: number): boolean {
  if (end - from < 3 || end - from > 5) return false;
  if (!isDigit(s.charCodeAt(from)) || s.charCodeAt(from + 1) !== 46 /* . */) return false;
  for (let i = from + 2; i < end; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** The kind of Python artifact at `path`, or null. Cheap: dispatches on the last character. */
export function classify(path: string): PythonFileKind | null {
  const n = path.length;
  if (n < 6) return null;
  const last = path.charCodeAt(n - 1);
  switch (last) {
    case 65 /* A */:
      return path.endsWith(DIST_INFO_METADATA) && n > DIST_INFO_METADATA.length + 1 ? 'dist-info' : null;
    case 79 /* O */:
      if (!path.endsWith('/PKG-INFO')) return null;
      if (path.endsWith(EGG_INFO_PKG_INFO)) return 'egg-info-dir';
      return path.endsWith(EGG_DIR_PKG_INFO) ? 'egg-dir' : null;
    case 111 /* o */:
      return path.endsWith(EGG_INFO) && path.charCodeAt(n - EGG_INFO.length - 1) !== 47 /* / */ ? 'egg-info-file' : null;
    case 103 /* g */:
      return path.endsWith(EGG) && path.charCodeAt(n - EGG.length - 1) !== 47 ? 'egg-zip' : null;
    case 48 /* 0 */:
      if (path.endsWith(SO_1_0)) return isLibPython(path) ? 'libpython' : null;
      return isInterpreter(path) ? 'interpreter' : null; // python3.10
    default:
      return isDigit(last) && isInterpreter(path) ? 'interpreter' : null;
  }
}

/** `…/libpython3.11.so.1.0`, `…/libpython3.7m.so.1.0`, `…/libpython2.7.so.1.0` */
function isLibPython(path: string): boolean {
  const slash = path.lastIndexOf('/');
  const start = slash + 1 + LIBPYTHON.length;
  if (!path.startsWith(LIBPYTHON, slash + 1)) return false;
  let end = path.length - SO_1_0.length;
  // ABI flags of Python ≤ 3.7 (m), debug builds (d), old wide-unicode builds (u)
  while (end > start) {
    const c = path.charCodeAt(end - 1);
    if (c !== 109 /* m */ && c !== 100 /* d */ && c !== 117 /* u */) break;
    end--;
  }
  return isMajorMinor(path, start, end);
}

/** `…/bin/python3.11`: exactly `pythonX.Y` in a `bin` directory (not `python3.11-config`, not `python3`). */
function isInterpreter(path: string): boolean {
  const slash = path.lastIndexOf('/');
  if (slash < 4 || !path.startsWith(BIN_PYTHON, slash - 4)) return false;
  return isMajorMinor(path, slash + '/python'.length, path.length);
}

/** `X.Y` of an interpreter or libpython path (classify() already checked the shape). */
export function runtimeSeries(path: string, kind: 'interpreter' | 'libpython'): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (kind === 'interpreter') return base.slice('python'.length);
  let end = base.length - SO_1_0.length;
  while (end > LIBPYTHON.length && !isDigit(base.charCodeAt(end - 1))) end--;
  return base.slice(LIBPYTHON.length, end);
}

/**
 * Name and version from the directory or file name, for when the metadata headers lack them (a truncated file):
 * `PyYAML-6.0.dist-info`, `six-1.16.0.egg-info`, `gpg-1.18.0-py3.11.egg-info`, `toml-0.10.2-py3.11.egg`.
 * Null when the name carries no version (`cryptography.egg-info`).
 */
export function nameVersionFromPath(path: string, kind: PythonFileKind): { name: string; version: string } | null {
  let artifact: string;
  switch (kind) {
    case 'dist-info':
    case 'egg-info-dir':
    case 'egg-dir': {
      // the directory holding the metadata file (for egg-dir: the .egg directory above EGG-INFO/)
      const up = kind === 'egg-dir' ? 2 : 1;
      let end = path.length;
      for (let i = 0; i < up; i++) end = path.lastIndexOf('/', end - 1);
      artifact = path.slice(path.lastIndexOf('/', end - 1) + 1, end);
      break;
    }
    default:
      artifact = path.slice(path.lastIndexOf('/') + 1);
  }
  const dot = artifact.lastIndexOf('.');
  const stem = dot > 0 ? artifact.slice(0, dot) : artifact;
  const parts = stem.split('-');
  const name = parts[0];
  const version = parts[1];
  if (!name || !version) return null;
  return { name, version };
}
