import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTallyError } from '../model/errors.js';
import type { Finding } from '../model/report.js';
import { globToRegExp, locationMatches } from './glob.js';
import { ignoreRuleMatches, isExpired, parseExpiry, parseIgnoreFile, readIgnoreFile, type IgnoreRule } from './ignore.js';
import { finding, lodash, lodashHigh, log4j, log4shell, openssl, opensslMedium, springBoot } from './testdata/fixtures.js';

const packages = new Map([lodash, log4j, springBoot, openssl].map((p) => [p.id, p]));
const matches = (rule: IgnoreRule, f: Finding): boolean => ignoreRuleMatches(rule, f, packages.get(f.packageId));

/** The single rule of a one-entry file. */
function one(yaml: string): IgnoreRule {
  const file = parseIgnoreFile(yaml, 'test.yaml');
  assert.equal(file.rules.length, 1);
  return file.rules[0]!;
}

function fails(yaml: string, pattern: RegExp): void {
  assert.throws(
    () => parseIgnoreFile(yaml, 'bad.yaml'),
    (err: unknown) => {
      assert.ok(isTallyError(err), String(err));
      assert.equal(err.code, 'USAGE');
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('ignore file: parsing', () => {
  it('reads both lists, with lines, the entry as written, reason and expiry', () => {
    const file = parseIgnoreFile(
      [
        '# accepted risks',
        'vulnerabilities:',
        '  - id: CVE-2021-23337',
        '    purls: [pkg:npm/lodash]',
        '    paths:',
        '      - /srv/app/**',
        '    expires: 2026-12-31',
        '    reason: lodash.template is never called',
        'packages:',
        '  - purl: pkg:deb/debian/openssl',
        '    statement: patched in our base image',
        '  - name: openssl',
        '    type: deb',
        '    version: 1.10',
        '',
      ].join('\n'),
      '.tallyignore.yaml',
    );
    assert.equal(file.rules.length, 3);
    const [v, p, n] = file.rules as [IgnoreRule, IgnoreRule, IgnoreRule];
    assert.equal(v.rule, 'vulnerabilities[0]');
    assert.equal(v.line, 3);
    assert.deepEqual(v.entry, { id: 'CVE-2021-23337', purls: ['pkg:npm/lodash'], paths: ['/srv/app/**'] });
    assert.equal(v.reason, 'lodash.template is never called');
    assert.equal(v.expires?.text, '2026-12-31');
    assert.equal(p.rule, 'packages[0]');
    assert.equal(p.line, 10);
    assert.equal(p.reason, 'patched in our base image', '`statement` is the Trivy spelling of reason');
    assert.equal(p.expires, null);
    // the failsafe schema keeps scalars as written: 1.10 is not the number 1.1
    assert.deepEqual(n.entry, { name: 'openssl', type: 'deb', version: '1.10' });
  });

  it('accepts an empty file, a comment-only file and empty lists', () => {
    assert.equal(parseIgnoreFile('', 'a').rules.length, 0);
    assert.equal(parseIgnoreFile('# nothing yet\n', 'a').rules.length, 0);
    assert.equal(parseIgnoreFile('vulnerabilities:\npackages: []\n', 'a').rules.length, 0);
  });

  it('takes a single string where a list is expected', () => {
    assert.deepEqual(one('vulnerabilities:\n  - id: CVE-1\n    paths: /app/**\n').entry.paths, ['/app/**']);
  });

  it('reads a file from disk and names a missing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-ignore-'));
    try {
      writeFileSync(join(dir, 'i.yaml'), 'vulnerabilities:\n  - id: CVE-2021-44228\n');
      assert.equal((await readIgnoreFile(join(dir, 'i.yaml'))).rules.length, 1);
      await assert.rejects(readIgnoreFile(join(dir, 'missing.yaml')), /missing\.yaml: no such file/);
      writeFileSync(join(dir, 'big.yaml'), 'x'.repeat(300 * 1024));
      await assert.rejects(readIgnoreFile(join(dir, 'big.yaml')), /more than the 262144 allowed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ignore file: malformed files are errors with file and line', () => {
  it('a misspelt key, with a suggestion', () => fails('vulnerabilities:\n  - id: CVE-1\n    expired_at: 2020-01-01\n', /^bad\.yaml:3: vulnerabilities\[0\]: unknown key "expired_at" \(did you mean "expires"\?\)/));
  it('a singular where the list is plural', () => fails('vulnerabilities:\n  - id: CVE-1\n    path: /app\n', /did you mean "paths"/));
  it('an unknown top-level key', () => fails('ignores:\n  - id: CVE-1\n', /bad\.yaml:1: unknown top-level key "ignores"/));
  it('a top level that is not a mapping', () => fails('- id: CVE-1\n', /must be a mapping/));
  it('a list that is not a list', () => fails('vulnerabilities:\n  id: CVE-1\n', /bad\.yaml:2: vulnerabilities must be a list/));
  it('an entry that is not a mapping', () => fails('vulnerabilities:\n  - CVE-1\n', /bad\.yaml:2: vulnerabilities\[0\]: an entry must be a mapping/));
  it('a vulnerability entry without id', () => fails('vulnerabilities:\n  - reason: x\n', /bad\.yaml:2: vulnerabilities\[0\]: "id" is required/));
  it('an id that is not an id', () => fails('vulnerabilities:\n  - id: "CVE 1"\n', /is not a vulnerability id/));
  it('a bad purl', () => fails('packages:\n  - purl: npm/lodash\n', /bad\.yaml:2: packages\[0\]: "npm\/lodash" is not a package URL/));
  it('an unknown package type', () => fails('packages:\n  - name: x\n    type: cargo\n', /packages\[0\]\.type "cargo" is not one of/));
  it('purl and name together', () => fails('packages:\n  - purl: pkg:npm/a\n    name: a\n', /either "purl" or "name"/));
  it('type without name', () => fails('packages:\n  - type: npm\n', /add the package name/));
  it('a package entry that names nothing', () => fails('packages:\n  - reason: everything\n', /name the packages with "purl", "name" or "paths"/));
  it('an impossible date', () => fails('vulnerabilities:\n  - id: CVE-1\n    expires: 2026-02-30\n', /bad\.yaml:3: vulnerabilities\[0\]\.expires "2026-02-30" is not a date/));
  it('a date in another format', () => fails('vulnerabilities:\n  - id: CVE-1\n    expires: 31/12/2026\n', /is not a date/));
  it('a list where one value goes', () => fails('vulnerabilities:\n  - id: [CVE-1]\n', /vulnerabilities\[0\]\.id must be a single value, not a list/));
  it('a non-string in a list', () => fails('vulnerabilities:\n  - id: CVE-1\n    paths: [{a: b}]\n', /paths\[0\] must be a non-empty string/));
  it('a bad glob', () => fails('packages:\n  - paths: ["/app/[z-a]"]\n', /bad character class/));
  it('reason and statement together', () => fails('vulnerabilities:\n  - id: CVE-1\n    reason: a\n    statement: b\n', /same field; keep one/));
  it('a duplicate key', () => fails('vulnerabilities:\n  - id: CVE-1\n    id: CVE-2\n', /bad\.yaml:3: .*unique/i));
  it('YAML syntax errors', () => fails('vulnerabilities:\n  - id: "CVE-1\n', /^bad\.yaml:\d+: /));
  it('aliases', () => fails('vulnerabilities:\n  - &a\n    id: CVE-1\n  - *a\n', /aliases \(\*name\) are not supported/));
  it('several documents', () => fails('vulnerabilities: []\n---\npackages: []\n', /bad\.yaml:\d+: /));
  it('lists several problems in one message', () => fails('vulnerabilities:\n  - id: CVE-1\n    expire: x\n  - reason: y\n', /bad\.yaml:3: .*; bad\.yaml:4: .*"id" is required/));

  it('refuses hostile nesting quickly, before the YAML parser can exhaust memory', () => {
    const start = Date.now();
    fails('['.repeat(100_000), /nested deeper than 8 levels/);
    fails(`a:\n${'  - '.repeat(1)}${'- '.repeat(50_000)}x\n`, /indented deeper than 256 columns/);
    fails(Array.from({ length: 400 }, (_, i) => `${' '.repeat(i)}a:`).join('\n'), /bad\.yaml:258: indented deeper/);
    fails(`${'{a: '.repeat(40)}`, /nested deeper/);
    assert.ok(Date.now() - start < 2000, `${Date.now() - start} ms`);
  });

  it('does not count brackets inside quotes, comments, block scalars or words', () => {
    const deep = '['.repeat(40);
    const rule = one(`vulnerabilities:\n  - id: CVE-1 # ${deep}\n    reason: "${deep}"\n    paths: ['/a${deep}]']\n`);
    assert.equal(rule.reason, deep);
    assert.equal(one(`vulnerabilities:\n  - id: CVE-1\n    reason: a[${deep}\n`).reason, `a[${deep}`);
    assert.equal(one(`vulnerabilities:\n  - id: CVE-1\n    reason: |\n      ${deep}\n`).reason, deep);
  });

  it('is not fooled by a quote that is not one', () => {
    // a continuation line of a plain scalar starting with a quote, then real flow nesting
    fails(`a: b\n  'c\nd: ${'['.repeat(100_000)}`, /nested deeper than 8 levels/);
    fails(`reason: don't\nd: ${'['.repeat(100_000)}`, /nested deeper than 8 levels/);
  });
});

describe('ignore file: matching', () => {
  it('an id matches the finding id or any alias, whatever the case', () => {
    assert.ok(matches(one('vulnerabilities:\n  - id: CVE-2021-23337\n'), lodashHigh));
    assert.ok(matches(one('vulnerabilities:\n  - id: GHSA-35jh-r3h4-6jhm\n'), lodashHigh), 'alias');
    assert.ok(matches(one('vulnerabilities:\n  - id: ghsa-35JH-r3h4-6jhm\n'), lodashHigh), 'case');
    assert.ok(!matches(one('vulnerabilities:\n  - id: CVE-2021-23337\n'), log4shell));
    assert.ok(!matches(one('vulnerabilities:\n  - id: CVE-2021-2333\n'), lodashHigh), 'no prefix match');
  });

  it('purls: exact, without qualifiers, without version; type, namespace and given parts must agree', () => {
    const rule = (purl: string): IgnoreRule => one(`packages:\n  - purl: "${purl}"\n`);
    assert.ok(matches(rule('pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12'), opensslMedium), 'exact');
    assert.ok(matches(rule('pkg:deb/debian/openssl@3.0.11-1~deb12u2'), opensslMedium), 'no qualifiers: any');
    assert.ok(matches(rule('pkg:deb/debian/openssl?arch=amd64'), opensslMedium), 'some qualifiers, no version');
    assert.ok(matches(rule('pkg:deb/debian/openssl'), opensslMedium), 'no version');
    assert.ok(!matches(rule('pkg:deb/debian/openssl@3.0.11-1~deb12u1'), opensslMedium), 'other version');
    assert.ok(!matches(rule('pkg:deb/debian/openssl?arch=arm64'), opensslMedium), 'other qualifier value');
    assert.ok(!matches(rule('pkg:deb/debian/openssl?foo=bar'), opensslMedium), 'qualifier the package lacks');
    assert.ok(!matches(rule('pkg:deb/ubuntu/openssl'), opensslMedium), 'other namespace');
    assert.ok(!matches(rule('pkg:rpm/debian/openssl'), opensslMedium), 'other type');
    assert.ok(matches(rule('pkg:maven/org.apache.logging.log4j/log4j-core'), log4shell));
    assert.ok(matches(rule('pkg:npm/Lodash@4.17.20'), lodashHigh), 'npm names are lower-cased by the purl spec');
  });

  it('a vulnerability entry narrowed by purls applies to that id on those packages only', () => {
    const rule = one('vulnerabilities:\n  - id: CVE-2021-23337\n    purls: [pkg:npm/lodash-es, pkg:npm/lodash@4.17.20]\n');
    assert.ok(matches(rule, lodashHigh));
    const other = finding(log4j, 'CVE-2021-23337', 'HIGH');
    assert.ok(!matches(rule, other));
  });

  it('package name, type and version', () => {
    assert.ok(matches(one('packages:\n  - name: openssl\n'), opensslMedium));
    assert.ok(matches(one('packages:\n  - name: openssl\n    type: deb\n    version: 3.0.11-1~deb12u2\n'), opensslMedium));
    assert.ok(!matches(one('packages:\n  - name: openssl\n    type: rpm\n'), opensslMedium));
    assert.ok(!matches(one('packages:\n  - name: openssl\n    version: "3.0.11"\n'), opensslMedium));
    assert.ok(matches(one('packages:\n  - name: org.apache.logging.log4j:log4j-core\n'), log4shell), 'Maven group:artifact');
  });

  it('paths: globs on the package locations, nested archives covered by the outer file', () => {
    const rule = (glob: string): IgnoreRule => one(`packages:\n  - paths: ["${glob}"]\n`);
    assert.ok(matches(rule('/srv/app/**'), lodashHigh));
    assert.ok(matches(rule('srv/app/**'), lodashHigh), 'relative = from the root');
    assert.ok(!matches(rule('/srv/app/*'), lodashHigh), '* stays within a directory');
    assert.ok(matches(rule('/srv/*/node_modules/*/package.json'), lodashHigh));
    assert.ok(matches(rule('/srv/app/node_modules/lodas?/package.json'), lodashHigh));
    assert.ok(matches(rule('/srv/app/node_modules/[kl]odash/**'), lodashHigh));
    assert.ok(!matches(rule('/srv/app/node_modules/[!l]odash/**'), lodashHigh));
    assert.ok(matches(rule('/app/lib/app.jar'), log4shell), 'the jar on disk covers what is nested in it');
    assert.ok(matches(rule('/app/**/log4j-core-*.jar'), log4shell), 'the full nested location');
    assert.ok(matches(rule('/**/package.json'), lodashHigh), '/**/ spans any number of directories');
    assert.ok(!matches(rule('/app'), log4shell), 'a directory name alone is not a prefix');
    assert.ok(!matches(rule('/srv/app.json'), lodashHigh), 'dots are literal');
    const vulnRule = one('vulnerabilities:\n  - id: CVE-2021-23337\n    paths: [/opt/**]\n');
    assert.ok(!matches(vulnRule, lodashHigh), 'id and paths must both hold');
    assert.equal(ignoreRuleMatches(rule('/srv/**'), lodashHigh, undefined), false, 'no package, no locations');
  });

  it('glob details', () => {
    assert.ok(globToRegExp('a/**/b').test('/a/b'));
    assert.ok(globToRegExp('a/**/b').test('/a/x/y/b'));
    assert.ok(globToRegExp('/a/**').test('/a/x/y'));
    assert.ok(!globToRegExp('/a/**').test('/ab'));
    assert.ok(globToRegExp('/a+(b)|c$').test('/a+(b)|c$'), 'regex characters are literal');
    assert.ok(locationMatches(globToRegExp('/x.jar!/y.jar'), '/x.jar!/y.jar!/z.class'));
  });
});

describe('ignore file: expiry', () => {
  it('a date applies through that day (UTC); a date-time until that instant', () => {
    const rule = one('vulnerabilities:\n  - id: CVE-1\n    expires: 2026-12-31\n');
    assert.ok(!isExpired(rule, new Date('2026-12-31T23:59:59Z')));
    assert.ok(isExpired(rule, new Date('2027-01-01T00:00:00Z')));
    const timed = one('vulnerabilities:\n  - id: CVE-1\n    expires: 2026-12-31T12:00:00+02:00\n');
    assert.ok(!isExpired(timed, new Date('2026-12-31T09:59:59Z')));
    assert.ok(isExpired(timed, new Date('2026-12-31T10:00:00Z')));
    assert.ok(!isExpired(one('vulnerabilities:\n  - id: CVE-1\n'), new Date('2999-01-01T00:00:00Z')), 'no expiry: never');
  });

  it('parses only real dates', () => {
    assert.equal(parseExpiry('2024-02-29')?.toISOString(), '2024-03-01T00:00:00.000Z');
    assert.equal(parseExpiry('2023-02-29'), null);
    assert.equal(parseExpiry('2026-13-01'), null);
    assert.equal(parseExpiry('2026-12-31T25:00:00Z'), null);
    assert.equal(parseExpiry('2026-12-31T10:00:00'), null, 'a date-time needs its offset');
    assert.equal(parseExpiry('tomorrow'), null);
  });
});
