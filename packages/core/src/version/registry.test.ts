import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { apkScheme } from './apk.js';
import { debScheme } from './deb.js';
import { goScheme } from './go.js';
import { mavenScheme } from './maven.js';
import { nugetScheme } from './nuget.js';
import { pep440Scheme } from './pep440.js';
import { compareVersions, schemeFor, VERSION_SCHEMES } from './registry.js';
import { rpmScheme } from './rpm.js';
import { InvalidVersionError, UnsupportedVersionSchemeError, compareDigitStrings } from './scheme.js';
import { npmScheme } from './semver.js';

test('registry: every purl type maps to its scheme, and the scheme names are the purl types', () => {
  const expected = {
    deb: debScheme,
    rpm: rpmScheme,
    apk: apkScheme,
    npm: npmScheme,
    pypi: pep440Scheme,
    maven: mavenScheme,
    nuget: nugetScheme,
    golang: goScheme,
  };
  assert.deepEqual(Object.keys(VERSION_SCHEMES).sort(), Object.keys(expected).sort());
  for (const [type, scheme] of Object.entries(expected)) {
    assert.equal(schemeFor(type), scheme, type);
    assert.equal(scheme.name, type);
  }
});

test('registry: one scheme module per file in this folder, each registered', () => {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const modules = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .sort();
  assert.deepEqual(modules, ['apk.ts', 'deb.ts', 'go.ts', 'maven.ts', 'nuget.ts', 'pep440.ts', 'registry.ts', 'rpm.ts', 'scheme.ts', 'semver.ts']);
});

test('registry: unknown types give null / throw UnsupportedVersionSchemeError', () => {
  for (const t of ['cargo', 'gem', '', 'DEB', 'toString', '__proto__', 'constructor']) {
    assert.equal(schemeFor(t), null, t);
    assert.throws(
      () => compareVersions(t, '1', '2'),
      (err: unknown) => err instanceof UnsupportedVersionSchemeError && err.purlType === t && err.code === 'UNSUPPORTED_VERSION_SCHEME',
    );
  }
});

test('registry: compareVersions dispatches and lets InvalidVersionError through', () => {
  assert.equal(compareVersions('deb', '1.0~rc1', '1.0'), -1);
  assert.equal(compareVersions('rpm', '1:1.0-1', '2.0-1'), 1);
  assert.equal(compareVersions('apk', '1.2_rc1', '1.2'), -1);
  assert.equal(compareVersions('npm', '1.2.3', '1.2.3+build'), 0);
  assert.equal(compareVersions('pypi', '1.0rc1', '1.0'), -1);
  assert.equal(compareVersions('maven', '1.0-SNAPSHOT', '1.0'), -1);
  assert.equal(compareVersions('nuget', '1.0.0-BETA', '1.0.0-beta'), 0);
  assert.equal(compareVersions('golang', '1.6.0', 'v1.10.0'), -1);
  assert.throws(
    () => compareVersions('npm', 'not-a-version', '1.0.0'),
    (err: unknown) => err instanceof InvalidVersionError && err.scheme === 'npm' && err.version === 'not-a-version' && /not-a-version/.test(err.message),
  );
});

test('scheme helpers: digit strings compare as unbounded integers', () => {
  assert.equal(compareDigitStrings('0010', '10'), 0);
  assert.equal(compareDigitStrings('', '0'), 0);
  assert.equal(compareDigitStrings('9', '10'), -1);
  assert.equal(compareDigitStrings('100000000000000000001', '100000000000000000000'), 1);
});
