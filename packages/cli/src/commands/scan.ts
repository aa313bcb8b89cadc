import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import {
  applySuppressions,
  DEFAULT_PLATFORM,
  evaluatePolicy,
  evaluateReport,
  filterFindings,
  FORMATTERS,
  IGNORE_FILE_NAME,
  parseFailOn,
  parsePlatform,
  parseScanTypes,
  parseSeverities,
  readIgnoreFile,
  readSbomFile,
  readVexFile,
  reportFromSbom,
  dynamicScan,
  scanSource,
  sourceForTarget,
  SEVERITIES,
  SqliteVulnDb,
  TallyError,
  vulndbPath,
  type IgnoreFile,
  type Policy,
  type PolicyResult,
  type ScanReport,
  type SensorType,
  type VexDocument,
} from '@tally/core';
import { resolveCacheDir } from '../cache-dir.js';
import { addDockerOptions, dockerOptionsFrom, type DockerFlags } from '../docker-options.js';
import { addRegistryOptions, registryOptionsFromFlags, type RegistryFlags } from '../registry-options.js';
import { EXIT } from '../exit-codes.js';
import { planOutputs, writeOutputs } from '../outputs.js';
import { uploadAndReport } from '../upload.js';
import { layerCacheFor } from '../layer-cache.js';
import { terminalProgress } from '../progress.js';

export interface ScanFlags extends RegistryFlags, DockerFlags {
  format: string[];
  output: string[];
  platform?: string;
  performScaScan?: boolean;
  quiet?: boolean;
  cache: boolean;
  cacheDir?: string;
  sensor: SensorType;
  /** --match / --no-match; undefined: match unless uploading (the backend matches uploads itself). */
  match?: boolean;
  upload?: string;
  token?: string;
  severity?: string;
  ignoreUnfixed?: boolean;
  scanType?: string;
  ignoreFile: string[];
  vex: string[];
  failOn?: string;
  failOnKev?: boolean;
}

export interface ScanOutcome {
  readonly report: ScanReport;
  /** The gate's verdict; null when no --fail-on/--fail-on-kev was given. */
  readonly policy: PolicyResult | null;
  /** Whether the --upload succeeded; null without --upload. */
  readonly uploaded: boolean | null;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Inventory of an image, or of an SBOM given as `sbom:FILE`. */
async function inventory(target: string, flags: ScanFlags, signal: AbortSignal): Promise<ScanReport> {
  if (target.startsWith('sbom:')) return reportFromSbom(await readSbomFile(target.slice('sbom:'.length)), target, flags.sensor);
  const platform = flags.platform ? parsePlatform(flags.platform) : DEFAULT_PLATFORM;
  // only registry targets read credentials (and so stdin)
  const registry = target.startsWith('registry:') ? { registry: await registryOptionsFromFlags(flags) } : {};
  const docker = dockerOptionsFrom(flags);
  const progress = !flags.quiet && process.stderr.isTTY ? terminalProgress(process.stderr) : null;
  const token = uploadToken(flags);
  const options = {
    performScaScan: flags.performScaScan ?? false,
    sensor: flags.sensor,
    // with --upload, the backend's shared layer cache sits behind the local one
    cache: layerCacheFor({ cacheDir: resolveCacheDir(flags.cacheDir), useCache: flags.cache, server: flags.upload !== undefined && token !== undefined ? { url: flags.upload, token } : undefined }),
    signal,
    ...(progress ? { onProgress: progress.onProgress } : {}),
  };
  try {
    if (docker.scanMode === 'dynamic') return await dynamicScan(target, { ...options, ...docker.dynamic });
    const source = await sourceForTarget(target, { platform, platformExplicit: flags.platform !== undefined, ...registry, docker: docker.docker });
    return await scanSource(source, options);
  } finally {
    progress?.done();
  }
}

/**
 * Ignore files and VEX documents, read and checked before the scan so a typo fails in a second, not after a long
 * scan. `.tallyignore.yaml` in the working directory is used when present, unless --ignore-file names others.
 */
async function suppressionSources(flags: ScanFlags): Promise<{ ignores: IgnoreFile[]; vex: VexDocument[] }> {
  const ignorePaths = flags.ignoreFile.length > 0 ? flags.ignoreFile : existsSync(IGNORE_FILE_NAME) ? [IGNORE_FILE_NAME] : [];
  const ignores: IgnoreFile[] = [];
  for (const p of ignorePaths) ignores.push(await readIgnoreFile(p));
  const vex: VexDocument[] = [];
  for (const p of flags.vex) vex.push(await readVexFile(p));
  return { ignores, vex };
}

/**
 * Whether to match locally: when asked (--match, or a gate that judges findings), never with --no-match, and by
 * default unless uploading: the backend matches an upload against its own database, so a sensor skips the work.
 */
function shouldMatch(flags: ScanFlags): boolean {
  if (flags.match !== undefined) return flags.match;
  return flags.upload === undefined || flags.failOn !== undefined || flags.failOnKev === true;
}

/** The gate from the flags; null when none was asked for. A gate needs findings, so it needs matching. */
function policyOf(flags: ScanFlags): Policy | null {
  if (flags.failOn === undefined && !flags.failOnKev) return null;
  if (!shouldMatch(flags)) throw new TallyError('USAGE', '--fail-on and --fail-on-kev judge vulnerabilities: they cannot be used with --no-match');
  return { ...(flags.failOn !== undefined ? { failOn: parseFailOn(flags.failOn) } : {}), ...(flags.failOnKev ? { failOnKev: true } : {}) };
}

/** A gate without a database is an error, not a pass: nothing matched would pass every pipeline silently. */
function requireDb(flags: ScanFlags): void {
  const path = vulndbPath(resolveCacheDir(flags.cacheDir));
  if (!existsSync(path)) throw new TallyError('USAGE', `--fail-on and --fail-on-kev need the vulnerability database, and there is none at ${path}: run \`tally db update\` or \`tally db import DIR\` first`);
}

/** Match against the local database when there is one; without one, say so and report the inventory. */
function withFindings(report: ScanReport, flags: ScanFlags): ScanReport {
  if (!shouldMatch(flags)) return report;
  const path = vulndbPath(resolveCacheDir(flags.cacheDir));
  if (!existsSync(path)) {
    if (!flags.quiet) process.stderr.write(`tally: no vulnerability database at ${path}: run \`tally db update\` or \`tally db import DIR\`; reporting the inventory only\n`);
    return report;
  }
  const db = SqliteVulnDb.open(path);
  try {
    return evaluateReport(report, db);
  } finally {
    db.close();
  }
}

/**
 * inventory → match → --severity/--ignore-unfixed/--scan-type → ignores and VEX → outputs → policy verdict.
 * The outputs are written whatever the verdict, so a failed gate still leaves the report a pipeline uploads.
 */
export async function runScan(target: string, flags: ScanFlags): Promise<ScanOutcome> {
  const outputs = planOutputs(flags.format, flags.output, process.stdout.isTTY === true);
  const policy = policyOf(flags);
  const token = uploadToken(flags);
  if (policy) requireDb(flags);
  const sources = await suppressionSources(flags);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let report: ScanReport;
  try {
    report = withFindings(await inventory(target, flags, controller.signal), flags);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  report = filterFindings(report, {
    ...(flags.severity ? { severities: parseSeverities(flags.severity) } : {}),
    ...(flags.ignoreUnfixed ? { ignoreUnfixed: true } : {}),
    ...(flags.scanType ? { scanTypes: parseScanTypes(flags.scanType) } : {}),
  });
  report = applySuppressions(report, sources);
  if (!flags.quiet) warnExpired(report);
  await writeOutputs(report, outputs);
  const uploaded = flags.upload !== undefined && token !== undefined ? (await uploadAndReport(report, { url: flags.upload, token }, process.stderr, flags.quiet)) === 0 : null;
  return { report, policy: policy ? evaluatePolicy(report, policy) : null, uploaded };
}

/** The token for --upload (--token, else $TALLY_TOKEN), checked before the scan so a missing one fails at once. */
function uploadToken(flags: ScanFlags): string | undefined {
  if (flags.upload === undefined) return undefined;
  const token = flags.token ?? process.env['TALLY_TOKEN'];
  if (token === undefined || token === '') throw new TallyError('USAGE', '--upload needs a sensor token: --token T or $TALLY_TOKEN (create one with `tally token create --role sensor`)');
  return token;
}

/** Expired ignore entries are in the report; a CI log should show them too, since they now fail gates again. */
function warnExpired(report: ScanReport): void {
  for (const e of report.expiredIgnores ?? []) {
    const what = e.entry.id ?? e.entry.purl ?? e.entry.name ?? e.entry.paths?.join(', ') ?? '';
    process.stderr.write(
      `tally: ${e.source}${e.line !== null ? `:${e.line}` : ''}: ignore entry ${e.rule} (${what}) expired ${e.expires} and no longer applies${e.matches > 0 ? ` (${e.matches} ${e.matches === 1 ? 'finding' : 'findings'} reported again)` : ''}\n`,
    );
  }
}

const SCAN_HELP = `
Policy gate:
  --fail-on SEVERITY fails (exit 1) when a finding rated SEVERITY or worse remains after the filters, ignores and
  VEX; order: ${SEVERITIES.join(' > ')} (UNKNOWN ranks lowest: --fail-on UNKNOWN fails on any finding).
  --fail-on-kev fails when a remaining finding is in CISA's Known Exploited Vulnerabilities catalogue.
  The outputs are written first in every case; then one line on stderr says why the gate failed.

Ignores and VEX:
  ${IGNORE_FILE_NAME} in the current directory is used when present (--ignore-file replaces it). Entries:
    vulnerabilities: [{ id, purls?, paths?, expires?, reason? }]
    packages:        [{ purl | name (+ type, version), paths?, expires?, reason? }]
  --vex FILE applies an OpenVEX document: not_affected and fixed suppress, affected and under_investigation keep.
  Suppressed findings are listed in the JSON report's "suppressed", expired entries in "expiredIgnores".

Upload:
  --upload URL --token T sends the report (gzip JSON) to a Tally backend after the outputs are written. The backend
  matches it against its own database, so local matching is skipped unless --match or a --fail-on gate asks for it.
  A failed upload (after retries with backoff on 5xx and network errors) exits 2; the output files stay written.
  With --upload, layers are also looked up in the backend's shared layer cache (after the local one) and layers
  analysed here are shared through it; an unreachable backend costs one warning, never the scan (--no-cache: off).

Exit status: 0 passed, 1 policy failed, 2 usage or scan error or failed upload (see docs/cli.md).`;

export function scanCommand(): Command {
  return addDockerOptions(addRegistryOptions(new Command('scan')))
    .description('inventory the software in a container image (Static scan; add --perform-sca-scan for language packages) and match it against the vulnerability database')
    .argument(
      '<target>',
      'docker-archive:FILE[:name:tag|@N], oci:DIR[:TAG|@DIGEST], oci-archive:FILE[:TAG|@DIGEST], registry:HOST[:PORT]/REPO[:TAG|@DIGEST], docker:IMAGE (an image in the Docker engine), dir:ROOTFS, sbom:FILE (CycloneDX or SPDX JSON), or a bare path (format detected)',
    )
    .addOption(new Option('-f, --format <format>', `output format, repeatable: ${[...FORMATTERS.keys()].join(', ')} (default: table on a terminal, json otherwise)`).argParser(collect).default([]))
    .addOption(new Option('-o, --output <file>', 'write the report to FILE; repeatable, paired in order with --format').argParser(collect).default([]))
    .option('--platform <os/arch[/variant]>', `image to pick from a multi-platform index (default ${DEFAULT_PLATFORM.os}/${DEFAULT_PLATFORM.architecture})`)
    .option('--perform-sca-scan', 'after the Static scan, also inventory language packages (Java, Python, Go, Node.js, .NET)')
    .option('--severity <list>', 'report only these severities, e.g. HIGH,CRITICAL')
    .option('--ignore-unfixed', 'report only vulnerabilities that have a fixed version')
    .option('--scan-type <list>', 'report only vulnerabilities of packages found by these scans: Static, Dynamic, SCA')
    .option('--match', 'match against the local vulnerability database (the default, except with --upload)')
    .option('--no-match', 'inventory only: do not match against the vulnerability database')
    .option('-q, --quiet', 'no progress or warnings on stderr')
    .option('--cache-dir <dir>', 'cache directory: layer results and the vulnerability database (default: $TALLY_CACHE_DIR or ~/.cache/tally)')
    .option('--no-cache', 'do not read or write the per-layer result cache')
    .option('--upload <url>', 'send the inventory to a Tally backend (http://host:8080); retried on 5xx and network errors, after the outputs are written')
    .option('--token <token>', 'sensor token for --upload (default: $TALLY_TOKEN)')
    .addOption(new Option('--sensor <type>', 'sensor type recorded in the report').choices(['general', 'registry', 'cicd']).default('cicd'))
    .option('--fail-on <severity>', `exit 1 when a finding of this severity or worse remains (${SEVERITIES.join(' > ')})`)
    .option('--fail-on-kev', 'exit 1 when a remaining finding is in the CISA KEV catalogue')
    .addOption(new Option('--ignore-file <file>', 'ignore file, repeatable').argParser(collect).default([], `${IGNORE_FILE_NAME} in the current directory, when present`))
    .addOption(new Option('--vex <file>', 'OpenVEX document, repeatable: not_affected and fixed statements suppress findings').argParser(collect).default([], 'none'))
    .addHelpText('after', SCAN_HELP)
    .action(async (target: string, flags: ScanFlags) => {
      const { policy, uploaded } = await runScan(target, flags);
      if (policy?.failed) {
        process.stderr.write(`tally: ${policy.message}\n`);
        process.exitCode = EXIT.policy;
      }
      if (uploaded === false) process.exitCode = EXIT.error; // an error outranks the verdict, as for every scan error
    });
}
