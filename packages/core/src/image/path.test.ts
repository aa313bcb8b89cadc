import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isWithin, normalizePath, resolveLinkTarget } from './path.js';
import { parseWhiteout } from './whiteout.js';

describe('paths', () => {
  it('normalises tar names and never climbs above the root', () => {
    assert.equal(normalizePath('./usr/bin/'), '/usr/bin');
    assert.equal(normalizePath('/etc//os-release'), '/etc/os-release');
    assert.equal(normalizePath('../../../etc/passwd'), '/etc/passwd');
    assert.equal(normalizePath('a/../../b/./c/..'), '/b');
    assert.equal(normalizePath(''), '/');
  });
  it('resolves link targets relative to the link and absolute ones to the image root', () => {
    assert.equal(resolveLinkTarget('/etc/os-release', '../usr/lib/os-release'), '/usr/lib/os-release');
    assert.equal(resolveLinkTarget('/etc/os-release', '/../../usr/lib/os-release'), '/usr/lib/os-release');
  });
  it('tells containment on path segments, not string prefixes', () => {
    assert.ok(isWithin('/usr/lib/x', '/usr/lib'));
    assert.ok(isWithin('/usr/lib', '/usr/lib'));
    assert.ok(!isWithin('/usr/libexec', '/usr/lib'));
    assert.ok(isWithin('/anything', '/'));
  });
});

describe('whiteouts', () => {
  it('recognises whiteouts and opaque markers on the basename only', () => {
    assert.deepEqual(parseWhiteout('/var/lib/.wh.dpkg'), { kind: 'file', target: '/var/lib/dpkg' });
    assert.deepEqual(parseWhiteout('/.wh.app'), { kind: 'file', target: '/app' });
    assert.deepEqual(parseWhiteout('/usr/share/.wh..wh..opq'), { kind: 'opaque', dir: '/usr/share' });
    assert.equal(parseWhiteout('/app/node_modules/which/package.json'), null);
    assert.equal(parseWhiteout('/usr/lib/python3/dist-packages/wheel-0.38.4.dist-info/METADATA'), null);
    assert.equal(parseWhiteout('/a.wh.b/c'), null);
    assert.equal(parseWhiteout('/x/.wh.'), null);
  });
});
