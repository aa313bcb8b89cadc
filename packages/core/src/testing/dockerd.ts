/**
 * Test support: a real Docker engine (Debian's dockerd 20.10) or podman's Docker-compatible API service, started
 * on a private unix socket the way docs (shared runtime-recipes.md) describe: vfs storage, no iptables, no bridge,
 * everything under our own directories; stopped by its PID, never by name.
 *
 * - TALLY_TEST_DOCKER_HOST / TALLY_TEST_PODMAN_HOST: use that engine instead (nothing is started or stopped).
 * - dockerd's data root is kept between runs (default ~/.cache/tally/test-dockerd/v1, or TALLY_TEST_DOCKERD_ROOT)
 *   so loaded test images survive: loading them all costs ~15 s with vfs. A lock directory guards it; when another
 *   live process holds it, a throw-away data root is used instead. An engine orphaned by a killed test run is found
 *   through the lock and stopped before its data root is reused.
 * - podman gets a fresh temp directory each time: its database records its paths and refuses moved ones, and one
 *   image loads in about two seconds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerApiError, DockerEngineClient } from '../image/sources/docker-engine/client.js';
import { TarIndex } from '../image/sources/tar-index.js';
import { isObject, parseJson, str, strings } from '../util/json.js';
import { pidAlive } from '../util/process.js';

export interface EngineService {
  readonly kind: 'docker' | 'podman';
  /** unix:///… */
  readonly host: string;
  /** True when TALLY_TEST_*_HOST named an engine that was already running. */
  readonly reused: boolean;
  readonly pid: number | null;
  readonly logFile: string | null;
  /** How long the engine took to answer /_ping, ms (0 when reused). */
  readonly startMs: number;
  client(): DockerEngineClient;
  stop(): Promise<void>;
}

const DOCKERD = '/usr/sbin/dockerd';

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo; octal escapes decoded). */
function mountsBelow(dir: string): string[] {
  let info = '';
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const mp = field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === dir || mp.startsWith(dir + '/')) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** dockerd leaves `<exec-root>/netns/default` mounted, containerd shm mounts may linger: unmount before removing. */
function unmountBelow(dir: string): boolean {
  for (const mp of mountsBelow(dir)) spawnSync('umount', ['-l', mp], { stdio: 'ignore' });
  return mountsBelow(dir).length === 0;
}

function removeTree(dir: string): void {
  // never recurse into a filesystem still mounted below: rm would delete what is on it
  if (existsSync(dir) && unmountBelow(dir)) rmSync(dir, { recursive: true, force: true });
}

async function waitForExit(child: ChildProcess | null, pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child ? child.exitCode !== null || child.signalCode !== null : !pidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function stopPid(child: ChildProcess | null, pid: number): Promise<void> {
  if (child ? child.exitCode !== null || child.signalCode !== null : !pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitForExit(child, pid, 20_000)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitForExit(child, pid, 5_000);
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * An engine process we started: stopped by its PID (also when the test process exits without its after() hook),
 * then `cleanup` removes its directories. Waits for its first /_ping; a failed start is cleaned up before throwing.
 */
async function supervise(
  s: { kind: EngineService['kind']; what: string; child: ChildProcess; socket: string; logFile: string; started: number },
  cleanup: () => void,
): Promise<EngineService> {
  const pid = s.child.pid!;
  const onExit = (): void => {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  const host = `unix://${s.socket}`;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    await stopPid(s.child, pid);
    cleanup();
  };
  try {
    await waitForPing(DockerEngineClient.fromOptions({ host }), s.child, s.logFile, s.what);
  } catch (err) {
    await stop();
    throw err;
  }
  return { kind: s.kind, host, reused: false, pid, logFile: s.logFile, startMs: Date.now() - s.started, client: () => DockerEngineClient.fromOptions({ host }), stop };
}

async function waitForPing(client: DockerEngineClient, child: ChildProcess, logFile: string, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last: unknown = null;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before answering:\n${tail(logFile)}`);
    try {
      await client.ping(AbortSignal.timeout(2000));
      return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer /_ping within 60 s (${last instanceof Error ? last.message : String(last)}):\n${tail(logFile)}`);
}

function reusedService(kind: 'docker' | 'podman', host: string): EngineService {
  return { kind, host, reused: true, pid: null, logFile: null, startMs: 0, client: () => DockerEngineClient.fromOptions({ host }), stop: async () => undefined };
}

interface LockOwner {
  readonly pid: number;
  readonly dockerdPid: number | null;
  readonly execRoot: string | null;
}

function readOwner(lockDir: string): LockOwner | null {
  try {
    const json: unknown = JSON.parse(readFileSync(join(lockDir, 'owner.json'), 'utf8'));
    if (!isObject(json) || typeof json['pid'] !== 'number') return null;
    return { pid: json['pid'], dockerdPid: typeof json['dockerdPid'] === 'number' ? json['dockerdPid'] : null, execRoot: str(json, 'execRoot') };
  } catch {
    return null;
  }
}

function writeOwner(lockDir: string, owner: LockOwner): void {
  writeFileSync(join(lockDir, 'owner.json'), JSON.stringify(owner));
}

/** Take the cached data root's lock; false when a live process holds it. Cleans up after a dead holder. */
async function lockDataRoot(lockDir: string, dataRoot: string): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      mkdirSync(lockDir);
      writeOwner(lockDir, { pid: process.pid, dockerdPid: null, execRoot: null });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readOwner(lockDir);
    if (owner && owner.pid !== process.pid && pidAlive(owner.pid)) return false;
    if (!owner) {
      // being written right now, or left half-written by a killed process: give a live writer a moment
      await new Promise((r) => setTimeout(r, 200));
      if (readOwner(lockDir)) continue;
    }
    // The holder is gone. Its dockerd may still run (the test process was killed): stop it, it is ours.
    if (owner?.dockerdPid && pidAlive(owner.dockerdPid) && cmdline(owner.dockerdPid).includes(dataRoot)) await stopPid(null, owner.dockerdPid);
    if (owner?.execRoot) removeTree(owner.execRoot);
    rmSync(lockDir, { recursive: true, force: true });
  }
  return false;
}

export interface DockerdOptions {
  /** A throw-away data root instead of the cached one. */
  readonly fresh?: boolean;
}

export async function startDockerd(options: DockerdOptions = {}): Promise<EngineService> {
  const reuse = process.env['TALLY_TEST_DOCKER_HOST'];
  if (reuse) return reusedService('docker', reuse);
  if (!existsSync(DOCKERD)) throw new Error(`${DOCKERD} is missing: apt-get install -y --no-install-recommends docker.io (or set TALLY_TEST_DOCKER_HOST)`);

  // The socket path must stay under the 108-byte sun_path limit: a short directory in /tmp.
  const execRoot = await mkdtemp(join(tmpdir(), 'tally-dk-'));
  const cacheBase = process.env['TALLY_TEST_DOCKERD_ROOT'] ?? join(homedir(), '.cache', 'tally', 'test-dockerd');
  let dataRoot = join(cacheBase, 'v1');
  const lockDir = `${dataRoot}.lock`;
  let locked = false;
  if (!options.fresh) {
    mkdirSync(cacheBase, { recursive: true });
    locked = await lockDataRoot(lockDir, dataRoot);
  }
  if (!locked) dataRoot = join(execRoot, 'data');
  mkdirSync(dataRoot, { recursive: true });

  const socket = join(execRoot, 'docker.sock');
  const logFile = join(execRoot, 'dockerd.log');
  const logFd = openSync(logFile, 'a');
  const started = Date.now();
  const child = spawn(
    DOCKERD,
    [
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--data-root',
      dataRoot,
      '--exec-root',
      join(execRoot, 'exec'),
      '--pidfile',
      join(execRoot, 'dockerd.pid'),
      '-H',
      `unix://${socket}`,
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const pid = child.pid!;
  if (locked) writeOwner(lockDir, { pid: process.pid, dockerdPid: pid, execRoot });
  return supervise({ kind: 'docker', what: 'dockerd', child, socket, logFile, started }, () => {
    removeTree(execRoot); // also the netns/default mount dockerd leaves, and a throw-away data root inside it
    if (locked) rmSync(lockDir, { recursive: true, force: true });
  });
}

export async function startPodmanService(): Promise<EngineService> {
  const reuse = process.env['TALLY_TEST_PODMAN_HOST'];
  if (reuse) return reusedService('podman', reuse);
  const podman = ['/usr/bin/podman', '/usr/local/bin/podman'].find((p) => existsSync(p));
  if (!podman) throw new Error('podman is missing: apt-get install -y --no-install-recommends podman (or set TALLY_TEST_PODMAN_HOST)');
  const base = await mkdtemp(join(tmpdir(), 'tally-pm-'));
  for (const d of ['root', 'runroot', 'tmp', 'static', 'volumes']) mkdirSync(join(base, d));
  // Lowered ulimits: podman's defaults make `runc create` fail with "error setting rlimit" here (the recipes' trap).
  writeFileSync(
    join(base, 'containers.conf'),
    [
      '[containers]',
      'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      'netns = "none"',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      'runtime = "runc"',
      `tmp_dir = "${join(base, 'tmp')}"`,
      `static_dir = "${join(base, 'static')}"`,
      `volume_path = "${join(base, 'volumes')}"`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(base, 'storage.conf'), ['[storage]', 'driver = "vfs"', `runroot = "${join(base, 'runroot')}"`, `graphroot = "${join(base, 'root')}"`, ''].join('\n'));
  const socket = join(base, 'podman.sock');
  const logFile = join(base, 'podman.log');
  const logFd = openSync(logFile, 'a');
  const started = Date.now();
  const child = spawn(podman, ['system', 'service', '--time=0', `unix://${socket}`], {
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, CONTAINERS_CONF: join(base, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(base, 'storage.conf') },
  });
  closeSync(logFd);
  return supervise({ kind: 'podman', what: 'podman system service', child, socket, logFile, started }, () => removeTree(base));
}

/** The image id (config digest) of a docker-archive's only image. */
export async function archiveImageId(file: string): Promise<string> {
  const index = await TarIndex.open(file);
  const manifest = index.get('/manifest.json');
  if (!manifest) throw new Error(`${file}: no manifest.json`);
  const json = parseJson(await index.readMember(manifest, 1 << 24), `${file}: manifest.json`);
  const entry = Array.isArray(json) ? json.find(isObject) : undefined;
  const config = entry && isObject(entry) ? str(entry, 'Config') : null;
  const member = config ? index.get(config) : undefined;
  if (!member) throw new Error(`${file}: no config`);
  return 'sha256:' + createHash('sha256').update(await index.readMember(member, 1 << 24)).digest('hex');
}

/** The RepoTags of a docker-archive's first image. */
export async function archiveRepoTags(file: string): Promise<string[]> {
  const index = await TarIndex.open(file);
  const manifest = index.get('/manifest.json');
  if (!manifest) return [];
  const json = parseJson(await index.readMember(manifest, 1 << 24), `${file}: manifest.json`);
  const entry = Array.isArray(json) ? json.find(isObject) : undefined;
  return entry && isObject(entry) ? strings(entry, 'RepoTags') : [];
}

/**
 * Load a docker-archive (`docker load` through the API) unless the engine already has that image under `tag`.
 * Returns the image id and whether it was loaded now.
 */
export async function ensureImageLoaded(client: DockerEngineClient, file: string, tag: string): Promise<{ imageId: string; loaded: boolean }> {
  const imageId = await archiveImageId(file);
  const have = await client.inspectImage(tag).catch((err: unknown) => {
    if (err instanceof DockerApiError && err.status === 404) return null;
    throw err;
  });
  if (have?.id === imageId) return { imageId, loaded: false };
  await client.loadImage(createReadStream(file));
  const now = await client.inspectImage(tag);
  if (now.id !== imageId) throw new Error(`${file}: loaded, but ${tag} is ${now.id}, not ${imageId}`);
  return { imageId, loaded: true };
}
