import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { knownGroupOf } from './known-groups.js';
import {
  identify,
  jdkDistribution,
  parseArchiveFileName,
  parseBundleLicense,
  parseJavaRelease,
  parseManifest,
  parsePomProperties,
  parseProperties,
  pomPropertiesPath,
  type ArchiveFacts,
  type PomProperties,
} from './parse.js';

const testdata = new URL('./testdata/', import.meta.url);

describe('parseManifest', () => {
  it('reads the main section, joins 72-byte continuations, lower-cases names', () => {
    const text =
      'Manifest-Version: 1.0\r\nBundle-Description: Netty is an asynchronous event-driven network applic\r\n ation framework\r\nImplementation-Version: 4.1.48.Final\r\n\r\nName: io/netty/\r\nImplementation-Version: 9.9\r\n';
    const m = parseManifest(text);
    assert.equal(m.get('bundle-description'), 'Netty is an asynchronous event-driven network application framework');
    assert.equal(m.get('implementation-version'), '4.1.48.Final', 'per-entry sections do not override the main one');
  });

  it('accepts LF and lone CR line ends, and keeps the first of duplicate headers', () => {
    assert.equal(parseManifest('A: 1\nB: x\n y\n').get('b'), 'xy');
    assert.equal(parseManifest('A: 1\rB: 2\r').get('b'), '2');
    assert.equal(parseManifest('A: 1\nA: 2\n').get('a'), '1');
  });

  it('ignores garbage lines and an orphan continuation', () => {
    const m = parseManifest(' orphan\nno colon here\nX: y\n');
    assert.deepEqual([...m], [['x', 'y']]);
  });
});

describe('parseProperties / parsePomProperties', () => {
  it('handles comments, separators, escapes and continuations', () => {
    const p = parseProperties('#c\n! also\nversion=1.0\ngroupId : org.x\nartifactId\tart\nk=a\\\n   b\nu=\\u0041\n');
    assert.equal(p.get('version'), '1.0');
    assert.equal(p.get('groupId'), 'org.x');
    assert.equal(p.get('artifactId'), 'art');
    assert.equal(p.get('k'), 'ab');
    assert.equal(p.get('u'), 'A');
  });

  it('takes coordinates from the file, falling back to the path', () => {
    assert.deepEqual(parsePomProperties('version=2.1-SNAPSHOT\ngroupId=org.jctools\nartifactId=jctools-core\n', 'x', 'y'), {
      groupId: 'org.jctools',
      artifactId: 'jctools-core',
      version: '2.1-SNAPSHOT',
    });
    assert.deepEqual(parsePomProperties('version=1\n', 'g.h', 'a'), { groupId: 'g.h', artifactId: 'a', version: '1' });
  });

  it('rejects missing, unresolved or odd versions and coordinates', () => {
    assert.match(parsePomProperties('groupId=g\nartifactId=a\n', 'g', 'a') as string, /no version/);
    assert.match(parsePomProperties('version=${project.version}\n', 'g', 'a') as string, /invalid version/);
    assert.match(parsePomProperties('version=1 2\n', 'g', 'a') as string, /invalid version/);
    assert.match(parsePomProperties('version=1\ngroupId=bad group\n', 'g', 'a') as string, /invalid coordinates/);
  });

  it('recognises only META-INF/maven/<g>/<a>/pom.properties', () => {
    assert.deepEqual(pomPropertiesPath('META-INF/maven/org.slf4j/slf4j-api/pom.properties'), ['org.slf4j', 'slf4j-api']);
    assert.equal(pomPropertiesPath('META-INF/maven/org.slf4j/pom.properties'), null);
    assert.equal(pomPropertiesPath('META-INF/maven/a/b/c/pom.properties'), null);
    assert.equal(pomPropertiesPath('BOOT-INF/classes/META-INF/maven/a/b/pom.properties'), null);
  });
});

describe('parseArchiveFileName', () => {
  const cases: Array<[string, string | null, string | null]> = [
    ['commons-lang3-3.12.0.jar', 'commons-lang3', '3.12.0'],
    ['log4j-1.2-api-2.19.0.jar', 'log4j-1.2-api', '2.19.0'],
    ['guava-31.1-jre.jar', 'guava', '31.1-jre'],
    ['netty-all-4.1.48.Final.jar', 'netty-all', '4.1.48.Final'],
    ['bcprov-jdk15on-1.70.jar', 'bcprov-jdk15on', '1.70'],
    ['javax.inject-1.jar', 'javax.inject', '1'],
    ['foo-1.0-20230101.123456-1.jar', 'foo', '1.0-20230101.123456-1'],
    ['spring-boot-3.1.0-SNAPSHOT.JAR', 'spring-boot', '3.1.0-SNAPSHOT'],
    ['app.jar', 'app', null],
    ['commons-lang3.jar', 'commons-lang3', null],
  ];
  for (const [name, artifact, version] of cases) {
    it(name, () => assert.deepEqual(parseArchiveFileName(name), { artifact, version }));
  }
  it('gives up on names that are no artifact id', () => assert.equal(parseArchiveFileName('my app.jar'), null));
});

describe('parseBundleLicense', () => {
  it('maps well-known URLs and names to SPDX ids and keeps the rest', () => {
    assert.deepEqual(parseBundleLicense('http://www.apache.org/licenses/LICENSE-2.0'), ['Apache-2.0']);
    assert.deepEqual(parseBundleLicense('https://www.apache.org/licenses/LICENSE-2.0.txt;description="Apache"'), ['Apache-2.0']);
    assert.deepEqual(parseBundleLicense('The Apache License, Version 2.0'), ['Apache-2.0']);
    assert.deepEqual(parseBundleLicense('"Apache License, Version 2.0";link="http://www.apache.org/licenses/LICENSE-2.0"'), ['Apache-2.0']);
    assert.deepEqual(parseBundleLicense('https://opensource.org/licenses/BSD-2-Clause'), ['BSD-2-Clause']);
    assert.deepEqual(parseBundleLicense('EPL-2.0, http://opensource.org/licenses/MIT'), ['EPL-2.0', 'MIT']);
    assert.deepEqual(parseBundleLicense('Some Vendor Licence'), ['Some Vendor Licence']);
    assert.deepEqual(parseBundleLicense('<<EXTERNAL>>'), []);
  });
});

const pom = (groupId: string, artifactId: string, version: string): PomProperties => ({ groupId, artifactId, version });
const mf = (entries: Record<string, string>): Map<string, string> => new Map(Object.entries(entries).map(([k, v]) => [k.toLowerCase(), v]));
const summary = (facts: ArchiveFacts): string[] =>
  identify(facts).map((i) => `${i.type}:${i.name}@${i.version} ${i.identifiedBy}${i.own ? ' own' : ''}${i.metadata['shaded'] ? ' shaded' : ''}${i.metadata['confidence'] ? ' low' : ''}`);

describe('identify', () => {
  it('one pom.properties is the archive itself', () => {
    assert.deepEqual(summary({ fileName: 'slf4j-api-1.7.32.jar', manifest: null, poms: [pom('org.slf4j', 'slf4j-api', '1.7.32')] }), [
      'maven:org.slf4j:slf4j-api@1.7.32 pom.properties own',
    ]);
  });

  it('a shaded jar: the pom.properties matching the file name is its own, the others are shaded', () => {
    const poms = [pom('io.netty', 'netty-common', '4.1.48.Final'), pom('org.jctools', 'jctools-core', '2.1-SNAPSHOT')];
    assert.deepEqual(summary({ fileName: 'netty-common.jar', manifest: null, poms }), [
      'maven:io.netty:netty-common@4.1.48.Final pom.properties own',
      'maven:org.jctools:jctools-core@2.1-SNAPSHOT pom.properties shaded',
    ]);
  });

  it('a shaded jar whose own identity is not among its pom.properties keeps its own name (trivy#1025)', () => {
    const facts: ArchiveFacts = {
      fileName: 'nimbus-jose-jwt-9.31.jar',
      manifest: mf({ 'Implementation-Version': '9.31', 'Implementation-Vendor-Id': 'com.nimbusds' }),
      poms: [pom('net.minidev', 'json-smart', '2.4.10')],
    };
    assert.deepEqual(summary(facts), ['maven:net.minidev:json-smart@2.4.10 pom.properties shaded', 'maven:com.nimbusds:nimbus-jose-jwt@9.31 manifest own low']);
  });

  it('a renamed shaded artifact is the pom.properties whose artifact prefixes the name at the same version', () => {
    const poms = [pom('commons-codec', 'commons-codec', '1.15'), pom('org.apache.maven.wagon', 'wagon-http', '3.5.3')];
    const ids = identify({ fileName: 'wagon-http-shaded-3.5.3.jar', manifest: null, poms });
    assert.equal(ids.find((i) => i.own)?.name, 'org.apache.maven.wagon:wagon-http');
  });

  it('many pom.properties and a name that matches none: nothing is claimed as the archive', () => {
    const poms = [pom('a.b', 'x', '1'), pom('c.d', 'y', '2')];
    assert.deepEqual(summary({ fileName: 'app.jar', manifest: null, poms }), ['maven:a.b:x@1 pom.properties', 'maven:c.d:y@2 pom.properties']);
  });

  it('a lone pom.properties in a versionless name is the archive unless the manifest version disagrees', () => {
    assert.equal(identify({ fileName: 'app.jar', manifest: null, poms: [pom('com.example', 'demo', '1.0')] })[0]?.own, true);
    const ids = identify({ fileName: 'app.jar', manifest: mf({ 'Implementation-Version': '7.0' }), poms: [pom('com.example', 'lib', '1.0')] });
    assert.equal(ids[0]?.own, false);
  });

  it('manifest: known group, version from the manifest when the file name says otherwise', () => {
    const facts: ArchiveFacts = { fileName: 'spring3-core-3.x.jar', manifest: mf({ 'Implementation-Title': 'spring-core', 'Implementation-Version': '4.3.30.RELEASE' }), poms: [] };
    assert.deepEqual(summary(facts), ['maven:org.springframework:spring-core@4.3.30.RELEASE manifest own']);
  });

  it('manifest: the file name version wins when the manifest only decorates it', () => {
    const facts: ArchiveFacts = { fileName: 'kotlin-stdlib-1.8.21.jar', manifest: mf({ 'Implementation-Version': '1.8.21-release-380(1.8.21)' }), poms: [] };
    assert.deepEqual(summary(facts), ['maven:org.jetbrains.kotlin:kotlin-stdlib@1.8.21 manifest own']);
    const classified: ArchiveFacts = { fileName: 'sisu-guice-3.1.0-no_aop.jar', manifest: mf({ 'Implementation-Version': '3.1.0' }), poms: [] };
    assert.deepEqual(summary(classified), ['generic:sisu-guice@3.1.0 manifest own low']);
  });

  it('manifest: a versionless Debian file name is the artifact', () => {
    const facts: ArchiveFacts = { fileName: 'commons-lang3.jar', manifest: mf({ 'Implementation-Title': 'Apache Commons Lang', 'Bundle-Version': '3.12.0' }), poms: [] };
    assert.deepEqual(summary(facts), ['maven:org.apache.commons:commons-lang3@3.12.0 manifest own']);
  });

  it('never takes a group from package-like names; a vendor prefix is not a group', () => {
    const asm: ArchiveFacts = { fileName: 'asm-9.4.jar', manifest: mf({ 'Bundle-SymbolicName': 'org.objectweb.asm', 'Implementation-Version': '9.4' }), poms: [] };
    assert.deepEqual(summary(asm), ['maven:org.ow2.asm:asm@9.4 manifest own'], 'the table knows asm; the bundle name would have said org.objectweb');
    const xz: ArchiveFacts = { fileName: 'xz-1.9.jar', manifest: mf({ 'Bundle-SymbolicName': 'org.tukaani.xz', 'Implementation-Version': '1.9' }), poms: [] };
    assert.deepEqual(summary(xz), ['generic:xz@1.9 manifest own low']);
    const commons: ArchiveFacts = { fileName: 'commons-chain-1.1.jar', manifest: mf({ 'Implementation-Vendor-Id': 'org.apache', 'Implementation-Version': '1.1' }), poms: [] };
    assert.deepEqual(summary(commons), ['generic:commons-chain@1.1 manifest own low']);
  });

  it('a package-like title does not name the artifact; the versioned file name does', () => {
    const facts: ArchiveFacts = {
      fileName: 'commons-beanutils-1.7.0.jar',
      manifest: mf({ 'Implementation-Title': 'org.apache.commons.beanutils', 'Implementation-Version': '1.6' }),
      poms: [],
    };
    assert.deepEqual(summary(facts), ['maven:commons-beanutils:commons-beanutils@1.7.0 filename own']);
  });

  it('file name only', () => {
    assert.deepEqual(summary({ fileName: 'tomcat-embed-core-10.1.5.jar', manifest: null, poms: [] }), ['maven:org.apache.tomcat.embed:tomcat-embed-core@10.1.5 filename own']);
    assert.deepEqual(summary({ fileName: 'app.jar', manifest: null, poms: [] }), []);
  });

  it('the JDK\'s own jars are left to the release file', () => {
    const facts: ArchiveFacts = { fileName: 'jrt-fs.jar', manifest: mf({ 'Implementation-Title': 'Java Runtime Environment', 'Implementation-Version': '17.0.15' }), poms: [] };
    assert.deepEqual(identify(facts), []);
  });

  it('licences go to the archive\'s own identity only', () => {
    const ids = identify({
      fileName: 'netty-common.jar',
      manifest: mf({ 'Bundle-License': 'http://www.apache.org/licenses/LICENSE-2.0' }),
      poms: [pom('io.netty', 'netty-common', '4.1.48.Final'), pom('org.jctools', 'jctools-core', '2.1-SNAPSHOT')],
    });
    assert.deepEqual(ids.map((i) => i.licenses), [['Apache-2.0'], []]);
  });

  it('duplicate pom.properties are reported once', () => {
    assert.equal(identify({ fileName: 'a.jar', manifest: null, poms: [pom('g.h', 'a', '1'), pom('g.h', 'a', '1')] }).length, 1);
  });
});

describe('knownGroupOf', () => {
  it('knows Gradle-built artifacts and the okhttp group change', () => {
    assert.equal(knownGroupOf('spring-webmvc', '5.3.20'), 'org.springframework');
    assert.equal(knownGroupOf('spring-boot-autoconfigure', '3.1.0'), 'org.springframework.boot');
    assert.equal(knownGroupOf('spring-boot-starter-web', '3.1.0'), 'org.springframework.boot');
    assert.equal(knownGroupOf('spring-security-core', '6.0.0'), 'org.springframework.security');
    assert.equal(knownGroupOf('okhttp', '4.12.0'), 'com.squareup.okhttp3');
    assert.equal(knownGroupOf('okhttp', '2.7.5'), 'com.squareup.okhttp');
    assert.equal(knownGroupOf('kotlin-logging-jvm', '7.0.3'), null, 'not every kotlin-* is JetBrains\'');
    assert.equal(knownGroupOf('spring-foo', '1'), null);
  });
});

describe('parseJavaRelease', () => {
  it('reads the Debian openjdk-17 release file (real bytes)', () => {
    const r = parseJavaRelease(readFileSync(new URL('release/debian-openjdk-17', testdata), 'utf8'));
    assert.equal(r?.javaVersion, '17.0.15');
    assert.equal(r?.implementor, 'Debian');
    assert.equal(r?.runtimeVersion, '17.0.15+6-Debian-1deb12u1');
    assert.equal(jdkDistribution(r!.implementor, r!.implementorVersion), 'debian');
  });

  it('reads a Temurin release file (real bytes)', () => {
    const r = parseJavaRelease(readFileSync(new URL('release/temurin-25', testdata), 'utf8'));
    assert.equal(r?.javaVersion, '25.0.3');
    assert.equal(r?.imageType, 'JDK');
    assert.equal(r?.jvmVariant, 'Hotspot');
    assert.equal(jdkDistribution(r!.implementor, r!.implementorVersion), 'temurin');
  });

  it('Java 8 versions stay as written; files without JAVA_VERSION are not a JDK', () => {
    assert.equal(parseJavaRelease('JAVA_VERSION="1.8.0_392"\nIMPLEMENTOR="Azul Systems, Inc."\n')?.javaVersion, '1.8.0_392');
    assert.equal(parseJavaRelease('RUNTIME_RELEASE=2.1\n'), null);
    assert.equal(parseJavaRelease('JAVA_VERSION=""\n'), null);
  });
});
