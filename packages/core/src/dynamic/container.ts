import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { DockerApiError, type DockerEngineClient } from '../image/sources/docker-engine/client.js';
import type { JsonObject } from '../util/json.js';
import { PROBE_SCRIPT } from './probe.js';
import { pidAlive } from '../util/process.js';

/**
 * The throw-away container of a Dynamic scan. It runs only our probe script (the image's entrypoint and command
 * are replaced), and is hardened so that whatever the image holds can do little: no network, read-only root, a
 * small tmpfs /tmp, no capabilities, no privilege gain, an unprivileged user, memory/CPU/pids/file limits, and a
 * time limit enforced by killing it. It is always removed; for the cases where that cannot happen (the scanning
 * process is killed), it carries labels that let the next Dynamic scan find and remove it.
 */

export const LABEL_DYNAMIC = 'tally.dynamic';
/** `host/pid-namespace:pid` of the scanning process. */
export const LABEL_OWNER = 'tally.owner';
/** Epoch milliseconds after which the container is certainly abandoned (created + time limit). */
export const LABEL_DEADLINE = 'tally.deadline';

export interface ContainerLimits {
  readonly timeLimitMs: number;
  readonly memoryBytes: number;
  /** CPU quota in units of 1e-9 CPUs (Docker's NanoCpus). */
  readonly nanoCpus: number;
  readonly pidsLimit: number;
  /** uid:gid inside the container; numeric, so the image needs no passwd entry. */
  readonly user: string;
  /** stdout and stderr are each kept up to this. */
  readonly maxOutputBytes: number;
}

export const DEFAULT_CONTAINER_LIMITS: ContainerLimits = {
  timeLimitMs: 120_000,
  memoryBytes: 256 * 1024 * 1024,
  nanoCpus: 1_000_000_000,
  pidsLimit: 64,
  user: '65534:65534',
  maxOutputBytes: 32 * 1024 * 1024,
};

/**
 * Who owns a container: the pid alone is not enough, a scanner in a container with host networking shares the
 * host name but not the pid namespace, so the namespace is part of the owner.
 */
function ownerPrefix(): string {
  let ns = '';
  try {
    ns = readlinkSync('/proc/self/ns/pid'); // "pid:[4026531836]"
  } catch {
    ns = 'unknown';
  }
  return `${hostname()}/${ns}`;
}

/** Grace on top of a leftover's deadline before it is removed (clock skew between engine and scanner). */
const CLEANUP_GRACE_MS = 10_000;

export type ProbeRun =
  | { readonly kind: 'exited'; readonly exitCode: number; readonly stdout: string; readonly stderr: string; readonly truncated: boolean; readonly oomKilled: boolean }
  | { readonly kind: 'no-shell'; readonly message: string }
  /** The image's binaries do not run here (another CPU architecture). */
  | { readonly kind: 'cannot-run'; readonly message: string }
  | { readonly kind: 'timeout'; readonly stderr: string };

export interface ContainerHooks {
  readonly onCreated?: (id: string) => void;
  readonly onRemoved?: (id: string) => void;
}

export function probeContainerBody(imageId: string, limits: ContainerLimits, now = Date.now()): JsonObject {
  return {
    Image: imageId,
    Entrypoint: ['/bin/sh', '-c', PROBE_SCRIPT],
    Cmd: [],
    User: limits.user,
    WorkingDir: '/',
    // The image's ENV stays (PATH may point at its tools); these only make sure the usual places are searched
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C', 'HOME=/tmp'],
    Labels: { [LABEL_DYNAMIC]: '1', [LABEL_OWNER]: `${ownerPrefix()}:${process.pid}`, [LABEL_DEADLINE]: String(now + limits.timeLimitMs) },
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    OpenStdin: false,
    Tty: false,
    NetworkDisabled: true,
    StopTimeout: 1,
    Healthcheck: { Test: ['NONE'] },
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      Privileged: false,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Memory: limits.memoryBytes,
      MemorySwap: limits.memoryBytes, // no swap on top
      NanoCpus: limits.nanoCpus,
      PidsLimit: limits.pidsLimit,
      // No Ulimits: podman then drops its configured defaults and sets an nproc runc may not be allowed to set,
      // and nproc counts the uid's processes host-wide; PidsLimit bounds the container's processes instead.
      Tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,size=16m' },
      RestartPolicy: { Name: 'no' },
      AutoRemove: false, // the output is read after exit; removal is ours
      LogConfig: { Type: 'json-file', Config: {} },
    },
  };
}

/** runc/crun say this in several ways when the entrypoint binary is missing. */
function isMissingShell(message: string): boolean {
  return /\/bin\/sh/.test(message) && /no such file|not found|executable file/i.test(message);
}

/**
 * Run the probe script in a fresh hardened container; the container is removed whatever happens. The time limit
 * counts from before the container is created, so the deadline label (creation + time limit) holds for its whole
 * life: a container past it is certainly abandoned.
 */
export async function runProbeContainer(client: DockerEngineClient, imageId: string, limits: ContainerLimits, signal: AbortSignal, hooks: ContainerHooks = {}): Promise<ProbeRun> {
  signal.throwIfAborted();
  const name = `tally-dynamic-${process.pid}-${randomBytes(4).toString('hex')}`;
  const timer = AbortSignal.timeout(limits.timeLimitMs);
  const bounded = AbortSignal.any([signal, timer]);
  const timedOut = (): boolean => timer.aborted && !signal.aborted;
  // Creation is not aborted, by the time limit or an interrupt: an aborted request can still leave the engine
  // creating the container, whose id we would then never learn. Once it exists it is removed (finally below).
  const id = await client.createContainer(probeContainerBody(imageId, limits), name);
  hooks.onCreated?.(id);
  try {
    if (bounded.aborted) {
      if (timedOut()) return { kind: 'timeout', stderr: '' };
      throw signal.reason;
    }
    try {
      await client.startContainer(id, bounded);
    } catch (err) {
      if (err instanceof DockerApiError && isMissingShell(err.message)) return { kind: 'no-shell', message: err.message };
      if (err instanceof DockerApiError && /exec format error/i.test(err.message)) return { kind: 'cannot-run', message: err.message };
      if (timedOut()) return { kind: 'timeout', stderr: '' };
      throw err;
    }
    let exit: { statusCode: number; oomKilled: boolean };
    try {
      exit = await waitUntilStopped(client, id, bounded);
    } catch (err) {
      if (!timedOut()) throw err;
      await client.killContainer(id).catch(() => undefined); // it may have exited meanwhile
      const logs = await client.containerLogs(id, 64 * 1024).catch(() => null);
      return { kind: 'timeout', stderr: logs?.stderr.toString('utf8') ?? '' };
    }
    const logs = await client.containerLogs(id, limits.maxOutputBytes, signal);
    return {
      kind: 'exited',
      exitCode: exit.statusCode,
      stdout: logs.stdout.toString('utf8'),
      stderr: logs.stderr.toString('utf8'),
      truncated: logs.truncated,
      oomKilled: exit.oomKilled,
    };
  } finally {
    // not under `signal`: an interrupted scan must still remove its container
    await client.removeContainer(id);
    hooks.onRemoved?.(id);
  }
}

/**
 * Poll the container's state until it is no longer running. Not `POST /containers/{id}/wait`: podman 4.3's
 * compatible wait answers only about 20 s after the container exits, and the probe takes a second or two.
 */
async function waitUntilStopped(client: DockerEngineClient, id: string, signal: AbortSignal): Promise<{ statusCode: number; oomKilled: boolean }> {
  let delay = 50;
  for (;;) {
    const { state } = await client.inspectContainer(id, signal);
    if (!state.running && state.status !== 'created' && state.status !== 'configured' && state.status !== 'initialized') {
      return { statusCode: state.exitCode ?? -1, oomKilled: state.oomKilled };
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, delay);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    delay = Math.min(500, Math.round(delay * 1.5));
  }
}

/**
 * Remove Dynamic-scan containers left behind by scans that could not clean up (killed, crashed, engine restart):
 * those past their deadline, and those whose owner is a process on this host that no longer exists. A container
 * of a scan still running elsewhere is before its deadline and is left alone. Returns the removed ids.
 */
export async function cleanupDynamicContainers(client: DockerEngineClient, options: { now?: number; signal?: AbortSignal; fallbackMaxAgeMs?: number } = {}): Promise<string[]> {
  const now = options.now ?? Date.now();
  const here = ownerPrefix();
  const leftovers = await client.listContainers({ labels: [`${LABEL_DYNAMIC}=1`], ...(options.signal ? { signal: options.signal } : {}) });
  const removed: string[] = [];
  for (const c of leftovers) {
    const deadline = Number(c.labels[LABEL_DEADLINE]);
    const expired = Number.isFinite(deadline)
      ? now > deadline + CLEANUP_GRACE_MS
      : c.created !== null && now - c.created * 1000 > (options.fallbackMaxAgeMs ?? DEFAULT_CONTAINER_LIMITS.timeLimitMs) + CLEANUP_GRACE_MS;
    const owner = /^(.*):(\d+)$/.exec(c.labels[LABEL_OWNER] ?? '');
    const orphaned = owner !== null && owner[1] === here && !here.endsWith('/unknown') && Number(owner[2]) !== process.pid && !pidAlive(Number(owner[2]));
    if (!expired && !orphaned) continue;
    try {
      await client.removeContainer(c.id);
      removed.push(c.id);
    } catch {
      // being removed by its owner right now (409), or the engine refused: the next cleanup tries again
    }
  }
  return removed;
}
