import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { isTallyError } from '@tally/core';
import { addRegistryOptions, registryOptionsFromFlags, type RegistryFlags } from './registry-options.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-registry-options-'));
  await writeFile(join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  await writeFile(join(dir, 'not-a-cert'), 'hello');
});
after(() => rm(dir, { recursive: true, force: true }));

function parse(args: string[]): RegistryFlags {
  const cmd = addRegistryOptions(new Command('scan').argument('<target>').exitOverride().action(() => undefined));
  cmd.parse(['node', 'scan', 'registry:r/x', ...args]);
  return cmd.opts<RegistryFlags>();
}

const usage = (re: RegExp) => (err: unknown) => isTallyError(err) && err.code === 'USAGE' && re.test(err.message);

describe('registry CLI options', () => {
  it('turns flags into RegistryOptions, the password from stdin', async () => {
    const flags = parse(['--username', 'alice', '--password-stdin', '--insecure', '--ca-cert', join(dir, 'ca.crt'), '--ca-cert', join(dir, 'ca.crt'), '--registry-timeout', '2.5']);
    const opts = await registryOptionsFromFlags(flags, Readable.from([Buffer.from('s3cret:with spaces \n')]));
    assert.deepEqual(opts, { username: 'alice', password: 's3cret:with spaces ', insecure: true, caCerts: [opts.caCerts![0]!, opts.caCerts![1]!], timeoutMs: 2500 });
    assert.match(opts.caCerts![0]!, /BEGIN CERTIFICATE/);
  });

  it('gives nothing when no flag is set (Docker config and defaults apply)', async () => {
    assert.deepEqual(await registryOptionsFromFlags(parse([]), Readable.from([])), {});
  });

  it('refuses incomplete or wrong flags as usage errors', async () => {
    await assert.rejects(registryOptionsFromFlags(parse(['--password-stdin']), Readable.from(['x'])), usage(/needs --username/));
    await assert.rejects(registryOptionsFromFlags(parse(['--username', 'a']), Readable.from(['x'])), usage(/needs --password-stdin/));
    await assert.rejects(registryOptionsFromFlags(parse(['--username', 'a', '--password-stdin']), Readable.from(['\n'])), usage(/standard input was empty/));
    await assert.rejects(registryOptionsFromFlags(parse(['--ca-cert', join(dir, 'missing')]), Readable.from([])), usage(/--ca-cert .*missing: ENOENT/));
    await assert.rejects(registryOptionsFromFlags(parse(['--ca-cert', join(dir, 'not-a-cert')]), Readable.from([])), usage(/not a PEM certificate/));
    await assert.rejects(registryOptionsFromFlags(parse(['--registry-timeout', '0']), Readable.from([])), usage(/expected a number of seconds/));
  });
});
