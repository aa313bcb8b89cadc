import { Command, Option } from 'commander';
import {
  DEFAULT_PLATFORM,
  DirectoryLayerCache,
  FORMATTERS,
  parsePlatform,
  scanImage,
  sourceForTarget,
  type ScanReport,
  type SensorType,
} from '@tally/core';
import { resolveCacheDir } from '../cache-dir.js';
import { writeFileAtomically } from '../output.js';
import { terminalProgress } from '../progress.js';

interface ScanFlags {
  format?: string;
  output?: string;
  platform?: string;
  performScaScan?: boolean;
  quiet?: boolean;
  cache: boolean;
  cacheDir?: string;
  sensor: SensorType;
}

export function scanCommand(): Command {
  return new Command('scan')
    .description('inventory the software in a container image (Static scan; add --perform-sca-scan for language packages)')
    .argument(
      '<target>',
      'docker-archive:FILE[:name:tag|@N], oci:DIR[:TAG|@DIGEST], oci-archive:FILE[:TAG|@DIGEST], dir:ROOTFS, or a bare path (format detected)',
    )
    .addOption(new Option('-f, --format <format>', 'output format (default: table on a terminal, json otherwise)').choices([...FORMATTERS.keys()]))
    .option('-o, --output <file>', 'write the report to FILE instead of stdout')
    .option('--platform <os/arch[/variant]>', `image to pick from a multi-platform index (default ${DEFAULT_PLATFORM.os}/${DEFAULT_PLATFORM.architecture})`)
    .option('--perform-sca-scan', 'after the Static scan, also inventory language packages (Java, Python, Go, Node.js, .NET)')
    .option('-q, --quiet', 'no progress on stderr')
    .option('--cache-dir <dir>', 'cache directory (default: $TALLY_CACHE_DIR or ~/.cache/tally)')
    .option('--no-cache', 'do not read or write the per-layer result cache')
    .addOption(new Option('--sensor <type>', 'sensor type recorded in the report').choices(['general', 'registry', 'cicd']).default('cicd'))
    .action(async (target: string, flags: ScanFlags) => {
      const platform = flags.platform ? parsePlatform(flags.platform) : DEFAULT_PLATFORM;
      const source = await sourceForTarget(target, { platform, platformExplicit: flags.platform !== undefined });
      const progress = !flags.quiet && process.stderr.isTTY ? terminalProgress(process.stderr) : null;
      const controller = new AbortController();
      const onSignal = (): void => controller.abort(new Error('interrupted'));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let report: ScanReport;
      try {
        report = await scanImage(source, {
          performScaScan: flags.performScaScan ?? false,
          sensor: flags.sensor,
          cache: flags.cache ? new DirectoryLayerCache(resolveCacheDir(flags.cacheDir)) : null,
          signal: controller.signal,
          ...(progress ? { onProgress: progress.onProgress } : {}),
        });
      } finally {
        progress?.done();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const toTerminal = !flags.output && process.stdout.isTTY === true;
      const formatter = FORMATTERS.get(flags.format ?? (toTerminal ? 'table' : 'json'))!;
      if (flags.output) {
        await writeFileAtomically(flags.output, (out) => formatter.write(report, out, { color: false }));
      } else {
        await formatter.write(report, process.stdout, { color: toTerminal });
      }
    });
}
