/**
 * `tally sensor general|registry`: long-running sensors that find images, scan the ones the backend lacks and
 * upload them (docs/cli.md, "Sensors"). The passes are in ../sensor/; this file turns flags into their settings.
 */
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { DEFAULT_PLATFORM, DockerEngineClient, formatPlatform, parseImageReference, parsePlatform, TallyError, type PlatformSpec, type SensorType } from '@tally/core';
import { addDockerOptions, dockerOptionsFrom, type DockerFlags } from '../docker-options.js';
import { addRegistryOptions, registryOptionsFromFlags, type RegistryFlags } from '../registry-options.js';
import { SensorBackend } from '../sensor/backend.js';
import { generalPass } from '../sensor/general.js';
import { SensorLog } from '../sensor/log.js';
import { runSensor } from '../sensor/loop.js';
import { registryPass } from '../sensor/registry.js';
import { nameFilter } from '../sensor/registry-targets.js';

interface CommonFlags {
  server: string;
  token?: string;
  performScaScan?: boolean;
  interval: string;
  once?: boolean;
  cacheDir?: string;
}

interface RegistryCommandFlags extends CommonFlags, RegistryFlags {
  registry: string;
  repo: string[];
  tags: string[];
  platform?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const SENSOR_HELP = `
Each pass: report to the backend (its Sensors list), find images, ask the backend which it already has (an image
stored without SCA is scanned again when the sensor runs --perform-sca-scan and the backend stores SCA), scan and
upload the others, record new tags of known images without a rescan. One line per image and one per pass on stderr.
Not --once: a failed pass is retried after 5 s, then 10 s, 20 s … up to the larger of the interval and 5 min.
SIGTERM or SIGINT stops the sensor, abandoning the image being scanned (its temp files and containers removed).`;

function addCommonOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--server <url>', 'the Tally backend, e.g. http://tally.example:8080')
    .option('--token <token>', 'sensor token (default: $TALLY_TOKEN; create one with `tally token create --role sensor`)')
    .option('--perform-sca-scan', 'also inventory language packages (Java, Python, Go, Node.js, .NET) of every image')
    .option('--interval <seconds>', 'time between passes', '300')
    .option('--once', 'one pass, then exit: 0 when every image went through, 2 otherwise')
    .option('--cache-dir <dir>', 'layer-result cache shared by every scan of the sensor (default: $TALLY_CACHE_DIR or ~/.cache/tally)')
    .addHelpText('after', SENSOR_HELP);
}

function backendOf(flags: CommonFlags, type: SensorType): SensorBackend {
  let url: URL;
  try {
    url = new URL(flags.server);
  } catch {
    throw new TallyError('USAGE', `--server ${JSON.stringify(flags.server)}: not a URL (expected e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TallyError('USAGE', `--server: ${url.protocol} URLs are not supported (use http or https)`);
  const token = flags.token ?? process.env['TALLY_TOKEN'];
  if (token === undefined || token === '') throw new TallyError('USAGE', 'a sensor needs a token: --token T or $TALLY_TOKEN (create one with `tally token create --role sensor`)');
  return new SensorBackend({ server: url.origin + url.pathname, token, identity: { type, performScaScan: flags.performScaScan ?? false, host: hostname() } });
}

function intervalMs(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 1) throw new TallyError('USAGE', `--interval ${JSON.stringify(text)}: expected a number of seconds, at least 1`);
  return Math.round(seconds * 1000);
}

/**
 * `--registry`: `https://reg.example`, `http://127.0.0.1:5000` (plain HTTP, as --insecure) or `reg.example:5000`.
 * The name is canonical as in image references (`index.docker.io` is `docker.io`).
 */
export function parseRegistry(text: string): { registry: string; insecure: boolean } {
  const bad = (why: string): TallyError => new TallyError('USAGE', `--registry ${JSON.stringify(text)}: ${why} (expected e.g. https://reg.example or reg.example:5000)`);
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    throw bad('not a registry address');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad(`${url.protocol} is not http or https`);
  if (url.pathname !== '/' || url.search !== '' || url.username !== '' || url.password !== '') throw bad('give the host only: no path, query or credentials');
  // parsed as the registry part of a reference, so the sensor names images exactly as `registry:` targets do
  let registry: string;
  try {
    registry = parseImageReference(`${url.host}/probe`).registry;
  } catch {
    throw bad('not a registry host');
  }
  if (registry !== url.host && registry !== 'docker.io') throw bad('not a registry host');
  return { registry, insecure: url.protocol === 'http:' };
}

function platformOf(text: string | undefined): PlatformSpec | 'all' {
  if (text === undefined) return DEFAULT_PLATFORM;
  return text === 'all' ? 'all' : parsePlatform(text);
}

function generalCommand(): Command {
  return addCommonOptions(addDockerOptions(new Command('general')))
    .description('watch a Docker engine (or podman): scan its new images, report its containers')
    .action(async (flags: CommonFlags & DockerFlags) => {
      const interval = intervalMs(flags.interval);
      const backend = backendOf(flags, 'general');
      const log = new SensorLog(process.stderr, 'general');
      const docker = dockerOptionsFrom(flags);
      const engine = DockerEngineClient.fromOptions(docker.docker);
      const sensor = { engine, backend, log, cache: backend.layerCache(flags.cacheDir), performScaScan: flags.performScaScan ?? false, scanMode: docker.scanMode };
      log.line(`engine ${engine.display}, backend ${backend.server}, ${docker.scanMode} scans${sensor.performScaScan ? ' + SCA' : ''}, ${flags.once ? 'one pass' : `every ${flags.interval} s`}`);
      process.exitCode = await runSensor((_n, signal) => generalPass(sensor, signal), { once: flags.once ?? false, intervalMs: interval, log });
    });
}

function registryCommand(): Command {
  return addCommonOptions(addRegistryOptions(new Command('registry')))
    .description('watch a registry: scan the images of its repositories and tags that the backend lacks')
    .requiredOption('--registry <url>', 'the registry: https://reg.example, reg.example:5000, or http://host:port for plain HTTP')
    .addOption(new Option('--repo <glob>', "repositories, repeatable: a name, or a glob matched against the catalog ('team/*'; ** crosses /)").argParser(collect).default([], 'the whole catalog'))
    .addOption(new Option('--tags <glob>', "tags, repeatable: a tag, or a glob ('v*')").argParser(collect).default([], 'every tag'))
    .option('--platform <os/arch[/variant]|all>', `image to take from a multi-platform tag, or all of them (default ${formatPlatform(DEFAULT_PLATFORM)})`)
    .action(async (flags: RegistryCommandFlags) => {
      const interval = intervalMs(flags.interval);
      const platform = platformOf(flags.platform);
      const backend = backendOf(flags, 'registry');
      const { registry, insecure } = parseRegistry(flags.registry);
      const log = new SensorLog(process.stderr, 'registry');
      const clientOptions = { ...(await registryOptionsFromFlags(flags)), ...(insecure ? { insecure: true } : {}) };
      const sensor = {
        registry,
        clientOptions,
        repos: nameFilter(flags.repo),
        tags: nameFilter(flags.tags),
        platform,
        backend,
        log,
        cache: backend.layerCache(flags.cacheDir),
        performScaScan: flags.performScaScan ?? false,
      };
      const every = flags.once ? 'one pass' : `every ${flags.interval} s`;
      log.line(`registry ${registry}, backend ${backend.server}, platform ${platform === 'all' ? 'all' : formatPlatform(platform)}${sensor.performScaScan ? ', Static + SCA' : ''}, ${every}`);
      process.exitCode = await runSensor((_n, signal) => registryPass(sensor, signal), { once: flags.once ?? false, intervalMs: interval, log });
    });
}


export function sensorCommand(): Command {
  return new Command('sensor')
    .description('long-running sensors: scan the images of a Docker engine or a registry and upload them to a Tally backend')
    .addCommand(generalCommand())
    .addCommand(registryCommand())
    .addHelpText('after', SENSOR_HELP);
}
