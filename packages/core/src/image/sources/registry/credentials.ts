/**
 * Registry credentials from Docker's client config (`$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`):
 * `credHelpers` (per registry), then `credsStore` (all registries), then `auths` (base64 `user:password`, or an
 * identity token). Helpers are the `docker-credential-<name>` programs: `get` reads the server URL on stdin and
 * prints `{"ServerURL","Username","Secret"}`.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isObject, obj, str, type JsonObject } from '../../../util/json.js';
import { DOCKER_HUB } from './reference.js';
import { RegistryError } from './errors.js';

export type Credentials =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  /** An OAuth2 refresh token (`identitytoken`, or a helper answering Username `<token>`): traded at the token endpoint. */
  | { readonly kind: 'identity-token'; readonly token: string };

/** Docker keeps Docker Hub's entries under this key, and hands it to helpers. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const HELPER_TIMEOUT_MS = 15_000;

export function defaultDockerConfigDir(): string {
  return process.env['DOCKER_CONFIG'] || join(homedir(), '.docker');
}

/** `https://reg.example:5000/v1/` and `reg.example:5000` name the same registry. */
function normaliseKey(key: string): string {
  let k = key.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  k = k.toLowerCase();
  return k === 'index.docker.io' || k === 'registry-1.docker.io' ? DOCKER_HUB : k;
}

function serverUrlFor(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_KEY : registry;
}

async function readConfig(dir: string): Promise<JsonObject | null> {
  let text: string;
  try {
    text = await readFile(join(dir, 'config.json'), 'utf8');
  } catch {
    return null; // no config: anonymous
  }
  try {
    const json: unknown = JSON.parse(text);
    return isObject(json) ? json : null;
  } catch (err) {
    throw new RegistryError('USAGE', 'auth', `${join(dir, 'config.json')}: invalid JSON (${(err as Error).message})`);
  }
}

function fromAuthEntry(entry: JsonObject, where: string): Credentials | null {
  const identity = str(entry, 'identitytoken');
  if (identity) return { kind: 'identity-token', token: identity };
  const auth = str(entry, 'auth');
  if (auth) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new RegistryError('USAGE', 'auth', `${where}: "auth" is not base64 of user:password`);
    return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  const username = str(entry, 'username');
  const password = str(entry, 'password');
  return username && password !== null ? { kind: 'basic', username, password } : null;
}

/** Run `docker-credential-<helper> get`; null when the helper has nothing for this registry. */
export async function runCredentialHelper(helper: string, registry: string, timeoutMs = HELPER_TIMEOUT_MS): Promise<Credentials | null> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper)) throw new RegistryError('USAGE', 'auth', `credential helper name ${JSON.stringify(helper)} is not a plain program suffix`);
  const program = `docker-credential-${helper}`;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
    // our own timer, not spawn's `timeout`: that one is not cleared when the program does not exist (ENOENT)
    // and would hold the process open for the whole timeout
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    let out = '';
    let err = '';
    // bounded: a misbehaving helper must not fill memory
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (out.length < 1 << 20) out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 1 << 16) err += d;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new RegistryError('TARGET_UNREADABLE', 'auth', `${program} (configured in the Docker config): ${e.message}`, { cause: e }));
    });
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve({ code: killed ? -1 : c, stdout: out, stderr: err });
    });
    child.stdin.on('error', () => undefined); // a helper that exits without reading stdin
    child.stdin.end(serverUrlFor(registry));
  });
  const said = (stdout + stderr).trim();
  if (code !== 0) {
    // helpers exit 1 with "credentials not found in native keychain" when they hold nothing for this server
    if (/credentials not found/i.test(said)) return null;
    throw new RegistryError('TARGET_UNREADABLE', 'auth', `${program} get failed (${code === -1 ? `killed after ${timeoutMs} ms` : `exit ${code}`}): ${said.slice(0, 300)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new RegistryError('TARGET_UNREADABLE', 'auth', `${program} get printed something other than JSON`);
  }
  if (!isObject(json)) return null;
  const username = str(json, 'Username') ?? '';
  const secret = str(json, 'Secret') ?? '';
  if (secret === '') return null;
  return username === '<token>' ? { kind: 'identity-token', token: secret } : { kind: 'basic', username, password: secret };
}

/** Credentials for `registry` from the Docker config in `dir`, or null (anonymous). */
export async function credentialsFromDockerConfig(registry: string, dir: string): Promise<Credentials | null> {
  const config = await readConfig(dir);
  if (!config) return null;
  const where = join(dir, 'config.json');
  const wanted = normaliseKey(registry);

  const helpers = obj(config, 'credHelpers') ?? {};
  for (const [key, helper] of Object.entries(helpers)) {
    if (typeof helper === 'string' && helper !== '' && normaliseKey(key) === wanted) return runCredentialHelper(helper, registry);
  }
  const store = str(config, 'credsStore');
  if (store) {
    const found = await runCredentialHelper(store, registry);
    if (found) return found;
    // with a store, `auths` usually holds only empty markers; a real entry there still counts
  }
  const auths = obj(config, 'auths') ?? {};
  for (const [key, entry] of Object.entries(auths)) {
    if (isObject(entry) && normaliseKey(key) === wanted) {
      const creds = fromAuthEntry(entry, `${where} auths[${JSON.stringify(key)}]`);
      if (creds) return creds;
    }
  }
  return null;
}
