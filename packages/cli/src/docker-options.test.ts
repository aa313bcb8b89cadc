import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { addDockerOptions, dockerOptionsFrom, type DockerFlags } from './docker-options.js';

function parse(args: string[]): DockerFlags {
  const cmd = addDockerOptions(new Command('scan').argument('<target>').exitOverride().configureOutput({ writeErr: () => undefined }));
  cmd.parse(['node', 'scan', 'x', ...args]);
  return cmd.opts<DockerFlags>();
}

describe('--scan-mode and --docker-host', () => {
  it('defaults to a Static scan against $DOCKER_HOST', () => {
    assert.deepEqual(dockerOptionsFrom(parse([])), { scanMode: 'static', docker: {}, dynamic: {} });
  });

  it('passes the engine to docker: targets and to Dynamic scans', () => {
    const plan = dockerOptionsFrom(parse(['--scan-mode', 'dynamic', '--docker-host', 'unix:///tmp/dk/docker.sock']));
    assert.deepEqual(plan, { scanMode: 'dynamic', docker: { host: 'unix:///tmp/dk/docker.sock' }, dynamic: { host: 'unix:///tmp/dk/docker.sock' } });
  });

  it('rejects an unknown mode', () => {
    assert.throws(() => parse(['--scan-mode', 'fast']), /argument 'fast' is invalid/);
  });
});
