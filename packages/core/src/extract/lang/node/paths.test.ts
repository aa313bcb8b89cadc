import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInstalledPackageJson, nameFromPackageJsonPath, nodeFileKind } from './paths.js';

describe('node file kinds', () => {
  it('takes the package.json at the root of each installed package, in npm, yarn and pnpm layouts', () => {
    for (const path of [
      '/app/node_modules/lodash/package.json',
      '/app/node_modules/@types/node/package.json',
      '/app/node_modules/express/node_modules/debug/package.json',
      '/app/node_modules/@babel/core/node_modules/semver/package.json',
      '/app/node_modules/.pnpm/lodash@4.17.15/node_modules/lodash/package.json',
      '/app/node_modules/.pnpm/@types+node@20.11.0/node_modules/@types/node/package.json',
      '/usr/local/lib/node_modules/npm/package.json',
      '/usr/local/lib/node_modules/npm/node_modules/@npmcli/arborist/package.json',
      // a fixture that is itself laid out as an installed package is one, as far as the path can tell
      '/app/node_modules/foo/test/fixtures/node_modules/bar/package.json',
    ]) {
      assert.equal(nodeFileKind(path), 'package-json', path);
    }
  });

  it('skips package.json files inside a package and folders that are no package', () => {
    for (const path of [
      '/app/node_modules/package.json',
      '/app/node_modules/@types/package.json',
      '/app/node_modules/@/x/package.json',
      '/app/node_modules/.bin/package.json',
      '/app/node_modules/.pnpm/package.json',
      '/app/node_modules/@babel/runtime/helpers/esm/package.json',
      '/app/node_modules/uuid/dist/esm-browser/package.json',
      '/app/node_modules/foo/test/fixtures/x/package.json',
      '/app/node_modules/lodash/package.json.bak',
      '/app/node_modules/lodash/xpackage.json',
    ]) {
      assert.equal(nodeFileKind(path), null, path);
    }
    // outside node_modules a package.json is an application's (or a distro-installed package's) own manifest
    assert.equal(nodeFileKind('/app/not_node_modules/lodash/package.json'), 'app-package-json');
    assert.equal(nodeFileKind('/usr/share/nodejs/acorn/package.json'), 'app-package-json');
    assert.equal(nodeFileKind('/app/package.json'), 'app-package-json');
  });

  it('takes lockfiles of apps, not those shipped inside installed packages', () => {
    assert.equal(nodeFileKind('/app/package-lock.json'), 'package-lock');
    assert.equal(nodeFileKind('/package-lock.json'), 'package-lock');
    assert.equal(nodeFileKind('/srv/app/npm-shrinkwrap.json'), 'package-lock');
    assert.equal(nodeFileKind('/srv/app/yarn.lock'), 'yarn-lock');
    assert.equal(nodeFileKind('/srv/app/pnpm-lock.yaml'), 'pnpm-lock');
    assert.equal(nodeFileKind('/app/node_modules/.package-lock.json'), 'hidden-lockfile');
    assert.equal(nodeFileKind('/app/node_modules/foo/yarn.lock'), null);
    assert.equal(nodeFileKind('/app/node_modules/foo/package-lock.json'), null);
    assert.equal(nodeFileKind('/app/node_modules/foo/pnpm-lock.yaml'), null);
    assert.equal(nodeFileKind('/app/node_modules/.pnpm/lock.yaml'), null);
    assert.equal(nodeFileKind('/app/my-yarn.lock'), null);
    assert.equal(nodeFileKind('/app/pnpm-lock.yml'), null);
  });

  it('takes the runtime header of installed node builds, not node-gyp download caches', () => {
    assert.equal(nodeFileKind('/usr/local/include/node/node_version.h'), 'node-version-h');
    assert.equal(nodeFileKind('/usr/include/node/node_version.h'), 'node-version-h');
    assert.equal(nodeFileKind('/root/.nvm/versions/node/v20.11.0/include/node/node_version.h'), 'node-version-h');
    assert.equal(nodeFileKind('/root/.cache/node-gyp/20.11.0/include/node/node_version.h'), null);
    assert.equal(nodeFileKind('/home/u/.electron-gyp/28.0.0/include/node/node_version.h'), null);
    assert.equal(nodeFileKind('/app/node_modules/nan/include/node/node_version.h'), null);
    assert.equal(nodeFileKind('/usr/include/nodejs/node_version.h'), null);
    assert.equal(nodeFileKind('/usr/local/include/node/node.h'), null);
  });

  it('rejects everything else cheaply', () => {
    for (const path of ['', '/', '/bin/ls', '/etc/os-release', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/app/index.js']) {
      assert.equal(nodeFileKind(path), null, path);
    }
  });

  it('names a package after its directory', () => {
    assert.equal(nameFromPackageJsonPath('/app/node_modules/@types/node/package.json'), '@types/node');
    assert.equal(nameFromPackageJsonPath('/a/node_modules/x/node_modules/my-lodash/package.json'), 'my-lodash');
    assert.equal(nameFromPackageJsonPath('/app/package.json'), null);
    assert.ok(!isInstalledPackageJson('/node_modules/@s/package.json'));
  });
});
