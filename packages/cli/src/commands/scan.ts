import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import {
  DEFAULT_PLATFORM,
  DirectoryLayerCache,
  evaluateReport,
  filterFindings,
  FORMATTERS,
  parsePlatform,
  parseScanTypes,
  parseSeverities,
  readSbomFile,
  reportFromSbom,
  scanImage,
  sourceForTarget,
  SqliteVulnDb,
  vulndbPath,
  type ScanReport,
  type SensorType,
} from '@tally/core';
import { resolveCacheDir } from '../cache-dir.js';
import { planOutputs, writeOutputs } from '../outputs.js';
import { terminalProgress } from '../progress.js';

export interface ScanFlags {
  format: string[];
  output: string[];
  platform?: string;
  performScaScan?: boolean;
  quiet?: boolean;
  cache: boolean;
  cacheDir?: string;
  sensor: SensorType;
  match: boolean;
  severity?: string;
  ignoreUnfixed?: boolean;
  scanType?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Inventory of an image, or of an SBOM given as `sbom:FILE`. */
async function inventory(target: string, flags: ScanFlags, signal: AbortSignal): Promise<ScanReport> {
  if (target.startsWith('sbom:')) return reportFromSbom(await readSbomFile(target.slice('sbom:'.length)), target, flags.sensor);
  const platform = flags.platform ? parsePlatform(flags.platform) : DEFAULT_PLATFORM;
  const source = await sourceForTarget(target, { platform, platformExplicit: flags.platform !== undefined });
  const progress = !flags.quiet && process.stderr.isTTY ? terminalProgress(process.stderr) : null;
  try {
    return await scanImage(source, {
      performScaScan: flags.performScaScan ?? false,
      sensor: flags.sensor,
      cache: flags.cache ? new DirectoryLayerCache(resolveCacheDir(flags.cacheDir)) : null,
      signal,
      ...(progress ? { onProgress: progress.onProgress } : {}),
    });
  } finally {
    progress?.done();
  }
}

/** Match against the local database when there is one; without one, say so and report the inventory. */
function withFindings(report: ScanReport, flags: ScanFlags): ScanReport {
  if (!flags.match) return report;
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

export async function runScan(target: string, flags: ScanFlags): Promise<ScanReport> {
  const outputs = planOutputs(flags.format, flags.output, process.stdout.isTTY === true);
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
  await writeOutputs(report, outputs);
  return report;
}

export function scanCommand(): Command {
  return new Command('scan')
    .description('inventory the software in a container image (Static scan; add --perform-sca-scan for language packages) and match it against the vulnerability database')
    .argument(
      '<target>',
      'docker-archive:FILE[:name:tag|@N], oci:DIR[:TAG|@DIGEST], oci-archive:FILE[:TAG|@DIGEST], dir:ROOTFS, sbom:FILE (CycloneDX or SPDX JSON), or a bare path (format detected)',
    )
    .addOption(new Option('-f, --format <format>', `output format, repeatable: ${[...FORMATTERS.keys()].join(', ')} (default: table on a terminal, json otherwise)`).argParser(collect).default([]))
    .addOption(new Option('-o, --output <file>', 'write the report to FILE; repeatable, paired in order with --format').argParser(collect).default([]))
    .option('--platform <os/arch[/variant]>', `image to pick from a multi-platform index (default ${DEFAULT_PLATFORM.os}/${DEFAULT_PLATFORM.architecture})`)
    .option('--perform-sca-scan', 'after the Static scan, also inventory language packages (Java, Python, Go, Node.js, .NET)')
    .option('--severity <list>', 'report only these severities, e.g. HIGH,CRITICAL')
    .option('--ignore-unfixed', 'report only vulnerabilities that have a fixed version')
    .option('--scan-type <list>', 'report only vulnerabilities of packages found by these scans: Static, Dynamic, SCA')
    .option('--no-match', 'inventory only: do not match against the vulnerability database')
    .option('-q, --quiet', 'no progress or warnings on stderr')
    .option('--cache-dir <dir>', 'cache directory: layer results and the vulnerability database (default: $TALLY_CACHE_DIR or ~/.cache/tally)')
    .option('--no-cache', 'do not read or write the per-layer result cache')
    .addOption(new Option('--sensor <type>', 'sensor type recorded in the report').choices(['general', 'registry', 'cicd']).default('cicd'))
    .action(async (target: string, flags: ScanFlags) => {
      await runScan(target, flags);
    });
}
