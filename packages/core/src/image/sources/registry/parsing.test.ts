import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTallyError } from '../../../model/errors.js';
import { parseChallenges } from './challenge.js';
import { nextLink, retryAfterMs } from './client.js';
import { formatReference, isLoopbackRegistry, parseImageReference, registryEndpoint } from './reference.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('image references', () => {
  const cases: [string, string, string, string | null, string | null][] = [
    ['alpine', 'docker.io', 'library/alpine', 'latest', null],
    ['alpine:3.20', 'docker.io', 'library/alpine', '3.20', null],
    ['bitnami/redis:7', 'docker.io', 'bitnami/redis', '7', null],
    ['docker.io/alpine', 'docker.io', 'library/alpine', 'latest', null],
    ['index.docker.io/library/alpine:1', 'docker.io', 'library/alpine', '1', null],
    ['127.0.0.1:5000/team/app:1.2', '127.0.0.1:5000', 'team/app', '1.2', null],
    ['localhost/app', 'localhost', 'app', 'latest', null],
    ['reg.example/a/b/c', 'reg.example', 'a/b/c', 'latest', null],
    [`reg.example:443/team/app@${D}`, 'reg.example:443', 'team/app', null, D],
    [`reg.example/team/app:1@${D}`, 'reg.example', 'team/app', '1', D],
    ['[::1]:5000/app:x', '[::1]:5000', 'app', 'x', null],
    ['localhost:5000', 'docker.io', 'library/localhost', '5000', null], // Docker reads it the same way
    ['my_reg/app', 'docker.io', 'my_reg/app', 'latest', null],
    ['a.b/x__y/z-1.2', 'a.b', 'x__y/z-1.2', 'latest', null],
  ];
  for (const [text, registry, repository, tag, digest] of cases) {
    it(`parses ${text}`, () => {
      assert.deepEqual(parseImageReference(text), { registry, repository, tag, digest });
    });
  }

  it('rejects what is not a reference, as a usage error', () => {
    for (const bad of ['', 'https://reg/app', 'reg.example/App', 'reg.example/app:', 'reg.example/app@sha256:short', 'reg.example/', 'reg.example/a//b', `reg.example/app@md5:${'a'.repeat(32)}`, 'reg.example/app:-x']) {
      assert.throws(
        () => parseImageReference(bad),
        (err: unknown) => isTallyError(err) && err.code === 'USAGE',
        bad,
      );
    }
  });

  it('maps Docker Hub to its API host and formats canonically', () => {
    assert.equal(registryEndpoint('docker.io'), 'registry-1.docker.io');
    assert.equal(registryEndpoint('127.0.0.1:5000'), '127.0.0.1:5000');
    assert.equal(formatReference(parseImageReference('alpine')), 'docker.io/library/alpine:latest');
    assert.ok(isLoopbackRegistry('127.0.0.1:5000') && isLoopbackRegistry('localhost') && isLoopbackRegistry('[::1]:5000'));
    assert.ok(!isLoopbackRegistry('reg.example:5000') && !isLoopbackRegistry('10.0.0.1'));
  });
});

describe('WWW-Authenticate', () => {
  it('reads a Bearer challenge with quoted params', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' }, token68: null },
    ]);
  });

  it('reads several challenges, bare values, escapes and commas inside quotes', () => {
    const got = parseChallenges('Basic realm="a \\"b\\", c", Bearer realm=https://t/token, service=svc , scope="x:y:pull,push", Negotiate abc123==');
    assert.deepEqual(got, [
      { scheme: 'basic', params: { realm: 'a "b", c' }, token68: null },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 'svc', scope: 'x:y:pull,push' }, token68: null },
      { scheme: 'negotiate', params: {}, token68: 'abc123==' },
    ]);
  });

  it('copes with a bare scheme, odd case and garbage', () => {
    assert.deepEqual(parseChallenges('BASIC'), [{ scheme: 'basic', params: {}, token68: null }]);
    assert.deepEqual(parseChallenges('bearer REALM="r"'), [{ scheme: 'bearer', params: { realm: 'r' }, token68: null }]);
    assert.deepEqual(parseChallenges(''), []);
    assert.equal(parseChallenges('Bearer realm="unterminated')[0]?.params['realm'], 'unterminated');
  });
});

describe('paging and retry headers', () => {
  const base = new URL('https://reg.example/v2/_catalog?n=2');
  it('follows rel="next" Link headers, relative or absolute', () => {
    assert.equal(nextLink('</v2/_catalog?last=b&n=2>; rel="next"', base)?.href, 'https://reg.example/v2/_catalog?last=b&n=2');
    assert.equal(nextLink('<https://reg.example/v2/x/tags/list?last=v1>; rel=next', base)?.href, 'https://reg.example/v2/x/tags/list?last=v1');
    assert.equal(nextLink('</a>; rel="prev", </b?c=1,2>; rel="next"', base)?.pathname, '/b');
    assert.equal(nextLink('</a>; rel="prev"', base), null);
    assert.equal(nextLink(null, base), null);
  });

  it('reads Retry-After as seconds or as a date', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000);
    assert.equal(retryAfterMs('soon'), null);
    assert.equal(retryAfterMs(null), null);
  });
});
