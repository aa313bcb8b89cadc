import { fileText, KiB, MiB, type ExtractedPackage, type ExtractOutput, type FileExtractor } from '../../extractor.js';
import type { NodeRecord, ParseResult } from './common.js';
import { parseNpmLock } from './npm-lock.js';
import { parseInstalledPackageJson } from './package-json.js';
import { nameFromPackageJsonPath, nodeFileKind, type NodeFileKind } from './paths.js';
import { parsePnpmLock } from './pnpm-lock.js';
import { parseNodeVersionHeader } from './runtime.js';
import { parseYarnLock } from './yarn-lock.js';

/**
 * Lock files of the biggest real monorepos reach a few MiB (yarn.lock) to ~20 MiB (pnpm-lock.yaml with thousands
 * of packages); parsing one costs about 10× its size in memory. Bigger files are skipped by the runner with an issue.
 */
const MAX_LOCKFILE = 32 * MiB;
/** Installed package.json files are a few KB; npm < 5 folded the README in, which reaches a few hundred KB. */
const MAX_PACKAGE_JSON = 4 * MiB;
const MAX_HEADER = 256 * KiB;

const IDENTIFIED_BY: Record<Exclude<NodeFileKind, 'node-version-h'>, string> = {
  'package-json': 'package.json',
  'app-package-json': 'package.json',
  'hidden-lockfile': 'hidden-lockfile',
  'package-lock': 'package-lock',
  'yarn-lock': 'yarn.lock',
  'pnpm-lock': 'pnpm-lock',
};

function toPackage(record: NodeRecord, kind: Exclude<NodeFileKind, 'node-version-h'>): ExtractedPackage {
  return {
    type: 'npm',
    name: record.name,
    version: record.version,
    // The hidden lockfile is npm's record of what it installed, but package.json files are what is on disk now:
    // its entries are declared evidence, folded into the installed rows by the inventory (or kept if pruned).
    evidence: kind === 'package-json' || kind === 'app-package-json' ? 'installed' : 'declared',
    identifiedBy: IDENTIFIED_BY[kind],
    ...(record.licenses.length > 0 ? { licenses: record.licenses } : {}),
    ...(kind === 'app-package-json'
      ? { metadata: { ...record.metadata, role: 'application' } }
      : Object.keys(record.metadata).length > 0
        ? { metadata: record.metadata }
        : {}),
  };
}

function parse(kind: Exclude<NodeFileKind, 'node-version-h'>, text: string, path: string): ParseResult {
  switch (kind) {
    case 'package-json':
      return parseInstalledPackageJson(text, nameFromPackageJsonPath(path));
    case 'app-package-json':
      return parseInstalledPackageJson(text, null);
    case 'hidden-lockfile':
    case 'package-lock':
      return parseNpmLock(text);
    case 'yarn-lock':
      return parseYarnLock(text);
    case 'pnpm-lock':
      return parsePnpmLock(text);
  }
}

/**
 * Node.js: installed packages (`node_modules/**` package roots, in npm, yarn and pnpm layouts, and npm's hidden
 * lockfile), the lock files of apps (package-lock.json v1–v3, npm-shrinkwrap.json, yarn.lock classic and berry,
 * pnpm-lock.yaml v5–v9), and the node runtime (from node_version.h).
 */
export const nodeExtractor: FileExtractor = {
  name: 'lang/node',
  version: 1,
  scanType: 'SCA',
  input: 'file',
  maxFileSize: MAX_LOCKFILE,
  required: (path) => nodeFileKind(path) !== null,
  async extract(file, ctx): Promise<ExtractOutput> {
    const kind = nodeFileKind(file.path);
    if (kind === null) return { packages: [] };
    if (kind === 'node-version-h') {
      if (file.size > MAX_HEADER) throw new Error(`node_version.h of ${file.size} bytes is not a node header (limit ${MAX_HEADER})`);
      const runtime = parseNodeVersionHeader(await fileText(file));
      if (runtime === null) {
        ctx.issue('node_version.h without NODE_MAJOR/MINOR/PATCH_VERSION');
        return { packages: [] };
      }
      const metadata: Record<string, string> = { role: 'runtime' };
      if (runtime.ltsCodename !== null) metadata['lts'] = runtime.ltsCodename;
      return { packages: [{ type: 'generic', name: 'node', version: runtime.version, evidence: 'installed', identifiedBy: 'node_version.h', metadata }] };
    }
    if (kind === 'package-json' && file.size > MAX_PACKAGE_JSON) {
      throw new Error(`package.json of ${file.size} bytes is over the ${MAX_PACKAGE_JSON}-byte limit for installed packages`);
    }
    const { records, problems } = parse(kind, await fileText(file), file.path);
    for (const p of problems) ctx.issue(p);
    return { packages: records.map((r) => toPackage(r, kind)) };
  },
};
