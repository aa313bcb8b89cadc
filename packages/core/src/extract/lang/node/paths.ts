/**
 * Which files the Node.js extractor reads, decided from the path alone. `nodeFileKind()` runs inside `required()`
 * for every tar entry of every layer: suffix and index compares only, no regex, no allocation on the common path.
 */

export type NodeFileKind =
  /** `…/node_modules/<name>/package.json` or `…/node_modules/@scope/<name>/package.json`: an installed package */
  | 'package-json'
  /** `…/node_modules/.package-lock.json`: npm ≥ 7 writes it from what it put on disk */
  | 'hidden-lockfile'
  /** `package-lock.json` / `npm-shrinkwrap.json` of an app (outside node_modules) */
  | 'package-lock'
  | 'yarn-lock'
  | 'pnpm-lock'
  /**
   * Any other package.json outside node_modules: an application's own manifest (`/app/package.json`), or a package
   * a distro installs outside node_modules (Debian's `/usr/share/nodejs/<name>/package.json`). Reported when it has
   * a name and a version, as Trivy does in image scans.
   */
  | 'app-package-json'
  /** `…/include/node/node_version.h`: the version of the node runtime installed beside it */
  | 'node-version-h';

const NODE_MODULES = '/node_modules/';
const PACKAGE_JSON = '/package.json';
const HIDDEN_LOCKFILE = '/node_modules/.package-lock.json';
const NODE_VERSION_H = '/include/node/node_version.h';

/**
 * True when `path` is the package.json at the root of an installed package: the directory right below the last
 * `node_modules/` (or `node_modules/@scope/`). package.json files deeper inside a package (`dist/esm/package.json`,
 * test fixtures) are not packages of their own.
 */
export function isInstalledPackageJson(path: string): boolean {
  if (!path.endsWith(PACKAGE_JSON)) return false;
  const dirEnd = path.length - PACKAGE_JSON.length;
  const nm = path.lastIndexOf(NODE_MODULES, dirEnd - 1);
  if (nm < 0) return false;
  const start = nm + NODE_MODULES.length;
  if (start >= dirEnd) return false;
  const first = path.charCodeAt(start);
  if (first === 46 /* . */) return false; // .bin, .pnpm, .cache, .store: npm names never start with a dot
  const slash = path.indexOf('/', start);
  if (slash === dirEnd) return first !== 64 /* @ */; // `node_modules/@scope/package.json` is no package
  if (first !== 64 || slash === start + 1) return false;
  const nameStart = slash + 1;
  return nameStart < dirEnd && path.indexOf('/', nameStart) === dirEnd;
}

/** Lock files of an app. Those shipped inside installed packages are the package authors' dev lockfiles. */
function lockfileKind(path: string): NodeFileKind | null {
  let kind: NodeFileKind;
  if (path.endsWith('/package-lock.json') || path.endsWith('/npm-shrinkwrap.json')) kind = 'package-lock';
  else if (path.endsWith('/yarn.lock')) kind = 'yarn-lock';
  else if (path.endsWith('/pnpm-lock.yaml')) kind = 'pnpm-lock';
  else return null;
  return path.indexOf(NODE_MODULES) < 0 ? kind : null;
}

/**
 * node_version.h of an installed runtime: the official images' `/usr/local/include/node/`, Debian's and
 * NodeSource's `/usr/include/node/`, nvm's `…/versions/node/vX/include/node/`. Header copies that node-gyp and
 * electron-gyp download to build native addons (`~/.cache/node-gyp/<version>/include/node/`) say which node an addon
 * was built for, not which node is installed; packages under node_modules ship headers for the same reason.
 */
function isRuntimeHeader(path: string): boolean {
  return (
    path.endsWith(NODE_VERSION_H) &&
    path.indexOf('node-gyp/') < 0 &&
    path.indexOf('electron-gyp/') < 0 &&
    path.indexOf(NODE_MODULES) < 0
  );
}

export function nodeFileKind(path: string): NodeFileKind | null {
  const n = path.length;
  if (n < 10) return null;
  // dispatch on the last character: almost every path is rejected by one compare
  switch (path.charCodeAt(n - 1)) {
    case 110 /* n */:
      if (path.endsWith(HIDDEN_LOCKFILE)) return 'hidden-lockfile';
      if (isInstalledPackageJson(path)) return 'package-json';
      if (path.endsWith(PACKAGE_JSON)) return path.indexOf(NODE_MODULES) < 0 ? 'app-package-json' : null;
      return lockfileKind(path);
    case 107 /* k */:
    case 108 /* l */:
      return lockfileKind(path);
    case 104 /* h */:
      return isRuntimeHeader(path) ? 'node-version-h' : null;
    default:
      return null;
  }
}

/**
 * The package name a package.json's directory gives (`…/node_modules/@types/node/package.json` → `@types/node`),
 * used when the JSON has no usable name. That is the name it is `require()`d by, which differs from the real one for
 * npm aliases (`"my-lodash": "npm:lodash@4"`).
 */
export function nameFromPackageJsonPath(path: string): string | null {
  if (!isInstalledPackageJson(path)) return null;
  const dirEnd = path.length - PACKAGE_JSON.length;
  const nm = path.lastIndexOf(NODE_MODULES, dirEnd - 1);
  return path.slice(nm + NODE_MODULES.length, dirEnd);
}
