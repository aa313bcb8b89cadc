import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, nameVersionFromPath, runtimeSeries } from './paths.js';

describe('classify', () => {
  const cases: [string, ReturnType<typeof classify>][] = [
    ['/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA', 'dist-info'],
    ['/usr/local/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA', 'dist-info'],
    ['/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO', 'egg-info-dir'],
    ['/usr/lib/python3/dist-packages/cryptography.egg-info/PKG-INFO', 'egg-info-dir'],
    ['/usr/lib/python3/dist-packages/pycairo-1.20.1.egg-info', 'egg-info-file'],
    ['/usr/lib/python3/dist-packages/gpg-1.18.0-py3.11.egg-info', 'egg-info-file'],
    ['/opt/eggs/attrs-22.2.0-py3.11.egg/EGG-INFO/PKG-INFO', 'egg-dir'],
    ['/usr/local/lib/python3.11/dist-packages/toml-0.10.2-py3.11.egg', 'egg-zip'],
    ['/usr/bin/python3.11', 'interpreter'],
    ['/usr/local/bin/python3.12', 'interpreter'],
    ['/usr/bin/python3.10', 'interpreter'],
    ['/opt/conda/bin/python3.100', 'interpreter'],
    ['/root/.pyenv/versions/3.10.13/bin/python3.10', 'interpreter'],
    ['/usr/bin/python2.7', 'interpreter'],
    ['/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0', 'libpython'],
    ['/usr/local/lib/libpython3.12.so.1.0', 'libpython'],
    ['/usr/lib64/libpython3.7m.so.1.0', 'libpython'],
    ['/usr/lib/libpython2.7.so.1.0', 'libpython'],
    // not ours
    ['/usr/lib/python3/dist-packages/pip-23.0.1.dist-info/RECORD', null],
    ['/usr/lib/python3/dist-packages/six-1.16.0.egg-info/top_level.txt', null],
    ['/usr/share/doc/foo/METADATA', null],
    ['/src/project/PKG-INFO', null],
    ['/.egg-info', null],
    ['/usr/lib/python3/dist-packages/.egg', null],
    ['/usr/bin/python3', null],
    ['/usr/bin/python3.11-config', null],
    ['/usr/bin/python3.11m', null],
    ['/usr/share/binfmts/python3.11', null],
    ['/usr/lib/python3.11', null],
    ['/usr/local/lib/libpython3.so', null],
    ['/usr/lib/x86_64-linux-gnu/libpython3.11.so.1', null],
    ['/usr/lib/x86_64-linux-gnu/libfoo.so.1.0', null],
    ['/usr/lib/libpythonX.Y.so.1.0', null],
    ['/etc/passwd', null],
    ['/a', null],
    ['', null],
  ];
  for (const [path, kind] of cases) {
    it(`${path || '(empty)'} → ${kind}`, () => assert.equal(classify(path), kind));
  }
});

describe('nameVersionFromPath', () => {
  it('reads name and version from the artifact name', () => {
    assert.deepEqual(nameVersionFromPath('/x/PyYAML-6.0.dist-info/METADATA', 'dist-info'), { name: 'PyYAML', version: '6.0' });
    assert.deepEqual(nameVersionFromPath('/x/six-1.16.0.egg-info/PKG-INFO', 'egg-info-dir'), { name: 'six', version: '1.16.0' });
    assert.deepEqual(nameVersionFromPath('/x/gpg-1.18.0-py3.11.egg-info', 'egg-info-file'), { name: 'gpg', version: '1.18.0' });
    assert.deepEqual(nameVersionFromPath('/x/toml-0.10.2-py3.11.egg', 'egg-zip'), { name: 'toml', version: '0.10.2' });
    assert.deepEqual(nameVersionFromPath('/x/attrs-22.2.0-py3.11.egg/EGG-INFO/PKG-INFO', 'egg-dir'), { name: 'attrs', version: '22.2.0' });
  });
  it('gives null when the name carries no version', () => {
    assert.equal(nameVersionFromPath('/x/cryptography.egg-info/PKG-INFO', 'egg-info-dir'), null);
  });
});

describe('runtimeSeries', () => {
  it('takes X.Y from the file name', () => {
    assert.equal(runtimeSeries('/usr/bin/python3.11', 'interpreter'), '3.11');
    assert.equal(runtimeSeries('/usr/lib64/libpython3.7m.so.1.0', 'libpython'), '3.7');
    assert.equal(runtimeSeries('/usr/local/lib/libpython3.12.so.1.0', 'libpython'), '3.12');
  });
});
