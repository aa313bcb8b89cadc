import { Option, type Command } from 'commander';
import type { DockerSourceOptions, DynamicScanOptions } from '@tally/core';

/**
 * `--scan-mode static|dynamic` and `--docker-host URL` for `tally scan` (and the sensors): kept here so the scan
 * command only wires them. Static (default) reads the image's files; Dynamic runs the image in a locked-down
 * container and asks its own package manager (see core's dynamic/).
 */

export type ScanMode = 'static' | 'dynamic';

export interface DockerFlags {
  scanMode?: ScanMode;
  dockerHost?: string;
}

export interface DockerPlan {
  readonly scanMode: ScanMode;
  /** For `sourceForTarget(target, { …, docker })`: `docker:` targets. */
  readonly docker: DockerSourceOptions;
  /** Spread into `dynamicScan(target, { …scanOptions, …dynamic })`. */
  readonly dynamic: Pick<DynamicScanOptions, 'host'>;
}

export function addDockerOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--scan-mode <mode>', 'static: read the image files; dynamic: run the image (no network, read-only, time and resource limits) and ask its package manager')
        .choices(['static', 'dynamic'])
        .default('static'),
    )
    .option('--docker-host <url>', 'Docker engine for docker:IMAGE targets and --scan-mode dynamic: unix:///path or tcp://host:port (default $DOCKER_HOST, else unix:///var/run/docker.sock; TLS from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH)');
}

export function dockerOptionsFrom(flags: DockerFlags): DockerPlan {
  const host = flags.dockerHost !== undefined && flags.dockerHost !== '' ? { host: flags.dockerHost } : {};
  return { scanMode: flags.scanMode ?? 'static', docker: host, dynamic: host };
}
