import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TallyError } from '../../../model/errors.js';

/**
 * Where the Docker Engine API is and how to talk to it, resolved the way the docker CLI resolves it:
 * an explicit host, else DOCKER_HOST, else the default unix socket. TLS follows DOCKER_TLS_VERIFY / DOCKER_TLS /
 * DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem, default ~/.docker).
 */
export interface DockerEndpointOptions {
  /** unix:///path, tcp://host:port, http(s)://host:port; default $DOCKER_HOST or unix:///var/run/docker.sock. */
  readonly host?: string;
  /** Use TLS (tcp only). Default: DOCKER_TLS_VERIFY, DOCKER_TLS or DOCKER_CERT_PATH set, or an https:// host. */
  readonly tls?: boolean;
  /** Verify the engine's certificate. Default: DOCKER_TLS_VERIFY set (non-empty). */
  readonly tlsVerify?: boolean;
  /** Folder with ca.pem, cert.pem, key.pem. Default: DOCKER_CERT_PATH or ~/.docker. */
  readonly certPath?: string;
  /** Environment to read (tests); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly verify: boolean;
}

export type DockerEndpoint =
  | { readonly kind: 'unix'; readonly socketPath: string; readonly display: string }
  | { readonly kind: 'tcp'; readonly hostname: string; readonly port: number; readonly basePath: string; readonly tls: TlsMaterial | null; readonly display: string };

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

function flag(value: string | undefined): boolean {
  // The docker CLI treats any non-empty value as set, "0" included; so do we, to behave the same.
  return value !== undefined && value !== '';
}

function readOptional(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

export function resolveDockerEndpoint(options: DockerEndpointOptions = {}): DockerEndpoint {
  const env = options.env ?? process.env;
  const raw = (options.host ?? env['DOCKER_HOST'] ?? '').trim() || DEFAULT_DOCKER_HOST;
  if (raw.startsWith('/')) return { kind: 'unix', socketPath: raw, display: `unix://${raw}` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TallyError('USAGE', `docker host ${JSON.stringify(raw)}: not a URL (unix:///path or tcp://host:port)`);
  }
  switch (url.protocol) {
    case 'unix:': {
      // unix:///run/docker.sock has an empty host; unix://run/docker.sock (relative) is not accepted by docker either
      const path = decodeURIComponent(url.pathname);
      if (url.host !== '' || !path.startsWith('/')) throw new TallyError('USAGE', `docker host ${raw}: write unix:///absolute/path`);
      return { kind: 'unix', socketPath: path, display: `unix://${path}` };
    }
    case 'tcp:':
    case 'http:':
    case 'https:': {
      const tlsWanted = options.tls ?? (url.protocol === 'https:' || flag(env['DOCKER_TLS_VERIFY']) || flag(env['DOCKER_TLS']) || flag(env['DOCKER_CERT_PATH']));
      if (url.protocol === 'http:' && options.tls === true) throw new TallyError('USAGE', `docker host ${raw}: http:// with TLS; write https:// or tcp://`);
      const hostname = url.hostname.replace(/^\[|\]$/g, '');
      if (hostname === '') throw new TallyError('USAGE', `docker host ${raw}: no host name`);
      const port = url.port ? Number(url.port) : tlsWanted ? 2376 : 2375;
      let tls: TlsMaterial | null = null;
      if (tlsWanted) {
        const dir = options.certPath ?? (env['DOCKER_CERT_PATH'] || join(homedir(), '.docker'));
        const verify = options.tlsVerify ?? flag(env['DOCKER_TLS_VERIFY']);
        const ca = readOptional(join(dir, 'ca.pem'));
        const cert = readOptional(join(dir, 'cert.pem'));
        const key = readOptional(join(dir, 'key.pem'));
        if ((cert === undefined) !== (key === undefined)) throw new TallyError('USAGE', `${dir}: cert.pem and key.pem go together; one of them is missing`);
        tls = { verify, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
      }
      const basePath = url.pathname.replace(/\/+$/, '');
      return { kind: 'tcp', hostname, port, basePath, tls, display: `${tls ? 'https' : 'http'}://${url.host}${basePath}` };
    }
    case 'ssh:':
    case 'npipe:':
      throw new TallyError('USAGE', `docker host ${raw}: ${url.protocol}// is not supported; expose the engine on a unix socket or tcp:// (with TLS)`);
    default:
      throw new TallyError('USAGE', `docker host ${raw}: unknown scheme ${url.protocol}`);
  }
}
