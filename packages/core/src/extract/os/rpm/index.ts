import { describeError } from '../../../model/issue.js';
import { fileBytes, MiB, type ExtractedPackage, type FileExtractor, type FileInput, type FileOwnership } from '../../extractor.js';
import { readBdbPackages } from './bdb.js';
import { readNdbPackages } from './ndb.js';
import { parseRpmPackage, parseSourceRpm, rpmVersionString, type RpmPackage } from './parse.js';
import type { DbReadResult } from './records.js';
import { readSqlitePackages } from './sqlite.js';

/** Where distributions keep the rpm database: the /usr-merged "sysimage" one (rpm ≥ 4.17), classic, rpm-ostree's. */
const DB_DIRS = ['/usr/lib/sysimage/rpm/', '/var/lib/rpm/', '/usr/share/rpm/'];
/** One file per backend, newest first: SQLite, NDB, BerkeleyDB hash. */
const DB_FILES = ['rpmdb.sqlite', 'Packages.db', 'Packages'] as const;
type DbFile = (typeof DB_FILES)[number];

const DB_PATHS: ReadonlyMap<string, DbFile> = new Map(DB_DIRS.flatMap((dir) => DB_FILES.map((f) => [dir + f, f] as const)));

export const rpmExtractor: FileExtractor = {
  name: 'os/rpm',
  version: 1,
  scanType: 'Static',
  input: 'file',
  // BerkeleyDB and NDB files are read whole into memory; real databases are tens of MiB at most.
  maxFileSize: 256 * MiB,
  required: (path) => DB_PATHS.has(path),
  // rpm reads one database, its configured backend's. Two in one image are a conversion's leftover (an EL8 → EL9
  // upgrade rebuilds Packages into rpmdb.sqlite; a /usr-merge moves the directory): the newest format, in the newest
  // place, is the one the installed rpm writes. Reading both would list every package twice.
  choose(paths) {
    const rank = (p: string): number => {
      const slash = p.lastIndexOf('/') + 1;
      return DB_FILES.indexOf(p.slice(slash) as DbFile) * DB_DIRS.length + DB_DIRS.indexOf(p.slice(0, slash));
    };
    const keep = [...paths].sort((a, b) => rank(a) - rank(b))[0] as string;
    return { keep, reason: `rpm reads one database and ${keep} is the newer one` };
  },
  async extract(file, ctx) {
    const kind = DB_PATHS.get(file.path);
    if (!kind) return { packages: [] };
    const db = await readDb(kind, file, ctx.tempDir);
    for (const p of db.problems) ctx.issue(p);

    const packages: ExtractedPackage[] = [];
    const ownership: FileOwnership[] = [];
    for (const record of db.records) {
      ctx.signal.throwIfAborted();
      let pkg: RpmPackage | null;
      try {
        pkg = parseRpmPackage(record.blob, ctx.isLanguageArtifact);
      } catch (err: unknown) {
        ctx.issue(`package record${record.id === null ? '' : ` ${record.id}`} skipped: ${describeError(err)}`);
        continue;
      }
      if (!pkg) continue;
      for (const p of pkg.problems) ctx.issue(p);
      packages.push(toExtracted(pkg));
      if (pkg.files.length > 0) ownership.push({ packageName: pkg.name, files: pkg.files });
    }
    return ctx.isLanguageArtifact ? { packages, ownership } : { packages };
  },
};

async function readDb(kind: DbFile, file: FileInput, tempDir: string): Promise<DbReadResult> {
  switch (kind) {
    case 'Packages':
      return readBdbPackages(await fileBytes(file));
    case 'Packages.db':
      return readNdbPackages(await fileBytes(file));
    case 'rpmdb.sqlite':
      return readSqlitePackages(file.content, tempDir);
  }
}

function toExtracted(p: RpmPackage): ExtractedPackage {
  const source = p.sourceRpm ? parseSourceRpm(p.sourceRpm) : null;
  return {
    type: 'rpm',
    name: p.name,
    version: rpmVersionString(p),
    evidence: 'installed',
    ...(p.arch ? { arch: p.arch } : {}),
    ...(source ? { source } : {}),
    ...(p.license ? { licenses: [p.license] } : {}),
    ...(p.vendor ? { vendor: p.vendor } : {}),
    ...(p.epoch !== null ? { qualifiers: { epoch: String(p.epoch) } } : {}),
  };
}
