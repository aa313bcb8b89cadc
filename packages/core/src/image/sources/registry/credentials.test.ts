import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentialsFromDockerConfig } from './credentials.js';
import { isRegistryError } from './errors.js';

let dir: string;
let savedPath: string | undefined;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-creds-'));
  // fake docker-credential-* helpers: they answer like the real ones (JSON on stdout, "not found" exit 1)
  const helper = (body: string): string => `#!/bin/sh\nread server\n${body}\n`;
  await writeFile(join(dir, 'docker-credential-tallyfake'), helper(`case "$server" in
  reg.example:5000) echo '{"ServerURL":"reg.example:5000","Username":"helper-user","Secret":"helper-pass"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"https://index.docker.io/v1/","Username":"<token>","Secret":"refresh-tok"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac`));
  await writeFile(join(dir, 'docker-credential-broken'), helper('echo "keychain locked" >&2; exit 3'));
  await chmod(join(dir, 'docker-credential-tallyfake'), 0o755);
  await chmod(join(dir, 'docker-credential-broken'), 0o755);
  savedPath = process.env['PATH'];
  process.env['PATH'] = `${dir}${delimiter}${savedPath ?? ''}`;
});
after(async () => {
  process.env['PATH'] = savedPath;
  await rm(dir, { recursive: true, force: true });
});

async function configDir(name: string, config: object): Promise<string> {
  const d = join(dir, name);
  await rm(d, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(d));
  await writeFile(join(d, 'config.json'), JSON.stringify(config));
  return d;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('Docker config credentials', () => {
  it('reads auths entries under any of the key forms Docker writes', async () => {
    const d = await configDir('auths', {
      auths: {
        'https://reg.example:5000/v1/': { auth: b64('alice:pa:ss') },
        'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') },
        'other.example': { identitytoken: 'id-tok' },
        'plain.example': { username: 'u', password: 'p' },
      },
    });
    assert.deepEqual(await credentialsFromDockerConfig('reg.example:5000', d), { kind: 'basic', username: 'alice', password: 'pa:ss' });
    assert.deepEqual(await credentialsFromDockerConfig('docker.io', d), { kind: 'basic', username: 'hubuser', password: 'hubpass' });
    assert.deepEqual(await credentialsFromDockerConfig('other.example', d), { kind: 'identity-token', token: 'id-tok' });
    assert.deepEqual(await credentialsFromDockerConfig('plain.example', d), { kind: 'basic', username: 'u', password: 'p' });
    assert.equal(await credentialsFromDockerConfig('reg.example', d), null, 'another port is another registry');
  });

  it('asks credHelpers first, then credsStore, then auths', async () => {
    const d = await configDir('helpers', {
      credHelpers: { 'reg.example:5000': 'tallyfake' },
      credsStore: 'tallyfake',
      auths: { 'reg.example:5000': { auth: b64('from-auths:x') }, 'fallback.example': { auth: b64('fb:pw') } },
    });
    assert.deepEqual(await credentialsFromDockerConfig('reg.example:5000', d), { kind: 'basic', username: 'helper-user', password: 'helper-pass' });
    assert.deepEqual(await credentialsFromDockerConfig('docker.io', d), { kind: 'identity-token', token: 'refresh-tok' }, 'Username <token> marks an identity token');
    assert.deepEqual(await credentialsFromDockerConfig('fallback.example', d), { kind: 'basic', username: 'fb', password: 'pw' }, 'the store has nothing: auths');
    assert.equal(await credentialsFromDockerConfig('nobody.example', d), null);
  });

  it('reports a failing or missing helper clearly', async () => {
    const broken = await configDir('broken', { credHelpers: { 'reg.example': 'broken' } });
    await assert.rejects(credentialsFromDockerConfig('reg.example', broken), (err: unknown) => isRegistryError(err) && err.kind === 'auth' && /docker-credential-broken get failed \(exit 3\): keychain locked/.test(err.message));
    const missing = await configDir('missing', { credsStore: 'no-such-helper-xyz' });
    await assert.rejects(credentialsFromDockerConfig('reg.example', missing), (err: unknown) => isRegistryError(err) && /docker-credential-no-such-helper-xyz/.test(err.message));
    const evil = await configDir('evil', { credsStore: '../../bin/sh' });
    await assert.rejects(credentialsFromDockerConfig('reg.example', evil), (err: unknown) => isRegistryError(err) && /not a plain program suffix/.test(err.message));
  });

  it('treats a missing config as anonymous and a broken one as an error', async () => {
    assert.equal(await credentialsFromDockerConfig('reg.example', join(dir, 'nowhere')), null);
    const d = join(dir, 'badjson');
    await import('node:fs/promises').then((fs) => fs.mkdir(d, { recursive: true }));
    await writeFile(join(d, 'config.json'), '{not json');
    await assert.rejects(credentialsFromDockerConfig('reg.example', d), /invalid JSON/);
  });
});
